"""Simulated jobs: a creation time plus a timeline of state changes, viewed at any instant."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from exporter.jobs.states import FINAL_STATES, JobState

# Length assumed for a Processing phase whose planned end is unknown (drives Progress only).
DEFAULT_PROCESSING_SECONDS = 600.0


def to_us(t: float) -> int:
    """Epoch seconds to integer microseconds (exact comparisons, no float noise)."""
    return round(t * 1_000_000)


@dataclass
class SimJob:
    """One job as the simulator knows it.

    `events` is the timeline: the state at time `now` is that of the last event with
    time <= now (Queued before the first). The job does not exist while now < created.
    The optional overrides pin fields to exact values instead of deriving them.
    `expected_processing` is how long processing would take to complete; it only
    shapes task Progress (useful when the timeline ends in Error part-way through).

    On a v3 account `id` is the job's resource name and `name` its description;
    `outputs` is the number of job outputs, and `error_code` / `error_category` are what
    failed outputs report (v3 codes such as ContentMalformed; see v3_entities).
    `priority` maps to Low (< 0), Normal (0) or High (> 0) there.

    `raw` (MK.IO only) is a job body served verbatim, byte for byte: the job's timeline
    then only decides how it filters and sorts, the body never changes.

    `correlation` is the job's correlationData on v3, RMS and MK.IO accounts (and in
    their events); v2 jobs have none. Tests may change it at any time.
    """

    id: str
    name: str
    created: float
    events: list[tuple[float, JobState]] = field(default_factory=list)
    priority: int = 0
    template_id: str | None = None
    tasks: int = 1
    error_code: str | None = None
    last_modified: float | None = None
    start_time: float | None = None
    end_time: float | None = None
    running_duration_ms: float | None = None
    expected_processing: float | None = None
    outputs: int = 1
    error_category: str | None = None
    raw: str | None = None
    correlation: dict[str, object] | None = None

    def __post_init__(self) -> None:
        # Stable sort keeps same-time events in the order given.
        self.events = sorted(
            ((float(t), JobState(s)) for t, s in self.events), key=lambda e: e[0]
        )


@dataclass(frozen=True)
class JobView:
    """What a job looks like at one instant; times in integer microseconds."""

    job: SimJob
    state: JobState
    created_us: int
    last_modified_us: int
    start_us: int | None
    end_us: int | None
    running_duration_ms: float
    progress: float


_Phase = tuple[float, tuple[float, JobState] | None]


def _processing_phase(job: SimJob) -> _Phase | None:
    """When processing first started, and the event that ended it (None while it runs on)."""
    events = job.events
    start = next((i for i, (_, s) in enumerate(events) if s == JobState.Processing), None)
    if start is None:
        return None
    after = next(((t, s) for t, s in events[start:] if s != JobState.Processing), None)
    return events[start][0], after


def _planned_processing(job: SimJob, phase: _Phase | None) -> float | None:
    """How long processing is meant to take: explicit, or the length of a completed phase."""
    if job.expected_processing is not None:
        return job.expected_processing
    if phase is not None and phase[1] is not None and phase[1][1] == JobState.Finished:
        return phase[1][0] - phase[0]
    return None


def _processing_progress(job: SimJob, now: float) -> float:
    """Percent done: linear across the Processing phase, frozen where it stopped."""
    phase = _processing_phase(job)
    if phase is None or phase[0] > now:
        return 0.0
    started, after = phase
    planned = _planned_processing(job, phase)
    if planned is None or planned <= 0:
        planned = DEFAULT_PROCESSING_SECONDS
    stopped_at = after[0] if after is not None and after[0] <= now else now
    return round(min(100.0, max(0.0, (stopped_at - started) / planned * 100.0)), 2)


def view_job(job: SimJob, now: float) -> JobView | None:
    """The job as seen at `now`, or None while it does not exist yet."""
    if now < job.created:
        return None
    happened = [(t, s) for t, s in job.events if t <= now]
    state = happened[-1][1] if happened else JobState.Queued

    start = job.start_time
    if start is None:
        start = next((t for t, s in happened if s == JobState.Processing), None)
    end = job.end_time
    if end is None and state in FINAL_STATES:
        end = happened[-1][0]
    modified = job.last_modified
    if modified is None:
        modified = max(job.created, happened[-1][0]) if happened else job.created

    start_us = None if start is None else to_us(start)
    end_us = None if end is None else to_us(end)
    duration = job.running_duration_ms
    if duration is None:
        duration = 0.0
        if state in FINAL_STATES and start_us is not None and end_us is not None:
            duration = (end_us - start_us) / 1000.0

    progress = 100.0 if state == JobState.Finished else _processing_progress(job, now)
    return JobView(
        job=job,
        state=state,
        created_us=to_us(job.created),
        last_modified_us=to_us(modified),
        start_us=start_us,
        end_us=end_us,
        running_duration_ms=float(duration),
        progress=progress,
    )


def scripted(job: SimJob, state: JobState, at: float) -> SimJob:
    """A copy of `job` whose timeline switches to `state` at `at`, later events dropped.

    The planned processing length is kept so Progress freezes where the job failed.
    """
    kept = [(t, s) for t, s in job.events if t < at]
    return replace(
        job,
        events=[*kept, (at, JobState(state))],
        expected_processing=_planned_processing(job, _processing_phase(job)),
    )
