"""One account's picture of its jobs: refreshing it cheaply and keeping the last good one.

A refresh is either full (every selected job: the first one, then every
`refresh.full_resync`, which also catches jobs deleted upstream) or incremental:
jobs modified since the last sync plus every active job, merged into what we have.
Jobs we held as active that the incremental answer no longer lists are looked up by
id, so a state change is never missed even where AMS does not move `LastModified`
(the seed document shows a Processing job whose LastModified is its Created time).
"""

from __future__ import annotations

import heapq
import logging
import random
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from typing import NamedTuple

from exporter.backends.auth.errors import AuthError
from exporter.backends.base import JobSource
from exporter.backends.settings import AccountSettings
from exporter.backends.transport import ApiError, ThrottledError
from exporter.jobs.claims import Claims, apply_claims
from exporter.jobs.events import JobEvent
from exporter.jobs.model import Job, JobKey, Listing, date_unknown_creations, keep_rank
from exporter.jobs.states import JobState
from exporter.refresh.marks import Mark
from exporter.refresh.settings import RefreshPolicy
from exporter.refresh.snapshot import Renderer, Snapshot, no_rendering
from exporter.refresh.status import AccountStatus

log = logging.getLogger(__name__)

#: Request ids (uuids, possibly cut short) and times, which differ between failures.
_VARYING = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F-]+|\d{4}-\d{2}-\d{2}[ T][\d:.]+Z?")
#: Incremental syncs ask for changes since the newest LastModified seen, minus this,
#: so jobs committed slightly out of order on the server are not missed.
INCREMENTAL_OVERLAP_SECONDS = 60.0
#: Failed refreshes back off exponentially up to this many min_intervals (max 5 min):
#: enough to halve the load on a struggling API, short enough that the data is back
#: within two intervals of the API recovering. Retry-After still comes first.
MAX_BACKOFF_INTERVALS = 2
MAX_BACKOFF_SECONDS = 300.0


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
        self._watermark: float | None = None
        self._refresh_lock = threading.Lock()
        #: Held while a new snapshot is made from the current one (refreshes and
        #: push events both publish).
        self._publish_lock = threading.RLock()
        #: Start of the last successful refresh: what polled jobs are known at.
        self._polled_at = 0.0
        #: Jobs changed by push events (or read by name): the API's record and the
        #: events' claims on top; dropped once a refresh has superseded them.
        self._marks: dict[JobKey, Mark] = {}

    @property
    def name(self) -> str:
        return self.account.name

    @property
    def transforms(self) -> tuple[str, ...]:
        return self.source.known_transforms

    @property
    def _jobs(self) -> dict[JobKey, Job]:
        return self.snapshot.jobs

    def jobs(self) -> list[Job]:
        """The jobs exported now (retention is applied when a refresh ends)."""
        return list(self.snapshot.jobs.values())

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

    def _refresh(self) -> None:
        started = self.clock()
        retry_after = None
        try:
            jobs, full = self._sync(started)
            self.source.enrich(jobs, self._jobs)
            self._succeeded(jobs, started, full)
        except ThrottledError as exc:
            retry_after = exc.retry_after
            self._failed(str(exc))
        except (ApiError, AuthError) as exc:
            self._failed(str(exc))
        except Exception as exc:  # never let a surprise take the exporter down
            log.debug("account %s: unexpected refresh failure", self.name, exc_info=True)
            self._failed(f"unexpected {type(exc).__name__}: {_first_line(exc)}")
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
            status.next_attempt = status.last_attempt + self._delay(retry_after)

    def _sync(self, now: float) -> tuple[dict[JobKey, Job], bool]:
        """(selected jobs, whether this was a full sync)."""
        status = self.status
        watermark = self._watermark
        full = (watermark is None or status.last_full_sync is None
                or now - status.last_full_sync >= self.policy.refresh.full_resync)
        changed = None if full or watermark is None else self.source.fetch_changed(
            watermark - INCREMENTAL_OVERLAP_SECONDS)
        if changed is None:
            listing = self.source.fetch_all(now)
            status.skipped["malformed"] += listing.malformed
            status.skipped["limit"] += listing.over_limit
            self._advance_watermark(listing, reset=True)
            return self._select(date_unknown_creations(listing.jobs, self._jobs, now),
                                now), True
        known = self._api_jobs()
        merged = {**known, **changed.jobs}
        vanished = [key for key, job in known.items()
                    if job.state.is_active and key not in changed.jobs]
        if vanished:
            # Active jobs that left the active set without a newer LastModified.
            found = self.source.fetch_keys(vanished)
            changed.malformed += found.malformed
            merged.update(found.jobs)
            for key in vanished:
                if key not in found.jobs:
                    del merged[key]  # deleted upstream
        status.skipped["malformed"] += changed.malformed
        status.skipped["limit"] += changed.over_limit
        self._advance_watermark(changed, reset=False)
        return self._select(date_unknown_creations(merged, self._jobs, now), now), False

    def _advance_watermark(self, listing: Listing, reset: bool) -> None:
        newest = max((job.last_modified or job.created for job in listing.jobs.values()),
                     default=None)
        if reset:
            self._watermark = newest
        elif newest is not None:
            self._watermark = max(newest, self._watermark or newest)

    def _select(self, candidates: dict[JobKey, Job], now: float) -> dict[JobKey, Job]:
        """Client-side selection: states, name regex, lookback, retention, the cap.
        The API filters most of it already; merged incremental results need it all."""
        selection = self.account.jobs
        oldest = now - self.policy.lookback
        return self._cap({key: job for key, job in candidates.items()
                          if selection.matches(job, oldest) and self._retained(job, now)})

    def _cap(self, jobs: dict[JobKey, Job]) -> dict[JobKey, Job]:
        """At most max_jobs_per_account: active jobs first, then the most recently
        created (the rest are counted as skipped for the limit)."""
        limit = self.policy.max_jobs_per_account
        if len(jobs) <= limit:
            return jobs
        ranked = sorted(jobs.values(), key=keep_rank, reverse=True)
        self.status.skipped["limit"] += len(jobs) - limit
        return {job.key: job for job in ranked[:limit]}

    def _api_jobs(self) -> dict[JobKey, Job]:
        """The exported jobs as the API last answered for them (events' claims left
        out): what an incremental sync merges its changes into."""
        with self._publish_lock:
            jobs = self._jobs
            return {**jobs, **{key: mark.base for key, mark in self._marks.items()
                               if key in jobs}}

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
        """Events received less than EVENT_GRACE before this refresh began may be
        newer than what it read: their claims are applied again on top of it. Older
        claims yield to it, as do jobs it no longer has."""
        marks = self._marks
        if not marks:
            return polled
        current = self._jobs
        merged = dict(polled)
        for key, mark in list(marks.items()):
            record = polled.get(key)
            if mark.base_at > started_at and key in current:
                merged[key] = current[key]  # read by name while this refresh ran
            elif mark.base_at > started_at or record is None:
                del marks[key]  # gone from the API, or from the selection
            else:
                merged[key] = mark.rebase(record, started_at)
                if not mark.claims:
                    del marks[key]
        capped = self._cap(merged)
        if capped is not merged:
            for key in [key for key in marks if key not in capped]:
                del marks[key]
        return capped

    def _commit(self, jobs: dict[JobKey, Job] | None = None,
                changed: dict[JobKey, Job] | None = None) -> None:
        """Publish a whole new set of jobs (a refresh) or changes to some (events),
        counting the transitions and durations they show; if publishing fails
        (rendering), nothing is counted. Call with the publish lock held."""
        status = self.status
        current = self._jobs
        seen = changed if changed is not None else jobs or {}
        entered: Counter[tuple[str, JobState]] = Counter()
        ended: list[Job] = []
        started: list[Job] = []
        for key, job in seen.items():
            previous = current.get(key)
            if previous is None or previous.state != job.state:
                entered[(job.transform, job.state)] += 1
            if self._seen_ending(previous, job):
                ended.append(job)
            if self._seen_starting(previous, job):
                started.append(job)
        if changed is not None:
            rendered = self.render.update(self.snapshot.rendered, changed)
            self.snapshot = self.snapshot.with_changes(changed, rendered)
        else:
            self._publish(seen)
        status.transitions.update(entered)
        for job in ended:
            assert job.start_time is not None and job.end_time is not None
            status.observe_duration(job.transform, job.state,
                                    max(0.0, job.end_time - job.start_time))
        for job in started:
            assert job.start_time is not None
            status.observe_queue_time(job.transform, max(0.0, job.start_time - job.created))

    # ----------------------------------------------------------------- push events

    def apply_events(self, events: Iterable[JobEvent],
                     received_at: float | None = None) -> list[JobKey]:
        """Apply push events received at `received_at` (default: now) to the jobs
        exported; returns the keys of jobs not exported (for `fetch_jobs`: only the
        API adds a job). Idempotent and order-independent."""
        received = self.clock() if received_at is None else received_at
        unknown: dict[JobKey, None] = {}
        with self._publish_lock:
            current = self._jobs
            changed: dict[JobKey, Job] = {}
            for event in events:
                key = event.key
                job = changed.get(key) or current.get(key)
                if job is None:
                    unknown[key] = None
                    continue
                claims = Claims.of(event, received)
                mark = self._marks.get(key)
                if mark is None:
                    mark = self._marks[key] = Mark(job, self._polled_at, self._polled_at)
                changed[key], mark.known_at = apply_claims(job, mark.known_at, claims)
                mark.add(claims)
            changed = {key: job for key, job in changed.items() if current.get(key) != job}
            if changed:
                self._commit(changed=changed)
        return list(unknown)

    def fetch_jobs(self, keys: list[JobKey]) -> Fetched:
        """Read these jobs from the API (batched, within the account's budget): the
        selected ones are exported from now on, within max_jobs_per_account."""
        started_at = self.clock()
        found, missing = self._fetch_by_name(keys)
        with self._publish_lock:
            found = date_unknown_creations(found, self._jobs, started_at)
            changed = self._confirmed(found, started_at)
            changed, evicted = self._make_room(changed)
            if evicted:
                self._commit({key: job for key, job in {**self._jobs, **changed}.items()
                              if key not in evicted})
            elif changed:
                self._commit(changed=changed)
            unconfirmed = sum(1 for key in missing if key not in self._jobs)
        return Fetched(len(changed), unconfirmed)

    def _fetch_by_name(self, keys: list[JobKey]) -> tuple[dict[JobKey, Job], list[JobKey]]:
        """The jobs the API has of these, and the keys it has not. One transform at
        a time: a transform it does not have (404) refuses only its own keys; after
        another error the rest wait for the next refresh."""
        groups: dict[str, list[JobKey]] = {}
        for key in dict.fromkeys(keys):
            groups.setdefault(key[0], []).append(key)
        found: dict[JobKey, Job] = {}
        missing: list[JobKey] = []
        for group in groups.values():
            try:
                listing = self.source.fetch_keys(group)
            except ApiError as exc:
                if exc.status != 404:
                    log.debug("account %s: fetching %d jobs by name failed: %s", self.name,
                              len(group), _first_line(exc))
                    break
                missing.extend(group)
                continue
            self.status.skipped["malformed"] += listing.malformed
            found.update(listing.jobs)
            if not listing.malformed:  # else a missing key may be a malformed record
                missing.extend(key for key in group if key not in listing.jobs)
        return found, missing

    def _confirmed(self, found: dict[JobKey, Job], read_at: float) -> dict[JobKey, Job]:
        """The selected jobs of a fetch by name begun at `read_at`, with the claims
        of events still within their grace applied; jobs unchanged or known from a
        later answer are left out. Call with the publish lock held."""
        current = self._jobs
        changed: dict[JobKey, Job] = {}
        for key, record in found.items():
            mark = self._marks.get(key)
            known_at = mark.base_at if mark else self._polled_at if key in current else None
            if not self._wanted(record) or (known_at is not None and known_at >= read_at):
                continue
            if mark is None:
                mark = Mark(record, read_at, read_at)
            job = mark.rebase(record, read_at)
            if current.get(key) != job:
                self._marks[key] = mark
                changed[key] = job
        return changed

    def _make_room(self, changed: dict[JobKey, Job]) -> tuple[dict[JobKey, Job], set[JobKey]]:
        """Jobs new to the account join within max_jobs_per_account: past it, the
        lowest-ranked (keep_rank) of old and new stay out, counted as skipped for
        the limit. Returns the jobs that join and the exported ones they replace."""
        current = self._jobs
        excess = (len(current) + sum(1 for key in changed if key not in current)
                  - self.policy.max_jobs_per_account)
        if excess <= 0:
            return changed, set()
        pool = {**current, **changed}
        dropped = {job.key for job in heapq.nsmallest(excess, pool.values(), key=keep_rank)}
        self.status.skipped["limit"] += len(dropped)
        for key in dropped:
            self._marks.pop(key, None)
        return ({key: job for key, job in changed.items() if key not in dropped},
                {key for key in dropped if key in current})

    def _wanted(self, job: Job) -> bool:
        """A job the account exports: selected and within retention."""
        now = self.clock()
        return (self.account.jobs.matches(job, now - self.policy.lookback)
                and self._retained(job, now))

    def _seen_ending(self, previous: Job | None, job: Job) -> bool:
        """Each job is observed once, when it is seen final for the first time: after
        being seen active, or on first sight if it ended after we started watching."""
        if not job.state.is_final or job.start_time is None or job.end_time is None:
            return False
        if previous is None:
            return job.end_time >= self.started_at
        return not previous.state.is_final

    def _seen_starting(self, previous: Job | None, job: Job) -> bool:
        if job.start_time is None:
            return False
        if previous is None:
            return job.start_time >= self.started_at
        return previous.start_time is None

    def _failed(self, reason: str) -> None:
        status = self.status
        if status.up or _same_cause(status.last_error) != _same_cause(reason):
            kept = (f"; still exporting {len(self._jobs)} jobs from the last good refresh"
                    if self._jobs else "")
            log.warning("account %s: refresh failed: %s%s", self.name, reason, kept)
        status.up = False
        status.failures_in_a_row += 1
        status.last_error = reason

    def _delay(self, retry_after: float | None) -> float:
        """Seconds until the next attempt: min_interval after a success; after
        failures, exponential backoff with jitter (75-100 % of the step, so replicas
        spread out without exceeding the cap), and never before Retry-After."""
        interval = self.policy.refresh.min_interval
        failures = self.status.failures_in_a_row
        if failures == 0:
            return interval
        cap = min(MAX_BACKOFF_SECONDS, MAX_BACKOFF_INTERVALS * interval)
        backoff = min(cap, interval * 2 ** (failures - 1)) * self.rng.uniform(0.75, 1.0)
        return max(backoff, retry_after or 0.0)

    def _publish(self, jobs: dict[JobKey, Job]) -> None:
        """Swap in a new snapshot (one assignment, so scrapes see old or new, whole)."""
        self.snapshot = Snapshot.of(jobs, self.render(jobs, self.snapshot.rendered))

    def _drop_expired(self, now: float) -> None:
        """Retention also runs when a refresh fails, so no series outlives it."""
        with self._publish_lock:
            jobs = self.snapshot.jobs
            if any(not self._retained(job, now) for job in jobs.values()):
                kept = {k: j for k, j in jobs.items() if self._retained(j, now)}
                self._publish(kept)
                for key in [key for key in self._marks if key not in kept]:
                    del self._marks[key]

    def _retained(self, job: Job, now: float) -> bool:
        if not job.state.is_final or job.end_time is None:
            return True
        retention = self.policy.retention
        keep = retention.failed if job.state == JobState.Error else retention.finished
        return now - job.end_time <= keep


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:200] if lines else "no details"


def _same_cause(reason: str) -> str:
    """A failure reason without request ids and times: the same cause logs once."""
    return _VARYING.sub("…", reason)
