"""Event bodies as the services send them, and the order-independent merge."""

from __future__ import annotations

import dataclasses
import itertools
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exporter.backends.ams_v3.events import arm_route
from exporter.backends.mkio.events import mkio_route
from exporter.events.parse import MalformedDelivery, envelope, parse_delivery
from exporter.jobs.claims import apply_event
from exporter.jobs.events import JobEvent
from exporter.jobs.model import ErrorInfo, Job
from exporter.jobs.states import JobState

TOPIC = ("/subscriptions/<subscription-id>/resourceGroups/<rg-name>/providers/"
         "Microsoft.Media/mediaservices/<account-name>")
# The documented examples (Event Grid's media event schema page), as delivered.
STATE_CHANGE = [{"topic": TOPIC, "subject": "transforms/VideoAnalyzerTransform/jobs/<job-id>",
                 "eventType": "Microsoft.Media.JobStateChange",
                 "eventTime": "2018-04-20T21:26:13.8978772",
                 "id": "b9d38923-9210-4c2b-958f-0054467d4dd7",
                 "data": {"previousState": "Processing", "state": "Finished"},
                 "dataVersion": "1.0", "metadataVersion": "1"}]
ERRORED = [{"topic": TOPIC, "subject": "transforms/VideoAnalyzerTransform/jobs/job-2ac2fe75",
            "eventType": "Microsoft.Media.JobErrored", "eventTime": "2018-10-12T15:29:20.9954767",
            "id": "2749e9cf-4095-4723-9bc5-df8e15289135",
            "data": {"outputs": [{"@odata.type": "#Microsoft.Media.JobOutputAsset",
                                  "assetName": "output-2ac2fe75",
                                  "error": {"category": "Service", "code": "ServiceError",
                                            "details": [{"code": "Internal", "message": "x"}],
                                            "message": "Fatal service error",
                                            "retry": "DoNotRetry"},
                                  "label": "VideoAnalyzerPreset_0", "progress": 83,
                                  "state": "Error"}],
                     "previousState": "Processing", "state": "Error", "correlationData": {}},
            "dataVersion": "1.0", "metadataVersion": "1"}]
PROGRESS = [{"topic": TOPIC, "subject": "transforms/VideoAnalyzerTransform/jobs/job-5AB6DE32",
             "eventType": "Microsoft.Media.JobOutputProgress",
             "eventTime": "2018-12-10T18:20:12.1514867",
             "id": "00000000-0000-0000-0000-000000000000",
             "data": {"jobCorrelationData": {}, "label": "VideoAnalyzerPreset_0",
                      "progress": 86}, "dataVersion": "1.0", "metadataVersion": "1"}]
VALIDATION = [{"id": "2d1781af-3a4c-4d7c-bd0c-e34b19da4e66",
               "topic": "/subscriptions/xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", "subject": "",
               "data": {"validationCode": "512d38b6-c7b8-40c8-89fe-f46f9e9622b6",
                        "validationUrl": "https://rp-eastus2.eventgrid.azure.net:553/x"},
               "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
               "eventTime": "2022-10-28T04:23:35.1981776Z", "metadataVersion": "1",
               "dataVersion": "1"}]
MKIO_JOB = {"name": "job-7326300f",
            "id": "/subscriptions/52907a2e/resourceGroups/default/providers/Microsoft.Media/"
                  "mediaservices/mkiotest/transforms/simpletransformsd/jobs/job-7326300f",
            "type": "Microsoft.Media/mediaservices/transforms/jobs",
            "properties": {"created": "2024-03-27T15:33:58.451407Z",
                           "lastModified": "2024-03-27T15:36:43.395374Z", "priority": "High",
                           "state": "Finished",
                           "outputs": [{"label": "BuiltInStandardEncoderPreset_0",
                                        "state": "Finished", "progress": 100}],
                           "startTime": "2024-03-27T15:36:31.000000Z",
                           "endTime": "2024-03-27T15:36:36.000000Z"}}
MKIO_FINISHED = {"specversion": "1.0", "id": "e1", "type": "MediaKind.JobFinished",
                 "source": "/api/v1/projects/mkiotest/transforms/simpletransformsd/jobs/"
                           "job-7326300f",
                 "time": "2024-03-27T15:36:43Z", "datacontenttype": "application/json",
                 "data": {"projectName": "mkiotest", "previousState": "Processing",
                          "state": "Finished", "resource": MKIO_JOB}}


def cloud_event(item: dict) -> dict:
    """The same event in the CloudEvents 1.0 schema."""
    return {"source": item["topic"], "subject": item["subject"], "type": item["eventType"],
            "time": item["eventTime"], "id": item["id"], "data": item["data"],
            "specversion": "1.0"}


