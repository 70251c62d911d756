"""The HTTP front door (issue 18): every request gets a status line or a clean close,
refusals are counted by a bounded reason and logged a few times a minute, nothing a
client sends can forge a log line, and no secret reaches the log at any level.

Everything over real sockets to a real MetricsServer on 127.0.0.1 with push events
enabled; every wait is bounded."""

from __future__ import annotations

import io
import json
import logging
import re
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exporter.app.exporter import Exporter
from exporter.common.logs import TextFormatter
from exporter.web.rejections import REASONS, HttpRejections
from exporter.web.server import MetricsServer
from tests.helpers import parse_exposition

SECRET = "front-door-s3cret"
HEADER_SECRET = "header-only-s3cret"
TOPIC = ("/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg/providers/"
         "Microsoft.Media/mediaservices/nobody")


@dataclass
class Door:
    exporter: Exporter
    server: MetricsServer

    @property
    def port(self) -> int:
        return self.server.port

    def rejected(self, reason: str) -> int:
        return self.exporter.http_rejections.value(reason)

    def metrics(self):
        return parse_exposition(requests.get(self.server.url + "/metrics", timeout=10).text)

    def healthy(self) -> bool:
        return status(exchange(self.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")) == 200


@pytest.fixture
def door(simulator, make_exporter) -> Iterator[Door]:
    exporter = make_exporter(f"""
refresh: {{min_interval: 10m, timeout: 5s}}
events: {{enabled: true, secrets: ["{SECRET}", "{HEADER_SECRET}"], max_body_bytes: 64KiB}}
accounts:
  - name: acct
    api: v2
    endpoint: {simulator.v2_endpoint("acct")}
    auth: {{method: token_file, path: TOKEN}}
""")
    assert exporter.refresh_due()
    server = MetricsServer(exporter, "127.0.0.1", 0, header_timeout=2.0).start()
    yield Door(exporter, server)
    server.stop(grace=1.0)


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


def exchange(port: int, raw: bytes, timeout: float = 5.0) -> bytes:
    """Sends `raw`, ends the stream, reads until the server closes: all it answered.
    Raises TimeoutError when the server neither answers nor closes within `timeout`."""
    deadline = time.monotonic() + timeout
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(raw)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while True:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            data = sock.recv(65536)
            if not data:
                return answer
            answer += data


def status(answer: bytes) -> int | None:
    """The final status of an answer (after any 100 Continue); None for no answer."""
    answer = answer.removeprefix(b"HTTP/1.1 100 Continue\r\n\r\n")
    match = re.match(rb"HTTP/1\.1 ([0-9]{3}) ", answer)
    return int(match[1]) if match else None


def head_of(answer: bytes) -> str:
    return answer.partition(b"\r\n\r\n")[0].decode("latin-1")


def assert_no_error_logged(caplog: pytest.LogCaptureFixture) -> None:
    bad = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert bad == [], [r.getMessage() for r in bad]


def delivery(target: str, body: bytes = b"[]", *headers: str) -> bytes:
    lines = [f"POST {target} HTTP/1.1", "Host: x", f"Content-Length: {len(body)}", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


# ------------------------------------------------------------ issue 18, items 1 and 2

def test_21_query_fields_get_400_counted_without_a_traceback(door, logs):
    query = "&".join(f"a{i}=1" for i in range(21))
    answer = exchange(door.port, f"POST /events?{query} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert status(answer) == 400
    assert "Connection: close" in head_of(answer)
    assert door.rejected("bad_query") == 1
    assert_no_error_logged(logs)
    # 20 fields are parsed: without credentials that is a 401, not a bad query
    query = "&".join(f"a{i}=1" for i in range(20))
    answer = exchange(door.port, f"POST /events?{query} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert status(answer) == 401
    assert door.rejected("bad_query") == 1
    assert door.metrics().value("ams_http_requests_rejected_total", reason="bad_query") == 1
    assert door.healthy()


@pytest.mark.parametrize("value", [
    b"\xb2",  # the superscript two: str.isdigit() says yes, int() says no
    "\u0663".encode(), b"\xd9\xa3",  # an Arabic-Indic three, UTF-8
    b"-1", b"+2", b"2 2", b"0x2", b"2,2", b"2e0", b"", b"\xef\xbc\x92",  # fullwidth 2
    b"9" * 16, b"99999999999999999999999999999999",
], ids=["superscript", "arabic-indic", "arabic-indic-bytes", "minus", "plus", "space",
        "hex", "list", "exponent", "empty", "fullwidth", "16-digits", "huge"])
def test_a_content_length_that_is_not_ascii_digits_gets_400(door, logs, value):
    raw = (f"POST /events?secret={SECRET} HTTP/1.1\r\nHost: x\r\n".encode()
           + b"Content-Length: " + value + b"\r\n\r\n[]")
    answer = exchange(door.port, raw)
    assert status(answer) == 400
    assert door.rejected("bad_content_length") == 1
    assert_no_error_logged(logs)
    assert door.healthy()


@pytest.mark.parametrize("headers", [
    ["Content-Length: 2", "Content-Length: 2"],
    ["Content-Length: 2", "Content-Length: 3"],
    ["Content-Length: 2", "Transfer-Encoding: chunked"],
], ids=["repeated", "conflicting", "with-transfer-encoding"])
def test_repeated_or_conflicting_lengths_get_400(door, logs, headers):
    raw = ("\r\n".join([f"POST /events?secret={SECRET} HTTP/1.1", "Host: x", *headers])
           + "\r\n\r\n[]").encode()
    assert status(exchange(door.port, raw)) == 400
    assert door.rejected("bad_content_length") == 1
    assert_no_error_logged(logs)


def test_a_length_with_surrounding_whitespace_is_fine(door):
    raw = (f"POST /events?secret={SECRET} HTTP/1.1\r\nHost: x\r\nContent-Length: \t2 \r\n\r\n"
           "[]").encode()
    assert status(exchange(door.port, raw)) in (200, 400)  # the body's verdict, not the head's
    assert door.rejected("bad_content_length") == 0


# ------------------------------------------------------- what http.server let through

LONG_LINE = b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n"
MALFORMED = [
    (b"GET /healthz\r\n\r\n", 400, "bad_request_line"),  # HTTP/0.9: would get no status line
    (b"GET  /healthz HTTP/1.1\r\n\r\n", 400, "bad_request_line"),
    (b"GET /healthz HTTP/1.1 extra\r\n\r\n", 400, "bad_request_line"),
    (b"GET /h\xe9 HTTP/1.1\r\n\r\n", 400, "bad_request_line"),
    (b"GET /h\x1b[2J HTTP/1.1\r\n\r\n", 400, "bad_request_line"),
    (b"G\xc3\x89T /healthz HTTP/1.1\r\n\r\n", 400, "bad_request_line"),
    (b"GET /healthz HTTP/1.1\r\r\n\r\n", 400, "bad_request_line"),
    (b"GET /healthz HTTP/x.y\r\n\r\n", 400, "bad_request_line"),
    (b"\r\n\r\n", 400, "bad_request_line"),
    (b"GET /healthz HTTP/2.0\r\n\r\n", 505, "unsupported_version"),
    (b"GET /healthz HTTP/0.9\r\n\r\n", 505, "unsupported_version"),
    (b"BREW /pot HTTP/1.1\r\n\r\n", 501, "unsupported_method"),
    (b"get /healthz HTTP/1.1\r\n\r\n", 501, "unsupported_method"),
    (b"DELETE /events HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", 501, "unsupported_method"),
    (LONG_LINE, 414, "too_long"),
    (b"GET /healthz?" + b"q" * 5000 + b" HTTP/1.1\r\n\r\n", 414, "too_long"),
    (b"GET /metrics?" + b"&".join(b"f%d" % i for i in range(21)) + b" HTTP/1.1\r\n\r\n",
     400, "bad_query"),
    (b"GET /healthz HTTP/1.1\r\n" + b"X-A: b\r\n" * 101 + b"\r\n", 431, "headers_too_large"),
    (b"GET /healthz HTTP/1.1\r\nX-Long: " + b"v" * 9000 + b"\r\n\r\n", 431,
     "headers_too_large"),
    (b"GET /healthz HTTP/1.1\r\nNo colon here\r\n\r\n", 400, "bad_header"),
    (b"GET /healthz HTTP/1.1\r\nHost : x\r\n\r\n", 400, "bad_header"),
    (b"GET /healthz HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400, "bad_header"),
    (b"GET /healthz HTTP/1.1\r\nX-Nul: a\x00b\r\n\r\n", 400, "bad_header"),
    (b"GET /healthz HTTP/1.1\r\nX-Cr: a\rb\r\n\r\n", 400, "bad_header"),
    (b"GET /healthz HTTP/1.1\r\nX-Esc: \x1b[31m\r\n\r\n", 400, "bad_header"),
    (b"GET /healthz HTTP/1.1\r\nH\xe9: x\r\n\r\n", 400, "bad_header"),
    (b"GET /healthz HTTP/1.1\r\n: empty name\r\n\r\n", 400, "bad_header"),
    (b"GET /healthz HTTP/1.1\r\nContent-Length: -0\r\n\r\n", 400, "bad_content_length"),
    (f"POST /events?secret={SECRET} HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
     "2\r\n[]\r\n0\r\n\r\n".encode(), 411, "length_required"),
    (f"POST /events?secret={SECRET} HTTP/1.1\r\nHost: x\r\n\r\n".encode(), 411,
     "length_required"),
]


@pytest.mark.parametrize(("raw", "code", "reason"), MALFORMED,
                         ids=[f"{i}-{reason}" for i, (_, _, reason) in enumerate(MALFORMED)])
def test_every_malformed_head_gets_its_status_and_is_counted(door, logs, raw, code, reason):
    answer = exchange(door.port, raw)
    assert status(answer) == code, answer[:200]
    assert door.rejected(reason) == 1
    assert sum(door.rejected(r) for r in REASONS) == 1
    assert "Connection: close" in head_of(answer)
    assert_no_error_logged(logs)
    assert door.healthy()


def test_all_reasons_are_exported_from_the_start(door):
    exported = door.metrics().find("ams_http_requests_rejected_total")
    assert {dict(labels)["reason"]: value for labels, value in exported.items()} == \
        dict.fromkeys(REASONS, 0.0)


def test_the_counter_survives_a_configuration_reload(door):
    assert status(exchange(door.port, b"BREW /pot HTTP/1.1\r\n\r\n")) == 501
    reloaded = door.exporter.reconfigured(door.exporter.config)
    try:
        assert reloaded.http_rejections is door.exporter.http_rejections
        exported = parse_exposition(reloaded.text())
        assert exported.value("ams_http_requests_rejected_total",
                              reason="unsupported_method") == 1
    finally:
        reloaded.close()


def test_an_unread_body_closes_the_connection_after_the_answer(door):
    answer = exchange(door.port, b"GET /healthz HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
                                 b"GET /healthz HTTP/1.1\r\n\r\n")
    assert status(answer) == 200 and answer.count(b"HTTP/1.1 ") == 1
    assert "Connection: close" in head_of(answer)
    answer = exchange(door.port, delivery("/elsewhere", b"x" * 100))
    assert status(answer) == 404 and "Connection: close" in head_of(answer)


def test_a_read_delivery_keeps_the_connection(door):
    two = delivery(f"/events?secret={SECRET}", b"[]") + b"GET /healthz HTTP/1.1\r\n\r\n"
    answer = exchange(door.port, two)
    assert answer.count(b"HTTP/1.1 ") == 2 and answer.endswith(b"ok\n")


def test_100_continue_only_once_the_body_is_wanted(door):
    refused = exchange(door.port, delivery("/events", b"[]", "Expect: 100-continue"))
    assert refused.startswith(b"HTTP/1.1 401 ")
    wanted = exchange(door.port, delivery(f"/events?secret={SECRET}", b"[]",
                                          "Expect: 100-continue"))
    assert wanted.startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
    assert status(wanted) == 400  # `[]` is no delivery: the body was read and judged


def test_a_big_refused_body_still_gets_its_answer(door):
    """413 while the client is still sending: the server reads the rest for a moment
    instead of resetting the connection under the answer."""
    body = b"x" * (600 * 1024)
    with socket.create_connection(("127.0.0.1", door.port), timeout=5) as sock:
        # a small send buffer: most of the body is still to send when the answer comes
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        sock.sendall(delivery(f"/events?secret={SECRET}", body))  # no reset meanwhile
        answer = sock.recv(65536)
    assert status(answer) == 413


# ------------------------------------------------------------ logged, but not too much

class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_each_reason_is_logged_at_most_three_times_a_minute(caplog):
    clock = FakeClock()
    rejections = HttpRejections(clock)
    caplog.set_level(logging.INFO, logger="exporter.web.rejections")
    for _ in range(10):
        rejections.count("bad_query", 400, "192.0.2.1")
    rejections.count("bad_header", 400, "192.0.2.1")
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 4 and sum("bad_query" in line for line in lines) == 3
    clock.now += 59
    rejections.count("bad_query", 400, "192.0.2.1")
    assert len(caplog.records) == 4
    clock.now += 1
    rejections.count("bad_query", 400, "192.0.2.1")
    assert "8 more since the last such line" in caplog.records[-1].getMessage()
    assert rejections.value("bad_query") == 12
    with pytest.raises(ValueError):
        rejections.count("whatever the client said", 400, "192.0.2.1")


def test_a_flood_of_refusals_logs_a_few_lines(door, logs):
    for _ in range(8):
        assert status(exchange(door.port, b"BREW /pot HTTP/1.1\r\n\r\n")) == 501
    lines = [r for r in logs.records if r.name == "exporter.web.rejections"]
    assert len(lines) == 3 and all(r.levelno == logging.INFO for r in lines)
    assert door.rejected("unsupported_method") == 8


# ------------------------------------------------------------- hostile heads, generated

def mostly(good: st.SearchStrategy[bytes],
           bad: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    """`good` four times in five: most heads get past the request line."""
    return st.sampled_from(range(5)).flatmap(lambda n: bad if n == 4 else good)


VISIBLE = st.characters(min_codepoint=0x21, max_codepoint=0x7e)
METHODS = mostly(st.sampled_from([b"GET", b"HEAD", b"POST", b"OPTIONS"]),
                 st.one_of(st.sampled_from([b"PUT", b"BREW", b"get", b"", b"G\xc3\x89T",
                                            b"POST\x00"]), st.binary(max_size=8)))
PATHS = st.sampled_from([b"/", b"/events", b"/events", b"/metrics", b"/healthz", b"/readyz",
                         b"//x", b"*", b"http://h/events", b"/events/", b"/%00", b"/\xff",
                         b"/" + b"a" * 9000])
GOOD_FIELD = st.tuples(
    st.sampled_from([b"secret", b"SECRET", b"%73ecret", b"a", b"", b"&"]),
    st.one_of(st.sampled_from([SECRET.encode(), b"", b"%ff", b"q" * 5000]),
              st.text(VISIBLE, max_size=6).map(str.encode)))
QUERY_FIELDS = mostly(st.lists(GOOD_FIELD, max_size=25),
                      st.lists(st.tuples(st.binary(max_size=3), st.binary(max_size=6)),
                               min_size=1, max_size=3))
VERSIONS = mostly(st.sampled_from([b"HTTP/1.1", b"HTTP/1.0"]),
                  st.sampled_from([b"HTTP/2.0", b"HTTP/0.9", b"HTTP/1", b"http/1.1",
                                   b"HTTP/1.1 ", b"", b"HTTP/9.9"]))
SEPARATORS = mostly(st.just(b" "), st.sampled_from([b"  ", b"\t", b" \x00 "]))
LINE_ENDS = mostly(st.just(b"\r\n"), st.sampled_from([b"\n", b"\r", b"\r\r\n"]))
LENGTHS = st.sampled_from([b"0", b"2", b"5", b"64", b"-1", b"+1", b"\xb2", b"\xd9\xa3",
                           b"1 2", b" 3 ", b"99999999999999999999", b"0x10", b"", b"1,1"])
HEADER = st.one_of(
    st.tuples(st.just(b"Content-Length"), LENGTHS),
    st.tuples(st.sampled_from([b"Host", b"Transfer-Encoding", b"Expect", b"Connection",
                               b"X-Events-Secret", b"Authorization", b"Accept-Encoding",
                               b"X-Prometheus-Scrape-Timeout-Seconds", b"Content-Type"]),
              mostly(st.sampled_from([b"chunked", b"100-continue", b"close", b"keep-alive",
                                      SECRET.encode(), b"Bearer x.y.z", b"gzip", b"-1", b"nan",
                                      b"1e999", b"caf\xe9", b"v" * 9000]),
                     st.binary(max_size=12))),
    st.tuples(st.binary(min_size=1, max_size=8), st.binary(max_size=12)))
HEADER_SEPARATORS = mostly(st.just(b": "), st.sampled_from([b":", b" : ", b"\t: "]))


@st.composite
def hostile_heads(draw: st.DrawFn) -> bytes:
    query = b"&".join(k + b"=" + v for k, v in draw(QUERY_FIELDS))
    target = draw(PATHS) + (b"?" + query if query else b"")
    sep = draw(SEPARATORS)
    line = draw(METHODS) + sep + target + sep + draw(VERSIONS)
    eol = draw(LINE_ENDS)
    headers = b"".join(name + draw(HEADER_SEPARATORS) + value + eol
                       for name, value in draw(st.lists(HEADER, max_size=6)))
    end = draw(mostly(st.just(b"\r\n"), st.sampled_from([b"\n", b""])))  # "": cut short
    return line + eol + headers + end + draw(st.binary(max_size=16))


def test_generated_hostile_heads_get_an_answer_or_a_clean_close(door, logs):
    seen: dict[int | None, int] = {}

    @settings(max_examples=300, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(hostile_heads())
    def one(raw: bytes) -> None:
        began = time.monotonic()
        answer = exchange(door.port, raw, timeout=5.0)  # TimeoutError: hung
        assert time.monotonic() - began < 5.0
        code = status(answer)
        assert answer == b"" or code is not None, answer[:100]
        assert code is None or 200 <= code < 300 or 400 <= code < 500 or \
            (500 < code < 600), answer[:100]
        seen[code] = seen.get(code, 0) + 1

    one()
    assert_no_error_logged(logs)
    assert door.healthy()
    # the generator reaches refusals and answers alike
    assert sum(n for code, n in seen.items() if code and code >= 400) > 20
    assert sum(n for code, n in seen.items() if code and code < 300) > 0
    assert sum(door.rejected(r) for r in REASONS) > 20


# ------------------------------------------------------------- logs nobody can write

@pytest.fixture
def text_log() -> Iterator[io.StringIO]:
    """Every logger's lines, through the text formatter of `--log.format text`, at
    DEBUG (as `--log.level debug`)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(TextFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def test_no_secret_reaches_the_log_at_debug(door, text_log):
    token = "eyJhbGciOi.bearer-token-value.sig"
    answers = [
        exchange(door.port, delivery(f"/events?secret={SECRET}")),
        exchange(door.port, delivery(f"/events?x=1&SeCrEt={SECRET}")),
        exchange(door.port, delivery(f"/events?%73ecret={SECRET}")),
        exchange(door.port, delivery(f"/events?secret%3D{SECRET}")),
        exchange(door.port, delivery("/events", b"[]", f"X-Events-Secret: {HEADER_SECRET}")),
        exchange(door.port, delivery("/events", b"[]", f"Authorization: Bearer {token}")),
        exchange(door.port, delivery(f"/events?secret={SECRET}", b"[]",
                                     f"Authorization Bearer {token}")),  # no colon: 400
        exchange(door.port, delivery(f"/events?secret={SECRET}&" + "&".join("ab" * 20))),
        exchange(door.port, f"POST /events?secret={SECRET}  HTTP/1.1\r\n\r\n".encode()),
        exchange(door.port, f"BREW /events?secret={SECRET} HTTP/1.1\r\n\r\n".encode()),
    ]
    assert [status(a) for a in answers] == [400, 401, 400, 401, 400, 401, 400, 400, 400, 501]
    assert status(exchange(door.port, delivery(f"/events?secret={SECRET}",
                                               json.dumps({"a": 1}).encode()))) == 200
    text = text_log.getvalue()
    assert "secret=REDACTED" in text and "SeCrEt=REDACTED" in text  # the access log ran
    assert '"POST /events?' in text
    for value in (SECRET, token, HEADER_SECRET):
        assert value not in text
    assert "X-Events-Secret" not in text and "Authorization" not in text


def test_a_topic_with_a_newline_and_an_escape_is_one_escaped_line(door, text_log):
    event = {"topic": TOPIC + "\r\n2026-01-01T00:00:00+0000 ERROR x: forged\x1b[2J\u2028x",
             "subject": "transforms/t/jobs/j", "eventType": "Microsoft.Media.JobFinished",
             "eventTime": "2026-01-01T00:00:00Z", "id": "1",
             "data": {"state": "Finished", "previousState": "Processing", "outputs": []},
             "dataVersion": "1.0"}
    body = json.dumps([event]).encode()
    assert status(exchange(door.port, delivery(f"/events?secret={SECRET}", body))) == 200
    text = text_log.getvalue()
    lines = [line for line in text.split("\n") if "no configured account" in line]
    assert len(lines) == 1
    assert "\\r\\n2026-01-01t00:00:00+0000 error x: forged\\x1b[2j\\u2028x" in lines[0]
    assert "forged" not in text.replace(lines[0], "")
    assert not re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]", text)
    assert door.exporter.event_stats.rejected["unknown_account"] == 1

