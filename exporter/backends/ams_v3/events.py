"""Event Grid's Media job events, which AMS v3 and RMS publish: the account is the
topic, the job the subject, and the data says the state, progress and errors.

Facts (docs/ams-api.md, "Push events"): `topic` (CloudEvents: `source`) is the Media
Services account's resource id, or a custom topic's (RMS); `subject` is
`transforms/<t>/jobs/<j>`; times may lack the `Z` (they are UTC); ids are no dedupe
key. Job events carry the job's outputs, output events one output, and
JobOutputProgress a bare percentage. The job's correlationData rides along as
`correlationData` (job events) or `jobCorrelationData` (output events).
"""

from __future__ import annotations

from exporter.backends.arm_records import job_state, output_summary
from exporter.backends.event_items import EventItem, MalformedEvent, event_time, job_in_path
from exporter.backends.records import progress_ratio
from exporter.jobs.events import JobEvent
from exporter.jobs.model import ErrorInfo

_KINDS = ("StateChange", "Scheduled", "Processing", "Canceling", "Finished", "Canceled",
          "Errored")
JOB_TYPES = frozenset(f"Microsoft.Media.Job{kind}" for kind in _KINDS)
PROGRESS_TYPE = "Microsoft.Media.JobOutputProgress"
OUTPUT_TYPES = frozenset(f"Microsoft.Media.JobOutput{kind}" for kind in _KINDS) \
    | {PROGRESS_TYPE}
EVENT_TYPES = JOB_TYPES | OUTPUT_TYPES


def arm_route(topic: str) -> str:
    """The routing key of an Event Grid topic: an account's resource id or a custom
    topic's id (case and a trailing slash do not matter)."""
    return "arm:" + topic.strip().rstrip("/").lower()


def media_job_event(item: EventItem) -> JobEvent:
    """One Media job or job output event."""
    topic = item.source
    if not isinstance(topic, str) or not topic:
        raise MalformedEvent("no topic")
    transform, job = job_in_path(item.subject)
    data = item.data
    if not isinstance(data, dict):
        raise MalformedEvent("no data")
    when = event_time(item.time)
    state = job_state(data.get("state")) if item.type in JOB_TYPES else None
    if item.type in JOB_TYPES and state is None:
        raise MalformedEvent("job event without a known state")
    errors: tuple[ErrorInfo, ...] = ()
    if item.type == PROGRESS_TYPE:
        progress = progress_ratio(data.get("progress"))
    else:
        outputs = data.get("outputs") if item.type in JOB_TYPES else [data.get("output")]
        progress, errors = output_summary(outputs if isinstance(outputs, list) else ())
    correlation = data.get("correlationData" if item.type in JOB_TYPES
                           else "jobCorrelationData")
    return JobEvent(routes=(arm_route(topic),), type=item.type, transform=transform,
                    job_name=job, time=when, state=state, progress=progress, errors=errors,
                    raw=item.raw,
                    correlation=correlation if isinstance(correlation, dict) else None)
