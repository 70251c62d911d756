"""Demo mode: a background thread that keeps creating short-lived jobs on one account."""

from __future__ import annotations

import random
import threading
from collections.abc import Sequence

from exporter.simulator.clock import Clock
from exporter.simulator.generator import LIVELY, V2, Flavor, make_job
from exporter.simulator.store import JobStore

RETENTION_SECONDS = 90 * 86400  # the service deleted job records older than 90 days
MAX_JOBS = 50_000  # and a v2 account held at most this many
MAX_JOBS_V3 = 500_000  # a v3 account (all its transforms together)
_MAX_BACKLOG_SECONDS = 3600.0  # after a long pause (or a clock jump) skip ahead
_MAX_PER_TICK = 10_000


class LivelyFeed:
    """Poisson arrivals at `rate_per_minute`, timed by the simulator's clock.

    With several stores (a v3 account's transforms) each new job goes to one drawn at
    random, and the account's job limit is shared evenly between them.
    """

    def __init__(
        self,
        store: JobStore | Sequence[JobStore],
        clock: Clock,
        rng: random.Random,
        rate_per_minute: float,
        poll_seconds: float = 0.25,
        flavor: Flavor = V2,
        max_jobs: int = MAX_JOBS,
    ) -> None:
        if rate_per_minute <= 0:
            raise ValueError("rate_per_minute must be positive")
        self._stores = [store] if isinstance(store, JobStore) else list(store)
        if not self._stores:
            raise ValueError("no job store to feed")
        self._flavor = flavor
        self._keep = max(1, max_jobs // len(self._stores))
        self._clock = clock
        self._rng = rng
        self._mean_gap = 60.0 / rate_per_minute
        self._poll = poll_seconds
        self._next_at = clock()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> LivelyFeed:
        self._thread = threading.Thread(target=self._run, name="ams-sim-lively", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def tick(self) -> int:
        """Create the jobs due by now; returns how many. The thread calls this; tests may too."""
        with self._lock:
            now = self._clock()
            self._next_at = max(self._next_at, now - _MAX_BACKLOG_SECONDS)
            created = 0
            while self._next_at <= now and created < _MAX_PER_TICK:
                store = self._stores[0]
                if len(self._stores) > 1:  # a single store draws nothing: v2 stays the same
                    store = self._rng.choice(self._stores)
                store.add(make_job(self._rng, round(self._next_at, 3), LIVELY, self._flavor))
                self._next_at += self._rng.expovariate(1.0 / self._mean_gap)
                created += 1
            for store in self._stores:
                store.prune(now - RETENTION_SECONDS, self._keep)
            return created

    def _run(self) -> None:
        while not self._stop.wait(self._poll):
            self.tick()
