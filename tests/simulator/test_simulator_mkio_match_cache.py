"""The MK.IO simulator keeps a job listing between pages (match_cache): offset pages
stay those of a fresh listing when jobs or the clock change in between, across the
transforms of a project, and a page no longer costs a pass over every job."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import requests

from exporter.jobs.states import JobState
from exporter.simulator import ManualClock, SimJob, Simulator, mkio_service
from exporter.simulator.jobs import JobView
from exporter.simulator.mkio_entities import Record
from tests.simulator.cache_jobs import staggered_jobs

T0 = 1700000000.0  # 2023-11-14T22:13:20Z
PROJECT = "cacheproj"
TRANSFORMS = ("encode-720p", "thumbs")
#: Like the exporter's own listing filter: a lookback, or still active.
FILTER = ("(properties/created ge 2023-11-14T22:00:00Z"
          + "".join(f" or properties/state eq '{state}'"
                    for state in ("Queued", "Scheduled", "Processing", "Canceling"))
          + ")")


def _transform(name: str) -> str:
    return TRANSFORMS[(ord(name[0]) - ord("a")) % 2]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def sim(clock: ManualClock) -> Iterator[Simulator]:
    with Simulator(clock=clock, seed=7, require_auth=False).start() as simulator:
        simulator.add_mkio_account("mk", project=PROJECT, transforms=TRANSFORMS)
        for job in staggered_jobs(T0):  # over both transforms: a, c, e in the first
            simulator.add_job("mk", job, transform=_transform(job.id))
        yield simulator


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as client:
        yield client


def _get(sim: Simulator, session: requests.Session, **query: str) -> requests.Response:
    params = {"$filter": FILTER} | {f"${k}": v for k, v in query.items()}
    response = session.get(f"{sim.mkio_endpoint}/api/v1/projects/{PROJECT}/media/jobs",
                           params=params)
    assert response.status_code == 200, response.text
    return response


def _ids(response: requests.Response) -> list[str]:
    return [job["name"] for job in response.json()["value"]]


def test_repeated_requests_give_identical_bodies(sim: Simulator,
                                                 session: requests.Session) -> None:
    first = _get(sim, session, top="2", skiptoken="2")
    again = _get(sim, session, top="2", skiptoken="2")
    assert first.content == again.content
    assert _ids(first) == ["c", "d"]
    assert _ids(_get(sim, session)) == list("abcdef")


def test_clock_past_a_transition_between_pages(sim: Simulator, clock: ManualClock,
                                               session: requests.Session) -> None:
    assert _ids(_get(sim, session, top="2")) == ["a", "b"]
    clock.advance(25)  # a has finished (T0 + 10), c not yet (T0 + 30)
    page2 = _get(sim, session, top="2", skiptoken="2")
    fresh = _ids(_get(sim, session))
    assert fresh == list("bcdef")
    assert _ids(page2) == fresh[2:4] == ["d", "e"]
    assert page2.json()["supplemental"]["pagination"]["total"] == 5
    clock.advance(100)  # c and e finish too
    assert _ids(_get(sim, session, top="2", skiptoken="2")) == ["f"]
    assert _ids(_get(sim, session)) == list("bdf")


def test_clock_within_a_stable_span_keeps_the_answer(sim: Simulator, clock: ManualClock,
                                                     session: requests.Session) -> None:
    before = _get(sim, session, top="3")
    clock.advance(9.999)  # a finishes at T0 + 10 exactly (bodies move on: progress)
    assert _ids(_get(sim, session, top="3")) == ["a", "b", "c"]
    clock.advance(0.001)
    assert _ids(_get(sim, session, top="3")) == ["b", "c", "d"]
    clock.set(T0)  # back in time: answered afresh too
    assert _get(sim, session, top="3").content == before.content


def test_new_or_changed_job_between_pages(sim: Simulator, session: requests.Session) -> None:
    assert _ids(_get(sim, session, top="2")) == ["a", "b"]
    # Created before every other job: it sorts first and shifts the later pages.
    sim.add_job("mk", SimJob(id="new", name="new", created=T0 - 9000), transform="thumbs")
    page2 = _get(sim, session, top="2", skiptoken="2")
    fresh = _ids(_get(sim, session))
    assert fresh == ["new", *"abcdef"]
    assert _ids(page2) == fresh[2:4]
    sim.script_state("mk", "d", JobState.Finished, T0, transform=_transform("d"))
    fresh = _ids(_get(sim, session))
    assert "d" not in fresh
    assert _ids(_get(sim, session, top="2", skiptoken="2")) == fresh[2:4]
    sim.remove_job("mk", "new", transform="thumbs")
    assert _ids(_get(sim, session)) == list("abcef")
    sim.add_transform("mk", "audio")  # a transform more: the listing starts afresh
    sim.add_job("mk", SimJob(id="g", name="g", created=T0 - 60), transform="audio")
    assert _ids(_get(sim, session)) == list("abcefg")


def test_a_job_appearing_as_the_clock_moves(sim: Simulator, clock: ManualClock,
                                            session: requests.Session) -> None:
    sim.add_job("mk", SimJob(id="later", name="later", created=T0 + 5))
    assert _ids(_get(sim, session)) == list("abcdef")
    clock.advance(5)
    assert _ids(_get(sim, session)) == [*"abcdef", "later"]


def test_an_order_on_a_changing_value_follows_the_clock(
    sim: Simulator, clock: ManualClock, session: requests.Session
) -> None:
    newest_first = {"orderby": "properties/lastModified desc",
                    "filter": "properties/created ge 2023-11-14T00:00:00Z"}
    assert _ids(_get(sim, session, **newest_first)) == list("fedcba")
    clock.advance(10)  # a finishes: its lastModified is now the latest
    assert _ids(_get(sim, session, **newest_first)) == list("afedcb")
    clock.advance(20)  # c too
    assert _ids(_get(sim, session, **newest_first)) == list("cafedb")
    assert _ids(_get(sim, session, orderby="properties/state desc,name",
                     filter=newest_first["filter"])) == list("bdefac")


def test_a_page_evaluates_only_what_changed(sim: Simulator, clock: ManualClock,
                                            session: requests.Session,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    original: Callable[..., Record] = mkio_service.job_record

    def counting(project: object, transform: str, view: JobView) -> Record:
        calls.append(view.job.id)
        return original(project, transform, view)

    monkeypatch.setattr(mkio_service, "job_record", counting)
    _get(sim, session, top="2")
    assert sorted(calls) == list("abcdef")  # the listing is made once ...
    calls.clear()
    _get(sim, session, top="2", skiptoken="2")
    assert calls == []  # ... and kept for the next page
    clock.advance(15)  # a finishes: only a is read again
    _get(sim, session, top="2", skiptoken="4")
    assert calls == ["a"]
