"""Turn ARM job resources (`Microsoft.Media/mediaservices/transforms/jobs`) into
normalized jobs: the job JSON of AMS v3, Ravnur RMS and MediaKind MK.IO."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from exporter.backends.odata import DateFormatError, parse_datetime
from exporter.backends.records import MalformedRecord, bounded_code
from exporter.jobs.model import ErrorInfo, Job, Listing
from exporter.jobs.states import JobState

log = logging.getLogger(__name__)

PRIORITIES = {"low": 0, "normal": 1, "high": 2}
#: Times before this are placeholders, not times (AMS launched in 2013).
NO_TIME_BEFORE = 946684800.0  # 2000-01-01T00:00:00Z
_STATES = {state.name.lower(): state for state in JobState}


def parse_job(resource: Any, transform: str) -> Job:
    """Parse one `Microsoft.Media/mediaservices/transforms/jobs` resource."""
    if not isinstance(resource, dict):
        raise MalformedRecord("job resource is not an object")
    name = resource.get("name")
    if not isinstance(name, str) or not name:
        raise MalformedRecord("name is missing or not a string")
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
        created = parse_datetime(properties.get("created"))
        last_modified = parse_datetime(properties.get("lastModified"))
        start_time = parse_datetime(properties.get("startTime"))
        end_time = parse_datetime(properties.get("endTime"))
    except DateFormatError as exc:
        raise MalformedRecord(str(exc)) from exc
    if created is None or created < NO_TIME_BEFORE:
        # 2018-era bodies say 0001-01-01T00:00:00Z (.NET's DateTime.MinValue): the
        # earliest time the job does report is the best creation time there is.
        known = [t for t in (start_time, end_time, last_modified)
                 if t is not None and t >= NO_TIME_BEFORE]
        if not known:
            raise MalformedRecord("created is missing")
        created = min(known)
    progress, errors = _outputs(properties.get("outputs"))
    return Job(
        job_id=name,
        name=name,
        state=_STATES[state_text.lower()],
        created=created,
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
            log.debug("skipping malformed job record: %s", exc)
            continue
        listing.add(job)
    return listing
