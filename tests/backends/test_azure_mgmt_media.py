"""The official azure-mgmt-media 10.2.1 client against the simulator, signed in through the
simulator's Azure AD with the real ClientSecretCredential, over TLS."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.identity import ClientSecretCredential
from azure.mgmt.media import AzureMediaServices

from exporter.app.config import parse_config
from exporter.app.exporter import Exporter
from exporter.jobs.states import JobState
from exporter.simulator import ManualClock, Simulator
from tests.helpers import parse_exposition

T0 = 1767225600.0  # 2026-01-01T00:00:00Z
JOBS = 1250  # more than two pages of 500
SCOPE = "https://management.azure.com/.default"


@pytest.fixture
def sim(monkeypatch: pytest.MonkeyPatch) -> Iterator[Simulator]:
    with Simulator(clock=ManualClock(T0), seed=11).start(tls=True) as simulator:
        assert simulator.ca_cert_path is not None
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", simulator.ca_cert_path)
        simulator.add_client("tenant1", "client1", "secret1")
        simulator.require_issued_tokens = True
        simulator.add_v3_account("acct1", transforms=("encode-720p", "thumbnails"))
        simulator.generate_jobs("acct1", n=JOBS, start=T0 - 86400, end=T0,
                                transform="encode-720p")
        simulator.generate_jobs("acct1", n=30, start=T0 - 3600, end=T0,
                                transform="thumbnails")
        yield simulator


@pytest.fixture
def client(sim: Simulator) -> AzureMediaServices:
    credential = ClientSecretCredential("tenant1", "client1", "secret1",
                                        authority=sim.aad_authority,
                                        disable_instance_discovery=True)
    subscription = sim.arm_account("acct1").subscription_id
    return AzureMediaServices(credential, subscription, base_url=sim.arm_endpoint,
                              credential_scopes=[SCOPE])


def test_lists_transforms_and_every_job_with_the_simulators_states(
    sim: Simulator, client: AzureMediaServices
) -> None:
    arm = sim.arm_account("acct1")
    transforms = list(client.transforms.list(arm.resource_group, arm.account_name))
    assert [t.name for t in transforms] == sorted(sim.transforms("acct1"))
    assert transforms[0].outputs[0].preset.preset_name == "AdaptiveStreaming"

    jobs = list(client.jobs.list(arm.resource_group, arm.account_name, "encode-720p"))
    assert len(jobs) == JOBS
    assert len({job.id for job in jobs}) == JOBS
    assert sim.request_count(account="acct1", kind="jobs") == 3  # 500 + 500 + 250
    for job in jobs:
        assert job.state == sim.job_state("acct1", job.name, "encode-720p").name
        assert job.outputs and job.created is not None
    assert {job.state for job in jobs} >= {"Finished", "Error", "Canceled"}
    failed = next(job for job in jobs if job.state == "Error")
    assert failed.outputs[0].error.category in {"Service", "Download", "Upload",
                                                "Configuration", "Content", "Account"}
    assert sim.request_count(kind="token") == 1


def test_filter_orderby_and_not_found(sim: Simulator, client: AzureMediaServices) -> None:
    arm = sim.arm_account("acct1")
    processing = list(client.jobs.list(
        arm.resource_group, arm.account_name, "encode-720p",
        filter="properties/state eq Microsoft.Media.JobState'Processing'"))
    everything = list(client.jobs.list(arm.resource_group, arm.account_name, "encode-720p",
                                       orderby="properties/created desc"))
    expected = {job.name for job in everything
                if sim.job_state("acct1", job.name) == JobState.Processing}
    assert expected and {job.name for job in processing} == expected
    assert all(job.state == "Processing" for job in processing)
    created = [job.created for job in everything]
    assert len(created) == JOBS and created == sorted(created, reverse=True)
    with pytest.raises(ResourceNotFoundError):
        client.jobs.get(arm.resource_group, arm.account_name, "encode-720p", "no-such-job")
    job = client.jobs.get(arm.resource_group, arm.account_name, "thumbnails",
                          sim.generate_jobs("acct1", 1, T0 - 10, T0 - 5, "thumbnails")[0])
    assert job.state == sim.job_state("acct1", job.name, "thumbnails").name


def test_the_exporter_exports_what_the_official_client_reads(
    sim: Simulator, client: AzureMediaServices
) -> None:
    arm = sim.arm_account("acct1")
    official = {(t, job.name): job.state
                for t in ("encode-720p", "thumbnails")
                for job in client.jobs.list(arm.resource_group, arm.account_name, t)}
    config = parse_config(f"""
refresh: {{min_interval: 0s, timeout: 20s}}
retention: {{finished: 2d, failed: 2d}}
lookback: 2d
accounts:
  - name: acct1
    api: v3
    subscription_id: {arm.subscription_id}
    resource_group: {arm.resource_group}
    account_name: {arm.account_name}
    arm_endpoint: {sim.arm_endpoint}
    auth:
      method: client_secret
      tenant_id: tenant1
      client_id: client1
      client_secret: secret1
      authority_host: {sim.aad_authority}
""", {})
    exporter = Exporter(config, clock=sim.clock, environ={})
    try:
        exporter.refresh_due()
        metrics = parse_exposition(exporter.text())
    finally:
        exporter.close()
    assert metrics.value("ams_up", account="acct1") == 1
    exported = {}
    for labels, value in metrics.find("ams_job_state").items():
        if value == 1:
            label = dict(labels)
            exported[(label["transform"], label["job_id"])] = label["state"]
    assert len(official) == JOBS + 30
    assert exported == official
