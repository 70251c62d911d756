"""Requests the HTTP server refuses before any route sees them, counted by a bounded
reason (`ams_http_requests_rejected_total{reason}`) and logged at most a few times a
minute per reason: a flood of broken requests costs counter increments, not log lines.

The reasons (docs/metrics.md):

- `bad_request_line` (400): not `METHOD SP target SP HTTP/1.x` in visible ASCII.
- `unsupported_version` (505): an HTTP version other than 1.x.
- `unsupported_method` (501): a method other than GET, HEAD, POST and OPTIONS.
- `too_long` (414): a request line or a query over its limit.
- `bad_query` (400): a query of too many fields.
- `headers_too_large` (431): a header line over its limit, or too many header lines.
- `bad_header` (400): a header line that is not `name: value` (no colon, a name that
  is not a token, whitespace before the colon, a folded line, control characters).
- `bad_content_length` (400): a Content-Length that is not one number of ASCII
  digits (signs, spaces inside, other digits, too long), repeated, or sent together
  with Transfer-Encoding.
- `length_required` (411): a push delivery without a Content-Length (or chunked).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily
from prometheus_client.metrics_core import Metric

from exporter.common.logs import Throttle

log = logging.getLogger(__name__)

BAD_REQUEST_LINE = "bad_request_line"
UNSUPPORTED_VERSION = "unsupported_version"
UNSUPPORTED_METHOD = "unsupported_method"
TOO_LONG = "too_long"
BAD_QUERY = "bad_query"
HEADERS_TOO_LARGE = "headers_too_large"
BAD_HEADER = "bad_header"
BAD_CONTENT_LENGTH = "bad_content_length"
LENGTH_REQUIRED = "length_required"

REASONS = (BAD_REQUEST_LINE, UNSUPPORTED_VERSION, UNSUPPORTED_METHOD, TOO_LONG, BAD_QUERY,
           HEADERS_TOO_LARGE, BAD_HEADER, BAD_CONTENT_LENGTH, LENGTH_REQUIRED)

#: Log lines per reason and window.
LOGGED_PER_WINDOW = 3
LOG_WINDOW_SECONDS = 60.0


class HttpRejections:
    """The counter and its log; kept across configuration reloads (the Exporter
    hands it on like EventStats)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._throttle = Throttle(LOGGED_PER_WINDOW, LOG_WINDOW_SECONDS, clock)

    def count(self, reason: str, status: int, peer: str) -> None:
        """One refused request; `reason` must be one of REASONS."""
        if reason not in REASONS:
            raise ValueError(f"unknown rejection reason {reason!r}")
        with self._lock:
            self._counts[reason] += 1
        held = self._throttle.allow(reason)
        if held is None:
            return
        more = f" ({held} more since the last such line)" if held else ""
        log.info("refused a request from %s: %s, answered %d%s", peer, reason, status, more)

    def value(self, reason: str) -> int:
        with self._lock:
            return self._counts[reason]

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "ams_http_requests_rejected",
            "HTTP requests refused before routing (malformed or over a limit), by reason.",
            labels=["reason"])
        with self._lock:
            for reason in REASONS:
                family.add_metric([reason], self._counts[reason])
        yield family
