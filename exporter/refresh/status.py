"""What an account's refreshes did: read by the metrics and the landing page."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from exporter.common.distribution import JOB_SECONDS_BUCKETS, Distribution
from exporter.jobs.model import Group
from exporter.jobs.states import JobState

#: Per (transform, correlation label values).
TransformGroup = tuple[str, tuple[str, ...]]


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
    #: Jobs seen entering a state, by (transform, state, correlation label values).
    transitions: Counter[Group] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    #: StartTime -> EndTime of jobs seen ending, by (transform, final state,
    #: correlation label values).
    durations: dict[Group, Distribution] = field(default_factory=dict)
    #: Created -> StartTime of jobs seen starting, by (transform, correlation label
    #: values).
    queue_durations: dict[TransformGroup, Distribution] = field(default_factory=dict)
    #: Jobs whose correlation label turned `__other__` (over the cap), by label.
    correlation_overflow: Counter[str] = field(default_factory=Counter)

    def observe_duration(self, transform: str, state: JobState, seconds: float,
                         correlation: tuple[str, ...] = ()) -> None:
        self.durations.setdefault((transform, state, correlation),
                                  Distribution(JOB_SECONDS_BUCKETS)).observe(seconds)

    def observe_queue_time(self, transform: str, seconds: float,
                           correlation: tuple[str, ...] = ()) -> None:
        self.queue_durations.setdefault((transform, correlation),
                                        Distribution(JOB_SECONDS_BUCKETS)).observe(seconds)

    @property
    def stale(self) -> bool:
        """The exported jobs are not from a current refresh: the last one failed, or
        one is still running while a scrape is answered."""
        return not self.up or self.refreshing
