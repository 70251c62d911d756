"""Delivery bodies into events: the envelope only. A delivery is one event or an
array of them, each in the Event Grid schema or CloudEvents 1.0; the Event Grid
`SubscriptionValidation` handshake is answered here, and every other event goes by
its type to the backend whose services send it (exporter.backends.registry), which
reads the rest (AMS and RMS job events, MK.IO webhooks). An event of a type no
backend knows is ignored; one its backend cannot read is malformed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from exporter.backends.event_items import EventItem
from exporter.backends.registry import backend_for_event
from exporter.jobs.events import JobEvent

VALIDATION_TYPE = "Microsoft.EventGrid.SubscriptionValidationEvent"
MAX_EVENTS_PER_DELIVERY = 5000
MAX_VALIDATION_CODE = 200


@dataclass(frozen=True)
class Validation:
    """Event Grid's SubscriptionValidation handshake: answer with the code."""

    code: str


class MalformedDelivery(ValueError):
    """The body is not an event or a list of events."""


@dataclass
class Parsed:
    events: list[JobEvent] = field(default_factory=list)
    validation: Validation | None = None
    #: Items that are events of no interest (other services' event types).
    ignored: int = 0
    #: Items that are not events at all, or job events without a job.
    malformed: int = 0


def parse_delivery(body: Any) -> Parsed:
    """All the items of one delivery (an object or an array of them)."""
    items = body if isinstance(body, list) else [body]
    if not items or not all(isinstance(item, dict) for item in items):
        raise MalformedDelivery("expected an event object or an array of them")
    if len(items) > MAX_EVENTS_PER_DELIVERY:
        raise MalformedDelivery(f"more than {MAX_EVENTS_PER_DELIVERY} events")
    parsed = Parsed()
    for item in items:
        try:
            _parse_item(envelope(item), parsed)
        except ValueError:  # MalformedEvent, DateFormatError
            parsed.malformed += 1
    return parsed


def envelope(item: dict[str, Any]) -> EventItem:
    """An event's fields under either schema's names (CloudEvents has `specversion`)."""
    cloud = "specversion" in item
    kind = item.get("type" if cloud else "eventType")
    if not isinstance(kind, str):
        raise ValueError("no event type")
    return EventItem(type=kind, source=item.get("source" if cloud else "topic"),
                     subject=item.get("subject"), time=item.get("time" if cloud else "eventTime"),
                     data=item.get("data"), raw=item)


def _parse_item(item: EventItem, parsed: Parsed) -> None:
    if item.type == VALIDATION_TYPE:
        code = item.data.get("validationCode") if isinstance(item.data, dict) else None
        if not isinstance(code, str) or not code or len(code) > MAX_VALIDATION_CODE:
            raise ValueError("validation event without a code")
        parsed.validation = Validation(code)
        return
    backend = backend_for_event(item.type)
    if backend is None:
        parsed.ignored += 1
    else:
        parsed.events.append(backend.parse_event(item))
