"""The v3 simulator keeps a job listing between pages (match_cache): the pages stay
those of a fresh listing, continued after the cursor, when jobs or the clock change in
between, and a page no longer costs a pass over every job of the transform."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import requests

from exporter.jobs.states import JobState
from exporter.simulator import ManualClock, SimJob, Simulator, v3_query, v3_service
from exporter.simulator.jobs import JobView
from exporter.simulator.match_cache import Matching, sort_pairs
from exporter.simulator.v3_entities import Record
from tests.simulator.cache_jobs import staggered_jobs

T0 = 1700000000.0  # 2023-11-14T22:13:20Z
VERSION = "2022-07-01"
#: The exporter's own listing filter: a lookback, or still active.
FILTER = ("(properties/created ge 2023-11-14T22:00:00.0000000Z"
          + "".join(f" or properties/state eq Microsoft.Media.JobState'{state}'"
                    for state in ("Queued", "Scheduled", "Processing", "Canceling"))
          + ")")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def sim(clock: ManualClock, monkeypatch: pytest.MonkeyPatch) -> Iterator[Simulator]:
    monkeypatch.setattr(v3_query, "JOB_PAGE", 2)
    with Simulator(clock=clock, seed=7, require_auth=False).start() as simulator:
        simulator.add_v3_account("acct1")
        for job in staggered_jobs(T0):
            simulator.add_job("acct1", job)
        yield simulator


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as client:
        yield client


def _url(sim: Simulator) -> str:
    return f"{sim.arm_endpoint}{sim.arm_account('acct1').resource_id}/transforms/encode-720p/jobs"


def _get(sim: Simulator, session: requests.Session, link: str | None = None,
         **query: str) -> requests.Response:
    if link is not None:
        response = session.get(link)
    else:
        params = {"api-version": VERSION, "$filter": FILTER}
        response = session.get(_url(sim), params=params | {f"${k}": v for k, v in query.items()})
    assert response.status_code == 200, response.text
    return response


def _names(response: requests.Response) -> list[str]:
    return [job["name"] for job in response.json()["value"]]


def _next(response: requests.Response) -> str:
    link = response.json()["@odata.nextLink"]
    assert isinstance(link, str)
    return link


def _fresh(sim: Simulator, session: requests.Session, **query: str) -> list[str]:
    """Every page of a listing started now, the clock held still."""
    response = _get(sim, session, **query)
    names = _names(response)
    while "@odata.nextLink" in response.json():
        response = _get(sim, session, _next(response))
        names += _names(response)
    return names


def _after(names: list[str], cursor: str) -> list[str]:
    return names[names.index(cursor) + 1:] if cursor in names else names


def test_repeated_requests_give_identical_bodies(sim: Simulator,
                                                 session: requests.Session) -> None:
    first = _get(sim, session)
    assert _get(sim, session).content == first.content
    second = _get(sim, session, _next(first))
    assert _get(sim, session, _next(first)).content == second.content
    assert _names(first) == ["a", "b"] and _names(second) == ["c", "d"]
    assert _fresh(sim, session) == list("abcdef")


def test_clock_past_a_transition_between_pages(sim: Simulator, clock: ManualClock,
                                               session: requests.Session) -> None:
    first = _get(sim, session)
    assert _names(first) == ["a", "b"]
    clock.advance(25)  # a has finished (T0 + 10), c not yet (T0 + 30)
    second = _get(sim, session, _next(first))
    fresh = _fresh(sim, session)
    assert fresh == list("bcdef")
    assert _names(second) == _after(fresh, "b")[:2] == ["c", "d"]
    clock.advance(100)  # c and e finish too
    assert _names(_get(sim, session, _next(second))) == ["f"]
    assert _fresh(sim, session) == list("bdf")


def test_clock_within_a_stable_span_keeps_the_answer(sim: Simulator, clock: ManualClock,
                                                     session: requests.Session) -> None:
    before = _get(sim, session)
    clock.advance(9.999)  # a finishes at T0 + 10 exactly (bodies move on: Progress)
    assert _names(_get(sim, session)) == ["a", "b"]
    clock.advance(0.001)
    assert _names(_get(sim, session)) == ["b", "c"]
    clock.set(T0)  # back in time: answered afresh too
    assert _get(sim, session).content == before.content


def test_new_or_changed_job_between_pages(sim: Simulator,
                                          session: requests.Session) -> None:
    first = _get(sim, session)
    assert _names(first) == ["a", "b"]
    # One job sorts before the cursor (not served: keyset paging), one after it.
    sim.add_job("acct1", SimJob(id="new", name="new", created=T0 - 9000))
    sim.add_job("acct1", SimJob(id="mid", name="mid", created=T0 - 7200 + 2.5))
    second = _get(sim, session, _next(first))
    fresh = _fresh(sim, session)
    assert fresh == ["new", *"abc", "mid", *"def"]
    assert _names(second) == _after(fresh, "b")[:2] == ["c", "mid"]
    sim.script_state("acct1", "d", JobState.Finished, T0)
    fresh = _fresh(sim, session)
    assert "d" not in fresh
    assert _names(_get(sim, session, _next(second))) == _after(fresh, "mid")[:2] == ["e", "f"]
    sim.remove_job("acct1", "new")
    assert _fresh(sim, session) == [*"abc", "mid", *"ef"]


def test_a_job_appearing_as_the_clock_moves(sim: Simulator, clock: ManualClock,
                                            session: requests.Session) -> None:
    sim.add_job("acct1", SimJob(id="later", name="later", created=T0 + 5))
    assert _fresh(sim, session) == list("abcdef")
    clock.advance(5)
    assert _fresh(sim, session) == [*"abcdef", "later"]


def test_an_order_on_a_changing_value_follows_the_clock(
    sim: Simulator, clock: ManualClock, session: requests.Session
) -> None:
    # Every job matches: a, c and e stay listed when they finish.
    everything = "properties/created ge 2023-11-14T00:00:00.0000000Z"
    newest_first = {"orderby": "properties/lastModified desc", "filter": everything}
    assert _fresh(sim, session, **newest_first) == list("fedcba")
    clock.advance(10)  # a finishes: its lastModified is now the latest
    assert _fresh(sim, session, **newest_first) == list("afedcb")
    clock.advance(20)  # c too
    assert _fresh(sim, session, **newest_first) == list("cafedb")
    assert _fresh(sim, session, orderby="properties/lastModified", filter=everything) \
        == list("bdefac")


def test_a_page_evaluates_only_what_changed(sim: Simulator, clock: ManualClock,
                                            session: requests.Session,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    original: Callable[..., Record] = v3_service.job_record

    def counting(view: JobView) -> Record:
        calls.append(view.job.id)
        return original(view)

    monkeypatch.setattr(v3_service, "job_record", counting)
    first = _get(sim, session)
    assert sorted(calls) == list("abcdef")  # the listing is made once ...
    calls.clear()
    second = _get(sim, session, _next(first))
    assert calls == []  # ... and kept for the next page
    clock.advance(15)  # a finishes: only a is read again
    _get(sim, session, _next(second))
    assert calls == ["a"]


# ---------------------------------------------------------------- the shared pieces


def _key_when_active(job: SimJob, now: float) -> tuple[object, ...] | None:
    """The job's sort key (latest event first) while it is Processing, else None."""
    happened = [(at, state) for at, state in job.events if at <= now]
    if not happened or happened[-1][1] != JobState.Processing:
        return None
    return (happened[-1][0], job.id)


