"""What push events said about one job, on top of what the API last said.

A job changed by events keeps a Mark: the API's record of it (`base`, read at
`base_at`), and the claims of the events received since, by receipt time. When
the API answers for the job again (a refresh, a fetch by name), the claims
received EVENT_GRACE or more before that answer was asked for are dropped, and
the rest are applied to the new record (exporter.jobs.claims).

An account's marks (Marks) merge push events into its exported jobs, and the
claims still within their grace into the API's next answers. They are not
thread-safe: the refresher uses them with its publish lock held.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Container, Iterable, Mapping
from dataclasses import dataclass, field

from exporter.jobs.claims import EVENT_GRACE, Claims, apply_claims
from exporter.jobs.events import JobEvent
from exporter.jobs.model import Job, JobKey

#: Claims kept per job: past this, the two received first are merged (a job gets a
#: handful of events a minute; a flood costs bounded memory, and merged claims
#: yield to the API sooner, never later).
MAX_CLAIMS_PER_JOB = 16


@dataclass(slots=True)
class Mark:
    #: The job as the API last answered for it, and when that request began.
    base: Job
    base_at: float
    #: The time the exported job's state is known at (an event's, or base_at).
    known_at: float
    #: Claims of the events received since, oldest receipt first.
    claims: list[Claims] = field(default_factory=list)

    def add(self, claims: Claims) -> None:
        """Keep an event's claims: merged with those of the same receipt (one
        delivery), and within MAX_CLAIMS_PER_JOB."""
        kept = self.claims
        last = kept[-1] if kept else None
        if last is None or claims.received > last.received:  # the usual case
            kept.append(claims)
            self._bound()
            return
        if claims.received == last.received:  # the same delivery
            kept[-1] = last.merge(claims)
            return
        index = bisect_left(kept, claims.received, key=_received)
        if index < len(kept) and kept[index].received == claims.received:
            kept[index] = kept[index].merge(claims)
            return
        kept.insert(index, claims)
        self._bound()

    def _bound(self) -> None:
        kept = self.claims
        if len(kept) > MAX_CLAIMS_PER_JOB:
            kept[0:2] = [kept[0].merge(kept[1])]

    def rebase(self, record: Job, read_at: float) -> Job:
        """The job after an API answer asked for at `read_at`: claims received
        EVENT_GRACE or more before it are dropped (the answer replaces them), the
        rest applied to the answer."""
        self.claims = [c for c in self.claims if c.received > read_at - EVENT_GRACE]
        self.base, self.base_at = record, read_at
        job, self.known_at = record, read_at
        for claims in self.claims:
            job, self.known_at = apply_claims(job, self.known_at, claims)
        return job


class Marks:
    """The marks of an account's jobs changed by push events (or read by name),
    dropped once a refresh has superseded them. `correlation_keys`: the configured
    correlationData keys, whose values events may fill in."""

    def __init__(self, correlation_keys: tuple[str, ...] = ()) -> None:
        self._marks: dict[JobKey, Mark] = {}
        self.correlation_keys = correlation_keys

    def __len__(self) -> int:
        return len(self._marks)

    def __contains__(self, key: object) -> bool:
        return key in self._marks

    def get(self, key: JobKey) -> Mark | None:
        return self._marks.get(key)

    def apply(self, events: Iterable[JobEvent], received: float,
              current: Mapping[JobKey, Job],
              polled_at: float) -> tuple[dict[JobKey, Job], list[JobKey]]:
        """Push events received at `received` applied to the exported jobs `current`
        (as polled at `polled_at`): the jobs they change, and the keys of those not
        exported (only the API adds a job). Idempotent and order-independent."""
        marks = self._marks
        unknown: dict[JobKey, None] = {}
        changed: dict[JobKey, Job] = {}
        for event in events:
            key = event.key
            job = changed.get(key) or current.get(key)
            if job is None:
                unknown[key] = None
                continue
            claims = Claims.of(event, received, self.correlation_keys)
            mark = marks.get(key)
            if mark is None:
                mark = marks[key] = Mark(job, polled_at, polled_at)
            changed[key], mark.known_at = apply_claims(job, mark.known_at, claims)
            mark.add(claims)
        changed = {key: job for key, job in changed.items() if current.get(key) != job}
        return changed, list(unknown)

    def api_jobs(self, current: Mapping[JobKey, Job]) -> dict[JobKey, Job]:
        """The exported jobs as the API last answered for them (claims left out)."""
        return {**current, **{key: mark.base for key, mark in self._marks.items()
                              if key in current}}

    def reapply(self, polled: dict[JobKey, Job], current: Mapping[JobKey, Job],
                started_at: float) -> dict[JobKey, Job]:
        """A refresh begun at `started_at` read `polled`: claims received less than
        EVENT_GRACE before it may be newer and are applied again on top; older
        claims yield to it, as do jobs it no longer has. A job read by name while
        it ran stays as exported (`current`)."""
        marks = self._marks
        if not marks:
            return polled
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
        return merged

    def confirm(self, found: Mapping[JobKey, Job], current: Mapping[JobKey, Job],
                polled_at: float, read_at: float,
                wanted: Callable[[Job], bool]) -> dict[JobKey, Job]:
        """The `wanted` jobs of a read by name begun at `read_at`, with the claims
        of events still within their grace applied; jobs unchanged, or known from
        a later answer (exported ones from the refresh begun at `polled_at`), are
        left out."""
        marks = self._marks
        changed: dict[JobKey, Job] = {}
        for key, record in found.items():
            mark = marks.get(key)
            known_at = mark.base_at if mark else polled_at if key in current else None
            if not wanted(record) or (known_at is not None and known_at >= read_at):
                continue
            if mark is None:
                mark = Mark(record, read_at, read_at)
            job = mark.rebase(record, read_at)
            if current.get(key) != job:
                marks[key] = mark
                changed[key] = job
        return changed

    def drop(self, keys: Iterable[JobKey]) -> None:
        for key in keys:
            self._marks.pop(key, None)

    def keep_only(self, keys: Container[JobKey]) -> None:
        """Drop the marks of jobs no longer exported."""
        marks = self._marks
        for key in [key for key in marks if key not in keys]:
            del marks[key]


def _received(claims: Claims) -> float:
    return claims.received
