"""Opt-in fidelity: the variety real AMS answers showed (docs/ams-api.md), reproducible by
seed, off by default so pinned bodies stay as they are."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest
import requests

from exporter.app.config import parse_config
from exporter.app.exporter import Exporter
from exporter.jobs.states import FINAL_STATES, JobState
from exporter.simulator import ManualClock, SimJob, Simulator
from exporter.simulator.fidelity import Fidelity
from tests.helpers import parse_exposition

T0 = 1767225600.0  # 2026-01-01T00:00:00Z
TIMEOUT = 10
V2 = {"Accept": "application/json", "Authorization": "Bearer t", "x-ms-version": "2.19",
      "DataServiceVersion": "3.0", "MaxDataServiceVersion": "3.0"}
VERBOSE = V2 | {"Accept": "application/json;odata=verbose"}
ISO_Z = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,7})?Z")
SEVEN = re.compile(r":[0-9]{2}\.[0-9]{7}Z?$")
DATE_MS = re.compile(r"/Date\(-?[0-9]+\)/")


def build(seed: int = 31, fidelity: bool = True, require_auth: bool = True) -> Simulator:
    sim = Simulator(clock=ManualClock(T0), seed=seed, fidelity=fidelity,
                    require_auth=require_auth)
    sim.add_v2_account("old")
    sim.add_v3_account("new", transforms=("encode-720p", "thumbs"))
    sim.generate_jobs("old", n=200, start=T0 - 86400, end=T0)
    sim.generate_jobs("new", n=200, start=T0 - 86400, end=T0, transform="encode-720p")
    return sim


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with build().start() as simulator:
        yield simulator


def v2_jobs(sim: Simulator, headers: dict[str, str]) -> list[dict]:
    body = requests.get(sim.v2_endpoint("old") + "Jobs", headers=headers,
                        timeout=TIMEOUT).json()
    return body["d"]["results"] if "d" in body else body["value"]


def v3_jobs(sim: Simulator, transform: str = "encode-720p", account: str = "new") -> list[dict]:
    url = (f"{sim.arm_endpoint}{sim.arm_account(account).resource_id}/transforms/{transform}"
           "/jobs")
    body = requests.get(url, params={"api-version": "2022-07-01"}, timeout=TIMEOUT,
                        headers={"Authorization": "Bearer t"}).json()
    assert "@odata.nextLink" not in body
    return body["value"]


def _ms(text: str) -> float:
    """A light-JSON v2 time (no Z, up to 7 digits) as epoch milliseconds."""
    head, _, fraction = text.partition(".")
    moment = datetime.fromisoformat(head).replace(tzinfo=timezone.utc)
    return moment.timestamp() * 1000 + float(f"0.{fraction or '0'}") * 1000


# ------------------------------------------------------------------ v2


def test_v2_verbose_dates_come_in_both_forms(sim: Simulator) -> None:
    jobs = v2_jobs(sim, VERBOSE)
    created = [job["Created"] for job in jobs]
    iso = [value for value in created if ISO_Z.fullmatch(value)]
    dotnet = [value for value in created if DATE_MS.fullmatch(value)]
    assert len(iso) + len(dotnet) == len(created) == 200
    assert 40 < len(iso) < 160
    assert any(SEVEN.search(value) for value in iso)
    # One job writes all its dates one way.
    for job in jobs:
        forms = {bool(ISO_Z.fullmatch(v)) for v in (job["Created"], job["LastModified"],
                                                   job["StartTime"], job["EndTime"]) if v}
        assert len(forms) == 1, job
    raw = requests.get(sim.v2_endpoint("old") + "Jobs", headers=VERBOSE, timeout=TIMEOUT).content
    assert b'"\\/Date(' in raw and b'Z"' in raw


def test_v2_light_times_have_up_to_seven_digits_and_no_z(sim: Simulator) -> None:
    times = [job[field] for job in v2_jobs(sim, V2)
             for field in ("Created", "LastModified", "StartTime", "EndTime") if job[field]]
    assert all(not t.endswith("Z") for t in times)
    assert any(SEVEN.search(t) for t in times)
    assert any(not SEVEN.search(t) for t in times)


def test_v2_running_duration_is_not_always_end_minus_start(sim: Simulator) -> None:
    final = [job for job in v2_jobs(sim, V2) if job["State"] in (3, 4, 5)
             and job["StartTime"] and job["EndTime"]]
    spans = [(job["RunningDuration"], _ms(job["EndTime"]) - _ms(job["StartTime"]))
             for job in final]
    assert any(abs(duration - span) > 1 for duration, span in spans)
    assert any(abs(duration - span) <= 1 for duration, span in spans)
    assert all(0 < duration <= span + 1 for duration, span in spans)
    running = [job for job in v2_jobs(sim, V2) if job["State"] == 2]
    assert running and all(job["RunningDuration"] == 0.0 for job in running)


def test_v2_tasks_carry_historical_events_and_plain_inline_items(sim: Simulator) -> None:
    sim.add_job("old", SimJob(id="nb:jid:UUID:0000beef-0000-4000-8000-000000000000",
                              name="broken", created=T0 - 300, error_code="ErrorProcessingTask",
                              events=[(T0 - 290, JobState.Scheduled),
                                      (T0 - 280, JobState.Processing),
                                      (T0 - 100, JobState.Error)]))
    url = sim.v2_endpoint("old") + "Jobs('nb%3Ajid%3AUUID%3A0000beef-0000-4000-8000-000000000000')"
    [task] = requests.get(url + "/Tasks", headers=V2, timeout=TIMEOUT).json()["value"]
    assert [event["Code"] for event in task["HistoricalEvents"]] == [
        "Queued", "Scheduled", "Processing", "Error"]
    assert all(set(event) == {"Code", "Message", "TimeStamp"} and event["Message"]
               for event in task["HistoricalEvents"])
    assert task["HistoricalEvents"][-1]["TimeStamp"].startswith("2025-12-31T23:58:20")
    assert task["ErrorDetails"][0]["Code"] == "ErrorProcessingTask"
    assert {"Id", "Name", "State", "Progress", "StartTime", "EndTime", "RunningDuration",
            "PerfMessage"} <= set(task)
    [verbose] = requests.get(url + "/Tasks", headers=VERBOSE,
                             timeout=TIMEOUT).json()["d"]["results"]
    for field in ("ErrorDetails", "HistoricalEvents"):
        collection = verbose[field]
        assert collection["__metadata"]["type"].startswith("Collection(")
        assert collection["results"] and all("__metadata" not in item
                                             for item in collection["results"])
    stamp = verbose["HistoricalEvents"]["results"][-1]["TimeStamp"]
    assert ISO_Z.fullmatch(stamp) or DATE_MS.fullmatch(stamp)


# ------------------------------------------------------------------ v3


def test_v3_bodies_look_like_the_official_examples(sim: Simulator) -> None:
    jobs = v3_jobs(sim)
    for job in jobs:
        properties = job["properties"]
        assert properties["input"]["@odata.type"] == "#Microsoft.Media.JobInputs"
        [inner] = properties["input"]["inputs"]
        assert inner["@odata.type"] == "#Microsoft.Media.JobInputAsset"
        for index, output in enumerate(properties["outputs"]):
            assert output["label"] == f"AdaptiveStreaming_{index}"
            error = output.get("error")
            if error is not None:
                assert error["details"][0]["code"] != error["code"]
                if error["code"] == "ServiceError":
                    assert error["details"][0]["code"] == "Internal"
                    assert error["message"] == "Fatal service error, please contact support."
    failed = [o for job in jobs for o in job["properties"]["outputs"] if o.get("error")]
    assert failed
    times = [job["properties"]["lastModified"] for job in jobs]
    assert any(SEVEN.search(t) for t in times) and any(not SEVEN.search(t) for t in times)
    assert all(ISO_Z.fullmatch(t) for t in times)


def test_v3_2018_era_bodies(sim: Simulator) -> None:
    sim.add_job("new", SimJob(id="old-style", name="x", created=T0 - 100,
                              events=[(T0 - 50, JobState.Processing)]))
    jobs = v3_jobs(sim)
    era = [job for job in jobs if job["properties"]["created"] == "0001-01-01T00:00:00Z"]
    assert 5 < len(era) < 60
    for job in era:
        assert "systemData" not in job
        for output in job["properties"]["outputs"]:
            assert "error" in output
            if job["properties"]["state"] != "Error":
                assert output["error"] is None
    modern = [job for job in jobs if job not in era]
    assert all("systemData" in job for job in modern)
    assert all("error" not in o for job in modern for o in job["properties"]["outputs"]
               if job["properties"]["state"] != "Error")
    processing_2018 = [job for job in era if job["properties"]["state"] == "Processing"]
    processing = [job for job in modern if job["properties"]["state"] == "Processing"]
    assert all("startTime" not in job["properties"] for job in processing_2018)
    assert all("startTime" in job["properties"] for job in processing)
    # Queries still use the real creation time.
    url = f"{sim.arm_endpoint}{sim.arm_account('new').resource_id}/transforms/encode-720p/jobs"
    recent = requests.get(url, headers={"Authorization": "Bearer t"}, timeout=TIMEOUT, params={
        "api-version": "2022-07-01",
        "$filter": "properties/created ge 2025-12-31T23:58:00Z"}).json()["value"]
    assert "old-style" in {job["name"] for job in recent}


def test_rms_accounts_get_the_same_variety(sim: Simulator) -> None:
    sim.add_rms_account("r", account_name="rmsacct")
    sim.generate_jobs("r", n=20, start=T0 - 3600, end=T0)
    token = sim.issue_rms_token("r")
    url = f"{sim.rms_endpoint}{sim.arm_account('r').resource_id[1:]}/transforms/encode-720p/jobs"
    jobs = requests.get(url, params={"api-version": "2022-07-01"}, timeout=TIMEOUT,
                        headers={"Authorization": f"Bearer {token}"}).json()["value"]
    assert len(jobs) == 20
    assert all(j["properties"]["input"]["@odata.type"] == "#Microsoft.Media.JobInputs"
               for j in jobs)


# ------------------------------------------------------------------ switch and determinism


def test_fidelity_is_deterministic_by_seed_and_off_by_default() -> None:
    def bodies(seed: int, fidelity: bool) -> tuple[bytes, bytes]:
        with build(seed, fidelity).start() as simulator:
            v2 = requests.get(simulator.v2_endpoint("old") + "Jobs", headers=VERBOSE,
                              timeout=TIMEOUT).content
            url = (f"{simulator.arm_endpoint}{simulator.arm_account('new').resource_id}"
                   "/transforms/encode-720p/jobs")
            v3 = requests.get(url, params={"api-version": "2022-07-01"}, timeout=TIMEOUT,
                              headers={"Authorization": "Bearer t"}).content
            origin = simulator.url.encode()
            return v2.replace(origin, b""), v3.replace(origin, b"")

    first, again, other = bodies(31, True), bodies(31, True), bodies(32, True)
    assert first == again
    assert first != other
    plain = bodies(31, False)
    assert plain != first
    assert b"JobInputs" not in plain[1] and b"0001-01-01" not in plain[1]
    assert b'"label":"output1"' in plain[1]
    assert re.search(rb'"[0-9]{4}-[0-9]{2}-[0-9]{2}T[^"]*Z"', plain[0]) is None  # /Date()/ only
    assert Simulator().fidelity is False


def test_fidelity_can_be_switched_while_serving(sim: Simulator) -> None:
    assert v3_jobs(sim)[0]["properties"]["input"]["@odata.type"] == "#Microsoft.Media.JobInputs"
    sim.fidelity = False
    assert v3_jobs(sim)[0]["properties"]["input"]["@odata.type"] == \
        "#Microsoft.Media.JobInputAsset"
    sim.fidelity = True
    assert sim.fidelity


@functools.lru_cache(maxsize=2)
def exported(fidelity: bool) -> dict[tuple[str, str], str]:
    """(account, job id) -> state, as the exporter exports a fresh simulator's jobs
    (kept for the next test: both compare the same two runs)."""
    sim = build(fidelity=fidelity, require_auth=False)
    with sim.start():
        arm = sim.arm_account("new")
        config = parse_config(f"""
