"""Counts of the HTTP exchanges with one account's API, for the ams_api_* metrics."""

from __future__ import annotations

import threading
from collections import Counter

from exporter.common.distribution import Distribution

#: Upper bounds (seconds) of the ams_api_request_duration_seconds buckets.
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 60.0)
THROTTLING_CODES = frozenset({"429", "503"})


class ApiStats:
    """Thread-safe request counters and a latency histogram for one account."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        self.throttled = 0
        self.latency = Distribution(DURATION_BUCKETS)

    def observe(self, code: str, seconds: float) -> None:
        with self._lock:
            self.requests[code] += 1
            if code in THROTTLING_CODES:
                self.throttled += 1
        self.latency.observe(seconds)

    def snapshot(self) -> tuple[dict[str, int], int, list[tuple[str, int]], float]:
        """(requests by code, throttled, cumulative buckets, sum)."""
        with self._lock:
            requests, throttled = dict(self.requests), self.throttled
        buckets, total = self.latency.snapshot()
        return requests, throttled, buckets, total
