"""MK.IO projects and RMS accounts against the simulator's flavours, over real HTTP."""

from __future__ import annotations

import logging
import time

import pytest
import requests
from azure.core.credentials import AccessToken
from azure.mgmt.media import AzureMediaServices

from exporter.app.config import parse_config
from exporter.app.exporter import Exporter
from exporter.backends.auth.rms import jwt_expiry
from exporter.jobs.states import JobState
from exporter.simulator import ManualClock, SimJob, Simulator
from tests.helpers import T0, scrape

MKIO_TOKEN = "mkio-personal-token"


@pytest.fixture
def mkio(simulator):
    simulator.add_mkio_account("mk", project="my-project", transforms=("encode", "thumbs"))
    simulator.add_mkio_token("mk", MKIO_TOKEN)
    return simulator


def mkio_config(sim, token_path: str, extra: str = "", top: str = "") -> str:
    return f"""
refresh: {{min_interval: 0s, timeout: 10s, full_resync: 1h}}
{top}
accounts:
  - name: mk-prod
    api: mkio
    project: my-project
    endpoint: {sim.mkio_endpoint}
    auth: {{method: token_file, path: {token_path}}}
{extra}"""


@pytest.fixture
def mkio_token(tmp_path):
    path = tmp_path / "mkio-token"
    path.write_text(MKIO_TOKEN)
    return path


def test_mkio_states_progress_errors_and_transforms(mkio, make_exporter, mkio_token):
    jobs = [
        ("encode", SimJob("job-queued", "job-queued", T0 - 50)),
        ("encode", SimJob("job-running", "job-running", T0 - 600, priority=1, outputs=2,
                          events=[(T0 - 500, JobState.Processing),
                                  (T0 + 500, JobState.Finished)])),
        ("thumbs", SimJob("job-failed", "job-failed", T0 - 900, error_code="ContentMalformed",
                          error_category="Content",
                          events=[(T0 - 800, JobState.Processing),
                                  (T0 - 700, JobState.Error)])),
        ("thumbs", SimJob("job-done", "job-done", T0 - 900,
                          events=[(T0 - 800, JobState.Processing),
                                  (T0 - 650.5, JobState.Finished)])),
    ]
    for transform, job in jobs:
        mkio.add_job("mk", job, transform=transform)
    metrics = scrape(make_exporter(mkio_config(mkio, mkio_token)))
    assert metrics.value("ams_up", account="mk-prod") == 1
    for transform, job in jobs:
        labels = {"account": "mk-prod", "transform": transform, "job_id": job.id,
                  "job_name": job.id}
        expected = mkio.job_state("mk", job.id, transform=transform)
        assert metrics.value("ams_job_state_code", **labels) == expected.value
    running = {"job_id": "job-running", "transform": "encode"}
    assert metrics.value("ams_job_priority", **running) == 2
    assert metrics.value("ams_job_start_timestamp_seconds", **running) == T0 - 500
    assert 0 <= metrics.value("ams_job_progress_ratio", **running) < 1
    failed = {"job_id": "job-failed", "transform": "thumbs"}
    assert metrics.find("ams_job_error_info", code="ContentMalformed", category="Content",
                        **failed)
    assert metrics.value("ams_job_end_timestamp_seconds", job_id="job-done") == T0 - 650.5
    assert metrics.value("ams_jobs", account="mk-prod", transform="thumbs", state="Error") == 1


def test_mkio_paging_over_a_thousand_jobs_loses_and_duplicates_nothing(
        mkio, make_exporter, mkio_token):
    ids = set(mkio.generate_jobs("mk", n=1234, start=T0 - 3600, end=T0 - 1))
    exporter = make_exporter(mkio_config(mkio, mkio_token))
    metrics = scrape(exporter)  # parse_exposition fails on a duplicate sample
    assert metrics.job_ids("mk-prod") == ids
    pages = mkio.request_count(kind="project_jobs", api="mkio")
    assert pages == 2, "1,000 jobs a page"


