"""Fault injection: per-account or global settings, decided with a seeded Random."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class FaultSettings:
    error_rate: float = 0.0  # share of requests answered with error_status
    error_status: int = 500
    latency: float = 0.0  # seconds to wait before answering
    throttle_rate: float = 0.0  # share throttled: v2 503 "Server is busy", v3 429
    retry_after: float | None = None  # Retry-After seconds (v2: only if set; v3: default 1)
    malformed_rate: float = 0.0  # share answered 200 with a truncated body
    reset_rate: float = 0.0  # share whose connection is dropped without an answer


@dataclass(frozen=True)
class FaultDecision:
    """What to do to one request, in this order: wait, then reset, throttle, error, mangle."""

    latency: float = 0.0
    reset: bool = False
    throttle: bool = False
    error: bool = False
    malformed: bool = False
    settings: FaultSettings = FaultSettings()


class FaultInjector:
    """Thread-safe; settings can change while the server runs.

    An account's own settings replace the global ones for that account. Each request
    draws the same number of random values whatever the settings, so a sequence of
    requests meets the same faults on every run with the same seed.
    """

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(f"faults/{seed}")
        self._lock = threading.Lock()
        self._global = FaultSettings()
        self._per_account: dict[str, FaultSettings] = {}
        self.down = False  # every request answered 500
        self.refuse_connections = False  # connections closed before any answer

    def configure(self, account: str | None, settings: FaultSettings) -> None:
        with self._lock:
            if account is None:
                self._global = settings
            else:
                self._per_account[account] = settings

    def clear(self, account: str | None = None) -> None:
        """Drop one account's own settings, or (account=None) all settings."""
        with self._lock:
            if account is None:
                self._global = FaultSettings()
                self._per_account.clear()
            else:
                self._per_account.pop(account, None)

    def decide(self, account: str | None) -> FaultDecision:
        with self._lock:
            settings = self._per_account.get(account or "", self._global)
            reset, throttle, error, malformed = (self._rng.random() for _ in range(4))
        return FaultDecision(
            latency=settings.latency,
            reset=reset < settings.reset_rate,
            throttle=throttle < settings.throttle_rate,
            error=error < settings.error_rate,
            malformed=malformed < settings.malformed_rate,
            settings=settings,
        )
