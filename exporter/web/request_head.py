"""A request's head read strictly, so that anything malformed becomes a `Refused`
with a status and a bounded reason instead of an exception deep in http.server.

- The request line is `METHOD SP target SP HTTP/1.x`: the method an RFC 9110 token,
  the target visible ASCII only, single spaces.
- Header lines are `name: value`: the name a token right before the colon, the value
  free of control characters but the tab (obs-text, bytes 0x80-0xFF, is allowed and
  read as Latin-1); folded lines are refused (RFC 9112 allows refusing them).
- Content-Length is one run of 1 to `MAX_LENGTH_DIGITS` ASCII digits, in one header,
  and never next to Transfer-Encoding.
- The query has at most `MAX_QUERY_BYTES` bytes and `MAX_QUERY_FIELDS` fields, counted
  as `urllib.parse.parse_qs` counts them (one more than its `&`s).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from http.client import HTTPMessage

from exporter.web.limits import (
    MAX_HEADER_LINE,
    MAX_HEADERS,
    MAX_LENGTH_DIGITS,
    MAX_QUERY_BYTES,
    MAX_QUERY_FIELDS,
)
from exporter.web.rejections import (
    BAD_CONTENT_LENGTH,
    BAD_HEADER,
    BAD_QUERY,
    BAD_REQUEST_LINE,
    HEADERS_TOO_LARGE,
    TOO_LONG,
    UNSUPPORTED_VERSION,
)

_TOKEN = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_REQUEST_LINE = re.compile(rb"(" + _TOKEN + rb") ([\x21-\x7e]+) HTTP/([0-9])\.([0-9])")
_HEADER_NAME = re.compile(_TOKEN)
_CONTROL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_LENGTH = re.compile(f"[0-9]{{1,{MAX_LENGTH_DIGITS}}}")


class Refused(Exception):
    """The request is answered with `status` and counted under `reason`."""

    def __init__(self, status: int, reason: str, explain: str) -> None:
        super().__init__(explain)
        self.status = status
        self.reason = reason
        self.explain = explain


@dataclass(frozen=True)
class RequestLine:
    method: str
    target: str
    #: The request's HTTP/1 minor version.
    minor: int


def _line(raw: bytes) -> bytes:
    """`raw` without its line end (CRLF, or a bare LF as RFC 9112 tolerates)."""
    return raw[:-2] if raw.endswith(b"\r\n") else raw.removesuffix(b"\n")


def parse_request_line(raw: bytes) -> RequestLine:
    match = _REQUEST_LINE.fullmatch(_line(raw))
    if match is None:
        raise Refused(400, BAD_REQUEST_LINE, "The request line must be METHOD SP target SP "
                                             "HTTP/1.x, in visible ASCII.")
    if match[3] != b"1":
        raise Refused(505, UNSUPPORTED_VERSION, "Only HTTP/1.0 and HTTP/1.1 are served.")
    return RequestLine(match[1].decode("ascii"), match[2].decode("ascii"), int(match[4]))


def parse_header_line(raw: bytes) -> tuple[str, str]:
    line = _line(raw)
    name, colon, value = line.partition(b":")
    if not colon or _HEADER_NAME.fullmatch(name) is None:
        raise Refused(400, BAD_HEADER, "A header line must be a token, a colon and a value "
                                       "(folded lines are not accepted).")
    value = value.strip(b" \t")
    if _CONTROL.search(value):
        raise Refused(400, BAD_HEADER, "A header value may not hold control characters.")
    return name.decode("ascii"), value.decode("latin-1")


def read_headers(readline: Callable[[int], bytes]) -> HTTPMessage | None:
    """The header lines up to the blank line, read with `readline(limit)`; None when
    the stream ended first (the request did not arrive in full)."""
    headers = HTTPMessage()
    for count in range(MAX_HEADERS + 1):
        raw = readline(MAX_HEADER_LINE + 1)
        if len(raw) > MAX_HEADER_LINE:
            raise Refused(431, HEADERS_TOO_LARGE,
                          f"A header line may have at most {MAX_HEADER_LINE} bytes.")
        if not raw.endswith(b"\n"):
            return None
        if raw in (b"\r\n", b"\n"):
            return headers
        if count == MAX_HEADERS:
            break
        name, value = parse_header_line(raw)
        headers[name] = value  # adds: a repeated header stays repeated
    raise Refused(431, HEADERS_TOO_LARGE, f"At most {MAX_HEADERS} header lines are read.")


def check_query(target: str) -> None:
    query = target.partition("?")[2]
    if len(query) > MAX_QUERY_BYTES:
        raise Refused(414, TOO_LONG, f"A query may have at most {MAX_QUERY_BYTES} bytes.")
    if query and query.count("&") + 1 > MAX_QUERY_FIELDS:
        raise Refused(400, BAD_QUERY, f"A query may have at most {MAX_QUERY_FIELDS} fields.")


def body_length(headers: HTTPMessage) -> int | None:
    """The declared Content-Length, or None without one."""
    lengths = headers.get_all("Content-Length") or []
    if len(lengths) > 1:
        raise Refused(400, BAD_CONTENT_LENGTH, "Only one Content-Length is accepted.")
    if lengths and "Transfer-Encoding" in headers:
        raise Refused(400, BAD_CONTENT_LENGTH,
                      "Content-Length and Transfer-Encoding may not come together.")
    if not lengths:
        return None
    if _LENGTH.fullmatch(lengths[0]) is None:
        raise Refused(400, BAD_CONTENT_LENGTH,
                      f"A Content-Length is 1 to {MAX_LENGTH_DIGITS} ASCII digits.")
    return int(lengths[0])
