"""One account's picture of its jobs: refreshing it and keeping the last good one."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from exporter.auth import AuthError
from exporter.config import AccountConfig, Config
from exporter.model import Job
from exporter.selection import literal_prefix
from exporter.states import JobState
from exporter.v2_client import ApiError, Listing, V2Client, filter_clauses_for

log = logging.getLogger(__name__)

#: Error jobs whose tasks are looked up per refresh (for error codes); the rest wait.
MAX_ERROR_LOOKUPS_PER_REFRESH = 50


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
        client: V2Client,
        clock: Callable[[], float],
    ) -> None:
        self.account = account
        self.config = config
        self.client = client
        self.clock = clock
        self.status = AccountStatus()
        self._jobs: dict[str, Job] = {}
        self._refresh_lock = threading.Lock()
        self._error_lookups_done: set[str] = set()

    @property
    def name(self) -> str:
        return self.account.name

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
            listing = self._fetch(started)
            jobs = self._select(listing, started)
            self._enrich(jobs)
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

    def _fetch(self, now: float) -> Listing:
        selection = self.account.jobs
        if selection.ids:
            state_clauses = filter_clauses_for(selection.states, None, None)
            return self.client.get_jobs_by_id(selection.ids, state_clauses)
        prefix = literal_prefix(selection.name_regex) if selection.name_regex else None
        clauses = filter_clauses_for(selection.states, now - self.config.lookback, prefix)
        return self.client.list_jobs(clauses)

    def _select(self, listing: Listing, now: float) -> dict[str, Job]:
        self.status.skipped["malformed"] += listing.malformed
        regex = self.account.jobs.name_regex
        jobs = {
            job_id: job
            for job_id, job in listing.jobs.items()
            if (regex is None or regex.search(job.name)) and self._retained(job, now)
        }
        limit = self.config.max_jobs_per_account
        if len(jobs) > limit:
            # Keep active jobs first, then the most recently created.
            ranked = sorted(jobs.values(), key=lambda j: (j.state.is_active, j.created),
                            reverse=True)
            self.status.skipped["limit"] += len(jobs) - limit
            jobs = {job.job_id: job for job in ranked[:limit]}
        return jobs

    def _enrich(self, jobs: dict[str, Job]) -> None:
        """Task progress for processing jobs and error codes for failed ones (v2 only
        has these on the tasks: one request per job, so only when enabled)."""
        if not self.account.progress:
            return
        lookups = 0
        for job_id, job in jobs.items():
            previous = self._jobs.get(job_id)
            if job.state == JobState.Processing:
                summary = self.client.get_tasks(job_id)
                jobs[job_id] = replace(job, progress=summary.progress)
            elif job.state == JobState.Finished:
                jobs[job_id] = replace(job, progress=1.0)
            elif job.state == JobState.Error:
                if (previous is not None and previous.state == JobState.Error
                        and job_id in self._error_lookups_done):
                    jobs[job_id] = replace(job, progress=previous.progress,
                                           errors=previous.errors)
                elif lookups < MAX_ERROR_LOOKUPS_PER_REFRESH:
                    lookups += 1
                    summary = self.client.get_tasks(job_id)
                    jobs[job_id] = replace(job, progress=summary.progress,
                                           errors=summary.errors)
                    self._error_lookups_done.add(job_id)
        self._error_lookups_done.intersection_update(jobs)

    def _succeeded(self, jobs: dict[str, Job]) -> None:
        status = self.status
        for job_id, job in jobs.items():
            previous = self._jobs.get(job_id)
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
            log.warning("account %s: refresh failed, serving the last good data: %s",
                        self.name, reason)
        status.up = False
        status.last_error = reason

    def _retained(self, job: Job, now: float) -> bool:
        if not job.state.is_final or job.end_time is None:
            return True
        retention = self.config.retention
        keep = retention.failed if job.state == JobState.Error else retention.finished
        return now - job.end_time <= keep
