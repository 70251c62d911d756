"""What the backends' event parsers share: one delivered event with its envelope
read (exporter.events.parse reads the envelope; the backends read the rest), its
time, and the job its resource path names.

Fields from events are bounded as a listing's are (SPEC §11): names as
`exporter.jobs.model.bounded_name` allows, times no earlier than `NO_TIME_BEFORE`.
An event outside those bounds is malformed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from exporter.backends.arm_records import job_path
from exporter.backends.odata import parse_datetime
from exporter.backends.records import NO_TIME_BEFORE
from exporter.jobs.model import bounded_name


class MalformedEvent(ValueError):
    """An event of a known type that does not say which job, when, or what."""


@dataclass(frozen=True)
class EventItem:
    """One event of a delivery, whichever schema it came in (Event Grid's or
    CloudEvents 1.0): the fields both carry under their own names."""

    type: str
    #: Event Grid's `topic`, CloudEvents' `source`.
    source: Any
    subject: Any
    #: Event Grid's `eventTime`, CloudEvents' `time`.
    time: Any
    data: Any
    #: The event as delivered, kept for forwarding it to another shard.
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)


def event_time(value: Any) -> float:
    """An event's time in Unix seconds; a missing time or a placeholder is malformed."""
    moment = parse_datetime(value)
    if moment is None:
        raise MalformedEvent("no event time")
    if moment < NO_TIME_BEFORE:
        raise MalformedEvent("an event time before 2000 is a placeholder, not a time")
    return moment


def job_in_path(path: Any) -> tuple[str, str]:
    """(transform, job) of a path ending in `transforms/<t>/jobs/<j>` (an Event Grid
    subject, an MK.IO source): both names bounded as listings' are."""
    names = job_path(path)
    if names is None:
        raise MalformedEvent("names no transforms/<t>/jobs/<j>")
    transform, job = names
    if not (bounded_name(transform) and bounded_name(job)):
        raise MalformedEvent("a transform or job name out of bounds")
    return transform, job
