"""The v2 entity sets we serve (Jobs, Tasks): field order, types, and records built from jobs."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from urllib.parse import quote

from exporter.jobs.states import FINAL_STATES, JobState
from exporter.simulator.fidelity import Traits
from exporter.simulator.jobs import JobView, to_us
from exporter.simulator.odata_filter import EdmType

MODEL_NAMESPACE = "Microsoft.Cloud.Media.Vod.Rest.Data.Models"
_TASK_ID_NAMESPACE = uuid.UUID("6f1c3b1e-5a0c-4d43-9a55-0b7c2f3c9d21")

Record = dict[str, object]
"""Field values in canonical order; datetimes as integer microseconds since epoch."""

#: Hidden record key holding the job's fidelity Traits (only when fidelity is on); it is
#: no field, so it is never rendered, selected or filtered on.
TRAITS = "@sim.traits"


@dataclass(frozen=True)
class EntitySet:
    name: str
    type_name: str
    fields: tuple[str, ...]  # canonical output order
    types: dict[str, EdmType]  # scalar fields; these are also the filterable ones
    collections: dict[str, str]  # inline collection field -> element type name
    navigation: tuple[str, ...]  # links written as __deferred in verbose JSON
    # Typed fields inside items of inline collections (datetimes need formatting).
    item_types: dict[str, dict[str, EdmType]] = field(default_factory=dict)

    def key_path(self, key: str) -> str:
        """`Jobs('nb%3Ajid%3A...')`: the key quoted, quotes doubled, percent-encoded."""
        literal = quote(key.replace("'", "''"), safe="")
        return f"{self.name}('{literal}')"


JOBS = EntitySet(
    name="Jobs",
    type_name=f"{MODEL_NAMESPACE}.Job",
    fields=(
        "Id", "Name", "Created", "LastModified", "EndTime", "Priority", "RunningDuration",
        "StartTime", "State", "TemplateId", "JobNotificationSubscriptions",
    ),
    types={
        "Id": EdmType.STRING,
        "Name": EdmType.STRING,
        "Created": EdmType.DATETIME,
        "LastModified": EdmType.DATETIME,
        "EndTime": EdmType.DATETIME,
        "Priority": EdmType.INT,
        "RunningDuration": EdmType.DOUBLE,
        "StartTime": EdmType.DATETIME,
        "State": EdmType.INT,
        "TemplateId": EdmType.STRING,
    },
    collections={"JobNotificationSubscriptions": f"{MODEL_NAMESPACE}.JobNotificationSubscription"},
    navigation=("Tasks", "OutputMediaAssets", "InputMediaAssets"),
)

TASKS = EntitySet(
    name="Tasks",
    type_name=f"{MODEL_NAMESPACE}.Task",
    fields=(
        "Id", "Name", "State", "Progress", "StartTime", "EndTime", "RunningDuration",
        "PerfMessage", "ErrorDetails", "HistoricalEvents",
    ),
    types={
        "Id": EdmType.STRING,
        "Name": EdmType.STRING,
        "State": EdmType.INT,
        "Progress": EdmType.DOUBLE,
        "StartTime": EdmType.DATETIME,
        "EndTime": EdmType.DATETIME,
        "RunningDuration": EdmType.DOUBLE,
        "PerfMessage": EdmType.STRING,
    },
    collections={
        "ErrorDetails": f"{MODEL_NAMESPACE}.ErrorDetail",
        "HistoricalEvents": f"{MODEL_NAMESPACE}.TaskHistoricalEvent",
    },
    navigation=("OutputMediaAssets", "InputMediaAssets"),
    item_types={"HistoricalEvents": {"TimeStamp": EdmType.DATETIME}},
)


def running_duration(view: JobView, traits: Traits | None) -> float:
    """RunningDuration in ms; with fidelity traits a finished job's may be shorter than
    EndTime - StartTime (time spent waiting inside the task does not count)."""
    duration = view.running_duration_ms
    if (traits is None or traits.duration_ratio == 1.0 or view.job.running_duration_ms
            is not None or view.state not in FINAL_STATES):
        return duration
    return round(duration * traits.duration_ratio, 3)


def job_record(view: JobView, traits: Traits | None = None) -> Record:
    job = view.job
    record: Record = {
        "Id": job.id,
        "Name": job.name,
        "Created": view.created_us,
        "LastModified": view.last_modified_us,
        "EndTime": view.end_us,
        "Priority": job.priority,
        "RunningDuration": running_duration(view, traits),
        "StartTime": view.start_us,
        "State": int(view.state),
        "TemplateId": job.template_id,
        "JobNotificationSubscriptions": [],
    }
    if traits is not None:
        record[TRAITS] = traits
    return record


_EVENT_MESSAGES = {
    JobState.Queued: "The task was queued.",
    JobState.Scheduled: "The task was scheduled for processing.",
    JobState.Processing: "The task started processing.",
    JobState.Finished: "The task finished processing.",
    JobState.Error: "The task failed.",
    JobState.Canceled: "The task was canceled.",
    JobState.Canceling: "The task is being canceled.",
}


def historical_events(view: JobView, now: float) -> list[object]:
    """One TaskHistoricalEvent per state change so far, oldest first."""
    job = view.job
    events: list[object] = [{"Code": JobState.Queued.name,
                             "Message": _EVENT_MESSAGES[JobState.Queued],
                             "TimeStamp": view.created_us}]
    for at, state in job.events:
        if at <= now:
            events.append({"Code": state.name, "Message": _EVENT_MESSAGES[state],
                           "TimeStamp": max(to_us(at), view.created_us)})
    return events


def task_records(
    view: JobView, traits: Traits | None = None, now: float | None = None
) -> list[Record]:
    """A job's tasks: each follows the job's state, times and progress.

    With fidelity traits (and `now`) they carry their HistoricalEvents too."""
    job = view.job
    history: list[object] = []
    if traits is not None and now is not None:
        history = historical_events(view, now)
    duration = running_duration(view, traits)
    errors: list[object] = []
    if view.state == JobState.Error:
        errors = [{
            "Code": job.error_code or "ErrorProcessingTask",
            "Message": "An error occurred while the task was processing the input.",
        }]
    perf = None
    if view.state == JobState.Finished:
        perf = f"Task completed in {view.running_duration_ms / 1000.0:.1f} s"
    records: list[Record] = []
    for index in range(max(job.tasks, 0)):
        record: Record = {
            "Id": f"nb:tid:UUID:{uuid.uuid5(_TASK_ID_NAMESPACE, f'{job.id}/{index}')}",
            "Name": f"Encoding task {index + 1}",
            "State": int(view.state),
            "Progress": view.progress,
            "StartTime": view.start_us,
            "EndTime": view.end_us,
            "RunningDuration": duration,
            "PerfMessage": perf,
            "ErrorDetails": list(errors),
            "HistoricalEvents": list(history),
        }
        if traits is not None:
            record[TRAITS] = traits
        records.append(record)
    return records
