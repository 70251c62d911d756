"""The AMS v2 simulator over real HTTP: formats, checks, paging, lifecycles, faults."""

from __future__ import annotations

import argparse
import http.client
import json
from collections.abc import Iterator
from urllib.parse import quote, urlsplit

import pytest
import requests

from exporter.jobs.states import JobState
from exporter.simulator import ManualClock, SimJob, Simulator, cli

T0 = 1700000000.0
SEED_ID = "nb:jid:UUID:f3c43f94-327f-2347-90bb-3bf79f8559f1"
SEED_NAME = "Encoding BigBuckBunny into to H264 Adaptive Bitrate MP4 Set 720p"
SEED_BODY = (
    b'{"odata.metadata":"https://media.windows.net/api/$metadata#Jobs","value":[{"Id":'
    b'"nb:jid:UUID:f3c43f94-327f-2347-90bb-3bf79f8559f1","Name":"Encoding BigBuckBunny into to'
    b' H264 Adaptive Bitrate MP4 Set 720p","Created":"2015-02-11T01:46:08.897","LastModified":'
    b'"2015-02-11T01:46:08.897","EndTime":null,"Priority":0,"RunningDuration":0.0,"StartTime":'
    b'"2015-02-11T01:46:16.58","State":2,"TemplateId":null,"JobNotificationSubscriptions":[]}]}'
)
SEED_HEADERS = {
    "DataServiceVersion": "1.0;NetFx",
    "MaxDataServiceVersion": "3.0;NetFx",
    "Accept": "application/json",
    "Accept-Charset": "UTF-8",
    "Authorization": "Bearer eyJ0eXAiOiJKV1QiLCJhbGciOi.test.token",
    "x-ms-version": "2.17",
}
HEADERS = {
    "Accept": "application/json",
    "Authorization": "Bearer test-token",
    "x-ms-version": "2.19",
    "DataServiceVersion": "3.0",
    "MaxDataServiceVersion": "3.0",
}


@pytest.fixture
def mclock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def sim(mclock: ManualClock) -> Iterator[Simulator]:
    with Simulator(clock=mclock, seed=7, require_auth=True).start() as simulator:
        simulator.add_v2_account("acct1")
        yield simulator


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as client:
        client.headers.update(HEADERS)
        yield client


def jobs_url(sim: Simulator, account: str = "acct1") -> str:
    return sim.v2_endpoint(account) + "Jobs"


def odata_message(response: requests.Response) -> str:
    error = response.json()["odata.error"]
    assert error["message"]["lang"] == "en-US"
    assert error["code"]
    return error["message"]["value"]


def processing_job(job_id: str, created: float, *, start: float, end: float,
                   final: JobState = JobState.Finished) -> SimJob:
    return SimJob(id=job_id, name=job_id, created=created,
                  events=[(created + 1, JobState.Scheduled), (start, JobState.Processing),
                          (end, final)])


# ------------------------------------------------------------------ the seed document


@pytest.fixture
def seed_sim() -> Iterator[Simulator]:
    with Simulator(clock=ManualClock(1423619200.0), seed=7).start() as simulator:
        simulator.add_v2_account("acct", metadata_base="https://media.windows.net/api/")
        simulator.add_job("acct", SimJob(
            id=SEED_ID, name=SEED_NAME, created=1423619168.897, last_modified=1423619168.897,
            events=[(1423619176.58, JobState.Processing)], priority=0, template_id=None,
        ))
        yield simulator


def test_seed_exchange_is_reproduced_byte_for_byte(seed_sim: Simulator) -> None:
    target = ("/v2/acct/api/Jobs()?$filter=Id%20eq%20'nb%3Ajid%3AUUID%3A"
              "f3c43f94-327f-2347-90bb-3bf79f8559f1'&$top=1")
    response = requests.get(seed_sim.url + target, headers=SEED_HEADERS)
    assert response.status_code == 200
    assert response.content == SEED_BODY
    assert response.headers["Content-Type"] == (
        "application/json;odata=minimalmetadata;streaming=true;charset=utf-8")
    assert response.headers["DataServiceVersion"] == "3.0;"
    assert response.headers["request-id"] == response.headers["x-ms-request-id"]
    [logged] = seed_sim.requests
    assert logged.path == target
    assert logged.decoded_query == {"$filter": f"Id eq '{SEED_ID}'", "$top": "1"}


