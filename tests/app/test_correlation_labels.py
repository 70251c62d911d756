"""A job's correlationData as labels (metrics.correlation_labels), against the simulator
over real HTTP: the families that carry them, the empty value, the cap and its
overflow counter, values events fill in, and MK.IO."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from exporter.app.config import parse_config
from exporter.app.demo import DEMO_ACCOUNTS, demo_config
from exporter.app.exporter import Exporter
from exporter.jobs.states import JobState
from exporter.metrics.names import OWN_LABELS
from exporter.simulator import SimJob, Simulator
from exporter.web.server import MetricsServer
from tests import helpers
from tests.helpers import SUB, T0, parse_exposition, scrape, wait_until

LABELS = "metrics: {correlation_labels: {tenant: customerId, flow: workflow}}"
SECRET = "correlation-push-secret"


def config(sim: Simulator, top: str = LABELS) -> str:
    account = helpers.v3_account(sim.arm_endpoint, auth="{method: token_file, path: TOKEN}")
    return f"refresh: {{min_interval: 0s, timeout: 10s}}\n{top}\naccounts:{account}"


def job(name: str, created: float, *events: tuple[float, JobState],
        correlation: dict[str, object] | None = None) -> SimJob:
    return SimJob(name, name, created, events=list(events), correlation=correlation)


@pytest.fixture
def v3_sim(simulator: Simulator) -> Simulator:
    simulator.add_v3_account("prod", subscription_id=SUB, resource_group="media-rg",
                             account_name="prodmedia", transforms=("encode", "thumbs"))
    return simulator


def test_the_labels_are_on_every_family_that_carries_them(v3_sim, clock, make_exporter):
    acme = {"customerId": "acme", "workflow": "vod", "other": "ignored"}
    v3_sim.add_job("prod", job("job-queued", T0 - 50, correlation=acme), transform="encode")
    v3_sim.add_job("prod", job("job-running", T0 - 600, (T0 + 5, JobState.Processing),
                               (T0 + 20, JobState.Finished), correlation=acme),
                   transform="encode")
    v3_sim.add_job("prod", job("job-bare", T0 - 40, correlation={"customerId": 42}),
                   transform="encode")
    v3_sim.add_job("prod", job("job-none", T0 - 30), transform="thumbs")
    exporter = make_exporter(config(v3_sim))
    first = scrape(exporter)
    info = {dict(labels)["job_id"]: (dict(labels)["tenant"], dict(labels)["flow"])
            for labels in first.find("ams_job_info", account="prod")}
    assert info == {"job-queued": ("acme", "vod"), "job-running": ("acme", "vod"),
                    "job-bare": ("42", ""), "job-none": ("", "")}
    acme_labels = {"account": "prod", "transform": "encode", "tenant": "acme", "flow": "vod"}
    assert first.value("ams_jobs", state="Queued", **acme_labels) == 2
    assert first.value("ams_jobs", state="Error", **acme_labels) == 0  # zeros per value
    assert first.value("ams_jobs", state="Queued", account="prod", transform="encode",
                       tenant="42", flow="") == 1
    assert first.value("ams_jobs", state="Queued", account="prod", transform="thumbs",
                       tenant="", flow="") == 1
    assert first.value("ams_job_oldest_age_seconds", state="Queued",
                       **acme_labels) == pytest.approx(600)
    assert first.value("ams_job_transitions_total", to_state="Queued", **acme_labels) == 2
    assert first.value("ams_correlation_label_overflow_total", account="prod",
                       label="tenant") == 0
    clock.advance(30)
    later = scrape(exporter)
    assert later.value("ams_job_transitions_total", to_state="Finished", **acme_labels) == 1
    assert later.value("ams_job_duration_seconds_count", state="Finished", **acme_labels) == 1
    assert later.value("ams_job_queue_duration_seconds_count", **acme_labels) == 1
    assert later.value("ams_job_duration_seconds_count", state="Finished", account="prod",
                       transform="thumbs", tenant="", flow="") == 0
    # Every label name is the exporter's own, or a correlation label.
    names = {name for _, labels in later.samples for name, _ in labels}
    assert names <= OWN_LABELS | {"tenant", "flow"}, names - OWN_LABELS


def test_without_the_setting_no_family_has_them(v3_sim, make_exporter):
    v3_sim.add_job("prod", job("job-a", T0 - 50, correlation={"customerId": "acme"}),
                   transform="encode")
    metrics = scrape(make_exporter(config(v3_sim, top="")))
    assert not [labels for _, labels in metrics.samples if dict(labels).get("tenant")]
    assert "ams_correlation_label_overflow" not in metrics.families


def test_values_past_the_limit_read_other_and_are_counted(v3_sim, clock, make_exporter):
    for i, customer in enumerate(("a", "b", "c")):
        v3_sim.add_job("prod", job(f"job-{customer}", T0 - 100 + i,
                                   correlation={"customerId": customer}), transform="encode")
    exporter = make_exporter(config(
        v3_sim, "metrics: {correlation_labels: {tenant: customerId}, "
                "correlation_label_limit: 2}"))
    first = scrape(exporter)
    tenants = {dict(labels)["job_id"]: dict(labels)["tenant"]
               for labels in first.find("ams_job_info")}
    assert tenants == {"job-a": "a", "job-b": "b", "job-c": "__other__"}
    assert first.value("ams_jobs", state="Queued", tenant="__other__", transform="encode") == 1
    assert first.value("ams_correlation_label_overflow_total", label="tenant") == 1
    assert scrape(exporter).value("ams_correlation_label_overflow_total", label="tenant") == 1
    v3_sim.add_job("prod", job("job-d", T0 - 10, correlation={"customerId": "d"}),
                   transform="encode")
    v3_sim.add_job("prod", job("job-a2", T0 - 5, correlation={"customerId": "a"}),
                   transform="encode")
    clock.advance(1)
    later = scrape(exporter)
    assert later.value("ams_correlation_label_overflow_total", label="tenant") == 2
    assert later.value("ams_jobs", state="Queued", tenant="__other__", transform="encode") == 2
    assert later.value("ams_jobs", state="Queued", tenant="a", transform="encode") == 2


@pytest.fixture
def served(v3_sim, clock, token_file) -> Iterator[tuple[Exporter, str]]:
    v3_sim.add_job("prod", job("job-late", T0 - 60, (T0 - 30, JobState.Processing)),
                   transform="encode")
    text = config(v3_sim).replace("TOKEN", token_file)
    exporter = Exporter(parse_config(
        text.replace("refresh: {min_interval: 0s", "refresh: {min_interval: 10m") +
        f'\nevents: {{enabled: true, secrets: ["{SECRET}"]}}\n', {}), clock=clock)
    server = MetricsServer(exporter, "127.0.0.1", 0).start()
    yield exporter, server.url
    server.stop()
    exporter.close()


def test_an_event_fills_in_a_value_before_the_next_listing(v3_sim, served):
    exporter, url = served

    def tenant() -> str:
        metrics = parse_exposition(requests.get(url + "/metrics", timeout=10).text)
        [labels] = metrics.find("ams_job_info", job_id="job-late")
        return dict(labels)["tenant"]

    assert tenant() == ""
    v3_sim.set_correlation("prod", "job-late", {"customerId": "acme"}, transform="encode")
    feed = v3_sim.start_events(url + "/events", secret=SECRET, retry_scale=0.01,
                               progress_interval=None)
    v3_sim.script_state("prod", "job-late", JobState.Error, at=v3_sim.clock() + 1,
                        transform="encode")
    v3_sim.clock.advance(2)
    assert feed.wait_idle(timeout=10) and feed.delivered >= 1
    assert wait_until(lambda: tenant() == "acme", timeout=2.0)
    assert exporter.refreshers[0].status.attempts == 1, "no listing since: polling is 10m"
    metrics = parse_exposition(requests.get(url + "/metrics", timeout=10).text)
    assert metrics.value("ams_jobs", account="prod", transform="encode", state="Error",
                         tenant="acme", flow="") == 1
    assert "ams_events_received" in metrics.families
    names = {name for _, labels in metrics.samples for name, _ in labels}
    assert names <= OWN_LABELS | {"tenant", "flow"}, names - OWN_LABELS


def test_mkio_listings_and_their_webhooks_carry_the_values(simulator, make_exporter,
                                                          tmp_path):
    simulator.add_mkio_account("mk", project="my-project", transforms=("encode",))
    token = simulator.add_mkio_token("mk")
    simulator.add_job("mk", job("job-m", T0 - 50, correlation={"customerId": "acme"}),
                      transform="encode")
    path = tmp_path / "mkio-token"
    path.write_text(token)
    metrics = scrape(make_exporter(f"""
refresh: {{min_interval: 0s, timeout: 10s}}
{LABELS}
accounts:
  - name: mk-prod
    api: mkio
    project: my-project
    endpoint: {simulator.mkio_endpoint}
    auth: {{method: token_file, path: {path}}}
"""))
    [labels] = metrics.find("ams_job_info", account="mk-prod", job_id="job-m")
    assert dict(labels)["tenant"] == "acme" and dict(labels)["flow"] == ""
    assert metrics.value("ams_jobs", account="mk-prod", transform="encode", state="Queued",
                         tenant="acme", flow="") == 1


def test_the_demo_maps_tenant_to_the_simulated_customers():
    with Simulator(require_auth=False).start() as sim:
        for account in DEMO_ACCOUNTS:
            account.serve(sim, account.name)
        config = demo_config(sim, "secret")
    assert config.metrics.correlation().names == ("tenant",)
    assert config.metrics.correlation().keys == ("customerId",)
