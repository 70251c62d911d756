"""What an account's refreshes did: read by the metrics and the landing page."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from exporter.common.distribution import JOB_SECONDS_BUCKETS, Distribution
from exporter.jobs.states import JobState


@dataclass
class AccountStatus:
    up: bool = False
    attempts: int = 0
    failures_in_a_row: int = 0
    last_attempt: float | None = None
    last_success: float | None = None
    last_full_sync: float | None = None
    last_duration: float = 0.0
    last_error: str = ""
    next_attempt: float = 0.0
    refreshing: bool = False
    transitions: Counter[tuple[str, JobState]] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    #: StartTime -> EndTime of jobs seen ending, by (transform, final state).
    durations: dict[tuple[str, JobState], Distribution] = field(default_factory=dict)
    #: Created -> StartTime of jobs seen starting, by transform.
    queue_durations: dict[str, Distribution] = field(default_factory=dict)

    def observe_duration(self, transform: str, state: JobState, seconds: float) -> None:
        self.durations.setdefault((transform, state), Distribution(JOB_SECONDS_BUCKETS)) \
            .observe(seconds)

    def observe_queue_time(self, transform: str, seconds: float) -> None:
        self.queue_durations.setdefault(transform, Distribution(JOB_SECONDS_BUCKETS)) \
            .observe(seconds)

    @property
    def stale(self) -> bool:
        """The exported jobs are not from a current refresh: the last one failed, or
        one is still running while a scrape is answered."""
        return not self.up or self.refreshing
