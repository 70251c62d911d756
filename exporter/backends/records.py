"""What every backend's record parsing shares: the error for one record that
cannot be understood (skipped, counted and logged once), bounded label values,
progress as a ratio, and the line between a real time and a placeholder."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

from exporter.backends.odata import DateFormatError, parse_datetime

log = logging.getLogger(__name__)

_ERROR_CODE_MAX = 64
#: Times before this are placeholders, not times (AMS launched in 2013): .NET's
#: DateTime.MinValue, 0001-01-01T00:00:00Z, stands for "not set" in AMS bodies.
NO_TIME_BEFORE = 946684800.0  # 2000-01-01T00:00:00Z
#: Distinct malformed records logged per process; past this they are only counted.
MAX_LOGGED_MALFORMED = 10_000
_NAME_SHOWN = 120


class MalformedRecord(ValueError):
    """One entity in a page cannot be understood."""


def bounded_code(code: str) -> str:
    """Error codes become label values: keep them short and plain."""
    cleaned = "".join(ch for ch in code if ch.isascii() and (ch.isalnum() or ch in "._-"))
    return cleaned[:_ERROR_CODE_MAX] or "Other"


def progress_ratio(percent: Any) -> float | None:
    """A progress percentage as reported (any JSON value) as a ratio 0-1, clamped;
    None when it is not a number (booleans and NaN included)."""
    if isinstance(percent, bool) or not isinstance(percent, int | float) or percent != percent:
        return None
    return min(max(float(percent), 0.0), 100.0) / 100.0


def real_time(moment: float | None) -> float | None:
    """A parsed time, or None when it is a placeholder for "not set"."""
    return None if moment is None or moment < NO_TIME_BEFORE else moment


def job_times(record: Mapping[str, Any], created: str, last_modified: str, start: str,
              end: str) -> dict[str, Any]:
    """The `Job` time fields of a record, read from these keys: placeholders read as
    not set, and a placeholder creation time gives way to the earliest real time the
    job reports (2018-era AMS v3 bodies). With no real time at all the job is still
    exported, `created_unknown`, and jobs.model dates it when the exporter first sees
    it (the placeholder `created` here is replaced there)."""
    try:
        parsed = [real_time(parse_datetime(record.get(key)))
                  for key in (created, last_modified, start, end)]
    except DateFormatError as exc:
        raise MalformedRecord(str(exc)) from None
    # Equal times share one float (a final job's lastModified is its endTime): 24
    # bytes a job, 2.4 MB at 100,000 jobs.
    shared: dict[float, float] = {}
    times = [None if value is None else shared.setdefault(value, value) for value in parsed]
    known = [t for t in times if t is not None]
    creation = times[0] if times[0] is not None else min(known, default=NO_TIME_BEFORE)
    return {"created": creation, "created_unknown": not known, "last_modified": times[1],
            "start_time": times[2], "end_time": times[3]}


class _MalformedLog:
    """Logs a malformed record once per record (by its name and reason), not on every
    refresh that meets it again; the count in ams_jobs_skipped_total is kept apart."""

    def __init__(self) -> None:
        self._seen: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def skipped(self, record: Any, reason: Exception, name_keys: tuple[str, ...]) -> None:
        name = _record_name(record, name_keys)
        key = (name, str(reason))
        with self._lock:
            if key in self._seen or len(self._seen) >= MAX_LOGGED_MALFORMED:
                return
            self._seen.add(key)
        log.warning("skipping a malformed job record (%s): %s; counted in "
                    "ams_jobs_skipped_total{reason=\"malformed\"}, logged once",
                    f"name {name!r}" if name else "no name", reason)


def _record_name(record: Any, name_keys: tuple[str, ...]) -> str:
    if not isinstance(record, Mapping):
        return ""
    for key in name_keys:
        value = record.get(key)
        if isinstance(value, str) and value:
            return value[:_NAME_SHOWN]
    return ""


MALFORMED = _MalformedLog()
