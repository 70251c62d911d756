"""Turn v2 OData payloads (JSON light or verbose JSON) into normalized jobs.

A page that is not an OData collection is an API failure; a single record that
does not make sense is skipped and counted, so the rest of the page still counts.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

from exporter.backends.records import (
    MalformedRecord,
    bounded_code,
    job_times,
    progress_ratio,
)
from exporter.jobs.model import MAX_NAME_LENGTH, ErrorInfo, Job, bounded_name
from exporter.jobs.states import JobState


class MalformedPage(ValueError):
    """The response body is not the OData collection we asked for."""


@dataclass(frozen=True)
class TaskSummary:
    """What the exporter keeps from a job's tasks: mean progress and error codes."""

    progress: float | None
    errors: tuple[ErrorInfo, ...]


def collection_entities(body: Any) -> list[Any]:
    """The list of entities of a collection response, in either JSON flavour."""
    if isinstance(body, dict):
        if isinstance(body.get("value"), list):
            return body["value"]
        verbose = body.get("d")
        if isinstance(verbose, dict) and isinstance(verbose.get("results"), list):
            return verbose["results"]
        if isinstance(verbose, list):  # OData v1 verbose collections
            return verbose
    raise MalformedPage("response is not an OData collection")


def parse_job(entity: Any) -> Job:
    """Parse one Jobs entity; raises MalformedRecord with a short reason."""
    if not isinstance(entity, dict):
        raise MalformedRecord("entity is not an object")
    job_id = _required_str(entity, "Id")
    name = entity.get("Name")
    if name is None:
        name = ""
    if not isinstance(name, str):
        raise MalformedRecord("Name is not a string")
    if not bounded_name(job_id):
        raise MalformedRecord(f"Id is over {MAX_NAME_LENGTH} characters")
    # v2 job names are free text, not the job's identity: a long one is cut short
    # (a label value stays bounded) rather than losing the job.
    name = sys.intern(name[:MAX_NAME_LENGTH])  # repeated names (a preset, a title) kept once
    state = _state(entity.get("State"))
    if entity.get("Created") is None:
        raise MalformedRecord("Created is missing")
    times = job_times(entity, "Created", "LastModified", "StartTime", "EndTime")
    duration_ms = _number(entity.get("RunningDuration"), "RunningDuration")
    template_id = entity.get("TemplateId")
    if template_id is not None and not isinstance(template_id, str):
        raise MalformedRecord("TemplateId is not a string")
    priority = _number(entity.get("Priority"), "Priority")
    # RunningDuration is only read for a final job without both StartTime and EndTime
    # (Job.running_duration); not kept otherwise, nor is a template id twice.
    needed = state.is_final and (times["start_time"] is None or times["end_time"] is None)
    return Job(
        job_id=job_id,
        name=name,
        state=state,
        **times,
        api_running_duration=(duration_ms / 1000.0
                              if needed and duration_ms is not None else None),
        priority=int(priority or 0),
        template_id=sys.intern(template_id) if template_id else "",
    )


def summarize_tasks(body: Any) -> TaskSummary:
    """Mean task progress (0-1) and the distinct error codes of a job's tasks."""
    tasks = [t for t in collection_entities(body) if isinstance(t, dict)]
    progresses = [p for p in (progress_ratio(t.get("Progress")) for t in tasks) if p is not None]
    codes: dict[str, None] = {}
    for task in tasks:
        details = task.get("ErrorDetails")
        if isinstance(details, dict):  # verbose JSON wraps collections
            details = details.get("results")
        for detail in details if isinstance(details, list) else []:
            if isinstance(detail, dict) and isinstance(detail.get("Code"), str):
                codes[bounded_code(detail["Code"])] = None
    progress = sum(progresses) / len(progresses) if progresses else None
    # v2 error details have no category; "Unknown" keeps the label set uniform with v3.
    return TaskSummary(progress, tuple(ErrorInfo(code, "Unknown") for code in codes))


def _required_str(entity: dict[str, Any], key: str) -> str:
    value = entity.get(key)
    if not isinstance(value, str) or not value:
        raise MalformedRecord(f"{key} is missing or not a string")
    return value


def _state(value: Any) -> JobState:
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedRecord("State is not an integer")
    try:
        return JobState(value)
    except ValueError as exc:
        raise MalformedRecord(f"unknown State {value}") from exc


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value


def _number(value: Any, key: str) -> float | None:
    if value is None:
        return None
    if not _is_number(value) or abs(value) == float("inf"):
        raise MalformedRecord(f"{key} is not a number")
    return float(value)
