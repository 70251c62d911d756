"""Which jobs an account exports: the client-side selection (states, name regex,
lookback), the retention of finished and failed jobs, and the max_jobs_per_account
cap (active jobs first, then the most recently created: keep_rank).

The API filters most of the selection already; merged incremental answers and jobs
read by name need it all. Nothing here counts: the caller adds what a cap leaves out
to the jobs skipped for the limit.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

from exporter.jobs.model import Job, JobKey, keep_rank
from exporter.jobs.selection import JobSelection
from exporter.jobs.states import JobState
from exporter.refresh.settings import RefreshPolicy


class Room(NamedTuple):
    """What joining jobs past the cap comes to."""

    #: The jobs that join (or replace their exported version).
    joining: dict[JobKey, Job]
    #: Exported jobs they push out.
    evicted: set[JobKey]
    #: Every job left out, joining or exported: what is skipped for the limit.
    dropped: set[JobKey]


@dataclass(frozen=True, slots=True)
class Selector:
    """An account's selection under a policy. Made for each use: the policy is
    replaced live on a reload."""

    selection: JobSelection
    policy: RefreshPolicy

    def retained(self, job: Job, now: float) -> bool:
        """Active jobs always; final ones until their retention after they ended."""
        if not job.state.is_final or job.end_time is None:
            return True
        retention = self.policy.retention
        keep = retention.failed if job.state == JobState.Error else retention.finished
        return now - job.end_time <= keep

    def wanted(self, job: Job, now: float) -> bool:
        """Selected and within retention."""
        return (self.selection.matches(job, now - self.policy.lookback)
                and self.retained(job, now))

    def select(self, candidates: Mapping[JobKey, Job],
               now: float) -> tuple[dict[JobKey, Job], int]:
        """The wanted candidates within the cap, and how many the cap left out."""
        return self.cap({key: job for key, job in candidates.items()
                         if self.wanted(job, now)})

    def cap(self, jobs: dict[JobKey, Job]) -> tuple[dict[JobKey, Job], int]:
        """At most max_jobs_per_account of `jobs` by keep_rank, and how many were
        left out. Within the cap, `jobs` itself comes back (callers test `is`)."""
        limit = self.policy.max_jobs_per_account
        if len(jobs) <= limit:
            return jobs, 0
        ranked = sorted(jobs.values(), key=keep_rank, reverse=True)
        return {job.key: job for job in ranked[:limit]}, len(jobs) - limit

    def make_room(self, current: Mapping[JobKey, Job],
                  changed: dict[JobKey, Job]) -> Room:
        """`changed` joining the exported `current` within the cap: past it, the
        lowest-ranked of old and new stay out."""
        excess = (len(current) + sum(1 for key in changed if key not in current)
                  - self.policy.max_jobs_per_account)
        if excess <= 0:
            return Room(changed, set(), set())
        pool = {**current, **changed}
        dropped = {job.key for job in heapq.nsmallest(excess, pool.values(), key=keep_rank)}
        return Room({key: job for key, job in changed.items() if key not in dropped},
                    {key for key in dropped if key in current}, dropped)

    def unexpired(self, jobs: dict[JobKey, Job], now: float) -> dict[JobKey, Job] | None:
        """`jobs` without those past their retention; None when none is."""
        if all(self.retained(job, now) for job in jobs.values()):
            return None
        return {key: job for key, job in jobs.items() if self.retained(job, now)}
