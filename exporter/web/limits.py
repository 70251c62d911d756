"""How much the HTTP server gives one client, and the process's file descriptor limit.

Every client has bounded time and memory (docs/security.md, "What the exporter
withstands"):

- `MAX_REQUESTS` /metrics requests are answered at once (`--web.max-requests`); one
  more gets a 503 with `Retry-After: 1`, as node_exporter does. /healthz and /readyz
  are not counted.
- The request line and headers must arrive within `HEADER_TIMEOUT` seconds in all
  (from the connection for its first request, from the first byte for the next
  ones), however slowly the bytes drip in.
- A kept-alive connection waits `IDLE_TIMEOUT` seconds for its next request.
- A client that does not read its answer has `WRITE_TIMEOUT` seconds for each
  write (at most `body.PASS_THROUGH` bytes of gzip, `body.CHUNK` decoded); then the
  connection is closed.
- A request line is at most `MAX_REQUEST_LINE` bytes (414 beyond), its query at
  most `MAX_QUERY_BYTES` bytes (414) and `MAX_QUERY_FIELDS` fields (400); a header
  line at most `MAX_HEADER_LINE` bytes and a request at most `MAX_HEADERS` header
  lines (431 beyond); a Content-Length at most `MAX_LENGTH_DIGITS` digits
  (exporter.web.request_head).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

log = logging.getLogger(__name__)

MAX_REQUESTS = 40
HEADER_TIMEOUT = 10.0
IDLE_TIMEOUT = 60.0
WRITE_TIMEOUT = 30.0
#: Connections the kernel queues before the server accepts them.
BACKLOG = 128
MAX_REQUEST_LINE = 8192
MAX_QUERY_BYTES = 4096
MAX_QUERY_FIELDS = 20
MAX_HEADER_LINE = 8192
MAX_HEADERS = 100
MAX_LENGTH_DIGITS = 15
#: After an answer that closes a connection the client may still be sending on, its
#: bytes are read (and dropped) for at most this long, and this many (server.finish).
LINGER_SECONDS = 2.0
LINGER_BYTES = 1 << 20


@dataclass(frozen=True)
class Limits:
    """The server's limits; 0 max_requests means no cap."""

    max_requests: int = MAX_REQUESTS
    header_timeout: float = HEADER_TIMEOUT
    idle_timeout: float = IDLE_TIMEOUT
    write_timeout: float = WRITE_TIMEOUT

    def __post_init__(self) -> None:
        if self.max_requests < 0:
            raise ValueError("max_requests must be 0 (no cap) or more")
        for name in ("header_timeout", "idle_timeout", "write_timeout"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")


def raise_open_files_limit() -> int | None:
    """Raise RLIMIT_NOFILE's soft limit to the hard limit, so connections are not
    refused for want of file descriptors. The new soft limit, or None where this is
    not possible (no `resource` module, or not permitted)."""
    try:
        import resource
    except ImportError:  # not on this platform
        return None
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft == hard or (hard != resource.RLIM_INFINITY and soft > hard):
            log.debug("open files limit: %s (already the hard limit)", soft)
            return soft
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (OSError, ValueError) as exc:
        log.debug("open files limit left as it is: %s", exc)
        return None
    log.debug("open files limit raised from %s to %s", soft, hard)
    return hard
