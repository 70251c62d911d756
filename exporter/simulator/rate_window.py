"""A per-key limit of requests per minute over a sliding 60-second window (simulator clock).

MK.IO allows 2,000 GET a minute per project (ams-successors.md §1.6) without saying
how the minute is measured; a sliding window is the strictest reading: no 60 seconds
ever hold more than the limit. Refused requests do not count.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass

WINDOW_SECONDS = 60.0


@dataclass(frozen=True)
class Admission:
    allowed: bool
    remaining: int  # requests left in the window after this one
    retry_after: int = 0  # whole seconds until one is allowed again, when refused


class MinuteWindow:
    def __init__(self, default_per_minute: int | None) -> None:
        self._lock = threading.Lock()
        self._default = default_per_minute
        self._limits: dict[str, int | None] = {}
        self._hits: dict[str, deque[float]] = {}

    def configure(self, key: str, per_minute: int | None) -> None:
        """Set one key's limit (None: unlimited) and start its window afresh."""
        if per_minute is not None and per_minute < 1:
            raise ValueError("per_minute must be at least 1 (or None for no limit)")
        with self._lock:
            self._limits[key] = per_minute
            self._hits.pop(key, None)

    def limit(self, key: str) -> int | None:
        with self._lock:
            return self._limits.get(key, self._default)

    def take(self, key: str, now: float) -> Admission:
        with self._lock:
            limit = self._limits.get(key, self._default)
            if limit is None:
                return Admission(True, 0)
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - WINDOW_SECONDS:
                hits.popleft()
            if len(hits) >= limit:
                wait = math.ceil(hits[0] + WINDOW_SECONDS - now)
                return Admission(False, 0, max(1, wait))
            hits.append(now)
            return Admission(True, limit - len(hits))
