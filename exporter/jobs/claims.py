"""How events change a job: a merge that gives the same job whatever the order
and however often events arrive (Event Grid delivers at least once, unordered).

Events are hints; the API is the truth (SPEC §11). What an event says is kept as
its *claims*: the state it reports and when, the start or end it implies, its
progress, error codes and time. Claims are applied on top of the job as the API
last answered. A job's state is ranked by (final, time it is known at, state): a
later observation wins, a final state wins over any active one, and nothing moves
a job back; start and end times take the earliest report, progress the highest,
errors the union, last-modified the latest. Every one of those is a commutative,
associative choice, so claims merged first and applied once give the same job as
claims applied one by one, in any order.

A correlation label (metrics.correlation_labels) takes the job's value, and only
where the job has none what an event said (merged claims: the greatest value). A
job's correlationData is set when it is created, so its events agree; if two ever
disagreed on a value the API has not given, the one applied first would stay until
the API answers.

An event time later than the event's receipt plus MAX_CLOCK_SKEW counts as the
receipt time (no future time is exported). An API answer fetched EVENT_GRACE or
more after an event's receipt replaces that event's claims.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from exporter.jobs.correlation import correlation_values, filled_in, merged_claims
from exporter.jobs.events import JobEvent
from exporter.jobs.model import ErrorInfo, Job
from exporter.jobs.states import JobState

#: Seconds an event time may lie after its receipt (clocks differ); beyond this the
#: receipt time plus this skew is taken instead.
MAX_CLOCK_SKEW = 300.0
#: An API answer whose request began this long after an event's receipt replaces
#: the event's claims; an event received less than this before may be newer than
#: the answer and is applied on top of it.
EVENT_GRACE = 30.0
_NO_ERRORS: frozenset[ErrorInfo] = frozenset()


def rank(state: JobState, known_at: float) -> tuple[bool, float, int]:
    """Final beats active, then the later time; equal times fall back to the state's
    number, so two events never tie (the merge stays order-independent)."""
    return (state.is_final, known_at, int(state))


@dataclass(frozen=True, slots=True)
class Claims:
    """What the events received at one time say about one job, merged."""

    #: When the events were received (the exporter's clock).
    received: float
    #: The best-ranked state reported, and the time it was reported for.
    state: JobState | None = None
    state_time: float = 0.0
    #: The earliest time the job was reported Processing, and reported final.
    started: float | None = None
    ended: float | None = None
    progress: float | None = None
    errors: frozenset[ErrorInfo] = frozenset()
    #: The latest event time (the job's last-modified time, as far as events know).
    latest: float | None = None
    #: The values of the configured correlationData keys, when the events carry it.
    correlation: tuple[str, ...] | None = None

    @classmethod
    def of(cls, event: JobEvent, received: float, keys: tuple[str, ...] = ()) -> Claims:
        """An event's claims, its time capped at the receipt plus MAX_CLOCK_SKEW;
        `keys` are the configured correlationData keys."""
        time = min(event.time, received + MAX_CLOCK_SKEW)
        state = event.state
        correlation = (correlation_values(event.correlation, keys)
                       if keys and event.correlation is not None else None)
        return cls(received, state, time if state else 0.0,
                   time if state == JobState.Processing else None,
                   time if state is not None and state.is_final else None,
                   event.progress, frozenset(event.errors) if event.errors else _NO_ERRORS,
                   time, correlation)

    def merge(self, other: Claims) -> Claims:
        """Both claims at once. The earlier receipt is kept: merged claims yield to
        the API no later than either would have."""
        state, state_time = self.state, self.state_time
        if other.state is not None and (
                state is None or rank(other.state, other.state_time) > rank(state, state_time)):
            state, state_time = other.state, other.state_time
        return Claims(received=min(self.received, other.received), state=state,
                      state_time=state_time, started=_earliest(self.started, other.started),
                      ended=_earliest(self.ended, other.ended),
                      progress=_highest(self.progress, other.progress),
                      errors=self.errors | other.errors,
                      latest=_highest(self.latest, other.latest),
                      correlation=merged_claims(self.correlation, other.correlation))


def _earliest(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else min(a, b)


def _highest(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else max(a, b)


def apply_claims(job: Job, known_at: float, claims: Claims) -> tuple[Job, float]:
    """The job with the claims applied, and the time its state is known at."""
    state = job.state
    if claims.state is not None and rank(claims.state, claims.state_time) > rank(state,
                                                                                  known_at):
        state, known_at = claims.state, claims.state_time
    errors = job.errors
    if claims.errors and not claims.errors.issubset(errors):
        errors = tuple(sorted({*errors, *claims.errors}, key=lambda e: (e.code, e.category)))
    start = _earliest(job.start_time, claims.started)
    # A final claim always leaves the job final (final outranks active).
    end = _earliest(job.end_time, claims.ended)
    progress = _highest(job.progress, claims.progress)
    last_modified = _highest(job.last_modified, claims.latest)
    correlation = (job.correlation if claims.correlation is None
                   else filled_in(job.correlation, claims.correlation))
    if (state, start, end, progress, errors, last_modified, correlation) == (
            job.state, job.start_time, job.end_time, job.progress, job.errors,
            job.last_modified, job.correlation):
        return job, known_at  # nothing new (a repeated delivery)
    return replace(job, state=state, start_time=start, end_time=end, progress=progress,
                   errors=errors, last_modified=last_modified,
                   correlation=correlation), known_at


def apply_event(job: Job, known_at: float, event: JobEvent,
                received: float | None = None) -> tuple[Job, float]:
    """The job after one event received at `received` (default: at its own time)."""
    return apply_claims(job, known_at, Claims.of(event, event.time if received is None
                                                  else received))
