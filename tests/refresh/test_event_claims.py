"""An account's jobs under push events: the API's answer fetched 30 s or more after
an event's receipt replaces what the event said, jobs only events name are exported
once the API confirms them, within max_jobs_per_account. The API here is an
in-memory JobSource (the HTTP path is in tests/events/test_push_trust_http.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from exporter.app.config import parse_config
from exporter.backends.transport import ApiError
from exporter.jobs.claims import EVENT_GRACE, MAX_CLOCK_SKEW
from exporter.jobs.events import JobEvent
from exporter.jobs.model import ErrorInfo, Job, JobKey, Listing
from exporter.jobs.states import JobState
from exporter.refresh.refresher import AccountRefresher, Fetched
from exporter.simulator import ManualClock
from tests.helpers import T0

YEAR_2100 = 4102444800.0


class Api:
    """What the API has: jobs by key; transforms it does not have answer 404."""

    def __init__(self, *jobs: Job, incremental: bool = False) -> None:
        self.jobs = {job.key: job for job in jobs}
        self.incremental = incremental
        self.transforms = {"t"}
        self.fetched: list[list[JobKey]] = []

    @property
    def known_transforms(self) -> tuple[str, ...]:
        return tuple(sorted(self.transforms))

    def fetch_all(self, now: float) -> Listing:
        return Listing(jobs=dict(self.jobs))

    def fetch_changed(self, since: float) -> Listing | None:
        if not self.incremental:
            return None
        return Listing(jobs={key: job for key, job in self.jobs.items()
                             if job.state.is_active or (job.last_modified or 0) > since})

    def fetch_keys(self, keys: list[JobKey]) -> Listing:
        self.fetched.append(list(keys))
        if any(transform not in self.transforms for transform, _ in keys):
            raise ApiError("HTTP 404: no such transform", 404)
        return Listing(jobs={key: self.jobs[key] for key in keys if key in self.jobs})

    def enrich(self, jobs: dict[JobKey, Job], previous: dict[JobKey, Job]) -> None:
        """Nothing to add."""


def api_job(name: str, state: JobState, created: float = T0 - 600,
            transform: str = "t", ended: float = T0 - 60) -> Job:
    started = created + 10 if state != JobState.Queued else None
    ended = ended if state.is_final else None
    return Job(job_id=name, name=name, state=state, created=created, transform=transform,
               start_time=started, end_time=ended, last_modified=ended or started or created)


def event(name: str, state: JobState | None, time: float, transform: str = "t",
          errors: tuple[ErrorInfo, ...] = ()) -> JobEvent:
    return JobEvent(routes=("arm:x",), type="Microsoft.Media.JobStateChange",
                    transform=transform, job_name=name, time=time, state=state, errors=errors)


def refresher_for(api: Api, clock: ManualClock, max_jobs: int = 100) -> AccountRefresher:
    config = parse_config(f"""
refresh: {{min_interval: 0s, full_resync: 1h}}
max_jobs_per_account: {max_jobs}
accounts:
  - name: prod
    api: v3
    subscription_id: s
    resource_group: rg
    account_name: acct
    auth: {{method: none}}
