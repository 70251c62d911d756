"""OData pieces: literals, filter clauses and datetime parsing, for AMS v2 (OData v3)
and the `$filter`s of the ARM-style APIs (AMS v3, RMS, MK.IO).

Everything that goes into a `$filter` passes through `string_literal` or
`datetime_literal`, so no value taken from the configuration can change the
meaning of a query.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Iterable
from datetime import datetime, timezone

from exporter.jobs.states import ACTIVE_STATES, JobState

_ISO_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?"
    r"(Z|[+-]\d{2}:\d{2})?$"
)
_MS_DATE_RE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")


class DateFormatError(ValueError):
    """A datetime value the API should not have sent."""


def string_literal(value: str) -> str:
    """Quote a string for `$filter`: single quotes, an inner quote doubled."""
    return "'" + value.replace("'", "''") + "'"


def datetime_literal(timestamp: float) -> str:
    """The OData v3 literal for a UTC time, e.g. `datetime'2015-02-11T01:46:16.5800000'`."""
    moment = datetime.fromtimestamp(timestamp, tz=timezone.utc)
    return "datetime'" + moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0'"


def any_of(clauses: Iterable[str]) -> str:
    """Join clauses with `or`, parenthesized so it composes with `and`."""
    parts = list(clauses)
    if not parts:
        raise ValueError("any_of needs at least one clause")
    return parts[0] if len(parts) == 1 else "(" + " or ".join(parts) + ")"


def parse_datetime(value: object) -> float | None:
    """Parse a v2 datetime in either JSON flavour into Unix seconds.

    JSON light sends `2015-02-11T01:46:16.58` (UTC, no `Z`, 0-7 fractional digits);
    verbose JSON sends `/Date(1423619176580)/`. Both are computed exactly (integer
    division is correctly rounded), so the same instant gives the same float
    whichever format carried it.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise DateFormatError(f"datetime must be a string, not {type(value).__name__}")
    match = _MS_DATE_RE.match(value)
    if match:
        return int(match.group(1)) / 1000  # int / int is correctly rounded
    match = _ISO_RE.match(value)
    if not match:
        raise DateFormatError(f"unrecognized datetime {value[:40]!r}")
    year, month, day, hour, minute = (int(match.group(i)) for i in range(1, 6))
    second = int(match.group(6) or 0)
    digits = match.group(7) or ""
    zone = match.group(8)
    try:
        datetime(year, month, day, hour, minute, second)  # validates the ranges
    except ValueError as exc:
        raise DateFormatError(f"invalid datetime {value[:40]!r}") from exc
    whole = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        whole -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    # Exact: ticks of 100 ns over 10**7, and int / int is correctly rounded, so the
    # same instant gives the same float as the millisecond form above.
    return (whole * 10**7 + int(digits.ljust(7, "0") or 0)) / 10**7


def changed_or_active(modified_since: str, state_clause: Callable[[JobState], str]) -> str:
    """The incremental-sync filter: modified since the watermark, or still active
    (AMS does not always move LastModified when a job changes state)."""
    return any_of([modified_since, *(state_clause(s) for s in ACTIVE_STATES)])


def selection_clauses(states: frozenset[JobState] | None, created_since: str | None,
                      state_clause: Callable[[JobState], str]) -> list[str]:
    """Clauses for a listing: the selected states, and the lookback, which keeps
    active jobs whatever their age."""
    clauses = []
    if states:
        clauses.append(any_of(state_clause(s) for s in sorted(states)))
    if created_since is not None:
        active = [state_clause(s) for s in ACTIVE_STATES if not states or s in states]
        clauses.append(any_of([created_since, *active]))
    return clauses
