"""AMS v3 resources as ARM serves them: transforms and jobs in camelCase JSON.

Shapes follow the 2022-07-01 REST examples: `id` spells `mediaservices` in lower case,
unset times are omitted, times are UTC with `Z` and 0-7 fractional digits. Every output
of a job follows the job's state, times and progress; outputs of a failed job carry the
error. The input is one JobInputAsset, as in docs/ams-api.md §2.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from exporter.jobs.states import JobState
from exporter.simulator.fidelity import Traits, with_seventh_digit
from exporter.simulator.jobs import JobView, SimJob
from exporter.simulator.odata_format import light_datetime
from exporter.simulator.store import JobStore

JOB_TYPE = "Microsoft.Media/mediaservices/transforms/jobs"
TRANSFORM_TYPE = "Microsoft.Media/mediaservices/transforms"
CREATOR = "ams-simulator@contoso.com"

Record = dict[str, object]
"""Filter/order values: name, properties/state, properties/created, properties/lastModified
(datetimes as integer microseconds)."""

# Output error code -> (category, retry, message). The codes are the documented, bounded
# set; the messages are free text.
ERRORS: dict[str, tuple[str, str, str]] = {
    "ServiceError": ("Service", "DoNotRetry",
                     "A fatal error occurred in the service; contact support."),
    "ServiceTransientError": ("Service", "MayRetry",
                              "A transient service error occurred; submit the job again."),
    "DownloadNotAccessible": ("Download", "DoNotRetry",
                              "The input files could not be reached for download."),
    "DownloadTransientError": ("Download", "MayRetry",
                               "Downloading the input files failed part-way (storage or "
                               "network problem)."),
    "UploadNotAccessible": ("Upload", "DoNotRetry",
                            "The output destination could not be reached for upload."),
    "UploadTransientError": ("Upload", "MayRetry",
                             "Uploading the output files failed part-way (storage or "
                             "network problem)."),
    "ConfigurationUnsupported": ("Configuration", "DoNotRetry",
                                 "The input does not fit the transform's settings."),
    "ContentMalformed": ("Content", "DoNotRetry",
                         "The input could not be decoded (empty, truncated or corrupt file)."),
    "ContentUnsupported": ("Content", "DoNotRetry",
                           "The input format or codec is not supported."),
    "IdentityUnsupported": ("Account", "DoNotRetry",
                            "The account identity could not be verified."),
}
DEFAULT_ERROR = "ServiceError"

# Fidelity: the detail code under each top-level code. Only ServiceError -> Internal (and
# its messages) is from an official example; the others are made up, but like it they
# differ from the top-level code, so a client reading details[0].code as the code shows.
DETAIL_CODES: dict[str, tuple[str, str]] = {
    "ServiceError": ("Internal", "Internal error in initializing the task for processing"),
    "ServiceTransientError": ("InternalTransient", "A transient internal error occurred."),
    "DownloadNotAccessible": ("InputNotFound", "The input file was not found."),
    "DownloadTransientError": ("DownloadInterrupted", "The download was interrupted."),
    "UploadNotAccessible": ("OutputNotWritable", "The output container refused writes."),
    "UploadTransientError": ("UploadInterrupted", "The upload was interrupted."),
    "ConfigurationUnsupported": ("PresetMismatch", "The preset does not fit the input."),
    "ContentMalformed": ("InputFileCorrupt", "The input file is corrupt."),
    "ContentUnsupported": ("UnsupportedCodec", "The input codec is not supported."),
    "IdentityUnsupported": ("IdentityNotConfigured", "No managed identity is configured."),
}
FATAL_SERVICE_ERROR = "Fatal service error, please contact support."
CREATED_2018 = "0001-01-01T00:00:00Z"  # what 2018-era bodies gave as `created`


@dataclass
class V3Transform:
    name: str
    created: float
    description: str
    preset: str  # a built-in Standard Encoder preset name
    store: JobStore = field(default_factory=JobStore)


def arm_datetime(us: int) -> str:
    """UTC with Z, trailing zeros of the fraction stripped: 2021-07-12T10:34:29.691737Z."""
    return light_datetime(us) + "Z"


def _us(t: float) -> int:
    return round(t * 1_000_000)


def priority_name(priority: int) -> str:
    return "Low" if priority < 0 else "High" if priority > 0 else "Normal"


def _system_data(created_us: int, modified_us: int) -> dict[str, object]:
    return {
        "createdBy": CREATOR,
        "createdByType": "User",
        "createdAt": arm_datetime(created_us),
        "lastModifiedBy": CREATOR,
        "lastModifiedByType": "User",
        "lastModifiedAt": arm_datetime(modified_us),
    }


def transform_resource(account_id: str, transform: V3Transform) -> dict[str, object]:
    created = _us(transform.created)
    properties: dict[str, object] = {"created": arm_datetime(created)}
    if transform.description:
        properties["description"] = transform.description
    properties["lastModified"] = arm_datetime(created)
    properties["outputs"] = [{
        "onError": "StopProcessingJob",
        "relativePriority": "Normal",
        "preset": {
            "@odata.type": "#Microsoft.Media.BuiltInStandardEncoderPreset",
            "presetName": transform.preset,
        },
    }]
    return {
        "name": transform.name,
        "id": f"{account_id}/transforms/{transform.name}",
        "type": TRANSFORM_TYPE,
        "properties": properties,
        "systemData": _system_data(created, created),
    }


def transform_record(transform: V3Transform) -> Record:
    created = _us(transform.created)
    return {"name": transform.name, "properties/created": created,
            "properties/lastModified": created}


def job_record(view: JobView) -> Record:
    return {
        "name": view.job.id,
        "properties/state": view.state.name,
        "properties/created": view.created_us,
        "properties/lastModified": view.last_modified_us,
    }


def job_stub_record(job: SimJob) -> Record:
    """The record without state and lastModified, for queries that use neither."""
    return {"name": job.id, "properties/created": _us(job.created)}


def _error(view: JobView, traits: Traits | None = None) -> dict[str, object]:
    job = view.job
    code = job.error_code if job.error_code in ERRORS else DEFAULT_ERROR
    category, retry, message = ERRORS[code]
    detail_code, detail_message = job.error_code or code, message
    if traits is not None:  # fidelity: detail codes differ from the top-level code
        detail_code, detail_message = DETAIL_CODES[code]
        if code == "ServiceError":
            message = FATAL_SERVICE_ERROR
    return {
        "code": code,
        "message": message,
        "category": job.error_category or category,
        "retry": retry,
        "details": [{"code": detail_code, "message": detail_message}],
    }


def _stamp(us: int, traits: Traits | None) -> str:
    """arm_datetime, with the job's seventh fractional digit under fidelity."""
    if traits is None:
        return arm_datetime(us)
    return with_seventh_digit(light_datetime(us), traits) + "Z"