def test_verbose_json_of_the_seed_job(seed_sim: Simulator) -> None:
    headers = SEED_HEADERS | {"Accept": "application/json;odata=verbose"}
    url = seed_sim.v2_endpoint("acct") + f"Jobs('{quote(SEED_ID, safe='')}')"
    response = requests.get(url, headers=headers)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json;odata=verbose;charset=utf-8"
    assert b'"Created":"\\/Date(1423619168897)\\/"' in response.content
    assert b'"StartTime":"\\/Date(1423619176580)\\/"' in response.content
    job = response.json()["d"]
    uri = "https://media.windows.net/api/Jobs('nb%3Ajid%3AUUID%3Af3c43f94-327f-2347-90bb-3bf79f8559f1')"
    assert job["__metadata"] == {
        "id": uri, "uri": uri, "type": "Microsoft.Cloud.Media.Vod.Rest.Data.Models.Job"}
    assert job["Tasks"] == {"__deferred": {"uri": uri + "/Tasks"}}
    assert set(job) >= {"InputMediaAssets", "OutputMediaAssets"}
    assert job["JobNotificationSubscriptions"]["results"] == []
    assert job["Created"] == "/Date(1423619168897)/"
    assert (job["Id"], job["State"], job["EndTime"], job["RunningDuration"]) == (
        SEED_ID, 2, None, 0.0)
    collection = requests.get(seed_sim.v2_endpoint("acct") + "Jobs", headers=headers).json()
    assert [j["Id"] for j in collection["d"]["results"]] == [SEED_ID]


def test_single_entity_in_json_light(seed_sim: Simulator) -> None:
    url = seed_sim.v2_endpoint("acct") + f"Jobs('{SEED_ID}')"
    body = requests.get(url, headers=SEED_HEADERS).json()
    assert body["odata.metadata"] == "https://media.windows.net/api/$metadata#Jobs/@Element"
    assert body["Id"] == SEED_ID


# ------------------------------------------------------------------ header checks


def test_x_ms_version_is_required(sim: Simulator, session: requests.Session) -> None:
    for version in (None, "", "2.16", "3.0"):
        headers = {"x-ms-version": version}
        response = session.get(jobs_url(sim), headers=headers)
        assert response.status_code == 400, version
        assert "x-ms-version" in odata_message(response)
    for version in ("2.17", "2.18", "2.19"):
        assert session.get(jobs_url(sim), headers={"x-ms-version": version}).status_code == 200


def test_bearer_token_is_required(sim: Simulator, session: requests.Session) -> None:
    for authorization in (None, "", "Bearer", "Bearer   ", "Basic dXNlcjpwYXNz", "token"):
        response = session.get(jobs_url(sim), headers={"Authorization": authorization})
        assert response.status_code == 401, authorization
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert odata_message(response)


def test_version_is_checked_before_auth(sim: Simulator) -> None:
    assert requests.get(jobs_url(sim)).status_code == 400


def test_token_validator_gets_token_and_audience(sim: Simulator, session: requests.Session) -> None:
    seen: list[tuple[str, str]] = []

    def validator(token: str, audience: str) -> bool:
        seen.append((token, audience))
        return token == "good"

    sim.token_validator = validator
    assert session.get(jobs_url(sim), headers={"Authorization": "Bearer good"}).status_code == 200
    rejected = session.get(jobs_url(sim), headers={"Authorization": "Bearer bad"})
    assert rejected.status_code == 401
    assert 'error="invalid_token"' in rejected.headers["WWW-Authenticate"]
    assert seen == [("good", "https://rest.media.azure.net"), ("bad", "https://rest.media.azure.net")]


def test_auth_can_be_switched_off(mclock: ManualClock) -> None:
    with Simulator(clock=mclock, require_auth=False).start() as simulator:
        simulator.add_v2_account("open")
        response = requests.get(jobs_url(simulator, "open"), headers={"x-ms-version": "2.19"})
        assert response.status_code == 200


