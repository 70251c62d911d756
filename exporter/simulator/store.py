"""Thread-safe job list of one account, kept in listing order."""

from __future__ import annotations

import bisect
import math
import threading
from collections.abc import Callable

from exporter.simulator.jobs import SimJob

_Key = tuple[float, int]


class JobStore:
    """Jobs ordered by (Created, insertion order).

    The real service's listing order is unconfirmed; this order is stable while new
    jobs arrive, so `$skip` paging does not shift under a client.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: list[_Key] = []
        self._jobs: list[SimJob] = []
        self._key_of: dict[str, _Key] = {}
        self._seq = 0
        #: Bumped by every change, so readers can cache what they derived from the jobs.
        self.version = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._jobs)

    def add(self, job: SimJob) -> None:
        with self._lock:
            self.version += 1
            if job.id in self._key_of:
                raise ValueError(f"duplicate job id {job.id!r}")
            key = (job.created, self._seq)
            self._seq += 1
            index = bisect.bisect(self._keys, key)
            self._keys.insert(index, key)
            self._jobs.insert(index, job)
            self._key_of[job.id] = key

    def get(self, job_id: str) -> SimJob | None:
        with self._lock:
            key = self._key_of.get(job_id)
            return None if key is None else self._jobs[self._index(key)]

    def update(self, job_id: str, change: Callable[[SimJob], SimJob]) -> None:
        """Swap a job for `change(job)`; its place in the order is kept."""
        with self._lock:
            self.version += 1
            index = self._index(self._key_of[job_id])
            self._jobs[index] = change(self._jobs[index])

    def remove(self, job_id: str) -> None:
        with self._lock:
            self.version += 1
            index = self._index(self._key_of.pop(job_id))
            del self._keys[index]
            del self._jobs[index]

    def visible(self, now: float) -> list[SimJob]:
        """Jobs that exist at `now` (Created <= now), in listing order."""
        with self._lock:
            end = bisect.bisect(self._keys, (now, math.inf))
            return self._jobs[:end]

    def snapshot(self, now: float) -> tuple[int, list[SimJob], float | None]:
        """`version`, `visible(now)` and `next_arrival(now)`, read together under the
        lock, so a reader caching what it derives can key it on the right version."""
        with self._lock:
            end = bisect.bisect(self._keys, (now, math.inf))
            arrival = self._keys[end][0] if end < len(self._keys) else None
            return self.version, self._jobs[:end], arrival

    def next_arrival(self, now: float) -> float | None:
        """Created time of the first job not visible at `now` (None: every job is)."""
        with self._lock:
            end = bisect.bisect(self._keys, (now, math.inf))
            return self._keys[end][0] if end < len(self._keys) else None

    def prune(self, created_before: float, keep_at_most: int) -> int:
        """Drop the oldest jobs (retention / account limit); returns how many went."""
        with self._lock:
            cut = bisect.bisect_left(self._keys, (created_before, -1))
            cut = max(cut, len(self._jobs) - keep_at_most)
            self.version += 1
            for job in self._jobs[:cut]:
                del self._key_of[job.id]
            del self._keys[:cut]
            del self._jobs[:cut]
            return cut

    def _index(self, key: _Key) -> int:
        return bisect.bisect_left(self._keys, key)