@pytest.mark.parametrize("schema", ["eventgrid", "cloudevents"])
def test_documented_job_events_parse_in_both_schemas(schema):
    body = STATE_CHANGE + ERRORED + PROGRESS
    if schema == "cloudevents":
        body = [cloud_event(item) for item in body]
    parsed = parse_delivery(body)
    assert parsed.malformed == 0 and parsed.validation is None
    change, errored, progress = parsed.events
    assert change.routes == (arm_route(TOPIC),)
    assert (change.transform, change.job_name) == ("VideoAnalyzerTransform", "<job-id>")
    assert change.state == JobState.Finished
    assert change.time == pytest.approx(1524259573.8978772)  # UTC, no Z on the wire
    assert errored.state == JobState.Error and errored.progress == pytest.approx(0.83)
    assert errored.errors == (ErrorInfo("ServiceError", "Service"),)
    assert progress.state is None and progress.progress == pytest.approx(0.86)


def test_both_schemas_read_into_the_same_event_item():
    for item in STATE_CHANGE + ERRORED + PROGRESS:
        eventgrid, cloud = envelope(item), envelope(cloud_event(item))
        assert eventgrid.source == TOPIC and eventgrid.type == item["eventType"]
        assert dataclasses.replace(cloud, raw=item) == eventgrid


def test_the_validation_handshake_and_single_objects():
    assert parse_delivery(VALIDATION).validation.code == "512d38b6-c7b8-40c8-89fe-f46f9e9622b6"
    assert len(parse_delivery(STATE_CHANGE[0]).events) == 1


def test_mkio_webhooks_carry_the_whole_job():
    [event] = parse_delivery(MKIO_FINISHED).events
    assert event.routes == (mkio_route("mkiotest"),)
    assert event.key == ("simpletransformsd", "job-7326300f")
    assert event.state == JobState.Finished and event.record is not None
    assert event.record.progress == 1.0 and event.record.priority == 2


@pytest.mark.parametrize("body", [[], [1, 2], "text", {"eventType": 5}])
def test_not_events(body):
    if isinstance(body, dict):
        assert parse_delivery(body).malformed == 1
    else:
        with pytest.raises(MalformedDelivery):
            parse_delivery(body)


def test_other_services_events_are_ignored():
    other = dict(STATE_CHANGE[0], eventType="Microsoft.Storage.BlobCreated")
    parsed = parse_delivery([other])
    assert parsed.events == [] and parsed.ignored == 1 and parsed.malformed == 0


T = 1767225600.0


def lifecycle() -> list[JobEvent]:
    """A job's events, in the order they happened."""
    def event(kind, dt, state=None, progress=None, errors=()):
        return JobEvent(routes=("arm:x",), type=kind, transform="t", job_name="j",
                        time=T + dt, state=state, progress=progress, errors=errors)
    return [
        event("Microsoft.Media.JobScheduled", 1, JobState.Scheduled),
        event("Microsoft.Media.JobProcessing", 5, JobState.Processing),
        event("Microsoft.Media.JobOutputProgress", 20, progress=0.3),
        event("Microsoft.Media.JobOutputProgress", 50, progress=0.86),
        event("Microsoft.Media.JobStateChange", 60, JobState.Error, progress=0.83,
              errors=(ErrorInfo("ServiceError", "Service"),)),
        event("Microsoft.Media.JobErrored", 60.001, JobState.Error, progress=0.83,
              errors=(ErrorInfo("ServiceError", "Service"), ErrorInfo("Internal", "Unknown"))),
    ]


def replay(events: list[JobEvent]) -> Job:
    job, known = Job(job_id="j", name="j", state=JobState.Queued, created=T,
                     transform="t"), T
    for event in events:
        job, known = apply_event(job, known, event)
    return job


@settings(max_examples=300, deadline=None)
@given(st.permutations(range(6)), st.lists(st.integers(0, 5), max_size=6))
def test_any_order_with_duplicates_ends_where_in_order_delivery_ends(order, duplicates):
    events = lifecycle()
    shuffled = [events[i] for i in order] + [events[i] for i in duplicates]
    assert replay(shuffled) == replay(events)


def test_in_order_delivery_gives_the_expected_job():
    job = replay(lifecycle())
    assert job.state == JobState.Error
    assert (job.start_time, job.end_time) == (T + 5, T + 60)
    assert job.progress == pytest.approx(0.86)
    assert set(job.errors) == {ErrorInfo("ServiceError", "Service"),
                               ErrorInfo("Internal", "Unknown")}


def test_a_late_active_event_never_moves_a_final_job_back():
    events = lifecycle()
    final = replay(events)
    for late in itertools.islice(events, 4):
        assert replay([*events, late]).state == final.state


def test_bodies_are_json_roundtrippable():
    assert parse_delivery(json.loads(json.dumps(STATE_CHANGE))).events
