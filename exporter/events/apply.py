"""How an event changes a job: a merge that gives the same job whatever the order
and however often events arrive (Event Grid delivers at least once, unordered).

A job's state is ranked by (final, time it was known at): a later observation wins,
a final state wins over any active one, and nothing moves a job back. The other
fields merge in ways that do not depend on order: start and end times take the
earliest report, progress the highest, errors the union, last-modified the latest.
"""

from __future__ import annotations

from dataclasses import replace

from exporter.events.model import JobEvent
from exporter.jobs.model import Job
from exporter.jobs.states import JobState


def rank(state: JobState, known_at: float) -> tuple[bool, float]:
    return (state.is_final, known_at)


def _earliest(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else min(a, b)


def apply_event(job: Job, known_at: float, event: JobEvent) -> tuple[Job, float]:
    """The job after the event, and the time its state is known at."""
    state = job.state
    if event.state is not None and rank(event.state, event.time) > rank(state, known_at):
        state, known_at = event.state, event.time
    start = job.start_time
    if event.state == JobState.Processing:
        start = _earliest(start, event.time)
    end = job.end_time
    if event.state is not None and event.state.is_final:
        end = _earliest(end, event.time)
    progress = job.progress
    if event.progress is not None:
        progress = event.progress if progress is None else max(progress, event.progress)
    errors = tuple(sorted({*job.errors, *event.errors}, key=lambda e: (e.code, e.category)))
    last_modified = max(job.last_modified or event.time, event.time)
    updated = replace(job, state=state, start_time=start,
                      end_time=end if state.is_final else job.end_time,
                      progress=progress, errors=errors, last_modified=last_modified)
    return updated, known_at


def apply_record(job: Job | None, known_at: float, record: Job,
                 record_time: float) -> tuple[Job, float]:
    """A whole job record observed at `record_time` (a GET, a listing, an MK.IO
    webhook's resource): it replaces the job unless what we have ranks higher."""
    if job is None or rank(record.state, record_time) >= rank(job.state, known_at):
        return record, record_time
    return job, known_at
