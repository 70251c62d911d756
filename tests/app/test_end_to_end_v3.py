"""v3 (ARM) accounts, and v2 and v3 accounts side by side, against the simulator."""

from __future__ import annotations

import pytest

from exporter.jobs.states import JobState
from exporter.simulator import SimJob, Simulator
from tests import helpers
from tests.helpers import SUB, T0, scrape


@pytest.fixture
def v3_sim(simulator: Simulator) -> Simulator:
    simulator.add_v3_account("prod", subscription_id=SUB, resource_group="media-rg",
                             account_name="prodmedia", transforms=("encode-720p", "thumbs"))
    jobs = [
        ("encode-720p", SimJob("job-queued", "job-queued", T0 - 50)),
        ("encode-720p", SimJob("job-running", "job-running", T0 - 600, priority=1, outputs=2,
                               events=[(T0 - 500, JobState.Processing),
                                       (T0 + 500, JobState.Finished)])),
        ("thumbs", SimJob("job-failed", "job-failed", T0 - 900, priority=-1,
                          error_code="ContentMalformed", error_category="Content",
                          events=[(T0 - 800, JobState.Processing),
                                  (T0 - 700, JobState.Error)])),
        ("thumbs", SimJob("job-done", "job-done", T0 - 900,
                          events=[(T0 - 800, JobState.Processing),
                                  (T0 - 650.5, JobState.Finished)])),
    ]
    for transform, job in jobs:
        simulator.add_job("prod", job, transform=transform)
    return simulator


def v3_account(sim: Simulator, extra: str = "") -> str:
    return helpers.v3_account(sim.arm_endpoint, auth="{method: token_file, path: TOKEN}",
                              extra=extra)


def config(*accounts: str) -> str:
    return "refresh: {min_interval: 0s, timeout: 10s}\naccounts:" + "".join(accounts)


def test_v3_jobs_with_transforms_progress_and_errors(v3_sim, make_exporter):
    metrics = scrape(make_exporter(config(v3_account(v3_sim))))
    assert metrics.value("ams_up", account="prod") == 1
    assert metrics.job_ids("prod") == {"job-queued", "job-running", "job-failed", "job-done"}
    running = {"job_id": "job-running", "transform": "encode-720p"}
    assert metrics.value("ams_job_state", state="Processing", **running) == 1
    assert metrics.value("ams_job_priority", **running) == 2  # High
    assert metrics.value("ams_job_start_timestamp_seconds", **running) == T0 - 500
    assert metrics.value("ams_job_running_duration_seconds", **running) == pytest.approx(500)
    assert metrics.value("ams_job_progress_ratio", **running) == pytest.approx(0.5, abs=0.02)
    failed = {"job_id": "job-failed", "transform": "thumbs"}
    assert metrics.value("ams_job_state_code", **failed) == 4
    assert metrics.value("ams_job_priority", **failed) == 0  # Low
    [error] = metrics.find("ams_job_error_info", **failed)
    assert dict(error)["code"] == "ContentMalformed" and dict(error)["category"] == "Content"
    done = {"job_id": "job-done", "transform": "thumbs"}
    assert metrics.value("ams_job_end_timestamp_seconds", **done) == T0 - 650.5
    assert metrics.value("ams_job_running_duration_seconds", **done) == pytest.approx(149.5)
    assert metrics.value("ams_jobs", account="prod", transform="thumbs", state="Error") == 1
    assert metrics.value("ams_jobs", account="prod", transform="encode-720p",
                         state="Queued") == 1
    assert not metrics.find("ams_jobs", account="prod", transform="")
    requests = v3_sim.requests
    assert all(r.decoded_query.get("api-version") == "2022-07-01" for r in requests)
    listing = [r for r in requests if r.path.split("?")[0].endswith("/jobs")]
    assert len(listing) == 2
    assert all("Microsoft.Media.JobState'" in r.decoded_query["$filter"] for r in listing)


