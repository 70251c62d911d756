"""The v2 simulator keeps a filtered listing between pages: the pages stay the
answers of a fresh listing when jobs or the clock change in between (issue 20)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from exporter.jobs.states import JobState
from exporter.simulator import ManualClock, SimJob, Simulator
from exporter.simulator.jobs import view_job
from exporter.simulator.match_cache import MatchCache, Matching
from tests.simulator.cache_jobs import staggered_jobs

T0 = 1700000000.0
HEADERS = {"Accept": "application/json", "Authorization": "Bearer t", "x-ms-version": "2.19"}
#: Like the exporter's own listing filter: a lookback, or still active.
FILTER = ("(Created ge datetime'2023-11-14T22:00:00' or State eq 0 or State eq 1 "
          "or State eq 2 or State eq 6)")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def sim(clock: ManualClock) -> Iterator[Simulator]:
    with Simulator(clock=clock, seed=7, require_auth=False).start() as simulator:
        simulator.add_v2_account("acct1")
        for job in staggered_jobs(T0):
            simulator.add_job("acct1", job)
        yield simulator


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as client:
        client.headers.update(HEADERS)
        yield client


def _get(sim: Simulator, session: requests.Session, **params: str) -> requests.Response:
    response = session.get(sim.v2_endpoint("acct1") + "Jobs()",
                           params={"$filter": FILTER, **params})
    assert response.status_code == 200, response.text
    return response


def _ids(response: requests.Response) -> list[str]:
    return [job["Id"] for job in response.json()["value"]]


def test_repeated_requests_give_identical_bodies(sim: Simulator,
                                                 session: requests.Session) -> None:
    first = _get(sim, session, **{"$top": "2", "$skip": "2"})
    again = _get(sim, session, **{"$top": "2", "$skip": "2"})
    assert first.content == again.content
    assert _ids(first) == ["c", "d"]
    assert _ids(_get(sim, session)) == list("abcdef")


def test_clock_past_a_transition_between_pages(sim: Simulator, clock: ManualClock,
                                               session: requests.Session) -> None:
    assert _ids(_get(sim, session, **{"$top": "2"})) == ["a", "b"]
    clock.advance(25)  # a has finished (T0 + 10), c not yet (T0 + 30)
    page2 = _get(sim, session, **{"$top": "2", "$skip": "2"})
    fresh = _ids(_get(sim, session))
    assert fresh == list("bcdef")
    assert _ids(page2) == fresh[2:4] == ["d", "e"]
    clock.advance(100)  # c and e finish too
    assert _ids(_get(sim, session, **{"$top": "2", "$skip": "2"})) == ["f"]
    assert _ids(_get(sim, session)) == list("bdf")


def test_clock_within_a_stable_span_keeps_the_answer(sim: Simulator, clock: ManualClock,
                                                     session: requests.Session) -> None:
    before = _get(sim, session, **{"$top": "3"})
    clock.advance(9.999)  # a finishes at T0 + 10 exactly
    assert _get(sim, session, **{"$top": "3"}).content == before.content
    clock.advance(0.001)
    assert _ids(_get(sim, session, **{"$top": "3"})) == ["b", "c", "d"]
    clock.set(T0)  # back in time: answered afresh too
    assert _get(sim, session, **{"$top": "3"}).content == before.content


def test_new_or_changed_job_between_pages(sim: Simulator, session: requests.Session) -> None:
    assert _ids(_get(sim, session, **{"$top": "2"})) == ["a", "b"]
    # Created before every other job: it sorts first and shifts the later pages.
    sim.add_job("acct1", SimJob(id="new", name="new", created=T0 - 9000))
    page2 = _get(sim, session, **{"$top": "2", "$skip": "2"})
    fresh = _ids(_get(sim, session))
    assert fresh == ["new", *"abcdef"]
    assert _ids(page2) == fresh[2:4]
    sim.script_state("acct1", "d", JobState.Finished, T0)
    fresh = _ids(_get(sim, session))
    assert "d" not in fresh
    assert _ids(_get(sim, session, **{"$top": "2", "$skip": "2"})) == fresh[2:4]
    sim.remove_job("acct1", "new")
    assert _ids(_get(sim, session)) == list("abcef")


def test_a_job_appearing_as_the_clock_moves(sim: Simulator, clock: ManualClock,
                                            session: requests.Session) -> None:
    sim.add_job("acct1", SimJob(id="later", name="later", created=T0 + 5))
    assert _ids(_get(sim, session)) == list("abcdef")
    clock.advance(5)
    assert _ids(_get(sim, session)) == [*"abcdef", "later"]


def _processing(job: SimJob, now: float) -> bool | None:
    view = view_job(job, now)
    return True if view is not None and view.state == JobState.Processing else None


def _listed_ids(matching: Matching[SimJob, bool]) -> list[str]:
    return [job.id for _, job in matching.listed]


def test_matching_follows_the_clock() -> None:
    jobs = [SimJob(id="x", name="x", created=0, events=[(1, JobState.Processing),
                                                        (5, JobState.Finished)]),
            SimJob(id="y", name="y", created=0, events=[(3, JobState.Processing)])]
    matching = Matching(jobs, 10.0, 0, _processing)
    assert _listed_ids(matching) == []
    for now, expected in [(0.5, []), (1, ["x"]), (3, ["x", "y"]), (4.9, ["x", "y"]),
                          (5, ["y"]), (9.9, ["y"])]:
        assert matching.advance(now, _processing)
        assert _listed_ids(matching) == expected, now
    assert not matching.advance(9, _processing)  # the clock went back
    assert not matching.advance(10, _processing)  # a job has appeared


def test_match_cache_is_bounded() -> None:
    cache: MatchCache[SimJob, bool] = MatchCache(size=2)
    job = SimJob(id="x", name="x", created=0, events=[(1, JobState.Processing)])
    for key in ("a", "b"):
        cache.put((key,), Matching([job], None, 0, _processing))
    assert cache.get(("a",), 2, _processing) == [(True, job)]  # a: most recently used
    assert cache.get(("a",), 1.5, _processing) is None  # back in time: not served
    cache.put(("a",), Matching([job], None, 0, _processing))
    cache.put(("c",), Matching([job], None, 0, _processing))
    assert len(cache) == 2
    assert cache.get(("b",), 0, _processing) is None
    assert cache.get(("c",), 0, _processing) == []