@pytest.mark.parametrize(
    ("accept", "content_type"),
    [
        (None, "application/json;odata=minimalmetadata;streaming=true;charset=utf-8"),
        ("*/*", "application/json;odata=minimalmetadata;streaming=true;charset=utf-8"),
        ("application/json;odata=minimalmetadata", "application/json;odata=minimalmetadata;"
         "streaming=true;charset=utf-8"),
        ("application/atom+xml, application/json;odata=verbose;q=0.5",
         "application/json;odata=verbose;charset=utf-8"),
    ],
)
def test_accept_negotiation(sim: Simulator, session: requests.Session, accept: str | None,
                            content_type: str) -> None:
    response = session.get(jobs_url(sim), headers={"Accept": accept})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == content_type


def test_atom_only_accept_is_refused(sim: Simulator, session: requests.Session) -> None:
    response = session.get(jobs_url(sim), headers={"Accept": "application/atom+xml"})
    assert response.status_code == 415
    assert odata_message(response)


def test_client_request_id_is_echoed(sim: Simulator, session: requests.Session) -> None:
    response = session.get(jobs_url(sim), headers={"client-request-id": "abc-123"})
    assert response.headers["x-ms-client-request-id"] == "abc-123"
    assert len(response.headers["request-id"]) == 36


def test_unknown_routes_and_methods(sim: Simulator, session: requests.Session) -> None:
    base = sim.v2_endpoint("acct1")
    for url in (sim.v2_endpoint("nope") + "Jobs", base + "Assets", base + "jobs",
                base + "Jobs('nb:jid:UUID:missing')", base + "Jobs('x')/Outputs",
                base + "Jobs(nb:jid:UUID:unquoted)", sim.url + "/"):
        response = session.get(url)
        assert response.status_code == 404, url
        assert odata_message(response)
    assert session.post(base + "Jobs", data=b"{}").status_code == 405


def test_metadata_document(sim: Simulator, session: requests.Session) -> None:
    response = session.get(sim.v2_endpoint("acct1") + "$metadata")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/xml")
    assert b'EntitySet Name="Jobs"' in response.content


def test_keep_alive(sim: Simulator) -> None:
    netloc = urlsplit(sim.url).netloc
    connection = http.client.HTTPConnection(netloc, timeout=5)
    try:
        sockets = []
        for _ in range(3):
            connection.request("GET", "/v2/acct1/api/Jobs", headers=HEADERS)
            response = connection.getresponse()
            response.read()
            assert response.status == 200
            assert not response.will_close
            sockets.append(connection.sock)
        assert sockets[0] is sockets[1] is sockets[2]
    finally:
        connection.close()


# ------------------------------------------------------------------ query options


@pytest.mark.parametrize(
    "query",
    ["$expand=Tasks", "$orderby=Created", "$inlinecount=allpages", "$format=json",
     "$top=abc", "$top=-1", "$top=", "$skip=1.5", "$top=1&$top=2", "$select=Nope",
     "$filter=State%20eq", "$skiptoken=x"],
)
def test_refused_query_options(sim: Simulator, session: requests.Session, query: str) -> None:
    response = session.get(jobs_url(sim) + "?" + query)
    assert response.status_code == 400
    assert odata_message(response)


def test_custom_query_options_are_ignored(sim: Simulator, session: requests.Session) -> None:
    assert session.get(jobs_url(sim) + "?foo=bar").status_code == 200


def test_paging_returns_every_job_once(sim: Simulator, session: requests.Session) -> None:
    ids = sim.generate_jobs("acct1", n=2500, start=T0 - 48 * 3600, end=T0)
    assert len(set(ids)) == 2500
    first = session.get(jobs_url(sim)).json()["value"]
    assert len(first) == 1000
    assert len(session.get(jobs_url(sim), params={"$top": "5000"}).json()["value"]) == 1000
    seen: list[str] = []
    for page in range(10):  # bounded: 3 pages expected
        batch = session.get(jobs_url(sim), params={"$skip": str(page * 1000), "$top": "1000"})
        values = batch.json()["value"]
        seen += [job["Id"] for job in values]
        if len(values) < 1000:
            break
    assert sorted(seen) == sorted(ids)
    assert seen[:1000] == [job["Id"] for job in first]
    assert sim.request_count(account="acct1", kind="jobs") == 5