def test_matching_keeps_the_listed_items_in_order() -> None:
    jobs = [SimJob(id="x", name="x", created=0, events=[(1, JobState.Processing),
                                                        (6, JobState.Finished)]),
            SimJob(id="y", name="y", created=0, events=[(3, JobState.Processing)]),
            SimJob(id="z", name="z", created=0, events=[(2, JobState.Processing)])]

    def newest_first(pairs: list[tuple[tuple[object, ...], SimJob]]) -> None:
        sort_pairs(pairs, [True, False])

    matching = Matching(jobs, None, 0, _key_when_active, newest_first)
    for now, expected in [(1, "x"), (2.5, "zx"), (3, "yzx"), (6, "yz")]:
        assert matching.advance(now, _key_when_active)
        assert "".join(job.id for _, job in matching.listed) == expected, now


def test_sort_pairs_in_mixed_directions() -> None:
    pairs = [((1, "b"), 0), ((2, "a"), 1), ((1, "a"), 2), ((2, "b"), 3)]
    sort_pairs(pairs, [True, False])
    assert [item for _, item in pairs] == [1, 3, 2, 0]
    sort_pairs(pairs, [False, False])
    assert [item for _, item in pairs] == [2, 0, 1, 3]
    sort_pairs(pairs, [True, True])
    assert [item for _, item in pairs] == [3, 1, 0, 2]
