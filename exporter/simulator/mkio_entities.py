"""MK.IO projects and their resources as the Media API v1 serves them.

Shapes follow the MK.IO SDK's job fixture (ams-successors.md §1.4): the `id` holds
the transform (`/subscriptions/<sub>/resourceGroups/default/providers/Microsoft.Media/
mediaservices/<project>/transforms/<t>/jobs/<j>`), there is no `transform` field, times
are UTC with `Z` and six fractional digits, `startTime`/`endTime` are null until set,
`outputs[].progress` is an integer and `outputs[].error` is `{category, code, message,
retry}` without `details`; a GET adds `supplemental` `{operation, subscription}`.

Choices where the sources are silent: list items are the GET body without its
`supplemental` (the list has its own); job inputs are a JobInputAsset; outputs are
labelled `BuiltInStandardEncoderPreset_<index>` as in the fixture; transforms are shaped
like ARM's with MK.IO's times.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

from exporter.jobs.states import JobState
from exporter.simulator.jobs import JobView, SimJob, to_us
from exporter.simulator.odata_format import light_datetime
from exporter.simulator.store import JobStore
from exporter.simulator.v3_entities import (
    CREATOR,
    DEFAULT_ERROR,
    ERRORS,
    JOB_TYPE,
    TRANSFORM_TYPE,
    V3Transform,
    priority_name,
)

RESOURCE_GROUP = "default"  # what MK.IO puts in resource ids
_NAMES = uuid.UUID("0b6d5c1e-7a44-4f0a-9d1b-6a6e0f1c2d3e")

Record = dict[str, object]


@dataclass
class MkioProject:
    key: str  # the simulator's name for it
    project: str  # the MK.IO project name, in paths
    subscription_id: str  # in resource ids
    project_id: str  # supplemental.subscription.id
    transforms: dict[str, V3Transform] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def resource_id(self) -> str:
        return (f"/subscriptions/{self.subscription_id}/resourceGroups/{RESOURCE_GROUP}"
                f"/providers/Microsoft.Media/mediaservices/{self.project}")

    def transform_list(self) -> list[V3Transform]:
        with self.lock:
            return list(self.transforms.values())

    def stores(self) -> list[JobStore]:
        return [t.store for t in self.transform_list()]

    def supplemental_subscription(self) -> dict[str, str]:
        return {"id": self.project_id, "name": self.project}


def derived_id(*parts: str) -> str:
    """A stable GUID for names the sources show as GUIDs (subscription, project id)."""
    return str(uuid.uuid5(_NAMES, "/".join(parts)))


def mkio_datetime(us: int) -> str:
    """UTC, six fractional digits always, Z: 2024-03-27T15:36:31.000000Z."""
    text = light_datetime(us - us % 1_000_000)
    return f"{text}.{us % 1_000_000:06d}Z"


def _maybe(us: int | None) -> str | None:
    return None if us is None else mkio_datetime(us)


def _short(job: SimJob, what: str) -> str:
    return uuid.uuid5(_NAMES, f"{what}/{job.id}").hex[:8]


def _error(job: SimJob) -> dict[str, object]:
    code = job.error_code if job.error_code in ERRORS else DEFAULT_ERROR
    category, retry, message = ERRORS[code]
    return {"category": job.error_category or category, "code": code, "message": message,
            "retry": retry}


def _outputs(view: JobView) -> list[dict[str, object]]:
    job = view.job
    outputs = []
    for index in range(max(job.outputs, 1)):
        output: dict[str, object] = {
            "label": f"BuiltInStandardEncoderPreset_{index}",
            "state": view.state.name,
            "endTime": _maybe(view.end_us),
            "progress": int(view.progress),
        }
        if view.state == JobState.Error:
            output["error"] = _error(job)
        output["assetName"] = f"output-{_short(job, f'output{index}')}"
        output["@odata.type"] = "#Microsoft.Media.JobOutputAsset"
        output["startTime"] = _maybe(view.start_us)
        outputs.append(output)
    return outputs


def _system_data(created_us: int, modified_us: int) -> dict[str, object]:
    return {"createdBy": CREATOR, "createdByType": "User", "createdAt": mkio_datetime(created_us),
            "lastModifiedBy": CREATOR, "lastModifiedByType": "User",
            "lastModifiedAt": mkio_datetime(modified_us)}


def job_resource(project: MkioProject, transform: str, view: JobView) -> dict[str, object]:
    """A job as a list shows it (a GET adds `supplemental`)."""
    job = view.job
    properties: dict[str, object] = {"created": mkio_datetime(view.created_us)}
    if job.name:
        properties["description"] = job.name
    properties["lastModified"] = mkio_datetime(view.last_modified_us)
    properties["priority"] = priority_name(job.priority)
    properties["state"] = view.state.name
    properties["input"] = {"assetName": f"input-{_short(job, 'input')}",
                           "@odata.type": "#Microsoft.Media.JobInputAsset"}
    properties["outputs"] = _outputs(view)
    properties["startTime"] = _maybe(view.start_us)
    properties["endTime"] = _maybe(view.end_us)
    if job.correlation is not None:
        properties["correlationData"] = dict(job.correlation)
    return {
        "name": job.id,
        "id": f"{project.resource_id}/transforms/{transform}/jobs/{job.id}",
        "type": JOB_TYPE,
        "properties": properties,
        "systemData": _system_data(view.created_us, view.last_modified_us),
    }


def transform_resource(project: MkioProject, transform: V3Transform) -> dict[str, object]:
    created = to_us(transform.created)
    properties: dict[str, object] = {"created": mkio_datetime(created),
                                     "description": transform.description or None,
                                     "lastModified": mkio_datetime(created),
                                     "outputs": [{
                                         "onError": "StopProcessingJob",
                                         "relativePriority": "Normal",
                                         "preset": {
                                             "@odata.type":
                                                 "#Microsoft.Media.BuiltInStandardEncoderPreset",
                                             "presetName": transform.preset,
                                         },
                                     }]}
    return {
        "name": transform.name,
        "id": f"{project.resource_id}/transforms/{transform.name}",
        "type": TRANSFORM_TYPE,
        "properties": properties,
        "systemData": _system_data(created, created),
    }


def job_record(project: MkioProject, transform: str, view: JobView) -> Record:
    """What $filter and $orderby read (datetimes as integer microseconds)."""
    return {
        "name": view.job.id,
        "id": f"{project.resource_id}/transforms/{transform}/jobs/{view.job.id}",
        "transform": transform,
        "created": view.created_us,
        "updated": view.last_modified_us,
        "createdBy": CREATOR,
        "updatedBy": CREATOR,
        "createdByEmail": CREATOR,
        "createdByName": CREATOR,
        "updatedByEmail": CREATOR,
        "updatedByName": CREATOR,
        "properties/created": view.created_us,
        "properties/lastModified": view.last_modified_us,
        "properties/state": view.state.name,
    }


def transform_record(project: MkioProject, transform: V3Transform) -> Record:
    created = to_us(transform.created)
    return {"name": transform.name, "id": f"{project.resource_id}/transforms/{transform.name}",
            "created": created, "updated": created, "properties/created": created,
            "properties/lastModified": created}


# ---------------------------------------------------------------- raw (scripted) job bodies


def _parse_time(value: object, what: str) -> float:
    if not isinstance(value, str):
        raise ValueError(f"raw job: {what} must be a datetime string")
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    head, dot, rest = text.partition(".")
    if dot:  # fromisoformat takes at most six fractional digits
        digits = "".join(c for c in rest if c.isdigit())
        text = f"{head}.{digits[:6].ljust(6, '0')}{rest[len(digits):]}"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"raw job: {what} {value!r} is not an ISO datetime") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def raw_job(raw: str) -> SimJob:
    """A SimJob serving `raw` verbatim; name, times and state read from it for queries."""
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise ValueError(f"raw job is not JSON: {exc}") from None
    properties = body.get("properties") if isinstance(body, dict) else None
    if not isinstance(properties, dict) or not isinstance(body.get("name"), str):
        raise ValueError("raw job needs a name and properties")
    created = _parse_time(properties.get("created"), "properties.created")
    modified = _parse_time(properties.get("lastModified", properties.get("created")),
                           "properties.lastModified")
    try:
        state = JobState[str(properties.get("state", "Queued"))]
    except KeyError:
        raise ValueError(f"raw job: unknown state {properties.get('state')!r}") from None
    return SimJob(id=body["name"], name=str(properties.get("description") or ""),
                  created=created, events=[(created, state)], last_modified=modified, raw=raw)