def test_order_is_created_then_insertion(sim: Simulator, session: requests.Session) -> None:
    for job_id, created in (("b", T0 - 5), ("a", T0 - 10), ("c", T0 - 5), ("d", T0 - 20)):
        sim.add_job("acct1", SimJob(id=job_id, name=job_id, created=created))
    values = session.get(jobs_url(sim)).json()["value"]
    assert [v["Id"] for v in values] == ["d", "a", "b", "c"]
    skipped = session.get(jobs_url(sim), params={"$skip": "1", "$top": "2"}).json()["value"]
    assert [v["Id"] for v in skipped] == ["a", "b"]


def test_select(sim: Simulator, session: requests.Session) -> None:
    sim.add_job("acct1", SimJob(id="j1", name="one", created=T0 - 10))
    body = session.get(jobs_url(sim), params={"$select": "State, Id"}).json()
    assert list(body["value"][0]) == ["Id", "State"]
    assert body["odata.metadata"].endswith("$metadata#Jobs&$select=Id,State")
    everything = session.get(jobs_url(sim), params={"$select": "*"}).json()["value"][0]
    assert "JobNotificationSubscriptions" in everything
    verbose = session.get(jobs_url(sim), params={"$select": "Name"},
                       headers={"Accept": "application/json;odata=verbose"}).json()
    assert verbose["d"]["results"][0]["Name"] == "one"
    assert "State" not in verbose["d"]["results"][0]


def test_filter_with_doubled_quotes(sim: Simulator, session: requests.Session) -> None:
    sim.add_job("acct1", SimJob(id="nb:jid:it's", name="quote", created=T0 - 10))
    sim.add_job("acct1", SimJob(id="nb:jid:its", name="plain", created=T0 - 10))
    found = session.get(jobs_url(sim), params={"$filter": "Id eq 'nb:jid:it''s'"}).json()["value"]
    assert [job["Name"] for job in found] == ["quote"]
    assert sim.requests[-1].decoded_query["$filter"] == "Id eq 'nb:jid:it''s'"
    single = session.get(sim.v2_endpoint("acct1") + "Jobs('nb%3Ajid%3Ait''s')")
    assert single.json()["Name"] == "quote"


def test_filter_by_dates_states_and_names(sim: Simulator, session: requests.Session) -> None:
    sim.add_job("acct1", SimJob(id="old", name="Encoding old", created=T0 - 7200,
                                events=[(T0 - 7100, JobState.Finished)]))
    sim.add_job("acct1", SimJob(id="new", name="Encoding new", created=T0 - 60,
                                events=[(T0 - 30, JobState.Processing)]))
    sim.add_job("acct1", SimJob(id="other", name="Thumbnails", created=T0 - 30))

    def ids(expression: str) -> list[str]:
        response = session.get(jobs_url(sim), params={"$filter": expression})
        assert response.status_code == 200, response.text
        return [job["Id"] for job in response.json()["value"]]

    # 2023-11-14T22:13:20Z is T0
    assert ids("Created ge datetime'2023-11-14T21:13:20'") == ["new", "other"]
    assert ids("LastModified lt datetime'2023-11-14T22:00:00Z'") == ["old"]
    assert ids("State eq 2 or State eq 0 and startswith(Name,'Encoding')") == ["new"]
    assert ids("(State eq 2 or State eq 0) and startswith(Name,'Encoding')") == ["new"]
    assert ids("not (State eq 3) and not startswith(Name,'Encoding')") == ["other"]
    assert ids("EndTime ne null") == ["old"]
    assert ids("substringof('new',Name) or Id eq 'old'") == ["old", "new"]


@pytest.mark.parametrize(
    "expression",
    ["State eq", "Id eq 'open", "Bogus eq 1", "State eq 'x'", "((State eq 1)",
     "Created gt '2015-01-01'", "\u0000", "not", ")(", "'" * 7],
)
def test_bad_filters_are_400_with_a_reason(sim: Simulator, session: requests.Session,
                                           expression: str) -> None:
    response = session.get(jobs_url(sim), params={"$filter": expression})
    assert response.status_code == 400
    assert odata_message(response).startswith("Invalid $filter")


