"""correlationData values as label values, from listings and from events."""

from __future__ import annotations

import itertools

import pytest

from exporter.backends.ams_v3.events import media_job_event
from exporter.backends.arm_records import parse_job
from exporter.backends.event_items import EventItem
from exporter.backends.mkio.events import mkio_job_event
from exporter.jobs.claims import Claims, apply_claims
from exporter.jobs.correlation import (
    MAX_VALUE_LENGTH,
    correlation_values,
    filled_in,
    label_value,
)
from exporter.jobs.events import JobEvent
from exporter.jobs.model import Job
from exporter.jobs.states import JobState
from tests.helpers import T0

KEYS = ("customerId", "workflow")


@pytest.mark.parametrize("value, expected", [
    ("acme", "acme"), ("", ""), (42, "42"), (1.5, "1.5"), (True, "true"), (False, "false"),
    (None, ""), ({"nested": 1}, ""), ([1, 2], ""), (float("nan"), ""),
    ("x" * 1000, "x" * MAX_VALUE_LENGTH), ("bad \ud800 half", "bad \ufffd half"),
])
def test_a_value_becomes_a_bounded_label_value(value, expected):
    assert label_value(value) == expected


def test_only_the_configured_keys_are_kept_case_sensitively_and_shared():
    data = {"customerId": "acme", "CustomerId": "other", "workflow": "vod", "order": "1"}
    values = correlation_values(data, KEYS)
    assert values == ("acme", "vod")
    assert correlation_values(dict(data), KEYS) is values, "one tuple for equal values"
    assert correlation_values({"customerid": "acme"}, KEYS) == ("", "")
    assert correlation_values("not an object", KEYS) == ("", "")
    assert correlation_values(data, ()) == ()


def test_a_listed_job_keeps_the_values_of_the_keys_only():
    resource = {"name": "job-1", "properties": {
        "state": "Queued", "created": "2026-01-01T00:00:00Z",
        "correlationData": {"customerId": "acme", "secret-ish": "x" * 100}}}
    assert parse_job(resource, "t", KEYS).correlation == ("acme", "")
    assert parse_job(resource, "t").correlation == ()
    resource["properties"]["correlationData"] = ["not", "an", "object"]
    assert parse_job(resource, "t", KEYS).correlation == ("", "")


def arm_event(kind: str, data: dict) -> EventItem:
    return EventItem(type=f"Microsoft.Media.{kind}", source="/subscriptions/s/x",
                     subject="transforms/t/jobs/j", time="2026-01-01T00:00:00", data=data,
                     raw={})


def test_event_grid_job_and_output_events_carry_the_data():
    job_event = media_job_event(arm_event("JobFinished", {
        "state": "Finished", "previousState": "Processing", "outputs": [],
        "correlationData": {"customerId": "acme"}}))
    assert job_event.correlation == {"customerId": "acme"}
    output = media_job_event(arm_event("JobOutputProgress", {
        "progress": 10, "jobCorrelationData": {"customerId": "acme"}}))
    assert output.correlation == {"customerId": "acme"}
    bare = media_job_event(arm_event("JobStateChange", {"state": "Queued"}))
    assert bare.correlation is None


def test_mkio_webhooks_carry_the_jobs_data():
    resource = {"name": "j", "id": "/x/transforms/t/jobs/j", "properties": {
        "state": "Processing", "created": "2026-01-01T00:00:00Z",
        "correlationData": {"customerId": "acme"}}}
    item = EventItem(type="MediaKind.JobStarted", source="/api/v1/projects/p/transforms/t/jobs/j",
                     subject=None, time="2026-01-01T00:00:00Z",
                     data={"projectName": "p", "state": "Processing", "resource": resource},
                     raw={})
    assert mkio_job_event(item).correlation == {"customerId": "acme"}


def event(correlation: dict | None, time: float = T0) -> JobEvent:
    return JobEvent(routes=("arm:x",), type="Microsoft.Media.JobFinished", transform="t",
                    job_name="j", time=time, state=JobState.Finished, correlation=correlation)


def test_an_event_fills_in_empty_values_and_the_api_value_wins():
    listed = Job("j", "j", JobState.Processing, T0 - 60, correlation=("", "vod"))
    claims = Claims.of(event({"customerId": "acme", "workflow": "news"}), T0, KEYS)
    job, _ = apply_claims(listed, T0 - 60, claims)
    assert job.correlation == ("acme", "vod")
    assert filled_in(("a", "b"), ("x", "y")) == ("a", "b")
    assert filled_in((), ("x", "")) == ("x", "")
    nothing = Claims.of(event(None), T0, KEYS)
    assert nothing.correlation is None
    assert apply_claims(listed, T0 - 60, nothing)[0].correlation == ("", "vod")


def test_merged_claims_give_the_same_values_in_any_order():
    claims = [Claims.of(event(data), T0 + i, KEYS) for i, data in enumerate(
        ({"customerId": "b"}, {"customerId": "a", "workflow": "w"}, None, {}))]
    listed = Job("j", "j", JobState.Processing, T0 - 60, correlation=("", ""))
    results = set()
    for order in itertools.permutations(claims):
        merged = order[0]
        for other in order[1:]:
            merged = merged.merge(other)
        results.add(apply_claims(listed, T0 - 60, merged)[0].correlation)
        one_by_one = listed
        for each in order:
            one_by_one = apply_claims(one_by_one, T0 - 60, each)[0]
        assert one_by_one.correlation[1] == "w"
    assert results == {("b", "w")}
