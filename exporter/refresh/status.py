"""What an account's refreshes did: read by the metrics and the landing page."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

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

    @property
    def stale(self) -> bool:
        """The exported jobs are not from a current refresh: the last one failed, or
        one is still running while a scrape is answered."""
        return not self.up or self.refreshing