# ------------------------------------------------------------------ legacy endpoint


def test_legacy_endpoint_redirects_to_the_account(
    sim: Simulator, session: requests.Session
) -> None:
    sim.add_v2_account("acct2")
    query = "$filter=Id%20eq%20'x'&$top=1"
    response = session.get(sim.legacy_endpoint + "Jobs()?" + query, allow_redirects=False)
    assert response.status_code == 301
    assert response.headers["Location"] == sim.v2_endpoint("acct1") + "Jobs()?" + query
    sim.legacy_target = "acct2"
    root = session.get(sim.legacy_endpoint, allow_redirects=False)
    assert root.headers["Location"] == sim.v2_endpoint("acct2")
    assert len(root.content) < 100
    assert sim.request_count(kind="legacy") == 2
    assert session.get(sim.legacy_endpoint, headers={"Authorization": None}).status_code == 401


# ------------------------------------------------------------------ lifecycles


def test_jobs_appear_when_created_and_move_through_states(
    sim: Simulator, session: requests.Session, mclock: ManualClock
) -> None:
    sim.add_job("acct1", processing_job("j", T0 + 10, start=T0 + 20, end=T0 + 120))
    assert session.get(jobs_url(sim)).json()["value"] == []
    assert session.get(sim.v2_endpoint("acct1") + "Jobs('j')").status_code == 404
    seen = {}
    for t in (10, 11, 20, 119, 120, 500):
        mclock.set(T0 + t)
        [job] = session.get(jobs_url(sim)).json()["value"]
        seen[t] = (job["State"], job["LastModified"], job["EndTime"], job["RunningDuration"])
    assert seen[10] == (0, "2023-11-14T22:13:30", None, 0.0)
    assert seen[11][0] == 1
    assert seen[20] == (2, "2023-11-14T22:13:40", None, 0.0)
    assert seen[119][0] == 2
    assert seen[120] == (3, "2023-11-14T22:15:20", "2023-11-14T22:15:20", 100000.0)
    assert seen[500] == seen[120]


def test_task_progress_is_linear_during_processing(
    sim: Simulator, session: requests.Session, mclock: ManualClock
) -> None:
    sim.add_job("acct1", processing_job("j", T0, start=T0 + 100, end=T0 + 300))
    tasks_url = sim.v2_endpoint("acct1") + "Jobs('j')/Tasks"
    progress = {}
    for t in (50, 100, 150, 250, 300):
        mclock.set(T0 + t)
        [task] = session.get(tasks_url).json()["value"]
        progress[t] = (task["State"], task["Progress"])
    assert progress == {50: (1, 0.0), 100: (2, 0.0), 150: (2, 25.0), 250: (2, 75.0),
                        300: (3, 100.0)}
    assert task["Id"].startswith("nb:tid:UUID:")
    assert task["ErrorDetails"] == [] and task["HistoricalEvents"] == []
    assert task["RunningDuration"] == 200000.0
    assert session.get(sim.v2_endpoint("acct1") + "Jobs('missing')/Tasks").status_code == 404


def test_scripted_failure_at_time_t(
    sim: Simulator, session: requests.Session, mclock: ManualClock
) -> None:
    sim.add_job("acct1", processing_job("j", T0, start=T0 + 100, end=T0 + 300))
    assert sim.script_state("acct1", "j", JobState.Error, at=T0 + 150) is None
    url = sim.v2_endpoint("acct1") + "Jobs('j')"
    mclock.set(T0 + 149)
    assert session.get(url).json()["State"] == 2
    mclock.set(T0 + 1000)
    job = session.get(url).json()
    assert (job["State"], job["EndTime"], job["RunningDuration"]) == (
        4, "2023-11-14T22:15:50", 50000.0)
    [task] = session.get(url + "/Tasks").json()["value"]
    assert task["Progress"] == 25.0  # frozen where it failed
    assert task["ErrorDetails"] == [{"Code": "ErrorProcessingTask", "Message": task[
        "ErrorDetails"][0]["Message"]}]


