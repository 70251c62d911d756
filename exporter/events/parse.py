"""Delivery bodies into events: the Event Grid schema and CloudEvents 1.0 (single
or batch) for AMS and RMS job events, and MK.IO's CloudEvents webhooks.

Facts (docs/ams-api.md, "Push events"): Event Grid's `topic` (CloudEvents:
`source`) is the Media Services account's resource id, or a custom topic's (RMS);
`subject` is `transforms/<t>/jobs/<j>`; times may lack the `Z` (they are UTC); ids
are no dedupe key. MK.IO sends `MediaKind.JobStarted`/`JobFinished` with `source`
`/api/v1/projects/<p>/transforms/<t>/jobs/<j>` and the whole job in `data.resource`.

Fields from events are bounded as a listing's are (SPEC §11): names as
`exporter.jobs.model.bounded_name` allows, error codes through `bounded_code`,
times no earlier than `NO_TIME_BEFORE`; MK.IO's `data.resource` goes through the
listings' own parser. An item outside those bounds is malformed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from exporter.backends.arm_records import parse_job
from exporter.backends.odata import DateFormatError, parse_datetime
from exporter.backends.records import NO_TIME_BEFORE, MalformedRecord, bounded_code
from exporter.backends.routes import arm_route, mkio_route
from exporter.jobs.events import JobEvent
from exporter.jobs.model import ErrorInfo, Job, bounded_name
from exporter.jobs.states import JobState

VALIDATION_TYPE = "Microsoft.EventGrid.SubscriptionValidationEvent"
MAX_EVENTS_PER_DELIVERY = 5000
_STATES = {state.name.lower(): state for state in JobState}
_SUBJECT = re.compile(r"(?:^|/)transforms/([^/]+)/jobs/([^/]+)/?$")
_MKIO_PROJECT = re.compile(r"^/api/v1/projects/([^/]+)/")
_JOB_TYPES = frozenset(f"Microsoft.Media.Job{kind}" for kind in (
    "StateChange", "Scheduled", "Processing", "Canceling", "Finished", "Canceled", "Errored"))
_OUTPUT_TYPES = frozenset(f"Microsoft.Media.JobOutput{kind}" for kind in (
    "StateChange", "Scheduled", "Processing", "Canceling", "Finished", "Canceled", "Errored",
    "Progress"))
_MKIO_TYPES = {"MediaKind.JobStarted": JobState.Processing, "MediaKind.JobFinished": None}


@dataclass(frozen=True)
class Validation:
    """Event Grid's SubscriptionValidation handshake: answer with the code."""

    code: str


class MalformedDelivery(ValueError):
    """The body is not an event or a list of events."""


@dataclass
class Parsed:
    events: list[JobEvent] = field(default_factory=list)
    validation: Validation | None = None
    #: Items that are events of no interest (other services' event types).
    ignored: int = 0
    #: Items that are not events at all, or job events without a job.
    malformed: int = 0


def parse_delivery(body: Any) -> Parsed:
    """All the items of one delivery (an object or an array of them)."""
    items = body if isinstance(body, list) else [body]
    if not items or not all(isinstance(item, dict) for item in items):
        raise MalformedDelivery("expected an event object or an array of them")
    if len(items) > MAX_EVENTS_PER_DELIVERY:
        raise MalformedDelivery(f"more than {MAX_EVENTS_PER_DELIVERY} events")
    parsed = Parsed()
    for item in items:
        try:
            _parse_item(item, parsed)
        except (ValueError, DateFormatError):
            parsed.malformed += 1
    return parsed


def _parse_item(item: dict[str, Any], parsed: Parsed) -> None:
    cloud = "specversion" in item
    kind = item.get("type" if cloud else "eventType")
    if not isinstance(kind, str):
        raise ValueError("no event type")
    data = item.get("data")
    if kind == VALIDATION_TYPE:
        code = data.get("validationCode") if isinstance(data, dict) else None
        if not isinstance(code, str) or not code or len(code) > 200:
            raise ValueError("validation event without a code")
        parsed.validation = Validation(code)
        return
    if kind in _MKIO_TYPES:
        parsed.events.append(_mkio_event(item, kind, data))
    elif kind in _JOB_TYPES or kind in _OUTPUT_TYPES:
        parsed.events.append(_media_event(item, kind, data, cloud))
    else:
        parsed.ignored += 1


