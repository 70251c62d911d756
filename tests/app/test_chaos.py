"""Chaos: a minute of fast refreshes while the simulator misbehaves in every way it
can. Every scrape answers 200 in time, no request breaks the budget or Retry-After,
and once the faults stop every job the simulator holds is exported, exactly."""

from __future__ import annotations

import threading
import time
from collections import defaultdict

import pytest
import requests

from exporter.app.config import parse_config
from exporter.app.exporter import Exporter
from exporter.backends.ams_v2.client import V2Client
from exporter.backends.ams_v3.client import V3Client
from exporter.backends.auth.tokens import NoToken
from exporter.backends.transport import Transport
from exporter.simulator import ManualClock, Simulator
from exporter.web.server import MetricsServer
from tests.helpers import T0, parse_exposition

#: a 70 s soak: only in the full run, not in the fast tier (-m "not system")
pytestmark = pytest.mark.system

BUDGET = 10  # max_requests_per_second of every account
RETRY_AFTER = 2.0
ITERATIONS = 80
STEP = 0.5  # simulated seconds per iteration
SCRAPE_TIMEOUT = 1.5


class SendLog:
    """Real send times per account, recorded by the exporter's own sessions."""

    def __init__(self) -> None:
        self.times: dict[str, list[float]] = defaultdict(list)
        self.lock = threading.Lock()

    def factory_for(self, names: list[str]):
        pending = list(names)

        def make() -> requests.Session:
            name = pending.pop(0)  # sessions are made in account order
            session = requests.Session()
            original = session.send

            def send(request, **kwargs):
                with self.lock:
                    self.times[name].append(time.monotonic())
                return original(request, **kwargs)

            session.send = send
            return session

        return make


def test_chaos(tmp_path):
    clock = ManualClock(T0)
    sim = Simulator(clock=clock, seed=21, require_auth=False)
    for name in ("alpha", "beta", "slow"):
        sim.add_v2_account(name)
        sim.generate_jobs(name, n=300, start=T0 - 6 * 3600, end=T0)
    sim.add_v3_account("gamma", account_name="gammamedia", transforms=("a", "b"))
    sim.generate_jobs("gamma", n=300, start=T0 - 6 * 3600, end=T0)
    feeds = [sim.start_lively(name, rate_per_minute=120) for name in ("alpha", "gamma")]
    sim.start()
    names = ["alpha", "beta", "slow", "gamma"]
    v2 = "".join(f"""
  - name: {name}
    endpoint: {sim.v2_endpoint(name)}
    auth: {{method: none}}
    max_requests_per_second: {BUDGET}
""" for name in names[:3])
    config = parse_config(f"""
refresh: {{min_interval: 1s, full_resync: 10s, timeout: 1s}}
retention: {{finished: 1d, failed: 1d}}
lookback: 2d
accounts:{v2}
  - name: gamma
    api: v3
    subscription_id: 00000000-0000-0000-0000-000000000000
    resource_group: media-rg
    account_name: gammamedia
    arm_endpoint: {sim.arm_endpoint}
    auth: {{method: none}}
    max_requests_per_second: {BUDGET}
""", {})
    sends = SendLog()
    exporter = Exporter(config, clock=clock, session_factory=sends.factory_for(names))
    server = MetricsServer(exporter, "127.0.0.1", 0).start()
    slow_scrapes, statuses = [], []
    try:
        sim.set_faults(account="slow", latency=1.5)  # every request times out
        for i in range(ITERATIONS):
            bursting = 20 <= i < 26 or 50 <= i < 56
            sim.set_faults(account=None, error_rate=0.3, malformed_rate=0.1, reset_rate=0.05,
                           throttle_rate=1.0 if bursting else 0.05, retry_after=RETRY_AFTER)
            clock.advance(STEP)
            started = time.monotonic()
            response = requests.get(
                server.url + "/metrics", timeout=10,
                headers={"X-Prometheus-Scrape-Timeout-Seconds": str(SCRAPE_TIMEOUT)})
            elapsed = time.monotonic() - started
            statuses.append(response.status_code)
            if elapsed > SCRAPE_TIMEOUT:
                slow_scrapes.append(elapsed)
            parse_exposition(response.text)  # always a valid exposition

        # The faults stop; the slow account recovers too.
        sim.clear_faults()
        sim.clear_faults("slow")
        for feed in feeds:
            feed.stop()
        for _ in range(2):  # two refresh intervals (min_interval is 1 s)
            clock.advance(1.0)
            exporter.refresh_due(timeout=10)
        final = parse_exposition(exporter.text())
    finally:
        server.stop()
        exporter.close()

    assert statuses == [200] * ITERATIONS
    assert not slow_scrapes, slow_scrapes

    # Budget: no account ever sent more than BUDGET requests in one second.
    for name, times in sends.times.items():
        for index, start in enumerate(times):
            window = [t for t in times[index:index + BUDGET + 2] if t - start < 1.0]
            assert len(window) <= BUDGET + 1, (name, len(window))

    # Retry-After: after a throttling answer, the account stays quiet for that long.
    by_account: dict[str, list] = defaultdict(list)
    for request in sim.requests:
        if request.account:
            by_account[request.account].append(request)
    throttled_answers = 0
    for name, log in by_account.items():
        for index, request in enumerate(log):
            if request.status in (429, 503):
                throttled_answers += 1
                later = [r for r in log[index + 1:] if r.time < request.time + RETRY_AFTER]
                assert not later, (name, request.time, [r.time for r in later])
    assert throttled_answers > 0

    # Nothing lost, nothing duplicated, no phantom jobs, every state right.
    for name in names:
        assert final.value("ams_up", account=name) == 1, name
        truth = ground_truth(sim, name)
        exported = {dict(key)["job_id"]: value
                    for key, value in final.find("ams_job_state_code", account=name).items()}
        assert exported == truth, name
    sim.stop()


def ground_truth(sim: Simulator, name: str) -> dict[str, float]:
    """What a clean full listing of the simulator says now: job id -> state code."""
    transport = Transport(requests.Session(), NoToken())
    if name == "gamma":
        client = V3Client(sim.arm_endpoint, "00000000-0000-0000-0000-000000000000",
                          "media-rg", "gammamedia", transport)
        jobs = {}
        for transform in client.list_transforms():
            jobs.update(client.list_jobs(transform).jobs)
    else:
        jobs = V2Client(sim.v2_endpoint(name), transport).list_jobs([]).jobs
    return {job.job_id: float(int(job.state)) for job in jobs.values()}
