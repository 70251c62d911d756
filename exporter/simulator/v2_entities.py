"""The v2 entity sets we serve (Jobs, Tasks): field order, types, and records built from jobs."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from urllib.parse import quote

from exporter.jobs.states import JobState
from exporter.simulator.jobs import JobView
from exporter.simulator.odata_filter import EdmType

MODEL_NAMESPACE = "Microsoft.Cloud.Media.Vod.Rest.Data.Models"
_TASK_ID_NAMESPACE = uuid.UUID("6f1c3b1e-5a0c-4d43-9a55-0b7c2f3c9d21")

Record = dict[str, object]
"""Field values in canonical order; datetimes as integer microseconds since epoch."""


@dataclass(frozen=True)
class EntitySet:
    name: str
    type_name: str
    fields: tuple[str, ...]  # canonical output order
    types: dict[str, EdmType]  # scalar fields; these are also the filterable ones
    collections: dict[str, str]  # inline collection field -> element type name
    navigation: tuple[str, ...]  # links written as __deferred in verbose JSON

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
)


def job_record(view: JobView) -> Record:
    job = view.job
    return {
        "Id": job.id,
        "Name": job.name,
        "Created": view.created_us,
        "LastModified": view.last_modified_us,
        "EndTime": view.end_us,
        "Priority": job.priority,
        "RunningDuration": view.running_duration_ms,
        "StartTime": view.start_us,
        "State": int(view.state),
        "TemplateId": job.template_id,
        "JobNotificationSubscriptions": [],
    }


def task_records(view: JobView) -> list[Record]:
    """A job's tasks: each follows the job's state, times and progress."""
    job = view.job
    errors: list[object] = []
    if view.state == JobState.Error:
        errors = [{
            "Code": job.error_code or "ErrorProcessingTask",
            "Message": "An error occurred while the task was processing the input.",
        }]
    perf = None
    if view.state == JobState.Finished:
        perf = f"Task completed in {view.running_duration_ms / 1000.0:.1f} s"
    return [
        {
            "Id": f"nb:tid:UUID:{uuid.uuid5(_TASK_ID_NAMESPACE, f'{job.id}/{index}')}",
            "Name": f"Encoding task {index + 1}",
            "State": int(view.state),
            "Progress": view.progress,
            "StartTime": view.start_us,
            "EndTime": view.end_us,
            "RunningDuration": view.running_duration_ms,
            "PerfMessage": perf,
            "ErrorDetails": list(errors),
            "HistoricalEvents": [],
        }
        for index in range(max(job.tasks, 0))
    ]
