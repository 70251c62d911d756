"""The jobs the match-cache tests (v2, v3, MK.IO) list: old ones that match the
exporter's listing filter only while active."""

from __future__ import annotations

from exporter.jobs.states import JobState
from exporter.simulator import SimJob


def staggered_jobs(t0: float) -> list[SimJob]:
    """Jobs a to f, created a second apart two hours before `t0` (before the lookback)
    and processing since; a, c and e finish at t0 + 10 * (i + 1), so moving the clock
    changes which of them match."""
    jobs = []
    for i, name in enumerate("abcdef"):
        events = [(t0 - 7200, JobState.Processing)]
        if name in "ace":
            events.append((t0 + 10 * (i + 1), JobState.Finished))
        jobs.append(SimJob(id=name, name=name, created=t0 - 7200 + i, events=events))
    return jobs
