"""One account's picture of its jobs: refreshing it and keeping the last good one."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from exporter.auth import AuthError
from exporter.config import AccountConfig, Config
from exporter.model import Job, Listing
from exporter.states import JobState
from exporter.transport import ApiError

log = logging.getLogger(__name__)

JobKey = tuple[str, str]


class JobSource(Protocol):
    """One API generation's way of reading an account's jobs."""

    def fetch(self, now: float) -> Listing:
        """The selected jobs as the API has them now."""

    def enrich(self, jobs: dict[JobKey, Job], previous: dict[JobKey, Job]) -> None:
        """Add details that need more requests (progress, error codes), in place."""

    @property
    def known_transforms(self) -> tuple[str, ...]:
        """Transforms to report aggregates for, zeros included ("" for v2)."""


@dataclass
class AccountStatus:
    """What the account's last refreshes did; read by the collector and landing page."""

    up: bool = False
    attempts: int = 0
    last_attempt: float | None = None
    last_success: float | None = None
    last_duration: float = 0.0
    last_error: str = ""
    transitions: Counter[tuple[str, JobState]] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)


class AccountRefresher:
    """Keeps one account's jobs; refreshes at most once per `refresh.min_interval`.

    A failed refresh marks the account down and keeps the previous jobs, so a
    transient fault never empties the exposition.
    """

    def __init__(
        self,
        account: AccountConfig,
        config: Config,
        source: JobSource,
        clock: Callable[[], float],
    ) -> None:
        self.account = account
        self.config = config
        self.source = source
        self.clock = clock
        self.status = AccountStatus()
        self._jobs: dict[JobKey, Job] = {}
        self._refresh_lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.account.name

    @property
    def transforms(self) -> tuple[str, ...]:
        return self.source.known_transforms

    def jobs(self, now: float) -> list[Job]:
        """The jobs to export now (retention is applied at scrape time too)."""
        return [job for job in self._jobs.values() if self._retained(job, now)]

    def is_due(self) -> bool:
        last = self.status.last_attempt
        return last is None or self.clock() - last >= self.config.refresh.min_interval

    def ensure_fresh(self) -> None:
        """Refresh unless the last attempt is recent; concurrent callers share one refresh."""
        with self._refresh_lock:
            if self.is_due():
                self._refresh()

    def _refresh(self) -> None:
        started = self.clock()
        try:
            listing = self.source.fetch(started)
            jobs = self._select(listing, started)
            self.source.enrich(jobs, self._jobs)
        except (ApiError, AuthError) as exc:
            self._failed(str(exc))
        except Exception as exc:  # never let a surprise take the exporter down
            log.debug("account %s: unexpected refresh failure", self.name, exc_info=True)
            self._failed(f"unexpected {type(exc).__name__}")
        else:
            self._succeeded(jobs)
        finally:
            status = self.status
            status.attempts += 1
            status.last_attempt = self.clock()
            status.last_duration = max(0.0, status.last_attempt - started)

    def _select(self, listing: Listing, now: float) -> dict[JobKey, Job]:
        self.status.skipped["malformed"] += listing.malformed
        regex = self.account.jobs.name_regex
        jobs = {
            key: job
            for key, job in listing.jobs.items()
            if (regex is None or regex.search(job.name)) and self._retained(job, now)
        }
        limit = self.config.max_jobs_per_account
        if len(jobs) > limit:
            # Keep active jobs first, then the most recently created.
            ranked = sorted(jobs.values(), key=lambda j: (j.state.is_active, j.created),
                            reverse=True)
            self.status.skipped["limit"] += len(jobs) - limit
            jobs = {job.key: job for job in ranked[:limit]}
        return jobs

    def _succeeded(self, jobs: dict[JobKey, Job]) -> None:
        status = self.status
        for key, job in jobs.items():
            previous = self._jobs.get(key)
            if previous is None or previous.state != job.state:
                status.transitions[(job.transform, job.state)] += 1
        self._jobs = jobs
        if not status.up and status.attempts:
            log.info("account %s: refresh succeeded again (%d jobs)", self.name, len(jobs))
        status.up = True
        status.last_success = self.clock()
        status.last_error = ""

    def _failed(self, reason: str) -> None:
        status = self.status
        if status.up or status.last_error != reason:
            kept = f"; still exporting {len(self._jobs)} jobs from " \
                "the last good refresh" if self._jobs else ""
            log.warning("account %s: refresh failed: %s%s", self.name, reason, kept)
        status.up = False
        status.last_error = reason

    def _retained(self, job: Job, now: float) -> bool:
        if not job.state.is_final or job.end_time is None:
            return True
        retention = self.config.retention
        keep = retention.failed if job.state == JobState.Error else retention.finished
        return now - job.end_time <= keep