refresh: {{min_interval: 0s, timeout: 20s}}
lookback: 2d
retention: {{finished: 2d, failed: 2d}}
accounts:
  - name: old
    api: v2
    endpoint: {sim.v2_endpoint("old")}
    auth: {{method: none}}
  - name: new
    api: v3
    subscription_id: {arm.subscription_id}
    resource_group: {arm.resource_group}
    account_name: {arm.account_name}
    arm_endpoint: {sim.arm_endpoint}
    auth: {{method: none}}
""", {})
        exporter = Exporter(config, clock=sim.clock, environ={})
        try:
            exporter.refresh_due()
            metrics = parse_exposition(exporter.text())
        finally:
            exporter.close()
    assert metrics.value("ams_up", account="old") == 1
    assert metrics.value("ams_up", account="new") == 1
    states = {}
    for labels, value in metrics.find("ams_job_state").items():
        if value == 1:
            label = dict(labels)
            states[(label["account"], label["job_id"])] = label["state"]
    return states


def test_the_exporter_reads_fidelity_bodies_as_it_reads_plain_ones() -> None:
    """The exporter's v2 and v3 clients export the same states whatever the variety,
    2018-era v3 bodies (created 0001-01-01T00:00:00Z) included."""
    plain, varied = exported(False), exported(True)
    assert len(plain) == 400
    era = Fidelity(31, enabled=True)
    assert any(key[0] == "new" and JobState[state] in FINAL_STATES
               and (traits := era.traits(key[1])) is not None and traits.era_2018
               for key, state in plain.items()), "the scenario has finished 2018-era jobs"
    assert varied == plain
