"""Turn ARM job resources (`Microsoft.Media/mediaservices/transforms/jobs`) into
normalized jobs: the job JSON of AMS v3, Ravnur RMS and MediaKind MK.IO."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable
from typing import Any

from exporter.backends.records import (
    MALFORMED,
    MalformedRecord,
    bounded_code,
    job_times,
    progress_ratio,
)
from exporter.jobs.correlation import correlation_values
from exporter.jobs.model import MAX_NAME_LENGTH, ErrorInfo, Job, Listing, bounded_name
from exporter.jobs.states import JobState

PRIORITIES = {"low": 0, "normal": 1, "high": 2}
_STATES = {state.name.lower(): state for state in JobState}
_JOB_PATH = re.compile(r"(?:^|/)transforms/([^/]+)/jobs/([^/]+)/?$")


def parse_job(resource: Any, transform: str, correlation_keys: tuple[str, ...] = ()) -> Job:
    """Parse one `Microsoft.Media/mediaservices/transforms/jobs` resource, keeping the
    values of `correlation_keys` in its `correlationData` (exporter.jobs.correlation:
    a correlationData that is not an object reads as one without the keys)."""
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
    state = job_state(properties.get("state"))
    if state is None:
        raise MalformedRecord("unknown or missing state")
    priority_text = properties.get("priority", "Normal")
    if not isinstance(priority_text, str) or priority_text.lower() not in PRIORITIES:
        raise MalformedRecord("unknown priority")
    # 2018-era bodies say 0001-01-01T00:00:00Z (.NET's DateTime.MinValue) for
    # `created`, and the 2018-07-01 REST spec's Queued example has no real time at all.
    times = job_times(properties, "created", "lastModified", "startTime", "endTime")
    progress, errors = _outputs(properties.get("outputs"))
    return Job(
        job_id=name,
        name=name,
        state=state,
        **times,
        priority=PRIORITIES[priority_text.lower()],
        transform=sys.intern(transform),  # one string per transform, not one per job
        progress=progress,
        errors=errors,
        correlation=correlation_values(properties.get("correlationData"), correlation_keys),
    )


def job_path(path: Any) -> tuple[str, str] | None:
    """(transform, job) of a resource path ending in `transforms/<t>/jobs/<j>` (a
    job's `id`, an event's subject), or None; the names are not checked here."""
    match = _JOB_PATH.search(path) if isinstance(path, str) else None
    return (match.group(1), match.group(2)) if match else None


def job_state(text: Any) -> JobState | None:
    """The state an ARM job's `state` names (any case), or None."""
    return _STATES.get(text.lower()) if isinstance(text, str) else None


def output_summary(outputs: Iterable[Any]) -> tuple[float | None, tuple[ErrorInfo, ...]]:
    """Mean progress (0-1) and the distinct error codes of job outputs; an output
    that is not an object says nothing."""
    progresses: list[float] = []
    errors: dict[ErrorInfo, None] = {}
    for output in outputs:
        if not isinstance(output, dict):
            continue
        progress = progress_ratio(output.get("progress"))
        if progress is not None:
            progresses.append(progress)
        error = output.get("error")
        if isinstance(error, dict) and isinstance(error.get("code"), str):
            category = error.get("category")
            errors[ErrorInfo(bounded_code(error["code"]),
                             bounded_code(category) if isinstance(category, str)
                             else "Unknown")] = None
    return (sum(progresses) / len(progresses) if progresses else None), tuple(errors)


def _outputs(outputs: Any) -> tuple[float | None, tuple[ErrorInfo, ...]]:
    """A listed job's outputs, which must be a list of objects when present."""
    if outputs is None:
        return None, ()
    if not isinstance(outputs, list):
        raise MalformedRecord("outputs is not a list")
    if not all(isinstance(output, dict) for output in outputs):
        raise MalformedRecord("an output is not an object")
    return output_summary(outputs)


def listing_of(items: Iterable[Any], transform_of: Callable[[Any], str],
               limit: int | None, correlation_keys: tuple[str, ...] = ()) -> Listing:
    """The jobs of a list's items: each parsed for its transform, malformed ones
    counted and skipped (the rest of the page still counts)."""
    listing = Listing(limit=limit)
    for item in items:
        try:
            job = parse_job(item, transform_of(item), correlation_keys)
        except MalformedRecord as exc:
            listing.malformed += 1
            MALFORMED.skipped(item, exc, ("name",))
            continue
        listing.add(job)
    return listing