def test_a_steady_mkio_refresh_with_a_few_changes_costs_one_request(
        mkio, make_exporter, mkio_token, clock):
    mkio.generate_jobs("mk", n=5000, start=T0 - 40 * 3600, end=T0 - 3600)
    exporter = make_exporter(mkio_config(
        mkio, mkio_token, top="retention: {finished: 30d, failed: 30d}"))
    scrape(exporter)
    clock.advance(60)
    mkio.add_job("mk", SimJob("job-new", "job-new", clock() - 5), transform="encode")
    mkio.reset_counters()
    metrics = scrape(exporter)
    assert mkio.request_count() == 1
    assert metrics.value("ams_job_state", job_id="job-new", state="Queued") == 1


def test_an_mkio_429_is_waited_out_while_another_account_refreshes(
        mkio, make_exporter, mkio_token, clock):
    mkio.add_v2_account("other")
    mkio.add_job("other", SimJob("nb:jid:UUID:o1", "o1", T0 - 60))
    mkio.add_job("mk", SimJob("job-a", "job-a", T0 - 60), transform="encode")
    other = f"""  - name: other
    endpoint: {mkio.v2_endpoint("other")}
    auth: {{method: token_file, path: {mkio_token}}}
"""
    exporter = make_exporter(mkio_config(mkio, mkio_token, extra=other))
    mkio.set_mkio_rate_limit("mk", per_minute=1)
    assert scrape(exporter).value("ams_up", account="mk-prod") == 1  # the one allowed GET
    clock.advance(5)
    throttled = scrape(exporter)
    assert throttled.value("ams_up", account="mk-prod") == 0
    assert throttled.value("ams_api_throttled_total", account="mk-prod") >= 1
    assert throttled.value("ams_up", account="other") == 1
    assert throttled.value("ams_job_state", job_id="job-a", state="Queued") == 1, "kept"
    mkio.set_mkio_rate_limit("mk", per_minute=None)
    clock.advance(120)  # past our backoff (MK.IO sends no Retry-After)
    assert scrape(exporter).value("ams_up", account="mk-prod") == 1


def test_an_expired_mkio_token_is_one_clear_line_then_recovers(
        mkio, make_exporter, mkio_token, clock, caplog):
    mkio.add_job("mk", SimJob("job-a", "job-a", T0 - 60), transform="encode")
    expiring = mkio.add_mkio_token("mk", "short-lived-token", expires=T0 + 30)
    mkio_token.write_text(expiring)
    exporter = make_exporter(mkio_config(mkio, mkio_token))
    assert scrape(exporter).value("ams_up", account="mk-prod") == 1
    clock.advance(60)
    with caplog.at_level(logging.WARNING, logger="exporter.refresh.refresher"):
        for _ in range(3):
            metrics = scrape(exporter)
            clock.advance(60)
    assert metrics.value("ams_up", account="mk-prod") == 0
    lines = [r.getMessage() for r in caplog.records if "mk-prod" in r.getMessage()]
    assert len(lines) == 1, lines
    assert "token expired or lacks ams.job.get on project my-project" in lines[0]
    assert "short-lived-token" not in lines[0]
    time.sleep(0.01)  # a new mtime for the rewritten file on coarse filesystems
    mkio_token.write_text(MKIO_TOKEN)
    assert scrape(exporter).value("ams_up", account="mk-prod") == 1


@pytest.fixture
def rms(simulator):
    simulator.add_rms_account("rms", account_name="rmsmedia", transforms=("encode-720p",),
                              api_key="the-rms-key")
    simulator.add_job("rms", SimJob("job-r", "job-r", T0 - 100,
                                    events=[(T0 - 50, JobState.Processing)]),
                      transform="encode-720p")
    return simulator


