"""The MediaKind MK.IO flavour over real HTTP: lists and paging, the filter dialect, job JSON,
personal API tokens and capabilities, the per-project rate limit, faults and lifecycles."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from exporter.jobs.states import JobState
from exporter.simulator import ManualClock, SimJob, Simulator

T0 = 1767225600.0  # 2026-01-01T00:00:00Z
TIMEOUT = 10
PROJECT = "mkiotest"
SIX_DIGITS = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z")

# ams-successors.md §1.4: the MK.IO SDK's job fixture, as that page shows it.
FIXTURE = """{"name": "job-7326300f",
 "id": "/subscriptions/52907a2e-ab43-43ba-8b9f-8cb78285f665/resourceGroups/default/providers/Microsoft.Media/mediaservices/mkiotest/transforms/simpletransformsd/jobs/job-7326300f",
 "type": "Microsoft.Media/mediaservices/transforms/jobs",
 "properties": {"created": "2024-03-27T15:33:58.451407Z", "description": "Mysdencodingjob",
  "lastModified": "2024-03-27T15:36:43.395374Z", "priority": "High", "state": "Finished",
  "input": {"files": ["http://commondatastorage.googleapis.com/gtv-videos-bucket/sample/ForBiggerEscapes.mp4"],
            "@odata.type": "#Microsoft.Media.JobInputHttp"},
  "outputs": [{"label": "BuiltInStandardEncoderPreset_0", "state": "Finished", "endTime": "2024-03-27T15:36:36.000000Z",
               "progress": 100, "assetName": "output-b19d8b84", "@odata.type": "#Microsoft.Media.JobOutputAsset",
               "startTime": "2024-03-27T15:36:31.000000Z"}],
  "startTime": "2024-03-27T15:36:31.000000Z", "endTime": "2024-03-27T15:36:36.000000Z"},
 "systemData": {"createdBy": "user@domain.com", "createdByType": "User", "createdAt": "2024-03-27T15:33:58.451407Z",
  "lastModifiedBy": "user@domain.com", "lastModifiedByType": "User", "lastModifiedAt": "2024-03-27T15:36:43.395374Z"},
 "supplemental": {"operation": "get", "subscription": {"id": "bf747f59-771a-4e9b-a6cd-59351c4a71d2", "name": "mkiotest"}}}"""  # noqa: E501


@pytest.fixture
def mclock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def sim(mclock: ManualClock) -> Iterator[Simulator]:
    with Simulator(clock=mclock, seed=21).start() as simulator:
        simulator.add_mkio_account("mk", project=PROJECT, transforms=("encode-720p", "thumbs"))
        yield simulator


@pytest.fixture
def session(sim: Simulator) -> Iterator[requests.Session]:
    with requests.Session() as client:
        client.headers["Authorization"] = f"Bearer {sim.add_mkio_token('mk')}"
        yield client


def media(sim: Simulator, rest: str = "", project: str = PROJECT) -> str:
    return f"{sim.mkio_endpoint}/api/v1/projects/{project}/media{rest}"


def get(session: requests.Session, url: str, **query: str) -> requests.Response:
    return session.get(url, params={f"${k}": v for k, v in query.items()}, timeout=TIMEOUT)


def mkio_error(response: requests.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert list(body) == ["error", "status", "ref"]
    assert body["status"] == status
    assert uuid.UUID(body["ref"])
    assert list(body["error"]) == ["code", "detail", "extraDetail"]
    assert body["error"]["extraDetail"] == {} and body["error"]["detail"]
    return body["error"]


def walk(sim: Simulator, session: requests.Session, first: requests.Response,
         limit: int = 50) -> list[dict]:
    """Follow @odata.nextLink, a path resolved against the base URL; bounded."""
    pages = [first.json()]
    for _ in range(limit):
        link = pages[-1].get("@odata.nextLink")
        if link is None:
            return pages
        assert link.startswith("/api/v1/projects/"), link
        response = session.get(sim.mkio_endpoint + link, timeout=TIMEOUT)
        assert response.status_code == 200, response.text
        pages.append(response.json())
    raise AssertionError("too many pages")


def failed_job(name: str, created: float) -> SimJob:
    return SimJob(id=name, name=f"Encoding {name}", created=created, priority=1, outputs=2,
                  error_code="ContentUnsupported", expected_processing=100,
                  events=[(created + 10, JobState.Scheduled), (created + 20, JobState.Processing),
                          (created + 45.5, JobState.Error)])


# ------------------------------------------------------------------ lists and paging


def test_project_wide_list_pages_by_100_with_path_only_next_links(
    sim: Simulator, session: requests.Session
) -> None:
    ids = sim.generate_jobs("mk", n=250, start=T0 - 86400, end=T0)
    pages = walk(sim, session, get(session, media(sim, "/jobs")))
    assert [len(p["value"]) for p in pages] == [100, 100, 50]
    assert [p["supplemental"]["pagination"] for p in pages] == [
        {"start": 0, "end": 100, "records": 100, "total": 250},
        {"start": 100, "end": 200, "records": 100, "total": 250},
        {"start": 200, "end": 250, "records": 50, "total": 250},
    ]
    for page in pages:
        assert list(page)[:2] == ["value", "supplemental"]
        supplemental = page["supplemental"]
        assert (supplemental["count"], supplemental["kind"], supplemental["operation"]) == (
            len(page["value"]), "Job", "list")
        assert supplemental["subscription"]["name"] == PROJECT
    assert "@odata.nextLink" not in pages[-1]
    jobs = [job for page in pages for job in page["value"]]
    assert sorted(job["name"] for job in jobs) == sorted(ids)
    transforms = {job["id"].split("/transforms/")[1].split("/")[0] for job in jobs}
    assert transforms == {"encode-720p", "thumbs"}  # every transform, named only by `id`
    assert all("transform" not in job and "supplemental" not in job for job in jobs)
    created = [job["properties"]["created"] for job in jobs]
    assert created == sorted(created)  # oldest first by default
    assert sim.request_count(account="mk", kind="project_jobs", api="mkio") == 3


def test_top_and_skiptoken(sim: Simulator, session: requests.Session) -> None:
    sim.generate_jobs("mk", n=250, start=T0 - 86400, end=T0)
    everything = get(session, media(sim, "/jobs"), top="1000").json()
    assert len(everything["value"]) == 250 and "@odata.nextLink" not in everything
    names = [job["name"] for job in everything["value"]]
    first = get(session, media(sim, "/jobs"), top="40").json()
    link = urlsplit(first["@odata.nextLink"])
    assert link.path == "/api/v1/projects/mkiotest/media/jobs"
    assert parse_qs(link.query) == {"$top": ["40"], "$skiptoken": ["40"]}
    # A client that builds $skiptoken from pagination.end gets the same pages.
    built = get(session, media(sim, "/jobs"), top="40",
                skiptoken=str(first["supplemental"]["pagination"]["end"])).json()
    assert [job["name"] for job in built["value"]] == names[40:80]
    tail = get(session, media(sim, "/jobs"), top="40", skiptoken="240").json()
    assert [job["name"] for job in tail["value"]] == names[240:]
    assert tail["supplemental"]["pagination"]["records"] == 10 < 40
    assert "@odata.nextLink" not in tail
    beyond = get(session, media(sim, "/jobs"), skiptoken="999").json()
    assert beyond["value"] == [] and beyond["supplemental"]["pagination"]["total"] == 250
    for query in ({"top": "1001"}, {"top": "0"}, {"top": "ten"}, {"skiptoken": "abc"},
                  {"skiptoken": "-1"}, {"skip": "5"}, {"count": "true"}, {"select": "name"},
                  {"expand": "x"}):
        assert mkio_error(get(session, media(sim, "/jobs"), **query), 400)["code"] == \
            "BadRequest"


def test_per_transform_list_job_and_state(sim: Simulator, session: requests.Session,
                                          mclock: ManualClock) -> None:
    sim.generate_jobs("mk", n=30, start=T0 - 3600, end=T0, transform="thumbs")
    sim.add_job("mk", failed_job("clip-1", T0 - 100), transform="encode-720p")
    thumbs = get(session, media(sim, "/transforms/thumbs/jobs")).json()
    assert len(thumbs["value"]) == 30
    assert all("/transforms/thumbs/jobs/" in job["id"] for job in thumbs["value"])
    [only] = get(session, media(sim, "/transforms/encode-720p/jobs")).json()["value"]
    job = get(session, media(sim, "/transforms/encode-720p/jobs/clip-1")).json()
    assert job["supplemental"] == {"operation": "get", "subscription": {
        "id": job["supplemental"]["subscription"]["id"], "name": PROJECT}}
    assert {k: v for k, v in job.items() if k != "supplemental"} == only
    state = get(session, media(sim, "/transforms/encode-720p/jobs/clip-1/state"))
    assert state.json() == {"status": {"state": "Error"}}
    assert mkio_error(get(session, media(sim, "/transforms/thumbs/jobs/clip-1")), 404)[
        "code"] == "NotFound"
    assert mkio_error(get(session, media(sim, "/transforms/nope/jobs")), 404)["code"] == \
        "NotFound"
    assert mkio_error(get(session, media(sim, "/assets")), 404)["code"] == "NotFound"
    assert mkio_error(get(session, media(sim, "/transforms/encode-720p/jobs/clip-1"),
                          filter="name eq 'x'"), 400)
    assert mkio_error(session.delete(media(sim, "/transforms/encode-720p/jobs/clip-1"),
                                     timeout=TIMEOUT), 405)
    assert [r.kind for r in sim.requests][:5] == ["jobs", "jobs", "job", "job_state", "job"]


def test_transform_list_and_get_need_transform_capability(
    sim: Simulator, session: requests.Session
) -> None:
    sim.add_transform("mk", "audio", description="Audio only", preset="AACGoodQualityAudio")
    body = get(session, media(sim, "/transforms")).json()
    assert [t["name"] for t in body["value"]] == ["audio", "encode-720p", "thumbs"]
    assert body["supplemental"]["kind"] == "Transform"
    audio = body["value"][0]
    assert audio["id"].endswith("/resourceGroups/default/providers/Microsoft.Media/"
                                "mediaservices/mkiotest/transforms/audio")
    assert audio["properties"]["outputs"][0]["preset"]["presetName"] == "AACGoodQualityAudio"
    assert SIX_DIGITS.fullmatch(audio["properties"]["created"])
    ordered = get(session, media(sim, "/transforms"), orderby="name desc", top="2").json()
    assert [t["name"] for t in ordered["value"]] == ["thumbs", "encode-720p"]
    assert "%24orderby" not in ordered["@odata.nextLink"]
    assert parse_qs(urlsplit(ordered["@odata.nextLink"]).query)["$orderby"] == ["name desc"]
    single = get(session, media(sim, "/transforms/audio")).json()
    assert single["properties"]["description"] == "Audio only"
    assert single["supplemental"]["operation"] == "get"
    assert sim.transforms("mk") == ["encode-720p", "thumbs", "audio"]


# ------------------------------------------------------------------ job JSON


def test_job_json_has_the_sdk_fixture_shape(sim: Simulator, session: requests.Session) -> None:
    sim.add_job("mk", failed_job("clip-1", T0 - 100))
    sim.add_job("mk", SimJob(id="waiting", name="", created=T0 - 5))
    job = get(session, media(sim, "/transforms/encode-720p/jobs/clip-1")).json()
    subscription_id = job["id"].split("/")[2]
    assert job["id"] == (f"/subscriptions/{subscription_id}/resourceGroups/default/providers/"
                         "Microsoft.Media/mediaservices/mkiotest/transforms/encode-720p/jobs/"
                         "clip-1")
    assert list(job) == ["name", "id", "type", "properties", "systemData", "supplemental"]
    assert job["type"] == "Microsoft.Media/mediaservices/transforms/jobs"
    properties = job["properties"]
    assert list(properties) == ["created", "description", "lastModified", "priority", "state",
                                "input", "outputs", "startTime", "endTime"]
    assert (properties["state"], properties["priority"]) == ("Error", "High")
    assert properties["created"] == "2025-12-31T23:58:20.000000Z"
    assert properties["startTime"] == "2025-12-31T23:58:40.000000Z"
    assert properties["endTime"] == properties["lastModified"] == "2025-12-31T23:59:05.500000Z"
    assert len(properties["outputs"]) == 2
    for index, output in enumerate(properties["outputs"]):
        assert output["label"] == f"BuiltInStandardEncoderPreset_{index}"
        assert output["@odata.type"] == "#Microsoft.Media.JobOutputAsset"
        assert (output["state"], output["progress"]) == ("Error", 25)
        assert isinstance(output["progress"], int)
        assert output["error"] == {"category": "Content", "code": "ContentUnsupported",
                                   "message": output["error"]["message"],
                                   "retry": "DoNotRetry"}  # no details, unlike AMS
    assert "error" not in properties
    assert list(job["systemData"]) == ["createdBy", "createdByType", "createdAt",
                                       "lastModifiedBy", "lastModifiedByType", "lastModifiedAt"]
    for value in (properties["created"], job["systemData"]["lastModifiedAt"]):
        assert SIX_DIGITS.fullmatch(value)

    waiting = get(session, media(sim, "/transforms/encode-720p/jobs/waiting")).json()
    props = waiting["properties"]
    assert (props["state"], props["startTime"], props["endTime"]) == ("Queued", None, None)
    assert "description" not in props and props["priority"] == "Normal"
    [output] = props["outputs"]
    assert (output["progress"], output["startTime"], output["endTime"]) == (0, None, None)
    assert "error" not in output


def test_the_sdk_fixture_is_served_byte_for_byte(sim: Simulator,
                                                 session: requests.Session) -> None:
    sim.add_transform("mk", "simpletransformsd")
    assert sim.add_mkio_raw_job("mk", "simpletransformsd", FIXTURE) == "job-7326300f"
    sim.add_job("mk", SimJob(id="other", name="x", created=T0 - 5), "simpletransformsd")
    response = get(session, media(sim, "/transforms/simpletransformsd/jobs/job-7326300f"))
    assert response.status_code == 200
    assert response.content == FIXTURE.encode("utf-8")
    assert response.headers["Content-Type"].startswith("application/json")
    listed = get(session, media(sim, "/transforms/simpletransformsd/jobs"))
    assert FIXTURE.encode("utf-8") in listed.content
    assert [job["name"] for job in listed.json()["value"]] == ["job-7326300f", "other"]
    found = get(session, media(sim, "/jobs"), filter="properties/state eq 'Finished' and "
                "properties/lastModified ge 2024-03-27T15:36:43Z").json()
    assert [job["name"] for job in found["value"]] == ["job-7326300f"]
    state = get(session, media(sim, "/transforms/simpletransformsd/jobs/job-7326300f/state"))
    assert state.json() == {"status": {"state": "Finished"}}
    with pytest.raises(ValueError):
        sim.add_mkio_raw_job("mk", "simpletransformsd", "{not json")
    with pytest.raises(ValueError):
        sim.add_mkio_raw_job("mk", "simpletransformsd", '{"name": "x"}')


# ------------------------------------------------------------------ $filter and $orderby


@pytest.fixture
def population(sim: Simulator) -> list[SimJob]:
    names = sim.generate_jobs("mk", n=300, start=T0 - 86400, end=T0)
    sim.add_job("mk", SimJob(id="Café Müller", name="odd", created=T0 - 30), "thumbs")
    jobs = [sim.get_job("mk", name) for name in [*names, "Café Müller"]]
    assert all(job is not None for job in jobs)
    return [job for job in jobs if job is not None]


def listing(sim: Simulator, session: requests.Session, **query: str) -> list[dict]:
    first = get(session, media(sim, "/jobs"), **query)
    assert first.status_code == 200, first.text
    pages = walk(sim, session, first)
    return [job for page in pages for job in page["value"]]


def test_filter_dialect(sim: Simulator, session: requests.Session,
                        population: list[SimJob]) -> None:
    def state(job: SimJob) -> str:
        found = sim.job_state("mk", job.id)
        assert found is not None
        return found.name

    finished = {job.id for job in population if state(job) == "Finished"}
    assert {j["name"] for j in listing(sim, session, filter="properties/state eq 'Finished'",
                                       top="50")} == finished
    recent = {job.id for job in population if job.created >= T0 - 3600}
    assert {j["name"] for j in listing(
        sim, session, filter="properties/created ge 2025-12-31T23:00:00Z")} == recent
    changed = listing(sim, session, filter="properties/lastModified ge 2025-12-31T18:00:00Z "
                      "and (properties/state eq 'Error' or properties/state eq 'Canceled')")
    assert changed and all(j["properties"]["state"] in ("Error", "Canceled") for j in changed)
    assert all(j["properties"]["lastModified"] >= "2025-12-31T18:00:00" for j in changed)
    assert len(changed) == len({job.id for job in population
                                if state(job) in ("Error", "Canceled")
                                and (job.last_modified or max(t for t, _ in job.events))
                                >= T0 - 6 * 3600})
    [odd] = listing(sim, session, filter="name eq 'Café Müller'")
    assert odd["id"].endswith("/transforms/thumbs/jobs/Café Müller")
    assert {j["name"] for j in listing(sim, session, filter="contains(name,'é Mü')")} == {
        "Café Müller"}
    # A doubled quote is a quote: the filter is fine, it just matches nothing (404).
    assert mkio_error(get(session, media(sim, "/jobs"), filter="name eq 'O''Brien'"), 404)
    thumbs = listing(sim, session, filter="transform eq 'thumbs'")
    assert thumbs and all("/transforms/thumbs/" in j["id"] for j in thumbs)
    for bad in ("properties/created ge '2025-12-31T23:00:00Z'",  # datetimes are unquoted
                "properties/created ge datetime'2025-12-31T23:00:00'",
                "properties/state eq Microsoft.Media.JobState'Finished'",  # AMS's enum form
                "Name eq 'x'", "substringof('x',name)", "name eq", "nosuch eq 1"):
        assert mkio_error(get(session, media(sim, "/jobs"), filter=bad), 400)["code"] == \
            "BadRequest", bad


def test_a_filter_matching_nothing_is_404_unless_switched_off(
    sim: Simulator, session: requests.Session
) -> None:
    sim.generate_jobs("mk", n=10, start=T0 - 3600, end=T0)
    empty = "name eq 'no-such-job'"
    for url in (media(sim, "/jobs"), media(sim, "/transforms/thumbs/jobs")):
        assert mkio_error(get(session, url, filter=empty), 404)["code"] == "NotFound"
    assert get(session, media(sim, "/transforms/nope/jobs")).status_code == 404
    sim.mkio_empty_filter_404 = False
    body = get(session, media(sim, "/jobs"), filter=empty).json()
    assert body["value"] == [] and body["supplemental"]["pagination"]["total"] == 0
    # An unfiltered empty list is a 200 either way.
    sim.mkio_empty_filter_404 = True
    assert get(session, media(sim, "/transforms/thumbs/jobs"), top="5").status_code in (200,)
    sim.add_transform("mk", "empty")
    assert get(session, media(sim, "/transforms/empty/jobs")).json()["value"] == []


def test_orderby_and_next_links_carry_the_whole_query(
    sim: Simulator, session: requests.Session, population: list[SimJob]
) -> None:
    query = {"filter": "properties/state ne 'Queued'", "orderby": "properties/lastModified desc",
             "top": "30"}
    jobs = listing(sim, session, **query)
    modified = [j["properties"]["lastModified"] for j in jobs]
    assert modified == sorted(modified, reverse=True)
    expected = {job.id for job in population if sim.job_state("mk", job.id) != JobState.Queued}
    assert [j["name"] for j in jobs if j["name"]] and {j["name"] for j in jobs} == expected
    link = get(session, media(sim, "/jobs"), **query).json()["@odata.nextLink"]
    assert parse_qs(urlsplit(link).query) == {
        "$top": ["30"], "$filter": [query["filter"]], "$orderby": [query["orderby"]],
        "$skiptoken": ["30"]}
    by_name = listing(sim, session, orderby="name asc,properties/created desc", top="1000")
    assert [j["name"] for j in by_name] == sorted(j["name"] for j in by_name)
    states = [j["properties"]["state"] for j in listing(sim, session, orderby="properties/state")]
    assert states == sorted(states)
    for bad in ("name up", "transform", "name,name", "name asc desc"):
        assert mkio_error(get(session, media(sim, "/jobs"), orderby=bad), 400)


# ------------------------------------------------------------------ tokens and capabilities


def test_personal_api_tokens_and_capabilities(sim: Simulator, mclock: ManualClock) -> None:
    sim.add_mkio_account("other", project="second-project")
    url = media(sim, "/jobs")

    def status(token: str | None, target: str = url) -> tuple[int, str]:
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        response = requests.get(target, headers=headers, timeout=TIMEOUT)
        if response.status_code == 200:
            return 200, ""
        return response.status_code, mkio_error(response, response.status_code)["code"]

    full = sim.add_mkio_token("mk")
    assert full.count(".") == 2  # a JWT
    assert status(full) == (200, "")
    assert status(None) == (401, "Unauthorized")
    assert status("unknown-token") == (401, "Unauthorized")
    assert status(full, media(sim, "/jobs", "second-project")) == (403, "Forbidden")
    assert status(full, media(sim, "/jobs", "no-such-project")) == (403, "Forbidden")
    sim.add_mkio_token("second-project", full)  # the same token on a second project
    assert status(full, media(sim, "/jobs", "second-project")) == (200, "")

    jobs_only = sim.add_mkio_token("mk", "jobs-only", capabilities=("ams.job.get",))
    assert status(jobs_only) == (200, "")
    assert status(jobs_only, media(sim, "/transforms/thumbs/jobs")) == (200, "")
    assert status(jobs_only, media(sim, "/transforms")) == (403, "Forbidden")
    transforms_only = sim.add_mkio_token("mk", "t-only", capabilities=("ams.transform.get",))
    assert status(transforms_only, media(sim, "/transforms")) == (200, "")
    assert status(transforms_only, media(sim, "/transforms/thumbs")) == (200, "")
    assert status(transforms_only) == (403, "Forbidden")

    expiring = sim.add_mkio_token("mk", expires=T0 + 60)
    assert status(expiring) == (200, "")
    mclock.advance(60)
    assert status(expiring) == (401, "Unauthorized")
    assert status(full) == (200, "")
    basic = requests.get(url, headers={"Authorization": f"Basic {full}"}, timeout=TIMEOUT)
    assert mkio_error(basic, 401)
    with pytest.raises(KeyError):
        sim.add_mkio_token("nope")
    with pytest.raises(ValueError):
        sim.add_mkio_token("mk", "has space")


def test_without_auth_no_token_is_needed(mclock: ManualClock) -> None:
    with Simulator(clock=mclock, require_auth=False).start() as sim:
        sim.add_mkio_account("demo")
        response = requests.get(media(sim, "/jobs", "demo"), timeout=TIMEOUT)
        assert response.status_code == 200 and response.json()["value"] == []
        assert mkio_error(requests.get(media(sim, "/jobs", "nope"), timeout=TIMEOUT), 404)


# ------------------------------------------------------------------ rate limit and faults


def test_2000_get_per_minute_per_project(sim: Simulator, session: requests.Session,
                                         mclock: ManualClock) -> None:
    url = media(sim, "/transforms/thumbs/jobs")
    codes = [session.get(url, timeout=TIMEOUT).status_code for _ in range(2001)]
    assert codes == [200] * 2000 + [429]
    throttled = session.get(url, timeout=TIMEOUT)
    assert mkio_error(throttled, 429)["code"] == "TooManyRequests"
    assert "Retry-After" not in throttled.headers
    mclock.advance(60)
    assert session.get(url, timeout=TIMEOUT).status_code == 200


def test_rate_limit_is_configurable_per_project(sim: Simulator, session: requests.Session,
                                                mclock: ManualClock) -> None:
    sim.add_mkio_account("b", project="project-b")
    sim.add_mkio_token("b", session.headers["Authorization"].split()[1])  # type: ignore[union-attr]
    sim.set_mkio_rate_limit("mk", 3)
    url, other = media(sim, "/jobs"), media(sim, "/jobs", "project-b")
    assert [get(session, url).status_code for _ in range(4)] == [200, 200, 200, 429]
    assert get(session, other).status_code == 200  # per project
    mclock.advance(30)
    assert get(session, url).status_code == 429
    mclock.advance(30)
    assert [get(session, url).status_code for _ in range(4)] == [200, 200, 200, 429]
    sim.set_mkio_rate_limit(PROJECT, 1, retry_after=True)  # by project name too
    assert get(session, url).status_code == 200
    mclock.advance(20)
    throttled = get(session, url)
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "40"
    sim.set_mkio_rate_limit("mk", None)
    assert all(get(session, url).status_code == 200 for _ in range(5))
    with pytest.raises(ValueError):
        sim.set_mkio_rate_limit("mk", 0)


def test_injected_faults_answer_in_mkio_form(sim: Simulator, session: requests.Session) -> None:
    url = media(sim, "/jobs")
    sim.set_faults("mk", throttle_rate=1.0)
    throttled = get(session, url)
    assert mkio_error(throttled, 429)["code"] == "TooManyRequests"
    assert "Retry-After" not in throttled.headers
    sim.set_faults("mk", throttle_rate=1.0, retry_after=2.5)
    assert get(session, url).headers["Retry-After"] == "3"
    sim.set_faults("mk", error_rate=1.0)
    assert mkio_error(get(session, url), 500)["code"] == "InternalServerError"
    sim.set_faults("mk", malformed_rate=1.0)
    broken = get(session, url)
    assert broken.status_code == 200
    with pytest.raises(ValueError):
        broken.json()
    sim.set_faults("mk", reset_rate=1.0)
    with pytest.raises(requests.ConnectionError):
        get(session, url)
    sim.clear_faults("mk")
    sim.set_down()
    assert mkio_error(get(session, url), 500)
    sim.set_down(False)
    assert get(session, url).status_code == 200
    assert sim.request_count(account="mk", api="mkio") == 7
    assert sim.request_count(api="mkio", kind="project_jobs") == 7


# ------------------------------------------------------------------ lifecycles


def test_generated_jobs_are_deterministic_and_move_on(mclock: ManualClock) -> None:
    def listing_of(seed: int) -> list[dict]:
        with Simulator(clock=mclock, seed=seed, require_auth=False).start() as simulator:
            simulator.add_mkio_account("demo", transforms=("a", "b", "c"))
            simulator.generate_jobs("demo", n=120, start=T0 - 86400, end=T0)
            return requests.get(media(simulator, "/jobs", "demo"), params={"$top": "1000"},
                                timeout=TIMEOUT).json()["value"]

    first, again, other = listing_of(4), listing_of(4), listing_of(5)
    assert first == again and first != other
    assert {job["properties"]["state"] for job in first} >= {"Finished", "Error", "Canceled"}
    assert {job["id"].split("/")[-3] for job in first} == {"a", "b", "c"}


def test_scripting_lively_and_removal(sim: Simulator, session: requests.Session,
                                      mclock: ManualClock) -> None:
    sim.add_job("mk", SimJob(id="j", name="j", created=T0 - 10,
                             events=[(T0 - 5, JobState.Processing)]), "thumbs")
    sim.script_state("mk", "j", JobState.Canceled, at=T0 + 5)
    url = media(sim, "/transforms/thumbs/jobs/j")
    assert get(session, url).json()["properties"]["state"] == "Processing"
    mclock.advance(5)
    job = get(session, url).json()["properties"]
    assert job["state"] == "Canceled" and job["endTime"] == "2026-01-01T00:00:05.000000Z"
    assert sim.job_state("mk", "j") == JobState.Canceled
    sim.remove_job("mk", "j")
    assert get(session, url).status_code == 404

    feed = sim.start_lively("mk", rate_per_minute=60)
    mclock.advance(600)
    assert feed.tick() > 400
    total = get(session, media(sim, "/jobs")).json()["supplemental"]["pagination"]["total"]
    assert total > 400
    with pytest.raises(ValueError, match="already exists"):
        sim.add_mkio_account("mk")
    with pytest.raises(ValueError, match="already exists"):
        sim.add_v3_account("mk")
    with pytest.raises(ValueError, match="project"):
        sim.add_mkio_account("x", project="Bad Name")


def test_v2_legacy_endpoint_is_untouched(sim: Simulator) -> None:
    sim.add_v2_account("old")
    response = requests.get(sim.url + "/api/Jobs", allow_redirects=False, timeout=TIMEOUT,
                            headers={"Authorization": "Bearer x", "x-ms-version": "2.19"})
    assert response.status_code == 301
    assert response.headers["Location"].endswith("/v2/old/api/Jobs")



def test_contains_is_mkio_dialect_only() -> None:
    from exporter.simulator.mkio_query import DIALECT
    from exporter.simulator.odata_filter import EdmType, ParseError, parse_filter

    properties = {"name": EdmType.STRING}
    assert parse_filter("contains(name,'b')", properties, DIALECT).matches({"name": "abc"})
    with pytest.raises(ParseError, match="not supported"):
        parse_filter("contains(name,'b')", properties)  # OData v3 (AMS v2) has no contains
    with pytest.raises(ParseError, match="not supported"):
        parse_filter("substringof('b',name)", properties, DIALECT)
