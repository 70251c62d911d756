"""The refresh engine: few API requests, bounded scrapes, no stale series."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from exporter.backends.ratelimit import RateLimiter
from exporter.jobs.states import JobState
from exporter.simulator import ManualClock, SimJob
from exporter.web.server import MetricsServer
from tests.helpers import T0, parse_exposition, scrape, uid, v2_config, wait_until

LONG_RETENTION = "retention: {finished: 30d, failed: 30d}\nlookback: 30d"


def finished_history(simulator, n: int) -> list[str]:
    """n jobs that all ended long ago: they never change again."""
    return simulator.generate_jobs("acct", n=n, start=T0 - 20 * 86400, end=T0 - 19 * 86400)


def test_concurrent_scrapes_within_min_interval_cause_one_refresh(simulator, make_exporter):
    finished_history(simulator, 50)
    config = v2_config(simulator.v2_endpoint("acct")).replace("min_interval: 0s",
                                                              "min_interval: 1h")
    exporter = make_exporter(config)
    server = MetricsServer(exporter, "127.0.0.1", 0).start()
    try:
        def fetch(_: int) -> int:
            with requests.Session() as session:
                return session.get(server.url + "/metrics", timeout=30).status_code

        with ThreadPoolExecutor(max_workers=40) as pool:
            statuses = list(pool.map(fetch, range(200)))
    finally:
        server.stop()
    assert statuses == [200] * 200
    assert simulator.request_count(account="acct") == 1


def test_a_slow_refresh_does_not_hold_the_scrape(simulator, make_exporter):
    simulator.add_job("acct", SimJob(uid(1), "first", T0 - 10))
    exporter = make_exporter(v2_config(simulator.v2_endpoint("acct")))
    server = MetricsServer(exporter, "127.0.0.1", 0).start()
    try:
        url = server.url + "/metrics"
        assert uid(1) in requests.get(url, timeout=10).text
        simulator.add_job("acct", SimJob(uid(2), "second", T0 - 5))
        simulator.set_faults(account=None, latency=2.0)
        response = requests.get(url, timeout=10,
                                headers={"X-Prometheus-Scrape-Timeout-Seconds": "1"})
        assert response.elapsed.total_seconds() < 1.5
        answered = parse_exposition(response.text)
        assert answered.job_ids() == {uid(1)}  # the snapshot, flagged stale
        assert answered.value("ams_stale", account="acct") == 1
        refresher = exporter.refreshers[0]
        assert wait_until(lambda: not refresher.status.refreshing, timeout=10)
        simulator.set_faults(account=None)
        assert uid(2) in {job.job_id for job in refresher.jobs()}
        after = parse_exposition(requests.get(url, timeout=10).text)
        assert after.job_ids() == {uid(1), uid(2)}
        assert after.value("ams_stale", account="acct") == 0
    finally:
        server.stop()


def test_steady_state_refresh_is_one_request_and_sees_the_changes(simulator, clock,
                                                                  make_exporter):
    finished_history(simulator, 5000)
    active = [SimJob(uid(i), f"active {i}", T0 - 300,
                     events=[(T0 - 200, JobState.Processing)]) for i in range(1, 4)]
    for job in active:
        simulator.add_job("acct", job)
    exporter = make_exporter(v2_config(simulator.v2_endpoint("acct"), top=LONG_RETENTION))
    first = scrape(exporter)
    assert len(first.job_ids()) == 5003
    assert simulator.request_count(kind="jobs") == 6  # full sync: 5 pages of 1000 + 1
    simulator.script_state("acct", active[0].id, JobState.Finished, at=T0 + 10)
    simulator.script_state("acct", active[1].id, JobState.Error, at=T0 + 12)
    simulator.script_state("acct", active[2].id, JobState.Canceling, at=T0 + 14)
    simulator.reset_counters()
    clock.advance(30)
    second = scrape(exporter)
    assert simulator.request_count(account="acct") == 1
    [request] = simulator.requests
    assert "LastModified gt datetime'" in request.decoded_query["$filter"]
    for job, state in zip(active, ("Finished", "Error", "Canceling"), strict=True):
        assert second.value("ams_job_state", job_id=job.id, state=state) == 1
    assert len(second.job_ids()) == 5003


def test_a_state_change_without_a_newer_last_modified_is_still_seen(simulator, clock,
                                                                   make_exporter):
    # As in the seed document: LastModified stays at Created while the job runs.
    job = SimJob(uid(1), "pinned", T0 - 100, last_modified=T0 - 100,
                 events=[(T0 - 90, JobState.Processing)])
    simulator.add_job("acct", job)
    exporter = make_exporter(v2_config(simulator.v2_endpoint("acct")))
    assert scrape(exporter).value("ams_job_state", job_id=job.id, state="Processing") == 1
    simulator.add_job("acct", SimJob(uid(2), "newer", T0 + 60))  # moves the watermark on
    clock.advance(70)
    scrape(exporter)
    simulator.script_state("acct", job.id, JobState.Finished, at=T0 + 80)
    clock.advance(100)
    simulator.reset_counters()
    after = scrape(exporter)
    assert after.value("ams_job_state", job_id=job.id, state="Finished") == 1
    assert simulator.request_count(kind="jobs") == 2  # changes + the vanished active job


def test_deleted_jobs_leave_at_the_next_full_resync(simulator, clock, make_exporter):
    done = SimJob(uid(1), "done", T0 - 100, events=[(T0 - 50, JobState.Finished)])
    running = SimJob(uid(2), "running", T0 - 100, events=[(T0 - 50, JobState.Processing)])
    for job in (done, running):
        simulator.add_job("acct", job)
    exporter = make_exporter(v2_config(simulator.v2_endpoint("acct")).replace(
        "min_interval: 0s", "min_interval: 0s, full_resync: 10m"))
    assert scrape(exporter).job_ids() == {done.id, running.id}
    simulator.remove_job("acct", done.id)
    simulator.remove_job("acct", running.id)
    clock.advance(60)
    # an active job that vanished is looked up at once; a final one waits for the resync
    assert scrape(exporter).job_ids() == {done.id}
    clock.advance(600)
    assert scrape(exporter).job_ids() == set()


def test_retention_of_finished_and_failed_jobs(simulator, clock, make_exporter):
    finished = SimJob(uid(1), "finished", T0 - 100, events=[(T0 - 50, JobState.Finished)])
    failed = SimJob(uid(2), "failed", T0 - 100, events=[(T0 - 50, JobState.Error)])
    for job in (finished, failed):
        simulator.add_job("acct", job)
    exporter = make_exporter(v2_config(simulator.v2_endpoint("acct"),
                                       top="retention: {finished: 1h, failed: 1d}"))
    assert scrape(exporter).job_ids() == {finished.id, failed.id}
    clock.advance(3600)
    assert scrape(exporter).job_ids() == {failed.id}
    clock.advance(86400 - 3600 - 100)
    assert scrape(exporter).job_ids() == {failed.id}
    clock.advance(200)
    metrics = scrape(exporter)
    assert metrics.job_ids() == set()
    assert metrics.value("ams_jobs", account="acct", state="Error") == 0


def two_accounts(simulator) -> str:
    simulator.add_v2_account("other")
    return f"""