def _time(value: Any) -> float:
    moment = parse_datetime(value)
    if moment is None:
        raise ValueError("no event time")
    if moment < NO_TIME_BEFORE:
        raise ValueError("an event time before 2000 is a placeholder, not a time")
    return moment


def _subject_job(subject: Any) -> tuple[str, str]:
    """(transform, job) of a subject or source: both names bounded as listings'."""
    match = _SUBJECT.search(subject) if isinstance(subject, str) else None
    if match is None:
        raise ValueError("subject names no transforms/<t>/jobs/<j>")
    transform, job = match.group(1), match.group(2)
    if not (bounded_name(transform) and bounded_name(job)):
        raise ValueError("a transform or job name out of bounds")
    return transform, job


def _state(value: Any) -> JobState | None:
    return _STATES.get(value.lower()) if isinstance(value, str) else None


def _media_event(item: dict[str, Any], kind: str, data: Any, cloud: bool) -> JobEvent:
    topic = item.get("source" if cloud else "topic")
    if not isinstance(topic, str) or not topic:
        raise ValueError("no topic")
    transform, job = _subject_job(item.get("subject"))
    if not isinstance(data, dict):
        raise ValueError("no data")
    when = _time(item.get("time" if cloud else "eventTime"))
    state = _state(data.get("state")) if kind in _JOB_TYPES else None
    if kind in _JOB_TYPES and state is None:
        raise ValueError("job event without a known state")
    if kind == "Microsoft.Media.JobOutputProgress":
        progress = _ratio(data.get("progress"))
        errors: tuple[ErrorInfo, ...] = ()
    else:
        outputs = data.get("outputs") if kind in _JOB_TYPES else [data.get("output")]
        progress, errors = _outputs(outputs)
    return JobEvent(routes=(arm_route(topic),), type=kind, transform=transform, job_name=job,
                    time=when, state=state, progress=progress, errors=errors, raw=item)


def _mkio_event(item: dict[str, Any], kind: str, data: Any) -> JobEvent:
    source = item.get("source")
    if not isinstance(source, str):
        raise ValueError("no source")
    transform, job = _subject_job(source)
    if not isinstance(data, dict):
        raise ValueError("no data")
    project = data.get("projectName")
    if not isinstance(project, str) or not project:
        match = _MKIO_PROJECT.match(source)
        if match is None:
            raise ValueError("no project")
        project = match.group(1)
    if not bounded_name(project):
        raise ValueError("a project name out of bounds")
    state = _state(data.get("state")) or _MKIO_TYPES[kind]
    if state is None:
        raise ValueError("JobFinished without a known state")
    record = _mkio_record(data.get("resource"), transform, job)
    return JobEvent(routes=(mkio_route(project),), type=kind, transform=transform,
                    job_name=job, time=_time(item.get("time")), state=state,
                    progress=record.progress if record else None,
                    errors=record.errors if record else (), record=record, raw=item)


def _mkio_record(resource: Any, transform: str, job: str) -> Job | None:
    """The job in an MK.IO webhook's `data.resource`, parsed as a listing's record
    is; None when it is malformed or names another job (the event itself still
    says what happened)."""
    if not isinstance(resource, dict) or not resource:
        return None
    try:
        record = parse_job(resource, transform)
    except MalformedRecord:
        return None
    return record if record.key == (transform, job) and bounded_name(record.name) else None


def _ratio(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        return None
    return min(max(float(value), 0.0), 100.0) / 100.0


def _outputs(outputs: Any) -> tuple[float | None, tuple[ErrorInfo, ...]]:
    """Mean progress and distinct error codes of the outputs an event carries."""
    if not isinstance(outputs, list):
        return None, ()
    progresses = [p for p in (_ratio(o.get("progress")) for o in outputs
                              if isinstance(o, dict)) if p is not None]
    errors: dict[ErrorInfo, None] = {}
    for output in outputs:
        error = output.get("error") if isinstance(output, dict) else None
        if isinstance(error, dict) and isinstance(error.get("code"), str):
            category = error.get("category")
            errors[ErrorInfo(bounded_code(error["code"]),
                             bounded_code(category) if isinstance(category, str)
                             else "Unknown")] = None
    return (sum(progresses) / len(progresses) if progresses else None), tuple(errors)
