"""The normalized job record that both API generations are parsed into."""

from __future__ import annotations

from dataclasses import dataclass, field

from exporter.jobs.states import JobState

#: A job's identity within an account: (transform, job id). v3 job names are only
#: unique per transform; v2 jobs have transform "".
JobKey = tuple[str, str]


@dataclass(frozen=True)
class ErrorInfo:
    """One distinct error of a failed job: bounded values only, never the message."""

    code: str
    category: str


@dataclass(frozen=True, slots=True)
class Job:
    """One AMS job as the exporter sees it; all times are Unix seconds (UTC)."""

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

    @property
    def key(self) -> JobKey:
        """Unique within an account: v3 job names are only unique per transform."""
        return (self.transform, self.job_id)

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


@dataclass
class Listing:
    """The jobs of one listing by key, plus how many records were malformed."""

    jobs: dict[JobKey, Job] = field(default_factory=dict)
    malformed: int = 0
