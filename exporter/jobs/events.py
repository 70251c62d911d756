"""A push event about one job, as a backend parses it and an account applies it:
which job, what happened, when, and what it says about states, progress and errors."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from exporter.jobs.model import ErrorInfo, Job, JobKey
from exporter.jobs.states import JobState


@dataclass(frozen=True)
class JobEvent:
    #: The routing keys of the account it belongs to (see Backend.event_routes).
    routes: tuple[str, ...]
    #: Shown in metrics and logs: the event type, e.g. Microsoft.Media.JobFinished.
    type: str
    transform: str
    job_name: str
    #: Unix time the event happened (event time, not receipt).
    time: float
    #: The job's state after the event, when the event says (job-level events).
    state: JobState | None = None
    #: Mean output progress 0-1 the event reports, if any.
    progress: float | None = None
    errors: tuple[ErrorInfo, ...] = ()
    #: The whole job, when the event carries it (MK.IO webhooks), else None. Only its
    #: progress and error codes are used (as the event's own); the rest waits for the API.
    record: Job | None = field(default=None, compare=False)
    #: The job's correlationData as the event carries it (Event Grid's
    #: `correlationData` or `jobCorrelationData`, MK.IO's job), None when it has none.
    #: Only the configured keys' values are kept from it (exporter.jobs.claims).
    correlation: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)
    #: The event as delivered, for forwarding it to the shard that owns its account.
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def key(self) -> JobKey:
        return (self.transform, self.job_name)
