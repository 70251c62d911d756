"""One account's picture of its jobs: refreshing it cheaply and keeping the last good one.

The refresher coordinates the parts: what to ask the API (sync), which jobs are
exported (selection), push events on top of the API's answers (marks), what
publishing counts (transitions) and the wait after failures (backoff). It owns the
locks and the snapshot: one refresh at a time (the refresh lock), and one new
snapshot at a time, made from the current one (the publish lock: refreshes, push
events and reads by name all publish).
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Iterable
from typing import NamedTuple

from exporter.backends.base import JobSource
from exporter.backends.settings import AccountSettings
from exporter.jobs.correlation import NO_LABELS, CorrelationLabels
from exporter.jobs.events import JobEvent
from exporter.jobs.model import Job, JobKey, date_unknown_creations
from exporter.refresh import transitions
from exporter.refresh.backoff import Failure, first_line, next_delay, worth_logging
from exporter.refresh.correlation import CorrelationCap
from exporter.refresh.marks import Marks
from exporter.refresh.selection import Selector
from exporter.refresh.settings import RefreshPolicy
from exporter.refresh.snapshot import Renderer, Snapshot, no_rendering
from exporter.refresh.status import AccountStatus
from exporter.refresh.sync import by_name, full_due, sync_jobs

log = logging.getLogger(__name__)


class Fetched(NamedTuple):
    """What a fetch by name did: jobs added or changed, and keys of jobs the API
    does not have (events named them; nothing is exported for them)."""

    changed: int
    unconfirmed: int


class AccountRefresher:
    """Keeps one account's jobs; refreshes at most once per `refresh.min_interval`,
    backs off after failures and honours Retry-After."""

    def __init__(
        self,
        account: AccountSettings,
        policy: RefreshPolicy,
        source: JobSource,
        clock: Callable[[], float],
        rng: random.Random | None = None,
        render: Renderer = no_rendering,
        correlation: CorrelationLabels = NO_LABELS,
    ) -> None:
        self.account = account
        self.policy = policy
        self.source = source
        self.clock = clock
        self.rng = rng or random.Random()
        self.render = render
        self.status = AccountStatus()
        #: Jobs that end (or start) before this are not observed in the duration
        #: histograms when first seen: they ended before we watched.
        self.started_at = clock()
        self.snapshot = Snapshot.of({}, render({}, None))
        #: Where the next incremental sync starts (sync.Answer.watermark).
        self._watermark: float | None = None
        self._refresh_lock = threading.Lock()
        #: Held while a new snapshot is made from the current one (refreshes and
        #: push events both publish).
        self._publish_lock = threading.RLock()
        #: Start of the last successful refresh: what polled jobs are known at.
        self._polled_at = 0.0
        #: Jobs changed by push events (or read by name): the API's record and the
        #: events' claims on top. Used with the publish lock held.
        self._marks = Marks(correlation.keys)
        #: The correlation labels' values in use, and their cap.
        self.correlation = CorrelationCap(correlation)

    @property
    def name(self) -> str:
        return self.account.name

    @property
    def transforms(self) -> tuple[str, ...]:
        return self.source.known_transforms

    @property
    def _jobs(self) -> dict[JobKey, Job]:
        return self.snapshot.jobs

    @property
    def _selector(self) -> Selector:
        """The selection under the current policy (a reload replaces the policy)."""
        return Selector(self.account.jobs, self.policy)

    def jobs(self) -> list[Job]:
        """The jobs exported now (retention is applied when a refresh ends)."""
        return list(self.snapshot.jobs.values())

    def servable(self) -> bool:
        """Whether a scrape may take the snapshot as it is while a due refresh runs:
        the last successful refresh began less than max_staleness ago."""
        return (self.status.last_success is not None
                and self.clock() - self._polled_at < self.policy.max_staleness)

    def is_due(self) -> bool:
        return self.status.attempts == 0 or self.clock() >= self.status.next_attempt

    def ensure_fresh(self) -> None:
        """Refresh if due; concurrent callers wait for the one refresh."""
        with self._refresh_lock:
            if self.is_due():
                self.status.refreshing = True
                try:
                    self._refresh()
                finally:
                    self.status.refreshing = False

    # -------------------------------------------------------------------- refresh

    def _refresh(self) -> None:
        started = self.clock()
        retry_after = None
        try:
            jobs, full = self._sync(started)
            self.source.enrich(jobs, self._jobs)
            self._succeeded(jobs, started, full)
        except Exception as exc:  # never let a surprise take the exporter down
            failure = Failure.of(exc)
            if failure.unexpected:
                log.debug("account %s: unexpected refresh failure", self.name,
                          exc_info=True)
            retry_after = failure.retry_after
            self._failed(failure.reason)
        finally:
            try:
                self._drop_expired(self.clock())
            except Exception:  # a failed re-render keeps the snapshot as it was
                log.debug("account %s: dropping expired jobs failed", self.name,
                          exc_info=True)
            status = self.status
            status.attempts += 1
            status.last_attempt = self.clock()
            status.last_duration = max(0.0, status.last_attempt - started)
            status.next_attempt = status.last_attempt + next_delay(
                self.policy.refresh.min_interval, status.failures_in_a_row, retry_after,
                self.rng)

    def _sync(self, now: float) -> tuple[dict[JobKey, Job], bool]:
        """(selected jobs, whether this was a full sync)."""
        status = self.status
        full = full_due(self._watermark, status.last_full_sync, now,
                        self.policy.refresh.full_resync)
        answer = sync_jobs(self.source, now, self._watermark, full, self._api_jobs,
                           status.skipped)
        self._watermark = answer.watermark
        jobs, over_limit = self._selector.select(
            date_unknown_creations(answer.jobs, self._jobs, now), now)
        self._skip_for_limit(over_limit)
        return jobs, answer.full

    def _api_jobs(self) -> dict[JobKey, Job]:
        """The exported jobs as the API last answered for them (events' claims left
        out): what an incremental sync merges its changes into."""
        with self._publish_lock:
            return self._marks.api_jobs(self._jobs)

    def _succeeded(self, jobs: dict[JobKey, Job], started_at: float, full: bool) -> None:
        status = self.status
        with self._publish_lock:
            jobs = self._keep_newer_events(jobs, started_at)
            self._commit(jobs)
            self._polled_at = started_at
        if not status.up and status.attempts:
            log.info("account %s: refresh succeeded again (%d jobs)", self.name, len(jobs))
        status.up = True
        status.failures_in_a_row = 0
        status.last_success = self.clock()
        if full:
            status.last_full_sync = started_at
        status.last_error = ""

    def _keep_newer_events(self, polled: dict[JobKey, Job],
                           started_at: float) -> dict[JobKey, Job]:
        """The refresh's jobs with the claims of recent events on top (Marks.reapply),
        within the cap. Call with the publish lock held."""
        if not self._marks:
            return polled
        merged = self._marks.reapply(polled, self._jobs, started_at)
        capped, over_limit = self._selector.cap(merged)
        self._skip_for_limit(over_limit)
        if capped is not merged:
            self._marks.keep_only(capped)
        return capped

    def _failed(self, reason: str) -> None:
        status = self.status
        if worth_logging(status.up, status.last_error, reason):
            kept = (f"; still exporting {len(self._jobs)} jobs from the last good refresh"
                    if self._jobs else "")
            log.warning("account %s: refresh failed: %s%s", self.name, reason, kept)
        status.up = False
        status.failures_in_a_row += 1
        status.last_error = reason

    def _drop_expired(self, now: float) -> None:
        """Retention also runs when a refresh fails, so no series outlives it."""
        with self._publish_lock:
            kept = self._selector.unexpired(self.snapshot.jobs, now)
            if kept is not None:
                self._publish(kept)
                self._marks.keep_only(kept)

    # ----------------------------------------------------------------- push events

    def apply_events(self, events: Iterable[JobEvent],
                     received_at: float | None = None) -> list[JobKey]:
        """Apply push events received at `received_at` (default: now) to the jobs
        exported; returns the keys of jobs not exported (for `fetch_jobs`: only the
        API adds a job). Idempotent and order-independent."""
        received = self.clock() if received_at is None else received_at
        with self._publish_lock:
            changed, unknown = self._marks.apply(events, received, self._jobs,
                                                 self._polled_at)
            if changed:
                self._commit(changed=changed)
        return unknown

    def fetch_jobs(self, keys: list[JobKey]) -> Fetched:
        """Read these jobs from the API (batched, within the account's budget): the
        selected ones are exported from now on, within max_jobs_per_account."""
        started_at = self.clock()
        read = by_name(self.source, keys, self.status.skipped)
        if read.error is not None:
            log.debug("account %s: fetching %d jobs by name failed: %s", self.name,
                      read.failed, first_line(read.error))
        with self._publish_lock:
            selector = self._selector
            found = date_unknown_creations(read.found, self._jobs, started_at)
            changed = self._marks.confirm(
                found, self._jobs, self._polled_at, started_at,
                lambda job: selector.wanted(job, self.clock()))
            room = selector.make_room(self._jobs, changed)
            self._skip_for_limit(len(room.dropped))
            self._marks.drop(room.dropped)
            changed = room.joining
            if room.evicted:
                self._commit({key: job for key, job in {**self._jobs, **changed}.items()
                              if key not in room.evicted})
            elif changed:
                self._commit(changed=changed)
            unconfirmed = sum(1 for key in read.missing if key not in self._jobs)
        return Fetched(len(changed), unconfirmed)

    # ------------------------------------------------------------------ publishing

    def _skip_for_limit(self, count: int) -> None:
        """Count jobs max_jobs_per_account left out (only when there are some)."""
        if count:
            self.status.skipped["limit"] += count

    def _commit(self, jobs: dict[JobKey, Job] | None = None,
                changed: dict[JobKey, Job] | None = None) -> None:
        """Publish a whole new set of jobs (a refresh) or changes to some (events),
        counting the transitions and durations they show; if publishing fails
        (rendering), nothing is counted. The correlation labels are capped here,
        where every job passes. Call with the publish lock held."""
        seen, overflow = self.correlation.apply(
            changed if changed is not None else jobs or {}, self._jobs)
        observed = transitions.observe(self._jobs, seen, self.started_at)
        if changed is not None:
            rendered = self.render.update(self.snapshot.rendered, seen)
            self.snapshot = self.snapshot.with_changes(seen, rendered)
        else:
            self._publish(seen)
        observed.count(self.status)
        self.status.correlation_overflow.update(overflow)

    def _publish(self, jobs: dict[JobKey, Job]) -> None:
        """Swap in a new snapshot (one assignment, so scrapes see old or new, whole)."""
        self.snapshot = Snapshot.of(jobs, self.render(jobs, self.snapshot.rendered))