def _times(view: JobView, target: dict[str, object], traits: Traits | None = None) -> None:
    # 2018-era bodies showed a Processing job without its startTime.
    hide_start = (traits is not None and traits.era_2018
                  and view.state == JobState.Processing)
    if view.start_us is not None and not hide_start:
        target["startTime"] = _stamp(view.start_us, traits)
    if view.end_us is not None:
        target["endTime"] = _stamp(view.end_us, traits)


def _outputs(view: JobView, preset: str, traits: Traits | None) -> list[dict[str, object]]:
    name, count = view.job.id, max(view.job.outputs, 1)
    progress = int(view.progress)  # an integer percentage in v3
    outputs = []
    for index in range(count):
        suffix = "" if count == 1 else f"-{index + 1}"
        # The service's default label is {presetName}_{index}; fidelity shows that.
        label = f"{preset}_{index}" if traits is not None else f"output{index + 1}"
        output: dict[str, object] = {
            "@odata.type": "#Microsoft.Media.JobOutputAsset",
            "state": view.state.name,
            "progress": progress,
            "label": label,
        }
        if view.state == JobState.Error:
            output["error"] = _error(view, traits)
        elif traits is not None and traits.era_2018:
            output["error"] = None
        _times(view, output, traits)
        output["assetName"] = f"{name}-OutputAsset{suffix}"
        outputs.append(output)
    return outputs


def _input(job: SimJob, traits: Traits | None) -> dict[str, object]:
    asset: dict[str, object] = {
        "@odata.type": "#Microsoft.Media.JobInputAsset",
        "files": [],
        "inputDefinitions": [],
        "assetName": f"{job.id}-InputAsset",
    }
    if traits is None:
        return asset
    # List and get bodies of the official examples wrap the input (fidelity).
    return {"@odata.type": "#Microsoft.Media.JobInputs", "inputs": [asset]}


def job_resource(
    account_id: str,
    transform: str,
    view: JobView,
    *,
    preset: str = "AdaptiveStreaming",
    traits: Traits | None = None,
) -> dict[str, object]:
    """The job as ARM serves it; `traits` (fidelity on) vary it as real bodies did."""
    job = view.job
    era_2018 = traits is not None and traits.era_2018
    created = CREATED_2018 if era_2018 else _stamp(view.created_us, traits)
    properties: dict[str, object] = {"created": created, "state": view.state.name}
    if job.name:
        properties["description"] = job.name
    properties["input"] = _input(job, traits)
    # The 2018-07-01 REST spec's list example: a Queued job whose `created` and
    # `lastModified` are both the placeholder, and no other time.
    unstarted_2018 = era_2018 and view.start_us is None and view.end_us is None
    properties["lastModified"] = (CREATED_2018 if unstarted_2018
                                  else _stamp(view.last_modified_us, traits))
    properties["outputs"] = _outputs(view, preset, traits)
    properties["priority"] = priority_name(job.priority)
    properties["correlationData"] = dict(job.correlation or {})
    _times(view, properties, traits)
    resource: dict[str, object] = {
        "name": job.id,
        "id": f"{account_id}/transforms/{transform}/jobs/{job.id}",
        "type": JOB_TYPE,
        "properties": properties,
    }
    if not era_2018:  # systemData came in 2020
        resource["systemData"] = _system_data(view.created_us, view.last_modified_us)
    return resource