def test_v3_paging_incremental_sync_and_configured_transforms(v3_sim, clock, make_exporter):
    names = v3_sim.generate_jobs("prod", n=1200, start=T0 - 3600, end=T0 - 60,
                                 transform="encode-720p")
    exporter = make_exporter(config(v3_account(v3_sim, "    transforms: [encode-720p]\n")) +
                             "\nretention: {finished: 1d, failed: 1d}\n")
    first = scrape(exporter)
    assert set(names) | {"job-queued", "job-running"} == first.job_ids("prod")
    assert v3_sim.request_count() == 3  # 3 pages of 500, no transform discovery
    v3_sim.script_state("prod", "job-queued", JobState.Canceled, at=T0 + 5,
                        transform="encode-720p")
    v3_sim.reset_counters()
    clock.advance(30)
    second = scrape(exporter)
    assert second.value("ams_job_state", job_id="job-queued", state="Canceled") == 1
    assert v3_sim.request_count() == 1
    [request] = v3_sim.requests
    assert "properties/lastModified gt " in request.decoded_query["$filter"]


def test_mixed_accounts_one_unreachable(v3_sim, make_exporter):
    v3_sim.add_job("acct", SimJob("nb:jid:UUID:v2-1", "v2 job", T0 - 30))
    v3_sim.add_v3_account("second", subscription_id=SUB, resource_group="rg2",
                          account_name="secondmedia", transforms=("t",))
    v3_sim.add_job("second", SimJob("only-job", "only-job", T0 - 30), transform="t")
    unreachable = """
  - name: broken
    api: v3
    subscription_id: 00000000-0000-0000-0000-000000000000
    resource_group: rg
    account_name: gone
    arm_endpoint: http://127.0.0.1:9
    auth: {method: none}
"""
    v2 = f"""
  - name: acct
    api: v2
    endpoint: {v3_sim.v2_endpoint("acct")}
    auth: {{method: token_file, path: TOKEN}}
"""
    second = f"""
  - name: second
    api: v3
    subscription_id: {SUB}
    resource_group: rg2
    account_name: secondmedia
    arm_endpoint: {v3_sim.arm_endpoint}
    auth: {{method: token_file, path: TOKEN}}
"""
    metrics = scrape(make_exporter(config(v2, v3_account(v3_sim), second, unreachable)))
    assert [metrics.value("ams_up", account=a) for a in ("acct", "prod", "second", "broken")] \
        == [1, 1, 1, 0]
    assert metrics.job_ids("acct") == {"nb:jid:UUID:v2-1"}
    assert len(metrics.job_ids("prod")) == 4
    assert metrics.job_ids("second") == {"only-job"}
    assert metrics.job_ids("broken") == set()
    assert metrics.value("ams_api_requests_total", account="broken", code="error") >= 1


def test_a_vanished_v3_job_is_looked_up_and_removed(v3_sim, clock, make_exporter):
    exporter = make_exporter(config(v3_account(v3_sim)))
    assert "job-running" in scrape(exporter).job_ids("prod")
    v3_sim.remove_job("prod", "job-running", transform="encode-720p")
    clock.advance(30)
    assert "job-running" not in scrape(exporter).job_ids("prod")


def test_a_429_burst_is_waited_out_while_other_accounts_refresh(v3_sim, clock, make_exporter):
    v2 = f"""
  - name: acct
    endpoint: {v3_sim.v2_endpoint("acct")}
    auth: {{method: token_file, path: TOKEN}}
"""
    exporter = make_exporter(config(v3_account(v3_sim), v2))
    scrape(exporter)
    v3_sim.set_faults(account="prod", throttle_rate=1.0, retry_after=5)
    clock.advance(1)
    throttled = scrape(exporter)
    assert throttled.value("ams_up", account="prod") == 0
    assert throttled.value("ams_api_throttled_total", account="prod") == 1
    assert throttled.value("ams_api_requests_total", account="prod", code="429") == 1
    sent = v3_sim.request_count(account="prod")
    v3_sim.set_faults(account="prod")
    v2_before = v3_sim.request_count(account="acct")
    for _ in range(9):
        clock.advance(0.5)
        assert scrape(exporter).value("ams_up", account="acct") == 1
    assert v3_sim.request_count(account="prod") == sent  # nothing within Retry-After
    assert v3_sim.request_count(account="acct") == v2_before + 9
    clock.advance(0.6)
    assert scrape(exporter).value("ams_up", account="prod") == 1
