"""Counts of the HTTP exchanges with one account's API, for the ams_api_* metrics."""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections import Counter

#: Upper bounds (seconds) of the ams_api_request_duration_seconds buckets.
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 60.0)
THROTTLING_CODES = frozenset({"429", "503"})


class ApiStats:
    """Thread-safe request counters and a latency histogram for one account."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        self.throttled = 0
        self.bucket_counts = [0] * (len(DURATION_BUCKETS) + 1)  # last one is +Inf
        self.duration_sum = 0.0

    def observe(self, code: str, seconds: float) -> None:
        with self._lock:
            self.requests[code] += 1
            if code in THROTTLING_CODES:
                self.throttled += 1
            self.bucket_counts[bisect_left(DURATION_BUCKETS, seconds)] += 1
            self.duration_sum += seconds

    def snapshot(self) -> tuple[dict[str, int], int, list[tuple[str, int]], float]:
        """(requests by code, throttled, cumulative buckets, sum), read consistently."""
        with self._lock:
            cumulative, total = [], 0
            bounds = [*(repr(float(b)) for b in DURATION_BUCKETS), "+Inf"]
            for bound, count in zip(bounds, self.bucket_counts, strict=True):
                total += count
                cumulative.append((bound, total))
            return dict(self.requests), self.throttled, cumulative, self.duration_sum
