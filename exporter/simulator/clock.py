"""Clocks the simulator reads "now" from: real time, or a hand-driven clock for tests."""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    def __call__(self) -> float:
        """Return the current time as epoch seconds."""
        ...


class SystemClock:
    """Wall-clock time."""

    def __call__(self) -> float:
        return time.time()


class ManualClock:
    """A clock that only moves when told to, so tests need no sleeps."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move forward by `seconds` and return the new time."""
        with self._lock:
            self._now += seconds
            return self._now

    def set(self, t: float) -> None:
        with self._lock:
            self._now = float(t)