refresh: {{min_interval: 0s, timeout: 10s}}
accounts:
  - name: acct
    endpoint: {simulator.v2_endpoint("acct")}
    auth: {{method: token_file, path: TOKEN}}
  - name: other
    endpoint: {simulator.v2_endpoint("other")}
    auth: {{method: token_file, path: TOKEN}}
"""


def test_retry_after_is_honoured_and_other_accounts_carry_on(simulator, clock, make_exporter):
    simulator.add_job("acct", SimJob(uid(1), "a", T0 - 10))
    exporter = make_exporter(two_accounts(simulator))
    scrape(exporter)
    simulator.set_faults(account="acct", throttle_rate=1.0, retry_after=5)
    clock.advance(1)
    throttled = scrape(exporter)
    assert throttled.value("ams_up", account="acct") == 0
    assert throttled.value("ams_api_throttled_total", account="acct") == 1
    assert throttled.job_ids() == {uid(1)}
    sent = simulator.request_count(account="acct")
    other_before = simulator.request_count(account="other")
    simulator.set_faults(account="acct")  # the burst is over, but Retry-After stands
    for _ in range(9):
        clock.advance(0.5)
        scrape(exporter)
    assert clock() - T0 == pytest.approx(5.5)
    assert simulator.request_count(account="acct") == sent
    assert simulator.request_count(account="other") == other_before + 9
    clock.advance(0.6)
    assert scrape(exporter).value("ams_up", account="acct") == 1
    assert simulator.request_count(account="acct") == sent + 1


def test_failures_back_off_exponentially(simulator, clock, make_exporter):
    exporter = make_exporter(v2_config(simulator.v2_endpoint("acct")).replace(
        "min_interval: 0s", "min_interval: 10s"))
    scrape(exporter)
    simulator.set_down(True)
    attempts_at = []
    for _ in range(400):  # 200 s of scrapes every 0.5 s
        clock.advance(0.5)
        before = simulator.request_count(account="acct")
        scrape(exporter)
        if simulator.request_count(account="acct") > before:
            attempts_at.append(clock() - T0)
    gaps = [b - a for a, b in zip(attempts_at, attempts_at[1:], strict=False)]
    # 10 s, then 20 s (the cap: 2 intervals), each 75-100 % of the step (jitter),
    # plus one scrape step
    assert len(gaps) >= 4, gaps
    assert len(set(gaps)) > 1  # jitter: not a fixed rhythm
    for gap, expected in zip(gaps, (10, 20, 20, 20, 20), strict=False):
        assert expected * 0.75 - 0.5 <= gap <= expected + 0.5, gaps


def test_rate_limiter_spaces_requests():
    clock = ManualClock(0)
    limiter = RateLimiter(4, clock=clock, sleep=clock.advance)
    for _ in range(9):
        limiter.acquire()
    assert clock() == pytest.approx(2.0)  # 9 requests at 4/s: the 9th at t=2s
