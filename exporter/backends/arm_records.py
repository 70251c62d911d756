"""Turn ARM job resources (`Microsoft.Media/mediaservices/transforms/jobs`) into
normalized jobs: the job JSON of AMS v3, Ravnur RMS and MediaKind MK.IO."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from exporter.backends.odata import DateFormatError, parse_datetime
from exporter.backends.records import (
    MALFORMED,
    MalformedRecord,
    bounded_code,
    creation_time,
    real_time,
)
from exporter.jobs.model import MAX_NAME_LENGTH, ErrorInfo, Job, Listing, bounded_name
from exporter.jobs.states import JobState

PRIORITIES = {"low": 0, "normal": 1, "high": 2}
_STATES = {state.name.lower(): state for state in JobState}


def parse_job(resource: Any, transform: str) -> Job:
    """Parse one `Microsoft.Media/mediaservices/transforms/jobs` resource."""
    if not isinstance(resource, dict):
        raise MalformedRecord("job resource is not an object")
    name = resource.get("name")
    if not bounded_name(name):
        raise MalformedRecord(f"name is missing, not a string or over {MAX_NAME_LENGTH} "
                              "characters")
    if len(transform) > MAX_NAME_LENGTH:
        raise MalformedRecord(f"transform name over {MAX_NAME_LENGTH} characters")
    properties = resource.get("properties")
    if not isinstance(properties, dict):
        raise MalformedRecord("properties is missing")
    state_text = properties.get("state")
    if not isinstance(state_text, str) or state_text.lower() not in _STATES:
        raise MalformedRecord("unknown or missing state")
    priority_text = properties.get("priority", "Normal")
    if not isinstance(priority_text, str) or priority_text.lower() not in PRIORITIES:
        raise MalformedRecord("unknown priority")
    try:
        created, last_modified, start_time, end_time = (
            real_time(parse_datetime(properties.get(key)))
            for key in ("created", "lastModified", "startTime", "endTime"))
    except DateFormatError as exc:
        raise MalformedRecord(str(exc)) from exc
    # 2018-era bodies say 0001-01-01T00:00:00Z (.NET's DateTime.MinValue) for
    # `created`: the earliest time the job does report is the best creation time
    # there is. With none at all (the 2018-07-01 REST spec's Queued example), the
    # job is still exported: its creation is dated when the exporter first sees it.
    creation, created_unknown = creation_time(created, start_time, end_time, last_modified)
    progress, errors = _outputs(properties.get("outputs"))
    return Job(
        job_id=name,
        name=name,
        state=_STATES[state_text.lower()],
        created=creation,
        created_unknown=created_unknown,
        last_modified=last_modified,
        start_time=start_time,
        end_time=end_time,
        priority=PRIORITIES[priority_text.lower()],
        transform=transform,
        progress=progress,
        errors=errors,
    )


def _outputs(outputs: Any) -> tuple[float | None, tuple[ErrorInfo, ...]]:
    """Mean progress over the outputs (0-1) and their distinct error codes."""
    if outputs is None:
        return None, ()
    if not isinstance(outputs, list):
        raise MalformedRecord("outputs is not a list")
    progresses: list[float] = []
    errors: dict[ErrorInfo, None] = {}
    for output in outputs:
        if not isinstance(output, dict):
            raise MalformedRecord("an output is not an object")
        progress = output.get("progress")
        if isinstance(progress, (int, float)) and not isinstance(progress, bool) \
                and progress == progress:
            progresses.append(min(max(float(progress), 0.0), 100.0) / 100.0)
        error = output.get("error")
        if isinstance(error, dict) and isinstance(error.get("code"), str):
            category = error.get("category")
            errors[ErrorInfo(bounded_code(error["code"]),
                             bounded_code(category) if isinstance(category, str)
                             else "Unknown")] = None
    progress_ratio = sum(progresses) / len(progresses) if progresses else None
    return progress_ratio, tuple(errors)


def listing_of(items: Iterable[Any], transform_of: Callable[[Any], str],
               limit: int | None) -> Listing:
    """The jobs of a list's items: each parsed for its transform, malformed ones
    counted and skipped (the rest of the page still counts)."""
    listing = Listing(limit=limit)
    for item in items:
        try:
            job = parse_job(item, transform_of(item))
        except MalformedRecord as exc:
            listing.malformed += 1
            MALFORMED.skipped(item, exc, ("name",))
            continue
        listing.add(job)
    return listing
