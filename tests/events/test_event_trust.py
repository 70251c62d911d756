"""Events are hints: their fields are bounded as a listing's are, their times
capped at the receipt plus the allowed skew, and their claims merge the same way
whatever the order, so an API answer can replace them cleanly."""

from __future__ import annotations

import json
import threading
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exporter.events.parse import parse_delivery
from exporter.events.receiver import _Fetcher
from exporter.jobs.claims import MAX_CLOCK_SKEW, Claims, apply_claims, apply_event
from exporter.jobs.events import JobEvent
from exporter.jobs.model import MAX_NAME_LENGTH, ErrorInfo, Job
from exporter.jobs.states import JobState
from exporter.refresh.marks import MAX_CLAIMS_PER_JOB, Mark
from exporter.refresh.refresher import Fetched
from tests.helpers import wait_until

T = 1767225600.0
TOPIC = ("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Media/mediaservices/acct")


def errored(subject: str, when: str = "2026-01-01T00:00:00Z") -> dict:
    return {"topic": TOPIC, "subject": subject, "eventType": "Microsoft.Media.JobErrored",
            "eventTime": when, "id": "1", "dataVersion": "1.0",
            "data": {"state": "Error", "previousState": "Processing",
                     "outputs": [{"progress": 10, "error": {"code": "X" * 5000,
                                                            "category": "Cat\nEgory"}}]}}


def mkio_started(job: str, resource: dict | None = None) -> dict:
    return {"specversion": "1.0", "id": "e", "type": "MediaKind.JobStarted",
            "source": f"/api/v1/projects/proj/transforms/t/jobs/{job}",
            "time": "2026-01-01T00:00:00Z",
            "data": {"projectName": "proj", "state": "Processing",
                     **({"resource": resource} if resource is not None else {})}}


# ------------------------------------------------------------------ bounds


@pytest.mark.parametrize("subject", [
    "transforms/t/jobs/" + "j" * (MAX_NAME_LENGTH + 1),
    "transforms/" + "t" * (MAX_NAME_LENGTH + 1) + "/jobs/j",
    "transforms/t/jobs/" + "j" * 1_000_000,
])
def test_names_longer_than_a_listing_allows_are_malformed(subject):
    parsed = parse_delivery([errored(subject)])
    assert parsed.events == [] and parsed.malformed == 1


def test_names_at_the_bound_pass_and_codes_are_bounded_as_in_listings():
    name = "j" * MAX_NAME_LENGTH
    [event] = parse_delivery([errored(f"transforms/t/jobs/{name}")]).events
    assert event.key == ("t", name)
    [error] = event.errors
    assert error == ErrorInfo("X" * 64, "CatEgory")


def test_a_placeholder_event_time_is_malformed():
    parsed = parse_delivery([errored("transforms/t/jobs/j", when="0001-01-01T00:00:00Z")])
    assert parsed.events == [] and parsed.malformed == 1


def test_an_mkio_project_name_out_of_bounds_is_malformed():
    event = mkio_started("j")
    event["data"]["projectName"] = "p" * (MAX_NAME_LENGTH + 1)
    assert parse_delivery([event]).malformed == 1


def test_an_mkio_resource_of_another_job_is_not_taken_for_this_one():
    resource = {"name": "someone-else", "properties": {
        "state": "Processing", "created": "2025-12-31T23:00:00Z",
        "outputs": [{"progress": 70, "error": {"code": "Forged", "category": "Service"}}]}}
    [event] = parse_delivery([mkio_started("j", resource)]).events
    assert event.record is None and event.progress is None and event.errors == ()
    resource["name"] = "j"
    [event] = parse_delivery([mkio_started("j", resource)]).events
    assert event.record is not None and event.progress == pytest.approx(0.7)


def test_bounded_bodies_roundtrip():
    body = json.dumps([errored("transforms/t/jobs/j")])
    assert parse_delivery(json.loads(body)).events[0].state == JobState.Error


# ------------------------------------------------------------------ claims


def job(state: JobState = JobState.Processing, **fields) -> Job:
    return Job(job_id="j", name="j", state=state, created=T - 600, transform="t",
               start_time=T - 500 if state != JobState.Queued else None, **fields)


def event(state: JobState | None, time: float, progress: float | None = None,
          errors: tuple[ErrorInfo, ...] = ()) -> JobEvent:
    return JobEvent(routes=("arm:x",), type="Microsoft.Media.JobStateChange", transform="t",
                    job_name="j", time=time, state=state, progress=progress, errors=errors)


def test_a_future_event_time_counts_as_the_receipt_plus_the_skew():
    received = T
    claims = Claims.of(event(JobState.Error, 4102444800.0), received)  # 2100-01-01
    updated, known_at = apply_claims(job(), T - 100, claims)
    assert updated.state == JobState.Error
    assert updated.end_time == received + MAX_CLOCK_SKEW
    assert updated.last_modified == received + MAX_CLOCK_SKEW
    assert known_at == received + MAX_CLOCK_SKEW


