"""The AMS job state enumeration, shared by the client and the simulator."""

from __future__ import annotations

from enum import IntEnum


class JobState(IntEnum):
    """Job states with their v2 integer codes (v3 uses the same names as strings)."""

    Queued = 0
    Scheduled = 1
    Processing = 2
    Finished = 3
    Error = 4
    Canceled = 5
    Canceling = 6

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATES

    @property
    def is_active(self) -> bool:
        return self not in FINAL_STATES


FINAL_STATES = frozenset({JobState.Finished, JobState.Error, JobState.Canceled})
ACTIVE_STATES = tuple(s for s in JobState if s not in FINAL_STATES)
