"""Parsing v2 job and task records into the normalized model."""

from __future__ import annotations

import json

import pytest

from exporter.backends.ams_v2.records import (
    MalformedPage,
    MalformedRecord,
    collection_entities,
    parse_job,
    summarize_tasks,
)
from exporter.jobs.states import JobState

SEED_BODY = (
    '{"odata.metadata":"https://media.windows.net/api/$metadata#Jobs","value":[{"Id":'
    '"nb:jid:UUID:f3c43f94-327f-2347-90bb-3bf79f8559f1","Name":"Encoding BigBuckBunny '
    'into to H264 Adaptive Bitrate MP4 Set 720p","Created":"2015-02-11T01:46:08.897",'
    '"LastModified":"2015-02-11T01:46:08.897","EndTime":null,"Priority":0,'
    '"RunningDuration":0.0,"StartTime":"2015-02-11T01:46:16.58","State":2,'
    '"TemplateId":null,"JobNotificationSubscriptions":[]}]}'
)


def test_seed_record() -> None:
    [entity] = collection_entities(json.loads(SEED_BODY))
    job = parse_job(entity)
    assert job.state == JobState.Processing
    assert job.start_time == 1423619176.58
    assert job.created == 1423619168.897
    assert job.end_time is None
    assert job.api_running_duration is None  # only read for a final job lacking times
    assert job.template_id == ""
    assert job.running_duration(1423619186.58) == pytest.approx(10.0)


def test_running_duration_is_kept_only_where_it_is_read() -> None:
    [entity] = collection_entities(json.loads(SEED_BODY))
    ended = {**entity, "State": 3, "EndTime": "2015-02-11T01:46:26.58", "RunningDuration": 9000.0}
    assert parse_job(ended).api_running_duration is None  # Start and End say it
    assert parse_job(ended).running_duration(0) == pytest.approx(10.0)
    no_start = {**ended, "StartTime": None}
    assert parse_job(no_start).api_running_duration == 9.0
    assert parse_job(no_start).running_duration(0) == 9.0


def test_equal_times_share_one_float_and_names_are_interned() -> None:
    [entity] = collection_entities(json.loads(SEED_BODY))
    ended = {**entity, "State": 3, "EndTime": "2015-02-11T01:53:06.58",
             "LastModified": "2015-02-11T01:53:06.58", "TemplateId": "nb:jtid:UUID:1"}
    one, two = parse_job(ended), parse_job(json.loads(json.dumps(ended)))
    assert one.last_modified is one.end_time
    assert one.name is two.name and one.template_id is two.template_id


def test_verbose_record_gives_the_same_job() -> None:
    verbose = {"d": {"results": [{
        "__metadata": {"id": "x", "uri": "x",
                       "type": "Microsoft.Cloud.Media.Vod.Rest.Data.Models.Job"},
        "Tasks": {"__deferred": {"uri": "x"}},
        "Id": "nb:jid:UUID:f3c43f94-327f-2347-90bb-3bf79f8559f1",
        "Name": "Encoding BigBuckBunny into to H264 Adaptive Bitrate MP4 Set 720p",
        "Created": "/Date(1423619168897)/", "LastModified": "/Date(1423619168897)/",
        "EndTime": None, "Priority": 0, "RunningDuration": 0.0,
        "StartTime": "/Date(1423619176580)/", "State": 2, "TemplateId": None,
    }]}}
    [entity] = collection_entities(verbose)
    light = parse_job(collection_entities(json.loads(SEED_BODY))[0])
    assert parse_job(entity) == light


def test_running_duration_is_milliseconds_and_frozen_when_final() -> None:
    job = parse_job({"Id": "j", "Name": "n", "State": 3, "Created": "2015-02-11T01:00:00",
                     "RunningDuration": 90500.0, "StartTime": None, "EndTime": None})
    assert job.running_duration(1e10) == 90.5
    job = parse_job({"Id": "j", "Name": "n", "State": 3, "Created": "2015-02-11T01:00:00",
                     "StartTime": "2015-02-11T01:00:10", "EndTime": "2015-02-11T01:01:00",
                     "RunningDuration": 50000.0})
    assert job.running_duration(1e10) == 50.0


@pytest.mark.parametrize("entity", [
    "not an object",
    {"Name": "no id", "State": 0, "Created": "2015-02-11T01:00:00"},
    {"Id": "j", "State": 9, "Created": "2015-02-11T01:00:00"},
    {"Id": "j", "State": "Processing", "Created": "2015-02-11T01:00:00"},
    {"Id": "j", "State": 1, "Created": "tomorrow"},
    {"Id": "j", "State": 1},
    {"Id": "j", "State": 1, "Created": "2015-02-11T01:00:00", "Name": 5},
    {"Id": "j", "State": 1, "Created": "2015-02-11T01:00:00", "RunningDuration": "x"},
])
def test_malformed_records(entity: object) -> None:
    with pytest.raises(MalformedRecord):
        parse_job(entity)


@pytest.mark.parametrize("body", [[], {"value": 3}, {"d": "x"}, "text", None])
def test_malformed_pages(body: object) -> None:
    with pytest.raises(MalformedPage):
        collection_entities(body)


def test_tasks_progress_and_error_codes() -> None:
    summary = summarize_tasks({"value": [
        {"Progress": 50.0, "ErrorDetails": []},
        {"Progress": 100.0, "ErrorDetails": [{"Code": "ErrorDownloadingInputAssetMalformed",
                                              "Message": "secret-ish free text"}]},
        {"Progress": 25.0, "ErrorDetails": [{"Code": "Bad Code!\n", "Message": "x"}]},
    ]})
    assert summary.progress == pytest.approx((0.5 + 1.0 + 0.25) / 3)
    assert [e.code for e in summary.errors] == ["ErrorDownloadingInputAssetMalformed", "BadCode"]
    assert summarize_tasks({"value": []}).progress is None
