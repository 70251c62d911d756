"""The normalized job record every backend (AMS v2, AMS v3 and RMS, MK.IO) parses into."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TypeGuard

from exporter.jobs.states import JobState

#: A job's identity within an account: (transform, job id). v3 job names are only
#: unique per transform; v2 jobs have transform "".
JobKey = tuple[str, str]
#: What the aggregates count jobs by: (transform, state, correlation label values).
Group = tuple[str, JobState, tuple[str, ...]]

#: The longest job or transform name accepted, from a listing or an event: Media
#: Services (v3, RMS, MK.IO) names its resources with at most 260 characters. A
#: longer name is a malformed record, so no label value grows without bound.
MAX_NAME_LENGTH = 260


def bounded_name(value: object) -> TypeGuard[str]:
    """Whether `value` can name a job or transform: a non-empty string of at most
    MAX_NAME_LENGTH characters."""
    return isinstance(value, str) and 0 < len(value) <= MAX_NAME_LENGTH


@dataclass(frozen=True)
class ErrorInfo:
    """One distinct error of a failed job: bounded values only, never the message."""

    code: str
    category: str


@dataclass(frozen=True, slots=True)
class Job:
    """One encoding job as the exporter sees it; all times are Unix seconds (UTC)."""

    job_id: str
    name: str
    state: JobState
    created: float
    last_modified: float | None = None
    start_time: float | None = None
    end_time: float | None = None
    #: The API's own running duration in seconds (v2 `RunningDuration` is milliseconds
    #: on the wire); only trusted for final jobs, where it is frozen.
    api_running_duration: float | None = None
    priority: int = 0
    template_id: str = ""
    transform: str = ""
    progress: float | None = None
    errors: tuple[ErrorInfo, ...] = field(default=())
    #: The API gave no real creation time (only placeholders such as .NET's
    #: 0001-01-01T00:00:00Z): `created` is when the exporter first saw the job.
    created_unknown: bool = False
    #: The values of the configured correlationData keys, in label order (shared,
    #: interned strings; exporter.jobs.correlation); () with no labels configured.
    correlation: tuple[str, ...] = ()

    @property
    def key(self) -> JobKey:
        """Unique within an account: v3 job names are only unique per transform."""
        return (self.transform, self.job_id)

    @property
    def group(self) -> Group:
        """What the aggregates count it by."""
        return (self.transform, self.state, self.correlation)

    def age(self, now: float) -> float:
        return max(0.0, now - self.created)

    def running_duration(self, now: float) -> float:
        """Running time: live for active jobs, frozen once final, 0 before start."""
        if self.state.is_final:
            if self.start_time is not None and self.end_time is not None:
                return max(0.0, self.end_time - self.start_time)
            return max(0.0, self.api_running_duration or 0.0)
        if self.start_time is None:
            return 0.0
        return max(0.0, now - self.start_time)


def date_unknown_creations(jobs: dict[JobKey, Job], previous: Mapping[JobKey, Job],
                           now: float) -> dict[JobKey, Job]:
    """Give jobs without a real creation time the time the exporter first saw them:
    the one it gave them before, else `now`. Ages then count from first sight."""
    dated = dict(jobs)
    for key, job in jobs.items():
        if job.created_unknown:
            before = previous.get(key)
            seen = before.created if before is not None and before.created_unknown else now
            if job.created != seen:
                dated[key] = replace(job, created=seen)
    return dated


def keep_rank(job: Job) -> tuple[bool, float]:
    """Over the job cap, jobs with a higher rank are kept: active jobs first, then
    the most recently created."""
    return (job.state.is_active, job.created)


@dataclass
class Listing:
    """The jobs of one listing by key, how many records were malformed, and how many
    were dropped over `limit` while the listing was read.

    Memory stays bounded however long the listing: past twice the limit, only the
    `limit` best-ranked jobs are kept. Keeping the top of each part keeps the top
    of the whole, so the result is the one a sort of everything would give.
    """

    jobs: dict[JobKey, Job] = field(default_factory=dict)
    malformed: int = 0
    limit: int | None = None
    over_limit: int = 0

    def add(self, job: Job) -> None:
        self.jobs[job.key] = job
        if self.limit is not None and len(self.jobs) > 2 * self.limit:
            self._prune()

    def merge(self, other: Listing) -> None:
        for job in other.jobs.values():
            self.add(job)
        self.malformed += other.malformed
        self.over_limit += other.over_limit

    def _prune(self) -> None:
        assert self.limit is not None
        ranked = sorted(self.jobs.values(), key=keep_rank, reverse=True)
        self.over_limit += len(ranked) - self.limit
        self.jobs = {job.key: job for job in ranked[:self.limit]}
