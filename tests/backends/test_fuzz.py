"""Property-based tests: arbitrary and near-valid payloads never crash the parsers,
and values from the configuration always mean what they say in a `$filter`."""

from __future__ import annotations

import json

import hypothesis
import hypothesis.strategies as st
import pytest
import requests

from exporter.backends.ams_v2.client import V2Client, filter_clauses_for
from exporter.backends.ams_v2.records import (
    MalformedPage,
    MalformedRecord,
    collection_entities,
    parse_job,
)
from exporter.backends.arm_records import parse_job as parse_v3_job
from exporter.backends.auth.tokens import NoToken
from exporter.backends.odata import string_literal
from exporter.backends.transport import Transport
from exporter.jobs.model import Listing
from exporter.simulator import ManualClock, SimJob, Simulator
from exporter.simulator.odata_filter import ODATA_V3, parse_filter
from exporter.simulator.v2_entities import JOBS

SETTINGS = hypothesis.settings(max_examples=300, deadline=None, database=None,
                               suppress_health_check=[hypothesis.HealthCheck.too_slow])

# Anything JSON can hold, nested a few levels.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-2**70, max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=200),
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=30,
)
dates = st.one_of(
    st.none(), st.text(max_size=40),
    st.datetimes().map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%S.%f")[: 19 + d.microsecond % 9]),
    st.integers(min_value=-10**15, max_value=10**15).map(lambda ms: f"/Date({ms})/"),
    st.sampled_from(["9999-12-31T23:59:59.9999999", "0001-01-01T00:00:00", "2015-02-30T00:00:00",
                     "2015-02-11T01:46:16.12345678", "/Date(99999999999999999999)/"]),
    json_values,
)
v2_records = st.fixed_dictionaries({}, optional={
    "Id": st.one_of(st.text(max_size=300), json_values),
    "Name": st.one_of(st.text(max_size=5000), json_values),
    "State": st.one_of(st.integers(min_value=-3, max_value=10), json_values),
    "Created": dates, "LastModified": dates, "StartTime": dates, "EndTime": dates,
    "Priority": st.one_of(st.integers(), st.floats(), json_values),
    "RunningDuration": st.one_of(st.floats(), json_values),
    "TemplateId": st.one_of(st.none(), st.text(max_size=50), json_values),
})
GOOD_V2 = {"Id": "nb:jid:UUID:good", "Name": "good", "State": 2,
           "Created": "2015-02-11T01:46:08.897", "StartTime": "2015-02-11T01:46:16.58"}


@SETTINGS
@hypothesis.given(st.one_of(v2_records, json_values))
def test_v2_records_parse_or_are_rejected_cleanly(record):
    try:
        job = parse_job(record)
    except MalformedRecord:
        return
    assert job.job_id and isinstance(job.name, str)
    assert job.running_duration(2e9) >= 0 and job.age(2e9) >= 0


@SETTINGS
@hypothesis.given(st.lists(st.one_of(v2_records, json_values), max_size=8))
def test_good_records_survive_bad_neighbours(records):
    page = [*records[:4], GOOD_V2, *records[4:]]
    listing = Listing()
    V2Client._add_jobs(listing, json.loads(json.dumps(page, default=str)))
    assert ("", "nb:jid:UUID:good") in listing.jobs
    assert listing.malformed + len(listing.jobs) >= 1
    assert listing.malformed <= len(page) - 1


@SETTINGS
@hypothesis.given(json_values)
def test_any_body_is_a_collection_or_a_malformed_page(body):
    try:
        entities = collection_entities(body)
    except MalformedPage:
        return
    assert isinstance(entities, list)


v3_resources = st.fixed_dictionaries({}, optional={
    "name": st.one_of(st.text(max_size=300), json_values),
    "properties": st.one_of(json_values, st.fixed_dictionaries({}, optional={
        "state": st.one_of(st.sampled_from(["Queued", "processing", "FINISHED", "Bogus"]),
                           json_values),
        "priority": st.one_of(st.sampled_from(["Low", "normal", "High", "Urgent"]),
                              json_values),
        "created": dates, "lastModified": dates, "startTime": dates, "endTime": dates,
        "outputs": st.one_of(json_values, st.lists(st.fixed_dictionaries({}, optional={
            "progress": st.one_of(st.floats(), st.integers(), json_values),
            "error": st.one_of(json_values, st.fixed_dictionaries({}, optional={
                "code": st.one_of(st.text(max_size=100), json_values),
                "category": st.one_of(st.text(max_size=100), json_values)})),
        }), max_size=4)),
    })),
})


@SETTINGS
@hypothesis.given(st.one_of(v3_resources, json_values))
def test_v3_resources_parse_or_are_rejected_cleanly(resource):
    try:
        job = parse_v3_job(resource, "t")
    except MalformedRecord:
        return
    assert job.transform == "t"
    assert job.progress is None or 0.0 <= job.progress <= 1.0
    for error in job.errors:
        assert 0 < len(error.code) <= 64 and error.code.isascii()


RECORD_TYPES = JOBS.types


@SETTINGS
@hypothesis.given(st.text(max_size=80))
def test_a_configured_id_means_exactly_that_id(value):
    text = f"Id eq {string_literal(value)}"
    parsed = parse_filter(text, RECORD_TYPES, ODATA_V3)
    record = {"Id": value, "Name": "", "State": 0}
    assert parsed.matches(record)
    assert not parsed.matches({**record, "Id": value + "x"})
    assert not parsed.matches({**record, "Id": "x" + value})


@SETTINGS
@hypothesis.given(st.text(min_size=1, max_size=40), st.text(max_size=20))
def test_a_pushed_down_name_prefix_means_exactly_that_prefix(prefix, rest):
    [clause] = filter_clauses_for(None, None, prefix)
    parsed = parse_filter(clause, RECORD_TYPES, ODATA_V3)
    assert parsed.matches({"Id": "j", "Name": prefix + rest, "State": 0})
    other = prefix[:-1] + chr(ord(prefix[-1]) ^ 1)  # differs in the last character
    assert not parsed.matches({"Id": "j", "Name": other + rest, "State": 0})


@pytest.fixture(scope="module")
def fuzz_sim():
    sim = Simulator(clock=ManualClock(1767225600.0), seed=2, require_auth=False)
    sim.add_v2_account("acct")
    with sim.start():
        yield sim


@hypothesis.settings(max_examples=40, deadline=None, database=None)
@hypothesis.given(st.lists(st.text(min_size=1, max_size=60).filter(lambda s: "\x00" not in s),
                           min_size=1, max_size=4, unique=True))
def test_ids_from_config_reach_the_simulator_intact(fuzz_sim, ids):
    for job_id in ids:
        if fuzz_sim.get_job("acct", job_id) is None:
            fuzz_sim.add_job("acct", SimJob(job_id, "n", 1767225600.0 - 10))
    decoy = "decoy-" + ids[0]
    if fuzz_sim.get_job("acct", decoy) is None:
        fuzz_sim.add_job("acct", SimJob(decoy, "n", 1767225600.0 - 10))
    client = V2Client(fuzz_sim.v2_endpoint("acct"), Transport(requests.Session(), NoToken()))
    listing = client.get_jobs_by_id(tuple(ids))
    assert {job_id for _, job_id in listing.jobs} == set(ids)