def rms_config(sim, key: str = "the-rms-key") -> str:
    account = sim.arm_account("rms")
    return f"""
refresh: {{min_interval: 0s, timeout: 10s}}
accounts:
  - name: rms-prod
    api: v3
    subscription_id: {account.subscription_id}
    resource_group: {account.resource_group}
    account_name: rmsmedia
    arm_endpoint: {sim.rms_endpoint}
    auth: {{method: rms_api_key, api_key: "{key}"}}
"""


def token_posts(sim) -> int:
    return sim.request_count(kind="token", api="rms")


def test_the_rms_token_is_fetched_once_reused_and_refetched_after_exp(
        rms, make_exporter, clock):
    rms.rms_token_lifetime = 3600
    exporter = make_exporter(rms_config(rms))
    for _ in range(3):
        metrics = scrape(exporter)
        clock.advance(60)
    assert metrics.value("ams_up", account="rms-prod") == 1
    assert metrics.value("ams_job_state", job_id="job-r", state="Processing") == 1
    assert token_posts(rms) == 1
    clock.advance(3600 - 300)  # within five minutes of exp: fetched again
    assert scrape(exporter).value("ams_up", account="rms-prod") == 1
    assert token_posts(rms) == 2


def test_a_wrong_rms_key_is_one_line_without_the_key(rms, make_exporter, caplog, clock):
    exporter = make_exporter(rms_config(rms, key="wrong-key-UNIQUE-771"))
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            metrics = scrape(exporter)
            clock.advance(60)
    assert metrics.value("ams_up", account="rms-prod") == 0
    lines = [r.getMessage() for r in caplog.records if "rms-prod" in r.getMessage()]
    assert len(lines) == 1 and "rms_api_key" in lines[0], lines
    assert "wrong-key-UNIQUE-771" not in "".join(r.getMessage() for r in caplog.records)


class KeyCredential:
    """An azure-core credential that signs in as Ravnur's Python sample does: the API
    key posted to /auth/token, the bare JWT reused until its `exp`."""

    def __init__(self, sim, subscription_id: str, api_key: str) -> None:
        self.sim, self.subscription_id, self.api_key = sim, subscription_id, api_key
        self.token: AccessToken | None = None

    def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        if self.token is None or self.sim.clock() >= self.token.expires_on:
            answer = requests.post(self.sim.rms_token_url, timeout=10, json={
                "subscriptionId": self.subscription_id, "apiKey": self.api_key})
            answer.raise_for_status()
            self.token = AccessToken(answer.text, int(jwt_expiry(answer.text) or 0))
        return self.token


def test_the_official_client_on_rms_and_the_exporter_agree_on_every_state(monkeypatch):
    clock = ManualClock(T0)
    with Simulator(clock=clock, seed=21).start(tls=True) as sim:
        assert sim.ca_cert_path is not None
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", sim.ca_cert_path)  # both clients trust it
        sim.add_rms_account("rms", account_name="rmsmedia", transforms=("encode-720p",),
                            api_key="the-rms-key")
        sim.generate_jobs("rms", n=600, start=T0 - 86400, end=T0, transform="encode-720p")
        arm = sim.arm_account("rms")
        client = AzureMediaServices(KeyCredential(sim, arm.subscription_id, "the-rms-key"),
                                    arm.subscription_id, base_url=sim.rms_endpoint)
        read = {job.name: job.state for job in
                client.jobs.list(arm.resource_group, arm.account_name, "encode-720p")}
        assert len(read) == 600
        config = parse_config(rms_config(sim).replace(
            "refresh:", "retention: {finished: 30d, failed: 30d}\nlookback: 30d\nrefresh:"), {})
        exporter = Exporter(config, clock=clock)
        try:
            metrics = scrape(exporter)
        finally:
            exporter.close()
    exported = {dict(labels)["job_id"]: JobState(int(value)).name for labels, value in
                metrics.find("ams_job_state_code", account="rms-prod").items()}
    assert exported == read
