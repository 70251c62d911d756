"""ARM's read throttling: a token bucket per subscription, timed by the simulator clock.

Since 2024 ARM limits reads with a bucket of 250 refilled at 25 per second (per principal
and subscription; the simulator keys by subscription only). Every answer tells the
client what is left in `x-ms-ratelimit-remaining-subscription-reads`; an empty bucket
answers 429 with the whole seconds until a token is back in `Retry-After`.

Off by default: then nothing is refused and the header always reports the full default
capacity, so clients that slow down on a low value are not misled.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

DEFAULT_CAPACITY = 250
DEFAULT_REFILL_PER_SECOND = 25.0


@dataclass(frozen=True)
class Quota:
    allowed: bool
    remaining: int  # whole requests left after this one
    retry_after: int = 0  # seconds, when refused


@dataclass
class _Bucket:
    tokens: float
    updated: float


class ReadLimiter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._capacity: int | None = None  # None: off
        self._rate = DEFAULT_REFILL_PER_SECOND
        self._buckets: dict[str, _Bucket] = {}

    def configure(self, capacity: int | None, refill_per_second: float) -> None:
        """Turn the limit on with a fresh full bucket per key, or off with capacity=None."""
        if capacity is not None and (capacity < 1 or refill_per_second <= 0):
            raise ValueError("capacity must be >= 1 and refill_per_second > 0")
        with self._lock:
            self._capacity, self._rate = capacity, refill_per_second
            self._buckets.clear()

    def _bucket(self, key: str, now: float) -> _Bucket:
        assert self._capacity is not None
        bucket = self._buckets.setdefault(key, _Bucket(float(self._capacity), now))
        elapsed = max(0.0, now - bucket.updated)  # a clock set backwards refills nothing
        bucket.tokens = min(float(self._capacity), bucket.tokens + elapsed * self._rate)
        bucket.updated = now
        return bucket

    def take(self, key: str, now: float) -> Quota:
        """Spend one read for `key` if there is one."""
        with self._lock:
            if self._capacity is None:
                return Quota(True, DEFAULT_CAPACITY)
            bucket = self._bucket(key, now)
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return Quota(True, int(bucket.tokens))
            wait = math.ceil((1.0 - bucket.tokens) / self._rate)
            return Quota(False, 0, max(1, wait))

    def remaining(self, key: str, now: float) -> int:
        with self._lock:
            if self._capacity is None:
                return DEFAULT_CAPACITY
            return int(self._bucket(key, now).tokens)
