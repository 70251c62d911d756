"""Jobs, events and policies for the unit tests of the refresh parts."""

from __future__ import annotations

from exporter.jobs.events import JobEvent
from exporter.jobs.model import Job
from exporter.jobs.states import JobState
from exporter.refresh.settings import RefreshConfig, RefreshPolicy, RetentionConfig
from tests.helpers import T0


def job(name: str, state: JobState, created: float = T0 - 600, *,
        started: float | None = None, ended: float | None = None, transform: str = "t",
        last_modified: float | None = None) -> Job:
    """A job in `state`; active jobs past Queued started 10 s after creation, final
    ones ended at `ended` (default: a minute before T0)."""
    if started is None and state not in (JobState.Queued, JobState.Scheduled):
        started = created + 10
    if state.is_final and ended is None:
        ended = T0 - 60
    return Job(job_id=name, name=name, state=state, created=created, transform=transform,
               start_time=started, end_time=ended if state.is_final else None,
               last_modified=last_modified)


def event(name: str, state: JobState | None, time: float, *, transform: str = "t",
          progress: float | None = None) -> JobEvent:
    return JobEvent(routes=("arm:x",), type="Microsoft.Media.JobStateChange",
                    transform=transform, job_name=name, time=time, state=state,
                    progress=progress)


def policy(*, finished: float = 3600.0, failed: float = 86400.0, lookback: float = 86400.0,
           max_jobs: int = 100, min_interval: float = 30.0,
           full_resync: float = 900.0) -> RefreshPolicy:
    """Durations in seconds (the configuration file writes them as 30s, 15m...)."""
    return RefreshPolicy(
        RefreshConfig(min_interval=_seconds(min_interval), full_resync=_seconds(full_resync)),
        RetentionConfig(finished=_seconds(finished), failed=_seconds(failed)),
        lookback, max_jobs)


def _seconds(value: float) -> str:
    return f"{int(value)}s" if value == int(value) else f"{value}s"
