"""The AMS v3 (ARM) simulator over real HTTP: paging, queries, errors, throttling, payloads."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from exporter.jobs.states import JobState
from exporter.simulator import ManualClock, SimJob, Simulator, cli

T0 = 1622592000.0  # 2021-06-02T00:00:00Z
DAY0 = 1622505600.0  # 2021-06-01T00:00:00Z, the day of the official examples
VERSION = "2022-07-01"
SUB = "00000000-0000-0000-0000-000000000000"
TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,7})?Z")
ARM_HEADERS = ("x-ms-ratelimit-remaining-subscription-reads", "x-ms-request-id",
               "x-ms-correlation-request-id")


@pytest.fixture
def mclock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def sim(mclock: ManualClock) -> Iterator[Simulator]:
    with Simulator(clock=mclock, seed=5).start() as simulator:
        simulator.add_v3_account("acct1")
        yield simulator


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as client:
        client.headers["Authorization"] = "Bearer test-token"
        yield client


def account_url(sim: Simulator, account: str = "acct1") -> str:
    return sim.arm_endpoint + sim.arm_account(account).resource_id


def jobs_url(sim: Simulator, transform: str = "encode-720p", account: str = "acct1") -> str:
    return f"{account_url(sim, account)}/transforms/{transform}/jobs"


def get(session: requests.Session, url: str, **query: str) -> requests.Response:
    params = {"api-version": VERSION} | {f"${k}": v for k, v in query.items()}
    return session.get(url, params=params)


def arm_error(response: requests.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    body = response.json()
    assert list(body) == ["error"]
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    for header in ARM_HEADERS:
        assert response.headers[header], header
    return body["error"]


def names(response: requests.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [job["name"] for job in response.json()["value"]]


def walk(session: requests.Session, first: requests.Response, limit: int = 10) -> list[dict]:
    """Follow @odata.nextLink verbatim, as the official SDK does; bounded."""
    pages = [first.json()]
    for _ in range(limit):
        link = pages[-1].get("@odata.nextLink")
        if link is None:
            return pages
        response = session.get(link)
        assert response.status_code == 200, response.text
        pages.append(response.json())
    raise AssertionError("too many pages")


# ------------------------------------------------------------------ paging


def test_1300_jobs_in_three_pages_with_self_contained_next_links(
    sim: Simulator, session: requests.Session
) -> None:
    ids = sim.generate_jobs("acct1", n=1300, start=T0 - 86400, end=T0, transform="encode-720p")
    query_filter = "properties/created ge 2021-06-01T00:00:00.0000000Z"
    first = get(session, jobs_url(sim), filter=query_filter, orderby="properties/created desc")
    assert first.status_code == 200
    pages = walk(session, first)
    assert [len(page["value"]) for page in pages] == [500, 500, 300]
    assert "@odata.nextLink" not in pages[-1]
    for page in pages[:-1]:
        link = page["@odata.nextLink"]
        assert link.startswith(jobs_url(sim) + "?")
        query = parse_qs(urlsplit(link).query)
        assert query["api-version"] == [VERSION]
        assert query["$filter"] == [query_filter]
        assert query["$orderby"] == ["properties/created desc"]
        assert len(query["$skiptoken"]) == 1
    served = [job["name"] for page in pages for job in page["value"]]
    assert len(served) == len(set(served)) == 1300
    assert set(served) == set(ids)
    created = [job["properties"]["created"] for page in pages for job in page["value"]]
    assert created == sorted(created, reverse=True)
    assert sim.request_count(account="acct1", kind="jobs", api="v3") == 3


def test_paging_is_stable_while_jobs_come_and_go(
    sim: Simulator, session: requests.Session, mclock: ManualClock
) -> None:
    before = sim.generate_jobs("acct1", n=1200, start=T0 - 7200, end=T0)
    first = get(session, jobs_url(sim))
    served = [job["name"] for job in first.json()["value"]]
    # Between pages: older jobs (before the cursor), newer ones, and jobs that only
    # come into existence as the clock moves on.
    for i in range(40):
        sim.add_job("acct1", SimJob(id=f"old-{i}", name="", created=T0 - 7300 + i))
        sim.add_job("acct1", SimJob(id=f"new-{i}", name="", created=T0 - 10 + i / 10))
        sim.add_job("acct1", SimJob(id=f"future-{i}", name="", created=T0 + 30 + i))
    mclock.advance(100)
    for page in walk(session, first)[1:]:
        served += [job["name"] for job in page["value"]]
    assert len(served) == len(set(served)), "a job was served twice"
    assert set(before) <= set(served), "a job that existed all along was lost"
    assert {f"new-{i}" for i in range(40)} | {f"future-{i}" for i in range(40)} <= set(served)
    assert not {f"old-{i}" for i in range(40)} & set(served)  # they sort before the cursor


def test_skiptoken_belongs_to_its_ordering(sim: Simulator, session: requests.Session) -> None:
    sim.generate_jobs("acct1", n=600, start=T0 - 3600, end=T0)
    link = get(session, jobs_url(sim), orderby="name").json()["@odata.nextLink"]
    token = parse_qs(urlsplit(link).query)["$skiptoken"][0]
    arm_error(get(session, jobs_url(sim), orderby="name desc", skiptoken=token), 400,
              "BadRequest")
    arm_error(get(session, jobs_url(sim), skiptoken="not-a-token"), 400, "BadRequest")
    assert len(get(session, jobs_url(sim), orderby="name", skiptoken=token).json()["value"]) \
        == 100


def test_tls_next_links_are_https(mclock: ManualClock, monkeypatch: pytest.MonkeyPatch) -> None:
    with Simulator(clock=mclock).start(tls=True) as simulator:
        assert simulator.url.startswith("https://127.0.0.1:")
        assert simulator.ca_cert_path is not None and Path(simulator.ca_cert_path).is_file()
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", simulator.ca_cert_path)
        simulator.add_v3_account("acct1")
        simulator.generate_jobs("acct1", n=501, start=T0 - 60, end=T0)
        with requests.Session() as client:
            client.headers["Authorization"] = "Bearer x"
            first = get(client, jobs_url(simulator))
            link = first.json()["@odata.nextLink"]
            assert link.startswith(simulator.url + "/subscriptions/")
            assert len(walk(client, first)[1]["value"]) == 1
        ca = simulator.ca_cert_path
    assert not Path(ca).exists()  # removed on stop


# ------------------------------------------------------------------ filters and ordering


@pytest.fixture
def examples(sim: Simulator) -> Simulator:
    """The jobs and transforms of the official 2022-07-01 REST examples."""
    sim.add_transform("acct1", "sampleEncode", created=DAY0)
    sim.add_transform("acct1", "sampleEncodeAndVideoIndex", created=DAY0 + 10)
    for name, created, state in (("job1", DAY0, JobState.Queued),
                                 ("job2", DAY0 + 10, JobState.Processing),
                                 ("job3", DAY0 + 20, JobState.Finished),
                                 ("job4", DAY0, JobState.Finished)):
        events = [] if state == JobState.Queued else [(created, state)]
        sim.add_job("acct1", SimJob(id=name, name="", created=created, events=events),
                    transform="sampleEncode")
    return sim


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"filter": "properties/lastmodified ge 2021-06-01T00:00:10.0000000Z and "
                    "properties/lastmodified le 2021-06-01T00:00:20.0000000Z",
          "orderby": "properties/lastmodified desc"}, ["job3", "job2"]),
        ({"filter": "properties/created ge 2021-06-01T00:00:10.0000000Z and "
                    "properties/created le 2021-06-01T00:00:20.0000000Z",
          "orderby": "properties/created"}, ["job2", "job3"]),
        ({"filter": "name eq 'job3' and properties/state eq Microsoft.Media.JobState'finished'"},
         ["job3"]),
        ({"filter": "name eq 'job1'"}, ["job1"]),
        ({"filter": "properties/state eq Microsoft.Media.JobState'Processing'"}, ["job2"]),
        ({"filter": "properties/state ne Microsoft.Media.JobState'processing'",
          "orderby": "name"}, ["job1", "job3", "job4"]),
        ({"filter": "(name eq 'job1' or name eq 'job2') and "
                    "properties/state eq Microsoft.Media.JobState'Queued'"}, ["job1"]),
        ({"filter": "name eq 'job1' or name eq 'job2' and name eq 'job3'"}, ["job1"]),
        ({"filter": "Properties/LastModified lt 2021-06-01T00:00:10Z and "
                    "NAME eq 'job4'"}, ["job4"]),
        ({"filter": "properties/created gt 2021-06-01T02:00:05+02:00"}, ["job2", "job3"]),
        ({"filter": "properties/state eq microsoft.media.jobstate'FINISHED'",
          "orderby": "name desc"}, ["job4", "job3"]),
        ({"orderby": "name desc"}, ["job4", "job3", "job2", "job1"]),
        ({"orderby": "properties/created desc, name desc"}, ["job3", "job2", "job4", "job1"]),
        ({}, ["job1", "job4", "job2", "job3"]),  # default: created, then name
    ],
)
def test_documented_job_queries(examples: Simulator, session: requests.Session,
                                query: dict[str, str], expected: list[str]) -> None:
    assert names(get(session, jobs_url(examples, "sampleEncode"), **query)) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"filter": "(name eq 'sampleEncode') or (name eq 'sampleEncodeAndVideoIndex')",
          "orderby": "name desc"}, ["sampleEncodeAndVideoIndex", "sampleEncode"]),
        ({"filter": "properties/created gt 2022-07-01T00:00:00.0000000Z"}, []),
        ({"filter": "properties/created gt 2021-06-01T00:00:00.0000000Z and "
                    "properties/created le 2021-06-01T00:00:10.0000000Z",
          "orderby": "properties/created"}, ["sampleEncodeAndVideoIndex"]),
        ({}, ["encode-720p", "sampleEncode", "sampleEncodeAndVideoIndex"]),
    ],
)
def test_documented_transform_queries(examples: Simulator, session: requests.Session,
                                      query: dict[str, str], expected: list[str]) -> None:
    assert names(get(session, account_url(examples) + "/transforms", **query)) == expected


@pytest.mark.parametrize(
    "query",
    [
        {"filter": "name ne 'job1'"},
        {"filter": "properties/created eq 2021-06-01T00:00:00Z"},
        {"filter": "properties/state gt Microsoft.Media.JobState'Queued'"},
        {"filter": "properties/state eq 'Processing'"},
        {"filter": "properties/state eq Microsoft.Media.JobState'Bogus'"},
        {"filter": "properties/state eq Microsoft.Media.Priority'High'"},
        {"filter": "properties/priority eq 'High'"},
        {"filter": "startswith(name,'job')"},
        {"filter": "not (name eq 'job1')"},
        {"filter": "properties/created gt datetime'2021-06-01T00:00:00'"},
        {"filter": "properties/created gt '2021-06-01T00:00:00Z'"},
        {"filter": "properties/created gt 2021-06-31T00:00:00Z"},
        {"filter": "name eq 'job1' AND name eq 'job2'"},
        {"filter": "name EQ 'job1'"},
        {"filter": "'job1' eq name"},
        {"filter": "name eq null"},
        {"filter": "true"},
        {"filter": "name eq"},
        {"filter": ""},
        {"orderby": "properties/state"},
        {"orderby": "name up"},
        {"orderby": "name, name desc"},
        {"orderby": "name DESC"},
        {"top": "5"},
        {"skip": "5"},
    ],
)
def test_unsupported_queries_are_400_bad_request(
    examples: Simulator, session: requests.Session, query: dict[str, str]
) -> None:
    error = arm_error(get(session, jobs_url(examples, "sampleEncode"), **query), 400,
                      "BadRequest")
    assert "$" in error["message"]


# ------------------------------------------------------------------ errors and checks


def test_unknown_resources_are_404_as_arm_says(sim: Simulator, session: requests.Session) -> None:
    sim.add_job("acct1", SimJob(id="job1", name="", created=T0 - 1))
    root = sim.arm_endpoint
    group = f"{root}/subscriptions/{SUB}/resourceGroups/media-rg"
    media = f"{group}/providers/Microsoft.Media/mediaServices"
    cases = [
        (f"{jobs_url(sim)}/missing", "NotFound"),
        (f"{jobs_url(sim, 'missing')}/job1", "NotFound"),
        (jobs_url(sim, "missing"), "NotFound"),
        (f"{account_url(sim)}/transforms/missing", "NotFound"),
        (f"{media}/nosuchaccount/transforms", "ParentResourceNotFound"),
        (f"{root}/subscriptions/{SUB}/resourceGroups/other-rg/providers/Microsoft.Media/"
         "mediaServices/acct1/transforms", "ResourceGroupNotFound"),
        (f"{root}/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/media-rg/"
         "providers/Microsoft.Media/mediaServices/acct1/transforms", "SubscriptionNotFound"),
        (f"{media}/acct1/assets", "NotFound"),
    ]
    for url, code in cases:
        arm_error(get(session, url), 404, code)
    assert get(session, f"{jobs_url(sim)}/job1").json()["name"] == "job1"


def test_fixed_segments_are_case_insensitive(sim: Simulator, session: requests.Session) -> None:
    sim.add_job("acct1", SimJob(id="job1", name="", created=T0 - 1))
    url = (f"{sim.arm_endpoint}/SUBSCRIPTIONS/{SUB}/RESOURCEGROUPS/Media-RG/PROVIDERS/"
           "microsoft.media/MEDIASERVICES/ACCT1/Transforms/encode-720p/JOBS/job1")
    job = get(session, url).json()
    assert job["id"].endswith("/providers/Microsoft.Media/mediaservices/acct1/transforms/"
                              "encode-720p/jobs/job1")
    assert sim.request_count(account="acct1", kind="job") == 1


def test_api_version_is_required_and_checked(sim: Simulator, session: requests.Session) -> None:
    url = account_url(sim) + "/transforms"
    arm_error(session.get(url), 400, "MissingApiVersionParameter")
    arm_error(session.get(url, params={"api-version": "latest"}), 400,
              "InvalidApiVersionParameter")
    error = arm_error(session.get(url, params={"api-version": "2099-01-01"}), 400,
                      "NoRegisteredProviderFound")
    assert "2022-07-01" in error["message"]
    for version in ("2022-07-01", "2021-11-01", "2021-06-01", "2020-05-01", "2018-07-01",
                    "2022-05-01-preview"):
        assert session.get(url, params={"api-version": version}).status_code == 200, version


def test_bearer_token_is_required(sim: Simulator, session: requests.Session,
                                  mclock: ManualClock) -> None:
    url = account_url(sim) + "/transforms"
    for authorization in (None, "Basic dXNlcjpwYXNz", "Bearer", "Bearer  "):
        response = session.get(url, params={"api-version": VERSION},
                               headers={"Authorization": authorization})
        arm_error(response, 401, "AuthenticationFailed")
        assert response.headers["WWW-Authenticate"].startswith("Bearer ")
    sim.require_issued_tokens = True
    arm_error(get(session, url), 401, "InvalidAuthenticationToken")
    wrong = sim.issue_token("https://rest.media.azure.net")
    arm_error(session.get(url, params={"api-version": VERSION},
                          headers={"Authorization": f"Bearer {wrong}"}),
              401, "InvalidAuthenticationTokenAudience")
    sim.token_lifetime = 60
    good = {"Authorization": f"Bearer {sim.issue_token('https://management.azure.com')}"}
    assert session.get(url, params={"api-version": VERSION}, headers=good).status_code == 200
    mclock.advance(60)
    arm_error(session.get(url, params={"api-version": VERSION}, headers=good), 401,
              "ExpiredAuthenticationToken")


def test_only_get_is_served(sim: Simulator, session: requests.Session) -> None:
    response = session.put(jobs_url(sim) + "/job9", params={"api-version": VERSION},
                           json={"properties": {}})
    arm_error(response, 405, "MethodNotAllowed")


def test_every_answer_carries_the_arm_headers(sim: Simulator, session: requests.Session) -> None:
    url = account_url(sim) + "/transforms"
    responses = [get(session, url), session.get(url), get(session, url + "/nope"),
                 session.get(url, params={"api-version": VERSION}, headers={"Authorization": None})]
    sim.set_down(True)
    responses.append(get(session, url))
    sim.set_down(False)
    assert [r.status_code for r in responses] == [200, 400, 404, 401, 500]
    for response in responses:
        for header in ARM_HEADERS:
            assert response.headers[header], header
        assert "DataServiceVersion" not in response.headers
    echoed = session.get(url, params={"api-version": VERSION},
                         headers={"x-ms-correlation-request-id": "corr-1"})
    assert echoed.headers["x-ms-correlation-request-id"] == "corr-1"


# ------------------------------------------------------------------ throttling and faults


def test_injected_throttling_is_429_on_v3_and_503_on_v2(
    sim: Simulator, session: requests.Session
) -> None:
    sim.add_v2_account("old")
    v2_headers = {"x-ms-version": "2.19", "Accept": "application/json"}
    sim.set_faults(throttle_rate=1.0, retry_after=7)
    throttled = get(session, account_url(sim) + "/transforms")
    arm_error(throttled, 429, "TooManyRequests")
    assert throttled.headers["Retry-After"] == "7"
    assert session.get(sim.v2_endpoint("old") + "Jobs", headers=v2_headers).status_code == 503
    sim.set_faults(throttle_rate=1.0)
    assert get(session, account_url(sim) + "/transforms").headers["Retry-After"] == "1"
    sim.set_faults(error_rate=1.0, error_status=503)
    arm_error(get(session, account_url(sim) + "/transforms"), 503, "ServiceUnavailable")
    sim.set_faults(malformed_rate=1.0)
    with pytest.raises(ValueError):
        get(session, account_url(sim) + "/transforms").json()
    sim.clear_faults()
    assert get(session, account_url(sim) + "/transforms").status_code == 200


def test_token_bucket_read_limit(sim: Simulator, session: requests.Session,
                                 mclock: ManualClock) -> None:
    url = account_url(sim) + "/transforms/encode-720p"
    assert get(session, url).headers["x-ms-ratelimit-remaining-subscription-reads"] == "250"
    sim.set_arm_rate_limit()  # 250, refilled at 25 per second of the simulator clock
    remaining = [int(get(session, url).headers["x-ms-ratelimit-remaining-subscription-reads"])
                 for _ in range(250)]
    assert remaining == list(range(249, -1, -1))
    throttled = get(session, url)
    error = arm_error(throttled, 429, "SubscriptionRequestsThrottled")
    assert SUB in error["message"]
    assert throttled.headers["Retry-After"] == "1"
    assert throttled.headers["x-ms-ratelimit-remaining-subscription-reads"] == "0"
    mclock.advance(1)
    assert [get(session, url).status_code for _ in range(26)] == [200] * 25 + [429]
    sim.set_arm_rate_limit(None)
    assert get(session, url).status_code == 200


# ------------------------------------------------------------------ payloads


def test_job_json_shape(sim: Simulator, session: requests.Session, mclock: ManualClock) -> None:
    sim.add_job("acct1", SimJob(
        id="failed-job", name="Encoding trailer", created=T0 - 100, priority=-1, outputs=2,
        error_code="ContentMalformed", expected_processing=100,
        events=[(T0 - 90, JobState.Scheduled), (T0 - 80, JobState.Processing),
                (T0 - 55.5, JobState.Error)]))
    sim.add_job("acct1", SimJob(id="queued-job", name="", created=T0 - 10, priority=3))
    sim.add_job("acct1", SimJob(id="running-job", name="x", created=T0 - 100,
                                expected_processing=200, events=[(T0 - 100, JobState.Processing)]))
    job = get(session, jobs_url(sim) + "/failed-job").json()
    assert job["name"] == "failed-job"
    assert job["id"] == (f"/subscriptions/{SUB}/resourceGroups/media-rg/providers/"
                         "Microsoft.Media/mediaservices/acct1/transforms/encode-720p/jobs/"
                         "failed-job")
    assert job["type"] == "Microsoft.Media/mediaservices/transforms/jobs"
    properties = job["properties"]
    assert properties["state"] == "Error"
    assert properties["priority"] == "Low"
    assert properties["description"] == "Encoding trailer"
    assert properties["input"]["@odata.type"] == "#Microsoft.Media.JobInputAsset"
    assert properties["created"] == "2021-06-01T23:58:20Z"
    assert properties["startTime"] == "2021-06-01T23:58:40Z"
    assert properties["endTime"] == properties["lastModified"] == "2021-06-01T23:59:04.5Z"
    assert len(properties["outputs"]) == 2
    for output in properties["outputs"]:
        assert output["@odata.type"] == "#Microsoft.Media.JobOutputAsset"
        assert (output["state"], output["progress"]) == ("Error", 24)
        assert output["label"] and output["assetName"]
        assert output["error"]["code"] == "ContentMalformed"
        assert output["error"]["category"] == "Content"
        assert output["error"]["retry"] == "DoNotRetry"
        assert output["error"]["message"]
        assert output["error"]["details"][0]["code"] == "ContentMalformed"
    assert job["systemData"]["createdAt"] == properties["created"]
    for value in (properties["created"], properties["lastModified"], properties["startTime"],
                  job["systemData"]["lastModifiedAt"]):
        assert TIME.fullmatch(value), value

    queued = get(session, jobs_url(sim) + "/queued-job").json()["properties"]
    assert "startTime" not in queued and "endTime" not in queued
    assert "description" not in queued
    assert queued["priority"] == "High"
    [output] = queued["outputs"]
    assert (output["state"], output["progress"]) == ("Queued", 0)
    assert "error" not in output and "startTime" not in output

    running = get(session, jobs_url(sim) + "/running-job").json()["properties"]
    assert (running["state"], running["outputs"][0]["progress"]) == ("Processing", 50)
    assert running["priority"] == "Normal" and "endTime" not in running


def test_transform_json_shape(sim: Simulator, session: requests.Session) -> None:
    sim.add_transform("acct1", "thumbs", description="Thumbnails", preset="H264SingleBitrate720p",
                      created=T0 - 5)
    transform = get(session, account_url(sim) + "/transforms/thumbs").json()
    assert transform == {
        "name": "thumbs",
        "id": f"/subscriptions/{SUB}/resourceGroups/media-rg/providers/Microsoft.Media/"
              "mediaservices/acct1/transforms/thumbs",
        "type": "Microsoft.Media/mediaservices/transforms",
        "properties": {
            "created": "2021-06-01T23:59:55Z",
            "description": "Thumbnails",
            "lastModified": "2021-06-01T23:59:55Z",
            "outputs": [{"onError": "StopProcessingJob", "relativePriority": "Normal",
                         "preset": {"@odata.type": "#Microsoft.Media.BuiltInStandardEncoderPreset",
                                    "presetName": "H264SingleBitrate720p"}}],
        },
        "systemData": transform["systemData"],
    }
    listed = get(session, account_url(sim) + "/transforms").json()
    assert [t["name"] for t in listed["value"]] == ["encode-720p", "thumbs"]
    assert "@odata.nextLink" not in listed


# ------------------------------------------------------------------ the Python interface


def test_generated_v3_jobs_spread_over_transforms(mclock: ManualClock) -> None:
    def run(seed: int) -> dict[str, list[str]]:
        with Simulator(clock=mclock, seed=seed) as simulator:
            simulator.add_v3_account("acct1", transforms=("a-1", "b-2", "c-3"))
            ids = simulator.generate_jobs("acct1", n=300, start=T0 - 3600, end=T0)
            assert all(re.fullmatch(r"job-[0-9a-f]{16}", i) for i in ids)
            placed: dict[str, list[str]] = {}
            for job_id in ids:
                owners = [t for t in simulator.transforms("acct1")
                          if simulator.get_job("acct1", job_id, t) is not None]
                assert len(owners) == 1
                placed.setdefault(owners[0], []).append(job_id)
            return placed

    first = run(3)
    assert first == run(3)
    assert sorted(first) == ["a-1", "b-2", "c-3"] and all(len(v) > 50 for v in first.values())
    assert first != run(4)


def test_scripting_and_removal_on_v3(sim: Simulator, session: requests.Session,
                                     mclock: ManualClock) -> None:
    sim.add_transform("acct1", "other")
    sim.add_job("acct1", SimJob(id="j", name="", created=T0 - 10,
                                events=[(T0 - 5, JobState.Processing)]), transform="other")
    sim.add_job("acct1", SimJob(id="j", name="", created=T0 - 10))  # same name, other transform
    with pytest.raises(ValueError, match="several transforms"):
        sim.script_state("acct1", "j", JobState.Error, at=T0 + 5)
    sim.script_state("acct1", "j", JobState.Error, at=T0 + 5, transform="other")
    assert sim.job_state("acct1", "j", "other") == JobState.Processing
    mclock.advance(10)
    assert sim.job_state("acct1", "j", "other") == JobState.Error
    assert get(session, jobs_url(sim, "other") + "/j").json()["properties"]["state"] == "Error"
    sim.remove_job("acct1", "j", transform="encode-720p")
    arm_error(get(session, jobs_url(sim) + "/j"), 404, "NotFound")
    sim.remove_job("acct1", "j")  # now unambiguous
    with pytest.raises(KeyError):
        sim.remove_job("acct1", "j")
    with pytest.raises(ValueError, match="invalid job name"):
        sim.add_job("acct1", SimJob(id="a/b", name="", created=T0))
    with pytest.raises(ValueError, match="already exists"):
        sim.add_v2_account("acct1")
    with pytest.raises(ValueError, match="lower-case"):
        sim.add_v3_account("Bad", account_name="Bad-Name")


def test_lively_v3_account(sim: Simulator, session: requests.Session,
                           mclock: ManualClock) -> None:
    sim.add_transform("acct1", "second")
    feed = sim.start_lively("acct1", rate_per_minute=60)
    mclock.advance(600)
    feed.tick()
    counts = {t: len(get(session, jobs_url(sim, t)).json()["value"]) for t in ("encode-720p",
                                                                             "second")}
    assert 450 <= sum(counts.values()) <= 750 and min(counts.values()) > 100
    states = {job["properties"]["state"]
              for job in get(session, jobs_url(sim, "second")).json()["value"]}
    assert {"Finished", "Error", "Canceled"} <= states
    sim.stop()


def test_request_log_tells_apis_apart(sim: Simulator, session: requests.Session) -> None:
    sim.add_v2_account("old")
    get(session, account_url(sim) + "/transforms")
    get(session, jobs_url(sim))
    get(session, jobs_url(sim) + "/nope")
    session.get(sim.v2_endpoint("old") + "Jobs", headers={"x-ms-version": "2.19"})
    assert sim.request_count(api="v3") == 3
    assert sim.request_count(kind="jobs") == 2  # one v3 list, one v2 list
    assert sim.request_count(kind="jobs", api="v3") == 1
    assert sim.request_count(account="acct1") == 3
    assert [r.api for r in sim.requests] == ["v3", "v3", "v3", "v2"]
    assert [r.kind for r in sim.requests] == ["transforms", "jobs", "job", "jobs"]


# ------------------------------------------------------------------ command line


def test_cli_v3_and_both(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    args = parser.parse_args(["--listen", "127.0.0.1:0", "--api", "both", "--tls",
                              "--transforms", "3", "--jobs", "30", "--client-id", "c1",
                              "--client-secret", "hush", "--tenant", "t1", "--lively"])
    assert cli.run(args, wait=lambda: None) == 0
    out = capsys.readouterr().out
    assert out.startswith("AMS v2+v3 simulator on https://127.0.0.1:")
    assert "  account demo: https://" in out
    assert f"v3 account demo-v3: subscription {SUB}, resource group media-rg, account demo, " \
           "transforms encode-720p, encode-1080p, thumbnails" in out
    assert "ARM endpoint: https://127.0.0.1:" in out
    assert "AAD authority: https://127.0.0.1:" in out
    assert "CA certificate: /" in out
    assert "tenant t1, client id c1" in out and "hush" not in out

    sim = cli.build(parser.parse_args(["--api", "v3", "--transforms", "7"]))
    assert sim.transforms("demo")[-2:] == ["transform-6", "transform-7"]
    assert sim.arm_account("demo").account_name == "demo"
    assert cli.run(parser.parse_args(["--api", "v3", "--accounts", "Not_Valid"]),
                   wait=lambda: None) == 2
    assert cli.run(parser.parse_args(["--client-id", "x"]), wait=lambda: None) == 2
    with pytest.raises(SystemExit):
        parser.parse_args(["--transforms", "101"])