""", {})
    refresher = AccountRefresher(config.accounts[0], config.refresh_policy(), api, clock)
    refresher.ensure_fresh()
    assert refresher.status.up
    return refresher


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


FORGED = (ErrorInfo("Forged", "Service"),)


@pytest.mark.parametrize("incremental", [False, True])
@pytest.mark.parametrize("truth", [JobState.Processing, JobState.Finished])
def test_a_forged_final_event_lives_until_the_first_refresh_after_its_grace(
        clock, incremental, truth):
    # "j" ended long ago: an incremental sync lists only "recent" (and active jobs)
    api = Api(api_job("j", truth, created=T0 - 7200, ended=T0 - 3600),
              api_job("recent", JobState.Finished), incremental=incremental)
    refresher = refresher_for(api, clock)
    received = clock()
    assert refresher.apply_events([event("j", JobState.Error, YEAR_2100, errors=FORGED)]) == []
    forged = refresher.snapshot.jobs[("t", "j")]
    assert forged.state == JobState.Error and forged.errors == FORGED
    # no time beyond the receipt plus the skew; an end already known stays (earliest)
    assert forged.end_time == (received + MAX_CLOCK_SKEW if truth.is_active else T0 - 3600)
    assert forged.last_modified == received + MAX_CLOCK_SKEW
    clock.advance(EVENT_GRACE - 1)
    refresher.ensure_fresh()
    assert refresher.snapshot.jobs[("t", "j")].state == JobState.Error, "may be newer"
    clock.advance(1)
    refresher.ensure_fresh()
    assert refresher.snapshot.jobs[("t", "j")] == api.jobs[("t", "j")], "the API's job"
    assert not refresher._marks


def test_an_event_newer_than_a_lagging_answer_keeps_winning_within_its_grace(clock):
    api = Api(api_job("j", JobState.Processing), incremental=True)
    refresher = refresher_for(api, clock)
    clock.advance(5)
    refresher.apply_events([event("j", JobState.Finished, clock() - 1)])
    clock.advance(5)
    refresher.ensure_fresh()  # the API still says Processing
    assert refresher.snapshot.jobs[("t", "j")].state == JobState.Finished
    api.jobs[("t", "j")] = replace(api_job("j", JobState.Finished), end_time=T0 + 4)
    clock.advance(30)
    refresher.ensure_fresh()
    assert refresher.snapshot.jobs[("t", "j")] == api.jobs[("t", "j")]


def test_a_late_active_event_never_moves_a_job_back(clock):
    api = Api(api_job("j", JobState.Finished))
    refresher = refresher_for(api, clock)
    refresher.apply_events([event("j", JobState.Processing, clock() + 10)])
    assert refresher.snapshot.jobs[("t", "j")].state == JobState.Finished


def test_events_of_one_delivery_in_any_order_give_the_same_job(clock):
    story = [event("j", JobState.Scheduled, T0 - 30), event("j", JobState.Processing, T0 - 20),
             event("j", None, T0 - 10), event("j", JobState.Error, T0 - 5, errors=FORGED)]
    results = []
    for order in (story, story[::-1], story[1::2] + story[::2] + story):
        refresher = refresher_for(Api(api_job("j", JobState.Queued)), ManualClock(T0))
        refresher.apply_events(order)
        results.append(refresher.snapshot.jobs[("t", "j")])
    assert results[0] == results[1] == results[2]
    assert results[0].state == JobState.Error


def test_a_job_only_events_name_waits_for_the_api(clock):
    api = Api(api_job("known", JobState.Processing))
    refresher = refresher_for(api, clock)
    unknown = refresher.apply_events([event("ghost", JobState.Error, clock()),
                                      event("new", JobState.Processing, clock()),
                                      event("ghost", JobState.Finished, clock())])
    assert unknown == [("t", "ghost"), ("t", "new")]
    assert set(refresher.snapshot.jobs) == {("t", "known")}, "nothing exported yet"
    api.jobs[("t", "new")] = api_job("new", JobState.Scheduled, created=T0 - 5)
    assert refresher.fetch_jobs(unknown) == Fetched(changed=1, unconfirmed=1)
    assert refresher.snapshot.jobs[("t", "new")] == api.jobs[("t", "new")], "as the API says"
    assert ("t", "ghost") not in refresher.snapshot.jobs


def test_a_transform_the_api_does_not_have_refuses_only_its_own_keys(clock):
    api = Api(api_job("known", JobState.Processing))
    refresher = refresher_for(api, clock)
    api.jobs[("t", "new")] = api_job("new", JobState.Queued)
    result = refresher.fetch_jobs([("evil", "a"), ("t", "new"), ("evil", "b")])
    assert result == Fetched(changed=1, unconfirmed=2)
    assert api.fetched == [[("evil", "a"), ("evil", "b")], [("t", "new")]]
    assert "evil" not in {transform for transform, _ in refresher.snapshot.jobs}
    assert "evil" not in {transform for transform, _, _ in refresher.status.transitions}


def test_confirmed_jobs_join_within_the_cap_by_keep_rank(clock):
    api = Api(api_job("old-done", JobState.Finished, created=T0 - 900),
              api_job("done", JobState.Finished, created=T0 - 300),
              api_job("running", JobState.Processing, created=T0 - 800))
    refresher = refresher_for(api, clock, max_jobs=3)
    api.jobs[("t", "older-done")] = api_job("older-done", JobState.Finished, created=T0 - 950)
    api.jobs[("t", "fresh")] = api_job("fresh", JobState.Queued, created=T0 - 1)
    skipped = refresher.status.skipped["limit"]
    result = refresher.fetch_jobs([("t", "older-done"), ("t", "fresh")])
    jobs = refresher.snapshot.jobs
    assert len(jobs) == 3
    assert set(jobs) == {("t", "fresh"), ("t", "running"), ("t", "done")}
    assert refresher.status.skipped["limit"] == skipped + 2, "older-done and old-done"
    assert result.changed == 1


def test_a_refresh_keeps_a_job_fetched_by_name_while_it_ran(clock):
    """A fetch by name that began after a refresh began is newer than its listing."""
    api = Api(api_job("known", JobState.Processing))
    refresher = refresher_for(api, clock)
    listing_at = clock()
    clock.advance(1)
    api.jobs[("t", "new")] = api_job("new", JobState.Processing, created=T0)
    refresher.fetch_jobs([("t", "new")])
    with refresher._publish_lock:  # the refresh that began before the fetch ends now
        merged = refresher._keep_newer_events({("t", "known"): api.jobs[("t", "known")]},
                                              listing_at)
    assert ("t", "new") in merged
    clock.advance(1)
    refresher.ensure_fresh()
    assert ("t", "new") in refresher.snapshot.jobs and not refresher._marks
