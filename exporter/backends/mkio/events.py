"""MK.IO's job webhooks: CloudEvents `MediaKind.JobStarted` and `JobFinished` whose
`source` is `/api/v1/projects/<p>/transforms/<t>/jobs/<j>` and whose `data.resource`
is the whole job, as a listing has it (docs/ams-api.md, "Push events")."""

from __future__ import annotations

import re
from typing import Any

from exporter.backends.arm_records import job_state, parse_job
from exporter.backends.event_items import EventItem, MalformedEvent, event_time, job_in_path
from exporter.backends.records import MalformedRecord
from exporter.jobs.events import JobEvent
from exporter.jobs.model import Job, bounded_name
from exporter.jobs.states import JobState

#: The webhooks, with the state each implies when its data names none.
WEBHOOK_STATES: dict[str, JobState | None] = {"MediaKind.JobStarted": JobState.Processing,
                                              "MediaKind.JobFinished": None}
EVENT_TYPES = frozenset(WEBHOOK_STATES)
_PROJECT = re.compile(r"^/api/v1/projects/([^/]+)/")


def mkio_route(project: str) -> str:
    """The routing key of an MK.IO project (case does not matter)."""
    return "mkio:" + project.strip().lower()


def mkio_job_event(item: EventItem) -> JobEvent:
    """One job webhook; its project is `data.projectName`, else the one in `source`."""
    source = item.source
    if not isinstance(source, str):
        raise MalformedEvent("no source")
    transform, job = job_in_path(source)
    data = item.data
    if not isinstance(data, dict):
        raise MalformedEvent("no data")
    project = data.get("projectName")
    if not isinstance(project, str) or not project:
        match = _PROJECT.match(source)
        if match is None:
            raise MalformedEvent("no project")
        project = match.group(1)
    if not bounded_name(project):
        raise MalformedEvent("a project name out of bounds")
    state = job_state(data.get("state")) or WEBHOOK_STATES[item.type]
    if state is None:
        raise MalformedEvent("JobFinished without a known state")
    resource = data.get("resource")
    record = _record(resource, transform, job)
    return JobEvent(routes=(mkio_route(project),), type=item.type, transform=transform,
                    job_name=job, time=event_time(item.time), state=state,
                    progress=record.progress if record else None,
                    errors=record.errors if record else (), record=record, raw=item.raw,
                    correlation=_correlation(resource) if record is not None else None)


def _correlation(resource: Any) -> dict[str, Any] | None:
    """The correlationData of the job in `data.resource`, if it has one."""
    properties = resource.get("properties") if isinstance(resource, dict) else None
    data = properties.get("correlationData") if isinstance(properties, dict) else None
    return data if isinstance(data, dict) else None


def _record(resource: Any, transform: str, job: str) -> Job | None:
    """The job in `data.resource`, parsed as a listing's record is; None when it is
    malformed or names another job (the event itself still says what happened)."""
    if not isinstance(resource, dict) or not resource:
        return None
    try:
        record = parse_job(resource, transform)
    except MalformedRecord:
        return None
    return record if record.key == (transform, job) else None
