"""After a failed refresh: what to call the failure, whether to log it, and how long
to wait before the next attempt (exponential backoff with jitter, Retry-After first).
"""

from __future__ import annotations

import random
import re
from typing import NamedTuple

from exporter.backends.auth.errors import AuthError
from exporter.backends.transport import ApiError, ThrottledError

#: Failed refreshes back off exponentially up to this many min_intervals (max 5 min):
#: enough to halve the load on a struggling API, short enough that the data is back
#: within two intervals of the API recovering. Retry-After still comes first.
MAX_BACKOFF_INTERVALS = 2
MAX_BACKOFF_SECONDS = 300.0
#: Request ids (uuids, possibly cut short) and times, which differ between failures.
_VARYING = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F-]+|\d{4}-\d{2}-\d{2}[ T][\d:.]+Z?")


class Failure(NamedTuple):
    """Why a refresh failed, as status and logs show it."""

    reason: str
    #: Seconds the API asked us to wait (Retry-After), if it did.
    retry_after: float | None = None
    #: Not an API or sign-in error: a surprise, worth its traceback at debug level.
    unexpected: bool = False

    @classmethod
    def of(cls, exc: Exception) -> Failure:
        if isinstance(exc, ThrottledError):
            return cls(str(exc), exc.retry_after)
        if isinstance(exc, (ApiError, AuthError)):
            return cls(str(exc))
        return cls(f"unexpected {type(exc).__name__}: {first_line(exc)}", unexpected=True)


def next_delay(min_interval: float, failures_in_a_row: int, retry_after: float | None,
               rng: random.Random) -> float:
    """Seconds until the next attempt: min_interval after a success; after
    failures, exponential backoff with jitter (75-100 % of the step, so replicas
    spread out without exceeding the cap), and never before Retry-After."""
    if failures_in_a_row == 0:
        return min_interval
    cap = min(MAX_BACKOFF_SECONDS, MAX_BACKOFF_INTERVALS * min_interval)
    step = min(cap, min_interval * 2 ** (failures_in_a_row - 1))
    return max(step * rng.uniform(0.75, 1.0), retry_after or 0.0)


def worth_logging(was_up: bool, last_error: str, reason: str) -> bool:
    """A failure is logged when it follows a success or has another cause than the
    one before: a refresh failing the same way every interval logs once."""
    return was_up or same_cause(last_error) != same_cause(reason)


def same_cause(reason: str) -> str:
    """A failure reason without request ids and times."""
    return _VARYING.sub("…", reason)


def first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:200] if lines else "no details"
