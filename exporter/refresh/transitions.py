"""What publishing jobs shows: the state transitions, and the run and queue times of
jobs seen ending and starting (ams_job_transitions_total, the duration histograms).

Counting is split from looking, so a refresh whose publishing fails counts nothing:
`observe` before publishing, `Observed.count` after.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from exporter.jobs.model import Group, Job, JobKey
from exporter.refresh.status import AccountStatus


@dataclass(slots=True)
class Observed:
    """What some jobs show against those exported before them."""

    #: Jobs that entered a state (new, or in another state than before), by group.
    entered: Counter[Group] = field(default_factory=Counter)
    ended: list[Job] = field(default_factory=list)
    started: list[Job] = field(default_factory=list)

    def count(self, status: AccountStatus) -> None:
        status.transitions.update(self.entered)
        for job in self.ended:
            assert job.start_time is not None and job.end_time is not None
            status.observe_duration(job.transform, job.state,
                                    max(0.0, job.end_time - job.start_time), job.correlation)
        for job in self.started:
            assert job.start_time is not None
            status.observe_queue_time(job.transform, max(0.0, job.start_time - job.created),
                                      job.correlation)


def observe(current: Mapping[JobKey, Job], seen: Mapping[JobKey, Job],
            watching_since: float) -> Observed:
    """The transitions and durations `seen` shows against `current`; jobs first seen
    are timed only for what happened after `watching_since` (the exporter's start)."""
    observed = Observed()
    entered, ended, started = observed.entered, observed.ended, observed.started
    for key, job in seen.items():
        previous = current.get(key)
        if previous is None or previous.state != job.state:
            entered[job.group] += 1
        if seen_ending(previous, job, watching_since):
            ended.append(job)
        if seen_starting(previous, job, watching_since):
            started.append(job)
    return observed


def seen_ending(previous: Job | None, job: Job, watching_since: float) -> bool:
    """Each job is observed once, when it is seen final for the first time: after
    being seen active, or on first sight if it ended after we started watching."""
    if not job.state.is_final or job.start_time is None or job.end_time is None:
        return False
    if previous is None:
        return job.end_time >= watching_since
    return not previous.state.is_final


def seen_starting(previous: Job | None, job: Job, watching_since: float) -> bool:
    """Likewise for the queue time: once, when the job is first seen started."""
    if job.start_time is None:
        return False
    if previous is None:
        return job.start_time >= watching_since
    return previous.start_time is None
