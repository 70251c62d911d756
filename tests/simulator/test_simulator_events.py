"""The simulator as Event Grid and MK.IO webhook sender, against a real HTTP receiver.

A ManualClock drives the lifecycles; feed.wait_idle() waits (bounded) until what the
clock passed is delivered."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from exporter.jobs.states import JobState
from exporter.simulator import ManualClock, SimJob, Simulator
from exporter.simulator.event_sender import EventFeed, event_grid_time, retry_delay
from tests.simulator.event_receiver import Receiver, event_types

T0 = 1767225600.0  # 2026-01-01T00:00:00Z
WAIT = 10.0
TOPIC_TAIL = "/providers/Microsoft.Media/mediaservices/acct1"
FAST = 0.01  # retry_scale: 10 s -> 0.1 s


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def sim(clock: ManualClock) -> Iterator[Simulator]:
    with Simulator(clock=clock, seed=3, require_auth=False) as simulator:
        simulator.add_v3_account("acct1")
        yield simulator


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as server:
        yield server


def lifecycle(job_id: str = "job1", *, final: JobState = JobState.Finished,
              start: float = T0, **fields: Any) -> SimJob:
    """Created 5 s before `start`; Scheduled +10 s, Processing +20 s, `final` +100 s."""
    return SimJob(id=job_id, name=f"encode {job_id}", created=start - 5, events=[
        (start + 10, JobState.Scheduled), (start + 20, JobState.Processing),
        (start + 100, final)], **fields)


def step(clock: ManualClock, feed: EventFeed, seconds: float) -> None:
    clock.advance(seconds)
    assert feed.wait_idle(WAIT), (feed.pending, feed.handshakes)


def data_of(event: dict[str, Any]) -> dict[str, Any]:
    return event["data"]


# ------------------------------------------------------------------ handshakes


def test_event_grid_schema_validates_first_then_posts_each_state_change(
    sim: Simulator, clock: ManualClock, receiver: Receiver
) -> None:
    sim.add_job("acct1", lifecycle())
    feed = sim.start_events(receiver.url, progress_interval=None)
    assert feed.wait_idle(WAIT)
    topic = sim.arm_account("acct1").resource_id
    assert topic.endswith(TOPIC_TAIL)
    assert feed.handshakes == {topic: "validated"}
    first = receiver.requests()[0]
    assert first.kind == "handshake" and first.method == "POST"
    assert first.headers["content-type"].startswith("application/json")
    validation = first.body[0]
    assert validation["eventType"] == "Microsoft.EventGrid.SubscriptionValidationEvent"
    assert validation["topic"] == topic and validation["subject"] == ""
    assert validation["data"]["validationCode"]
    assert validation["data"]["validationUrl"].startswith("https://")
    assert receiver.notifications() == []  # nothing happened yet

    step(clock, feed, 15)  # Queued -> Scheduled at +10
    posts = receiver.notifications()
    assert [len(p.body) for p in posts] == [1, 1]  # always an array; one event per POST
    changed, scheduled = (p.body[0] for p in posts)
    for post in posts:
        assert post.method == "POST" and post.path == "/events"
        assert post.headers["aeg-event-type"] == "Notification"
        assert post.headers["aeg-delivery-count"] == "0"
        assert post.headers["aeg-subscription-name"]
        assert post.headers["content-type"] == "application/json; charset=utf-8"
    assert changed == {
        "topic": topic, "subject": "transforms/encode-720p/jobs/job1",
        "eventType": "Microsoft.Media.JobStateChange",
        "eventTime": "2026-01-01T00:00:10.0000000", "id": changed["id"],
        "data": {"previousState": "Queued", "state": "Scheduled"},
        "dataVersion": "1.0", "metadataVersion": "1"}
    assert scheduled["eventType"] == "Microsoft.Media.JobScheduled"
    assert scheduled["data"] == {"previousState": "Queued", "state": "Scheduled",
                                 "correlationData": {}}
    assert changed["id"] != scheduled["id"]

    step(clock, feed, 200)  # Processing at +20 and Finished at +100, in one look
    events = receiver.events()[2:]
    assert event_types(events) == [
        "Microsoft.Media.JobStateChange", "Microsoft.Media.JobProcessing",
        "Microsoft.Media.JobStateChange", "Microsoft.Media.JobFinished"]
    assert [e["eventTime"] for e in events] == [event_grid_time(T0 + 20)] * 2 + [
        event_grid_time(T0 + 100)] * 2
    assert data_of(events[2]) == {"previousState": "Processing", "state": "Finished"}
    finished = data_of(events[3])
    assert finished["state"] == "Finished" and finished["previousState"] == "Processing"
    assert finished["outputs"] == [{
        "@odata.type": "#Microsoft.Media.JobOutputAsset", "assetName": "job1-OutputAsset",
        "error": None, "label": "output1", "progress": 100, "state": "Finished"}]
    assert sim.job_state("acct1", "job1") == JobState.Finished
    assert feed.generated == feed.delivered == 6 and feed.pending == 0
    assert feed.attempts == 6 and feed.retried == 0 and feed.dropped == 0


def test_cloudevents_schema_asks_with_options_then_posts_single_cloudevents(
    sim: Simulator, clock: ManualClock, receiver: Receiver
) -> None:
    sim.add_job("acct1", lifecycle())
    feed = sim.start_events(receiver.url, schema="cloudevents", progress_interval=None)
    step(clock, feed, 15)
    first, *posts = receiver.requests()
    assert first.method == "OPTIONS"
    assert first.headers["webhook-request-origin"] == "eventgrid.azure.net"
    assert [p.kind for p in posts] == ["notification"] * 2
    for post in posts:
        assert post.headers["content-type"] == "application/cloudevents+json; charset=utf-8"
        assert isinstance(post.body, dict)  # one object without batching
    event = posts[0].body
    assert event == {
        "source": sim.arm_account("acct1").resource_id,
        "subject": "transforms/encode-720p/jobs/job1", "type": "Microsoft.Media.JobStateChange",
        "time": "2026-01-01T00:00:10.0000000", "id": event["id"],
        "data": {"previousState": "Queued", "state": "Scheduled"}, "specversion": "1.0"}
    assert posts[1].body["type"] == "Microsoft.Media.JobScheduled"


@pytest.mark.parametrize("schema", ["eventgrid", "cloudevents"])
def test_a_refused_handshake_means_no_deliveries(
    sim: Simulator, clock: ManualClock, schema: str
) -> None:
    sim.add_job("acct1", lifecycle())
    with Receiver(echo=False, allow_origin=False) as receiver:
        feed = sim.start_events(receiver.url, schema=schema, retry_scale=FAST)
        step(clock, feed, 200)
        assert [r.kind for r in receiver.requests()] == [
            "handshake" if schema == "eventgrid" else "options"]
        assert list(feed.handshakes.values()) == ["failed"]
        assert feed.generated == 6 and feed.dropped == 6 and feed.delivered == 0
        assert feed.drop_reasons == {"handshake": 6}


@pytest.mark.parametrize("schema", ["eventgrid", "cloudevents"])
def test_a_handshake_that_fails_is_retried_and_the_events_wait_for_it(
    sim: Simulator, clock: ManualClock, schema: str
) -> None:
    sim.add_job("acct1", lifecycle())
    with Receiver(handshake_statuses=[503, 500]) as receiver:
        feed = sim.start_events(receiver.url, schema=schema, retry_scale=FAST,
                                progress_interval=None)
        clock.advance(15)  # events are due while the handshake is still failing
        assert feed.wait_idle(WAIT)
        kinds = [r.kind for r in receiver.requests()]
        shake = "handshake" if schema == "eventgrid" else "options"
        assert kinds == [shake] * 3 + ["notification"] * 2
        assert feed.handshake_attempts == 3 and feed.delivered == 2
        # 503 waits at least 30 s (scaled), the next failure 30 s
        times = [r.at for r in receiver.requests()]
        assert times[1] - times[0] >= 30 * FAST * 0.9
        assert times[2] - times[1] >= 30 * FAST * 0.9


def test_one_handshake_per_topic_and_none_for_mkio(
    sim: Simulator, clock: ManualClock, receiver: Receiver
) -> None:
    sim.add_rms_account("rms1")
    sim.add_mkio_account("proj1")
    feed = sim.start_events(receiver.url)
    assert feed.wait_idle(WAIT)
    topics = {r.body[0]["topic"] for r in receiver.requests() if r.kind == "handshake"}
    assert topics == {sim.arm_account("acct1").resource_id, sim.arm_account("rms1").resource_id}
    assert len(receiver.requests()) == 2


# ------------------------------------------------------------------ what is sent


def test_an_errored_job_carries_the_output_error_and_progress_comes_every_30_s(
    sim: Simulator, clock: ManualClock, receiver: Receiver
) -> None:
    job = SimJob(id="job2", name="bad input", created=T0 - 5, events=[
        (T0 + 10, JobState.Processing), (T0 + 70, JobState.Error)],
        error_code="ContentMalformed", expected_processing=120, outputs=2)
    sim.add_job("acct1", job)
    feed = sim.start_events(receiver.url, batch=100)
    for _ in range(8):
        step(clock, feed, 10)  # up to +80
    events = receiver.events()
    assert event_types(events) == [
        "Microsoft.Media.JobStateChange", "Microsoft.Media.JobProcessing",
        "Microsoft.Media.JobOutputProgress", "Microsoft.Media.JobOutputProgress",
        "Microsoft.Media.JobStateChange", "Microsoft.Media.JobErrored"]
    progress = events[2:4]
    assert [e["eventTime"] for e in progress] == [event_grid_time(T0 + 40)] * 2
    assert [data_of(e) for e in progress] == [
        {"jobCorrelationData": {}, "label": "output1", "progress": 25},
        {"jobCorrelationData": {}, "label": "output2", "progress": 25}]
    assert {e["id"] for e in progress} == {"00000000-0000-0000-0000-000000000000"}
    errored = data_of(events[5])
    assert errored["previousState"] == "Processing" and errored["state"] == "Error"
    assert [o["progress"] for o in errored["outputs"]] == [50, 50]
    error = errored["outputs"][0]["error"]
    assert error["code"] == "ContentMalformed" and error["category"] == "Content"
    assert error["retry"] == "DoNotRetry" and error["details"]
    assert events[5]["eventTime"] == event_grid_time(T0 + 70)


def test_output_events_precede_the_job_event_when_asked_for(
    sim: Simulator, clock: ManualClock, receiver: Receiver
) -> None:
    sim.add_job("acct1", lifecycle())
    feed = sim.start_events(receiver.url, batch=100, output_events=True,
                            progress_interval=None)
    step(clock, feed, 15)
    events = receiver.events()
    assert event_types(events) == [
        "Microsoft.Media.JobOutputStateChange", "Microsoft.Media.JobOutputScheduled",
        "Microsoft.Media.JobStateChange", "Microsoft.Media.JobScheduled"]
    assert data_of(events[0])["output"]["state"] == "Scheduled"
    assert data_of(events[0])["previousState"] == "Queued"


def test_scripted_changes_are_announced_as_the_apis_show_them(
    sim: Simulator, clock: ManualClock, receiver: Receiver
) -> None:
    sim.add_job("acct1", lifecycle())
    feed = sim.start_events(receiver.url, batch=100, progress_interval=None)
    step(clock, feed, 25)  # Scheduled, Processing
    sim.script_state("acct1", "job1", JobState.Canceling, T0 + 30)
    sim.script_state("acct1", "job1", JobState.Canceled, T0 + 35)
    step(clock, feed, 15)
    states = [data_of(e)["state"] for e in receiver.events()
              if e["eventType"] == "Microsoft.Media.JobStateChange"]
    assert states == ["Scheduled", "Processing", "Canceling", "Canceled"]
    # A change scripted behind what was announced still shows (stamped when it happened)
    sim.add_job("acct1", lifecycle("job3", start=T0 + 40))
    step(clock, feed, 30)  # job3 is Processing since T0+60
    sim.script_state("acct1", "job3", JobState.Error, T0 + 55)
    step(clock, feed, 1)
    last = receiver.events()[-2:]
    assert event_types(last) == ["Microsoft.Media.JobStateChange", "Microsoft.Media.JobErrored"]
    assert data_of(last[0]) == {"previousState": "Processing", "state": "Error"}
    assert last[0]["eventTime"] == event_grid_time(T0 + 55)
    assert sim.job_state("acct1", "job3") == JobState.Error


def test_jobs_are_announced_from_the_feed_start_on(
    sim: Simulator, clock: ManualClock, receiver: Receiver
) -> None:
    sim.add_job("acct1", lifecycle("old", start=T0 - 15))  # Processing at T0+5
    feed = sim.start_events(receiver.url, batch=100, progress_interval=None)
    step(clock, feed, 1)
    assert receiver.events() == []
    step(clock, feed, 10)
    assert [data_of(e) for e in receiver.events()][0] == {"previousState": "Scheduled",
                                                          "state": "Processing"}
    sim.add_job("acct1", lifecycle("later", start=T0))  # added now, created before
    step(clock, feed, 0.5)
    later = [e for e in receiver.events() if e["subject"].endswith("/later")]
    assert [data_of(e)["state"] for e in later] == ["Scheduled", "Scheduled"]


def test_batches_hold_at_most_batch_events(
    sim: Simulator, clock: ManualClock, receiver: Receiver
) -> None:
    for index in range(10):
        sim.add_job("acct1", lifecycle(f"job{index}"))
    feed = sim.start_events(receiver.url, batch=4, progress_interval=None)
    step(clock, feed, 15)  # 10 jobs x 2 events
    assert [len(p.body) for p in receiver.notifications()] == [4, 4, 4, 4, 4]
    assert feed.delivered == 20 and feed.deliveries == 5


def test_cloudevents_batches_are_arrays_of_the_batch_type(
    sim: Simulator, clock: ManualClock, receiver: Receiver
) -> None:
    for index in range(3):
        sim.add_job("acct1", lifecycle(f"job{index}"))
    feed = sim.start_events(receiver.url, schema="cloudevents", batch=4,
                            progress_interval=None)
    step(clock, feed, 15)
    posts = receiver.notifications()
    assert [len(p.body) for p in posts] == [4, 2]
    assert {p.headers["content-type"] for p in posts} == {
        "application/cloudevents-batch+json; charset=utf-8"}
    assert all(e["specversion"] == "1.0" for e in receiver.events())


def test_batches_stay_under_max_batch_bytes(
    sim: Simulator, clock: ManualClock, receiver: Receiver
) -> None:
    for index in range(4):
        sim.add_job("acct1", lifecycle(f"job{index}"))
    feed = sim.start_events(receiver.url, batch=100, max_batch_bytes=900,
                            progress_interval=None)
    step(clock, feed, 15)
    posts = receiver.notifications()
    assert len(posts) > 1 and sum(len(p.body) for p in posts) == 8
    assert all(len(p.body) == 1 or len(str(p.body)) < 1200 for p in posts)


# ------------------------------------------------------------------ duplicates, order


def busy_account(sim: Simulator, jobs: int = 100) -> None:
    for index in range(jobs):
        offset = index * 0.5
        sim.add_job("acct1", SimJob(id=f"job{index:03d}", name="", created=T0 - 1, events=[
            (T0 + 1 + offset, JobState.Scheduled), (T0 + 2 + offset, JobState.Processing),
            (T0 + 3 + offset, JobState.Finished)]))


def run_busy(rates: dict[str, float], seed: int = 5) -> tuple[list[str], EventFeed]:
    clock = ManualClock(T0)
    with Simulator(clock=clock, seed=seed, require_auth=False) as sim, Receiver() as receiver:
        sim.add_v3_account("acct1")
        busy_account(sim)
        feed = sim.start_events(receiver.url, batch=50, progress_interval=None, **rates)
        for _ in range(6):
            step(clock, feed, 10)
        return [e["id"] for e in receiver.events()], feed


def test_duplicates_come_at_the_rate_asked_and_the_same_for_a_seed() -> None:
    plain, _ = run_busy({})
    assert len(plain) == len(set(plain)) == 600
    ids, feed = run_busy({"duplicate_rate": 0.2})
    counts = Counter(ids)
    assert set(counts) == set(plain)  # the same events, with the same ids
    extra = sum(n - 1 for n in counts.values())
    assert extra == feed.duplicated and 80 <= extra <= 160
    assert feed.delivered == 600 + extra and feed.generated == 600
    again, _ = run_busy({"duplicate_rate": 0.2})
    assert again == ids
    other, _ = run_busy({"duplicate_rate": 0.2}, seed=6)
    assert Counter(other) != counts or other != ids


def test_reordering_swaps_neighbours_at_the_rate_asked() -> None:
    plain, _ = run_busy({})
    ids, feed = run_busy({"reorder_rate": 0.3})
    assert sorted(ids) == sorted(plain) and ids != plain
    moved = [i for i, (a, b) in enumerate(zip(ids, plain, strict=True)) if a != b]
    assert len(moved) == 2 * feed.reordered  # each swap moves two events by one place
    assert 80 <= feed.reordered <= 200  # about 0.3 of 600, two at a time
    position = {event: i for i, event in enumerate(plain)}
    assert all(abs(position[event] - i) <= 1 for i, event in enumerate(ids))
    again, _ = run_busy({"reorder_rate": 0.3})
    assert again == ids


# ------------------------------------------------------------------ retries


def test_a_503_is_retried_on_the_scaled_schedule_until_it_succeeds(
    sim: Simulator, clock: ManualClock
) -> None:
    sim.add_job("acct1", lifecycle())
    with Receiver(statuses=[503, 503]) as receiver:
        feed = sim.start_events(receiver.url, batch=2, retry_scale=FAST,
                                progress_interval=None)
        step(clock, feed, 15)
        posts = receiver.notifications()
        assert [p.headers["aeg-delivery-count"] for p in posts] == ["0", "1", "2"]
        assert posts[0].body == posts[1].body == posts[2].body
        assert posts[1].at - posts[0].at >= 30 * FAST * 0.9  # 503: at least 30 s
        assert feed.attempts == 3 and feed.retried == 2
        assert feed.delivered == 2 and feed.dropped == 0 and feed.pending == 0


@pytest.mark.parametrize("status", [408, 429, 500, 502, 404])
def test_other_failures_are_retried(sim: Simulator, clock: ManualClock, status: int) -> None:
    sim.add_job("acct1", lifecycle())
    with Receiver(statuses=[status]) as receiver:
        feed = sim.start_events(receiver.url, batch=2, retry_scale=FAST / 10,
                                progress_interval=None)
        step(clock, feed, 15)
        assert feed.retried == 1 and feed.delivered == 2


@pytest.mark.parametrize("status", [400, 401, 403, 413])
def test_refusals_are_never_retried(sim: Simulator, clock: ManualClock, status: int) -> None:
    sim.add_job("acct1", lifecycle())
    with Receiver(answer=lambda _: status) as receiver:
        feed = sim.start_events(receiver.url, retry_scale=FAST, progress_interval=None)
        step(clock, feed, 15)
        assert len(receiver.notifications()) == 2  # two events, one POST each
        assert feed.attempts == 2 and feed.retried == 0
        assert feed.dropped == 2 and feed.delivered == 0 and feed.pending == 0
        assert feed.drop_reasons == {f"status {status}": 2}


def test_an_unreachable_receiver_is_retried_until_max_attempts(
    sim: Simulator, clock: ManualClock
) -> None:
    with Receiver() as gone:
        url = gone.url  # a port nobody listens on once it is closed
    sim.add_job("acct1", lifecycle())
    feed = sim.start_events(url, handshake=False, batch=2, retry_scale=0.001,
                            max_attempts=3, progress_interval=None, timeout=2)
    step(clock, feed, 15)
    assert feed.attempts == 3 and feed.retried == 2
    assert feed.drop_reasons == {"max_attempts": 2}


def test_retries_stop_at_the_time_to_live(sim: Simulator, clock: ManualClock) -> None:
    sim.add_job("acct1", lifecycle())
    with Receiver(answer=lambda _: 500) as receiver:
        # 10 s, then 30 s: the third retry (1 min later) would pass the 60 s to live
        feed = sim.start_events(receiver.url, batch=2, retry_scale=FAST, ttl=60,
                                progress_interval=None)
        step(clock, feed, 15)
        assert len(receiver.notifications()) == 3
        assert feed.drop_reasons == {"ttl": 2}


def test_the_retry_schedule_is_event_grids() -> None:
    assert [retry_delay(n, 500) for n in range(1, 12)] == [
        10, 30, 60, 300, 600, 1800, 3600, 10800, 21600, 43200, 43200]
    assert retry_delay(1, 503) == 30 and retry_delay(1, 408) == 120
    assert retry_delay(5, 503) == 600


# ------------------------------------------------------------------ MK.IO and topics


def test_mkio_projects_get_webhook_cloudevents_with_the_job(
    clock: ManualClock, receiver: Receiver
) -> None:
    with Simulator(clock=clock, seed=3, require_auth=False).start() as sim:
        sim.add_mkio_account("proj1")
        sim.add_job("proj1", lifecycle())
        feed = sim.start_events(receiver.url, secret="hook-secret")
        step(clock, feed, 25)  # Scheduled (no MK.IO event), Processing
        step(clock, feed, 100)  # Finished
        posts = receiver.requests()
        assert [p.kind for p in posts] == ["notification"] * 2  # no handshake
        started, finished = (p.body for p in posts)
        for post in posts:
            assert post.headers["content-type"] == "application/cloudevents+json; charset=utf-8"
            assert post.query == {"secret": "hook-secret"}
            assert "aeg-event-type" not in post.headers
        source = "/api/v1/projects/proj1/transforms/encode-720p/jobs/job1"
        assert started["type"] == "MediaKind.JobStarted" and started["source"] == source
        assert started["specversion"] == "1.0"
        assert started["datacontenttype"] == "application/json"
        assert started["time"] == "2026-01-01T00:00:20.000000Z"
        assert {k: v for k, v in started["data"].items() if k != "resource"} == {
            "projectName": "proj1", "previousState": "Scheduled", "state": "Processing"}
        assert started["data"]["resource"]["properties"]["state"] == "Processing"
        assert finished["type"] == "MediaKind.JobFinished"
        assert finished["data"]["state"] == "Finished"
        assert finished["data"]["previousState"] == "Processing"
        got = requests.get(f"{sim.mkio_endpoint}/api/v1/projects/proj1/media/transforms/"
                           "encode-720p/jobs/job1", timeout=WAIT)
        assert finished["data"]["resource"] == got.json()  # the job as a GET returns it


def test_an_mkio_raw_job_is_sent_verbatim(clock: ManualClock, receiver: Receiver) -> None:
    with Simulator(clock=clock, seed=3, require_auth=False) as sim:
        sim.add_mkio_account("proj1")
        name = sim.add_mkio_raw_job("proj1", "encode-720p", (
            '{"name": "raw1", "properties": {"created": "2025-12-31T23:59:00Z", '
            '"state": "Queued", "custom": [1, 2]}}'))
        sim.script_state("proj1", name, JobState.Processing, T0 + 5)
        feed = sim.start_events(receiver.url)
        step(clock, feed, 10)
        [event] = receiver.events()
        assert event["data"]["resource"]["properties"]["custom"] == [1, 2]


def test_topics_name_an_rms_custom_topic(
    clock: ManualClock, receiver: Receiver
) -> None:
    custom = ("/subscriptions/52a1f0c4-8d3e-4b7a-9c6f-0e5d2b1a7c30/resourceGroups/rms-rg/"
              "providers/Microsoft.EventGrid/topics/eg-topic-x1y2")
    with Simulator(clock=clock, seed=3) as sim:
        sim.add_rms_account("rms1")
        sim.add_job("rms1", lifecycle())
        feed = sim.start_events(receiver.url, topics={"rms1": custom}, batch=10)
        step(clock, feed, 15)
        assert feed.handshakes == {custom: "validated"}
        assert {e["topic"] for e in receiver.events()} == {custom}
        with pytest.raises(ValueError, match="topics"):
            sim.start_events(receiver.url, topics={"nope": custom})


# ------------------------------------------------------------------ auth and settings


def test_the_secret_and_authorization_ride_on_every_request(
    sim: Simulator, clock: ManualClock, receiver: Receiver
) -> None:
    sim.add_job("acct1", lifecycle())
    calls: list[int] = []

    def token() -> str:
        calls.append(1)
        return f"token-{len(calls)}"

    feed = sim.start_events(receiver.url + "?code=a", secret="s 3&x", auth_header=token,
                            progress_interval=None)
    step(clock, feed, 15)
    requests_ = receiver.requests()
    assert len(requests_) == 3
    assert all(r.query == {"code": "a", "secret": "s 3&x"} for r in requests_)
    assert [r.headers["authorization"] for r in requests_] == [
        "Bearer token-1", "Bearer token-2", "Bearer token-3"]


def test_start_events_refuses_what_event_grid_would(sim: Simulator) -> None:
    url = "http://127.0.0.1:9/events"
    for bad in ({"batch": 0}, {"batch": 5001}, {"duplicate_rate": 1.5},
                {"reorder_rate": -0.1}, {"schema": "cloudevent"}, {"max_attempts": 31},
                {"retry_scale": -1}, {"progress_interval": 0}):
        with pytest.raises(ValueError):
            sim.start_events(url, **bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="http"):
        sim.start_events("ftp://example/events")
    sim.add_v2_account("old")
    with pytest.raises(ValueError, match="v2"):
        sim.start_events(url, accounts=["old"])
    with pytest.raises(KeyError):
        sim.start_events(url, accounts=["missing"])


def test_the_feed_stops_with_the_simulator(clock: ManualClock, receiver: Receiver) -> None:
    sim = Simulator(clock=clock, seed=3)
    sim.add_v3_account("acct1")
    feed = sim.start_events(receiver.url)
    assert feed.wait_idle(WAIT)
    sim.stop()
    assert feed._thread is not None and not feed._thread.is_alive()


def test_a_failing_auth_header_is_a_failed_try(
    sim: Simulator, clock: ManualClock, receiver: Receiver
) -> None:
    sim.add_job("acct1", lifecycle())
    calls: list[int] = []

    def token() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("no token yet")
        return "Bearer fine"

    feed = sim.start_events(receiver.url, batch=2, handshake=False, auth_header=token,
                            retry_scale=FAST, progress_interval=None)
    step(clock, feed, 15)
    [post] = receiver.notifications()
    assert post.headers["authorization"] == "Bearer fine"
    assert post.headers["aeg-delivery-count"] == "1"
    assert feed.attempts == 2 and feed.retried == 1 and feed.delivered == 2


def test_wait_idle_returns_at_once_on_a_stopped_feed(
    sim: Simulator, clock: ManualClock
) -> None:
    sim.add_job("acct1", lifecycle())
    with Receiver(answer=lambda _: 500) as receiver:
        feed = sim.start_events(receiver.url, progress_interval=None)
        clock.advance(15)
        assert receiver.wait_for(lambda got: any(r.kind == "notification" for r in got))
        assert not feed.wait_idle(0.2)  # waiting 10 s for the retry
        feed.stop()
        started = time.monotonic()
        assert feed.wait_idle(WAIT) and feed.pending == 2
        assert time.monotonic() - started < 1


def test_event_times_have_seven_digits_and_no_float_noise() -> None:
    assert event_grid_time(1764478137.758) == "2025-11-30T04:48:57.7580000"
    assert event_grid_time(T0) == "2026-01-01T00:00:00.0000000"
    assert event_grid_time(T0 + 0.1234567) == "2026-01-01T00:00:00.1234570"