def test_an_event_within_the_skew_keeps_its_own_time():
    claims = Claims.of(event(JobState.Finished, T + 60), T)
    assert apply_claims(job(), T - 100, claims)[0].end_time == T + 60


def test_equal_times_break_ties_by_state_so_order_never_matters():
    finished, failed = event(JobState.Finished, T), event(JobState.Error, T)
    one = apply_event(apply_event(job(), T - 1, finished)[0], T, failed)[0]
    other = apply_event(apply_event(job(), T - 1, failed)[0], T, finished)[0]
    assert one == other and one.state == JobState.Error


STATES = st.one_of(st.none(), st.sampled_from(list(JobState)))
EVENTS = st.lists(st.builds(
    event, STATES, st.floats(T - 400, T + 4000, allow_nan=False),
    st.one_of(st.none(), st.floats(0, 1)),
    st.lists(st.sampled_from([ErrorInfo("A", "Service"), ErrorInfo("B", "Content")]),
             max_size=2).map(tuple)), min_size=1, max_size=8)


@settings(max_examples=200, deadline=None)
@given(EVENTS, st.randoms(use_true_random=False))
def test_claims_merged_first_give_the_job_applied_one_by_one_in_any_order(events, rnd):
    base = job()
    claims = [Claims.of(e, T + 10 * i) for i, e in enumerate(events)]
    one_by_one = (base, T - 100)
    for each in claims:
        one_by_one = apply_claims(*one_by_one, each)
    shuffled = list(claims)
    rnd.shuffle(shuffled)
    merged = shuffled[0]
    for each in shuffled[1:]:
        merged = merged.merge(each)
    assert apply_claims(base, T - 100, merged) == one_by_one
    again = apply_claims(*one_by_one, merged)
    assert again == one_by_one, "idempotent: applying them twice changes nothing"


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 40), st.sampled_from(list(JobState)),
                          st.floats(0, 1)), min_size=1, max_size=40),
       st.randoms(use_true_random=False))
def test_a_mark_rebuilds_the_same_job_whatever_the_order_of_receipt(items, rnd):
    """Claims kept per job are bounded and merged by receipt: the job made from them
    on top of an API answer does not depend on the order they came in."""
    claims = [Claims.of(event(state, T + second, progress), T + second)
              for second, state, progress in items]

    def rebuilt(order: list[Claims]) -> tuple[Job, int]:
        mark = Mark(job(), T - 100, T - 100)
        for each in order:
            mark.add(each)
        assert len(mark.claims) <= MAX_CLAIMS_PER_JOB
        return mark.rebase(job(JobState.Queued), T + 40), len(mark.claims)

    shuffled = list(claims)
    rnd.shuffle(shuffled)
    assert rebuilt(claims) == rebuilt(shuffled)


def test_an_answer_asked_for_30_s_after_the_receipt_replaces_the_claims():
    mark = Mark(job(), T - 100, T - 100)
    forged = Claims.of(event(JobState.Error, 4102444800.0,
                             errors=(ErrorInfo("Forged", "Service"),)), T)
    mark.add(forged)
    assert mark.rebase(job(), T + 29.9).state == JobState.Error, "may be newer: kept"
    assert mark.claims
    truth = mark.rebase(job(), T + 30)
    assert truth == job() and mark.claims == []


# ------------------------------------------------------------------ fetch queue


class SlowAccount:
    """An account whose fetches by name wait for the test (the API is slow)."""

    name = "acct"

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.batches: list[list[tuple[str, str]]] = []

    def fetch_jobs(self, keys: list[tuple[str, str]]) -> Fetched:
        self.batches.append(keys)
        assert self.gate.wait(10)
        return Fetched(changed=0, unconfirmed=len(keys))


def test_the_fetch_queue_is_deduplicated_and_bounded():
    account = SlowAccount()
    rejected: Counter[str] = Counter()
    fetcher = _Fetcher(account, lambda reason, n: rejected.update({reason: n}), limit=10)
    keys = [("t", f"ghost-{n}") for n in range(30)]
    assert fetcher.add(keys[:15]) == 5, "5 over the bound"
    assert wait_until(lambda: len(account.batches) == 1 and fetcher.pending == 0)
    assert fetcher.add(keys[:3]) == 0
    assert fetcher.add(keys[:5]) == 0 and fetcher.pending == 5, "queued once"
    assert fetcher.add(keys[5:20]) == 10 and fetcher.pending == 10
    account.gate.set()
    assert wait_until(lambda: rejected["unconfirmed"] == 20 and fetcher.pending == 0)
    assert [len(batch) for batch in account.batches] == [10, 10]
