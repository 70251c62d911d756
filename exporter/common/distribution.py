"""Observations counted into fixed buckets: the data behind a Prometheus histogram.
A leaf module: the refresh engine records into it, the exposition reads it."""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Sequence

#: Job durations and queue times: from seconds to a day (encoding jobs of a short
#: clip take seconds, a feature film's several hours).
JOB_SECONDS_BUCKETS = (5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0,
                       7200.0, 14400.0, 28800.0, 86400.0)


class Distribution:
    """Thread-safe bucket counts and sum (buckets are upper bounds; +Inf is implied)."""

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(bounds)
        self._counts = [0] * (len(self.bounds) + 1)
        self._sum = 0.0
        self._lock = threading.Lock()

    def observe(self, value: float) -> None:
        with self._lock:
            self._counts[bisect_left(self.bounds, value)] += 1
            self._sum += value

    def snapshot(self) -> tuple[list[tuple[str, int]], float]:
        """(cumulative buckets as (le, count) with +Inf last, sum)."""
        with self._lock:
            cumulative, total = [], 0
            labels = [*(repr(float(b)) for b in self.bounds), "+Inf"]
            for label, count in zip(labels, self._counts, strict=True):
                total += count
                cumulative.append((label, total))
            return cumulative, self._sum

    @property
    def count(self) -> int:
        with self._lock:
            return sum(self._counts)