def test_removed_jobs_are_gone(sim: Simulator, session: requests.Session) -> None:
    sim.add_job("acct1", SimJob(id="j", name="j", created=T0 - 1))
    sim.remove_job("acct1", "j")
    assert session.get(jobs_url(sim)).json()["value"] == []
    with pytest.raises(KeyError):
        sim.remove_job("acct1", "j")
    sim.add_job("acct1", SimJob(id="k", name="k", created=T0))
    with pytest.raises(ValueError, match="duplicate"):
        sim.add_job("acct1", SimJob(id="k", name="k", created=T0))


def test_generated_jobs_are_deterministic_and_varied(mclock: ManualClock) -> None:
    def listing(seed: int) -> list[dict]:
        with Simulator(clock=mclock, seed=seed).start() as simulator:
            simulator.add_v2_account("acct1")
            simulator.generate_jobs("acct1", n=400, start=T0 - 86400, end=T0)
            return requests.get(jobs_url(simulator), headers=HEADERS).json()["value"]

    first, again, other = listing(3), listing(3), listing(4)
    assert first == again
    assert [j["Id"] for j in first] != [j["Id"] for j in other]
    states = {job["State"] for job in first}
    assert {3, 4, 5} <= states
    assert any(not job["Name"].isascii() for job in first)
    assert any("'" in job["Name"] for job in first)
    assert all(job["Id"].startswith("nb:jid:UUID:") for job in first)
    assert all("2023-11-13T22:13:20" <= job["Created"] < "2023-11-14T22:13:20" for job in first)


def test_lively_mode_keeps_creating_jobs(
    sim: Simulator, session: requests.Session, mclock: ManualClock
) -> None:
    feed = sim.start_lively("acct1", rate_per_minute=60)
    mclock.advance(600)
    feed.tick()
    values = session.get(jobs_url(sim)).json()["value"]
    assert 450 <= len(values) <= 750
    states = {job["State"] for job in values}
    assert {3, 4, 5} <= states  # finished, failed and canceled within ten minutes
    assert states & {0, 1, 2, 6}  # and some still under way
    sim.stop()


# ------------------------------------------------------------------ faults and counting


def test_error_and_throttle_faults(sim: Simulator, session: requests.Session) -> None:
    sim.set_faults(error_rate=1.0)
    response = session.get(jobs_url(sim))
    assert response.status_code == 500 and odata_message(response)
    sim.set_faults(error_rate=1.0, error_status=502)
    assert session.get(jobs_url(sim)).status_code == 502
    sim.set_faults(throttle_rate=1.0, retry_after=7)
    throttled = session.get(jobs_url(sim))
    assert throttled.status_code == 503
    assert throttled.headers["Retry-After"] == "7"
    assert "busy" in odata_message(throttled)
    sim.set_faults(throttle_rate=1.0)
    assert "Retry-After" not in session.get(jobs_url(sim)).headers
    sim.set_faults()
    assert session.get(jobs_url(sim)).status_code == 200


def test_fault_rates_are_reproducible(mclock: ManualClock) -> None:
    def statuses() -> list[int]:
        with Simulator(clock=mclock, seed=11).start() as simulator:
            simulator.add_v2_account("acct1")
            simulator.set_faults(error_rate=0.3)
            with requests.Session() as session:
                return [session.get(jobs_url(simulator), headers=HEADERS).status_code
                        for _ in range(40)]

    first = statuses()
    assert first == statuses()
    assert 3 <= first.count(500) <= 25


def test_per_account_faults_override_global(sim: Simulator, session: requests.Session) -> None:
    sim.add_v2_account("acct2")
    sim.set_faults(error_rate=1.0)
    sim.set_faults("acct2")
    assert session.get(jobs_url(sim, "acct1")).status_code == 500
    assert session.get(jobs_url(sim, "acct2")).status_code == 200
    sim.clear_faults()
    assert session.get(jobs_url(sim, "acct1")).status_code == 200


def test_malformed_bodies(sim: Simulator, session: requests.Session) -> None:
    sim.add_job("acct1", SimJob(id="j", name="j", created=T0 - 1))
    sim.set_faults(malformed_rate=1.0)
    response = session.get(jobs_url(sim))
    assert response.status_code == 200
    with pytest.raises(ValueError):
        json.loads(response.content)


def test_connection_resets(sim: Simulator, session: requests.Session) -> None:
    sim.set_faults(reset_rate=1.0)
    with pytest.raises(requests.ConnectionError):
        session.get(jobs_url(sim))
    sim.set_faults()
    assert session.get(jobs_url(sim)).status_code == 200
    assert [r.status for r in sim.requests] == [0, 200]


def test_latency(sim: Simulator, session: requests.Session) -> None:
    sim.set_faults(latency=0.2)
    assert session.get(jobs_url(sim)).elapsed.total_seconds() >= 0.2


def test_down_and_refusing(sim: Simulator, session: requests.Session) -> None:
    sim.set_down(True)
    down = session.get(jobs_url(sim))
    assert down.status_code == 500 and odata_message(down)
    assert session.get(sim.legacy_endpoint).status_code == 500
    sim.set_down(True, refuse_connections=True)
    with pytest.raises(requests.ConnectionError):
        session.get(jobs_url(sim))
    with pytest.raises(requests.ConnectionError):
        requests.get(jobs_url(sim), headers=HEADERS)
    sim.set_down(False)
    assert session.get(jobs_url(sim)).status_code == 200


def test_request_counting_and_log(sim: Simulator, session: requests.Session) -> None:
    sim.add_v2_account("acct2")
    sim.add_job("acct1", SimJob(id="j", name="j", created=T0 - 1))
    session.get(jobs_url(sim), params={"$top": "5"})
    session.get(jobs_url(sim, "acct2"))
    session.get(sim.v2_endpoint("acct1") + "Jobs('j')")
    session.get(sim.v2_endpoint("acct1") + "Jobs('j')/Tasks")
    session.get(sim.v2_endpoint("acct1") + "$metadata")
    session.get(jobs_url(sim), headers={"x-ms-version": None})
    session.get(sim.legacy_endpoint, allow_redirects=False)
    assert sim.request_count() == 7
    assert sim.request_count(account="acct1") == 5
    assert sim.request_count(kind="jobs") == 3
    assert sim.request_count(account="acct1", kind="jobs") == 2
    assert sim.request_count(kind="job") == sim.request_count(kind="tasks") == 1
    assert sim.request_count(kind="metadata") == sim.request_count(kind="legacy") == 1
    log = sim.requests
    assert [r.status for r in log] == [200, 200, 200, 200, 200, 400, 301]
    assert log[0].decoded_query == {"$top": "5"}
    assert log[0].method == "GET" and log[0].path == "/v2/acct1/api/Jobs?%24top=5"
    assert log[0].headers["Authorization"] == "Bearer test-token"
    assert log[0].time == T0
    sim.reset_counters()
    assert sim.request_count() == 0 and sim.requests == []


def test_stop_closes_kept_alive_connections(mclock: ManualClock) -> None:
    simulator = Simulator(clock=mclock).start()
    simulator.add_v2_account("acct1")
    url = jobs_url(simulator)
    with requests.Session() as session:
        assert session.get(url, headers=HEADERS).status_code == 200
        simulator.stop()
        with pytest.raises(requests.ConnectionError):
            session.get(url, headers=HEADERS)


# ------------------------------------------------------------------ command-line hook


def test_cli_arguments_and_v3(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    defaults = parser.parse_args([])
    assert defaults.listen == ("127.0.0.1", 10047)
    assert (defaults.jobs, defaults.seed, defaults.accounts) == (200, 1, ["demo"])
    args = parser.parse_args(["--listen", "0.0.0.0:8081", "--accounts", "a,b", "--no-auth",
                              "--error-rate", "0.5", "--retry-after", "3", "--lively"])
    assert (args.listen, args.accounts, args.no_auth, args.error_rate) == (
        ("0.0.0.0", 8081), ["a", "b"], True, 0.5)
    with pytest.raises(SystemExit):
        parser.parse_args(["--listen", "8081"])
    with pytest.raises(SystemExit):
        parser.parse_args(["--error-rate", "2"])
    assert cli.run(parser.parse_args(["--listen", "127.0.0.1:0", "--api", "v3", "--jobs", "5"]),
                   wait=lambda: None) == 0
    assert "ARM endpoint: http://127.0.0.1:" in capsys.readouterr().out
