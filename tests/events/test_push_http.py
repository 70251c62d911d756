"""Push deliveries over HTTP: the simulator as Event Grid (and its Azure AD as the
token issuer) against the exporter's listener."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest
import requests

from exporter.app.config import parse_config
from exporter.app.exporter import Exporter
from exporter.common.sharding import Sharding, shard_of
from exporter.jobs.states import JobState
from exporter.simulator import ManualClock, SimJob, Simulator
from exporter.web.server import MetricsServer
from tests.helpers import SUB, T0, parse_exposition, v3_account, wait_until

SECRET = "push-secret-1"
TENANT = "tenant-push"
AUDIENCE = "api://ams-job-exporter"


class Running:
    """An exporter and its HTTP server."""

    def __init__(self, config_text: str, clock: ManualClock, sharding: Sharding | None = None):
        self.exporter = Exporter(parse_config(config_text, {}), clock=clock, sharding=sharding)
        self.server = MetricsServer(self.exporter, "127.0.0.1", 0).start()
        self.url = self.server.url

    def metrics(self):
        return parse_exposition(requests.get(self.url + "/metrics", timeout=10).text)

    def state(self, job: str) -> str | None:
        for labels, value in self.metrics().find("ams_job_state", job_id=job).items():
            if value == 1:
                return dict(labels)["state"]
        return None

    def close(self) -> None:
        self.server.stop()
        self.exporter.close()


@pytest.fixture
def sim() -> Iterator[Simulator]:
    clock = ManualClock(T0)
    with Simulator(clock=clock, seed=5, require_auth=False).start() as simulator:
        simulator.add_v3_account("prod", subscription_id=SUB, resource_group="media-rg",
                                 account_name="prodmedia", transforms=("encode-720p",))
        simulator.add_job("prod", SimJob("job-x", "job-x", T0 - 60,
                                         events=[(T0 - 30, JobState.Processing)]),
                          transform="encode-720p")
        yield simulator


@pytest.fixture
def running(sim) -> Iterator[Running]:
    service = Running(f"""
refresh: {{min_interval: 10m, timeout: 10s}}
events: {{enabled: true, secrets: ["{SECRET}"], max_body_bytes: 64KiB}}
accounts:{v3_account(sim.arm_endpoint)}
""", sim.clock)
    assert service.exporter.refresh_due()
    yield service
    service.close()


@pytest.mark.parametrize("schema", ["eventgrid", "cloudevents"])
def test_a_failure_shows_within_a_second_of_its_delivery(sim, running, schema):
    feed = sim.start_events(running.url + "/events", schema=schema, secret=SECRET,
                            retry_scale=0.01, progress_interval=None)
    assert running.state("job-x") == "Processing"
    sim.script_state("prod", "job-x", JobState.Error, at=sim.clock() + 1,
                     transform="encode-720p")
    sim.clock.advance(2)
    assert feed.wait_idle(timeout=10) and feed.delivered >= 1
    assert feed.handshakes and all(h == "validated" for h in feed.handshakes.values())
    assert wait_until(lambda: running.state("job-x") == "Error", timeout=1.0)
    assert running.exporter.refreshers[0].status.attempts == 1, "no refresh: polling is 10m"
    metrics = running.metrics()
    assert metrics.value("ams_events_received_total", account="prod",
                         type="Microsoft.Media.JobErrored") == 1


def test_hostile_bodies_get_413_and_400_while_scrapes_go_on(running):
    events = running.url + "/events?secret=" + SECRET
    assert requests.post(events, data=b"x" * (64 * 1024 + 1), timeout=10).status_code == 413
    assert requests.post(events, data=b"{not json", timeout=10).status_code == 400
    assert requests.post(events, data=b"[" * 30_000 + b"]" * 30_000,
                         timeout=10).status_code == 400
    assert requests.post(running.url + "/events", data=b"[]", timeout=10).status_code == 401
    assert requests.post(running.url + "/elsewhere", data=b"[]", timeout=10).status_code == 404
    assert requests.get(running.url + "/metrics", timeout=10).status_code == 200
    metrics = running.metrics()
    assert metrics.value("ams_events_rejected_total", reason="too_large") == 1
    assert metrics.value("ams_events_rejected_total", reason="malformed") == 2
    assert metrics.value("ams_events_rejected_total", reason="unauthorized") == 1


def test_the_cloudevents_handshake_over_http(running):
    answer = requests.options(running.url + "/events",
                              headers={"WebHook-Request-Origin": "eventgrid.azure.net"},
                              timeout=10)
    assert answer.status_code == 200
    assert answer.headers["WebHook-Allowed-Origin"] == "eventgrid.azure.net"


def test_a_receiver_down_mid_run_loses_nothing(sim, running):
    feed = sim.start_events(running.url + "/events", secret=SECRET, retry_scale=0.002,
                            progress_interval=None)
    assert wait_until(lambda: list(feed.handshakes.values()) == ["validated"], timeout=10)
    new = set(sim.generate_jobs("prod", n=20, start=sim.clock() - 10, end=sim.clock()))
    port = running.server.port
    running.server.stop()  # the receiver goes away while jobs move on
    sim.clock.advance(300)  # within the 10-minute polling interval
    assert wait_until(lambda: feed.retried > 0, timeout=10)
    running.server = MetricsServer(running.exporter, "127.0.0.1", port).start()
    assert feed.wait_idle(timeout=20) and feed.dropped == 0
    # jobs that ended since had events (those still as the feed first saw them did
    # not): they are fetched by name
    moved = {job for job in new if sim.job_state("prod", job, "encode-720p").is_final}
    assert moved
    assert wait_until(lambda: moved <= {k[1] for k in running.exporter.refreshers[0]
                                        .snapshot.jobs}, timeout=5), "fetched by name"
    known = {key[1] for key in running.exporter.refreshers[0].snapshot.jobs}
    truth = {job: sim.job_state("prod", job, "encode-720p").name for job in known}
    assert wait_until(lambda: all(running.state(job) == state
                                  for job, state in truth.items()), timeout=5)
    assert running.exporter.refreshers[0].status.attempts == 1, "events alone, no refresh"


def test_entra_tokens_are_checked(monkeypatch):
    clock = ManualClock(T0)
    with Simulator(clock=clock, seed=6, require_auth=False).start(tls=True) as sim:
        assert sim.ca_cert_path is not None
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", sim.ca_cert_path)
        sim.add_v3_account("prod", subscription_id=SUB, resource_group="media-rg",
                           account_name="prodmedia", transforms=("encode-720p",))
        sim.add_job("prod", SimJob("job-x", "job-x", T0 - 60,
                                   events=[(T0 - 30, JobState.Processing)]),
                    transform="encode-720p")
        service = Running(f"""
refresh: {{min_interval: 10m, timeout: 10s}}
events:
  enabled: true
  entra: {{tenant_id: {TENANT}, audience: "{AUDIENCE}", authority: "{sim.aad_authority}"}}
accounts:{v3_account(sim.arm_endpoint)}
""", clock)
        try:
            assert service.exporter.refresh_due()
            event = [{"topic": f"/subscriptions/{SUB}/resourceGroups/media-rg/providers/"
                               "Microsoft.Media/mediaservices/prodmedia",
                      "subject": "transforms/encode-720p/jobs/job-x",
                      "eventType": "Microsoft.Media.JobErrored",
                      "eventTime": "2026-01-01T00:00:10.0000000", "id": "1",
                      "data": {"state": "Error", "previousState": "Processing",
                               "outputs": []}, "dataVersion": "1.0"}]

            def post(token: str) -> int:
                return requests.post(service.url + "/events", data=json.dumps(event),
                                     headers={"Authorization": f"Bearer {token}"},
                                     timeout=10).status_code

            expired = sim.issue_event_grid_token(TENANT, AUDIENCE, lifetime=60)
            clock.advance(600)  # past exp and the two minutes of clock skew allowed
            refused = {
                "expired": expired,
                "wrong audience": sim.issue_event_grid_token(TENANT, "api://someone-else"),
                "bad signature": sim.issue_event_grid_token(TENANT, AUDIENCE,
                                                            signing_key="unpublished"),
                "foreign app": sim.issue_event_grid_token(TENANT, AUDIENCE, app_id="x"),
            }
            for why, token in refused.items():
                assert post(token) == 401, why
            assert service.state("job-x") == "Processing", "nothing applied"
            for version in (1, 2):
                assert post(sim.issue_event_grid_token(TENANT, AUDIENCE,
                                                       version=version)) == 200
            assert service.state("job-x") == "Error"
        finally:
            service.close()


def free_port_pair() -> int:
    """A port P, a multiple of 10, with P and P + 1 both free: the shards' ports, so
    the peer template http://127.0.0.1:<P // 10>{shard} names them."""
    for base in range(20000, 60000, 10):
        sockets = []
        try:
            for port in (base, base + 1):
                sock = socket.socket()
                sock.bind(("127.0.0.1", port))
                sockets.append(sock)
            return base
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise AssertionError("no free pair of ports")


def test_a_delivery_to_the_wrong_shard_reaches_the_owner(sim):
    sim.add_v3_account("other", subscription_id=SUB, resource_group="media-rg",
                       account_name="othermedia", transforms=("encode-720p",))
    sim.add_job("other", SimJob("job-o", "job-o", T0 - 60,
                                events=[(T0 - 30, JobState.Processing)]),
                transform="encode-720p")
    owner_of = {name: shard_of(name, 2) for name in ("prod", "other")}
    assert owner_of["prod"] != owner_of["other"], "the test needs them on different shards"
    base = free_port_pair()
    config = parse_config(f"""
refresh: {{min_interval: 10m, timeout: 10s}}
events: {{enabled: true, secrets: ["{SECRET}"]}}
accounts:{v3_account(sim.arm_endpoint)}{v3_account(sim.arm_endpoint, "other", "othermedia")}
""", {})
    template = f"http://127.0.0.1:{base // 10}{{shard}}"
    exporters = [Exporter(config, clock=sim.clock, sharding=Sharding(n, 2, template))
                 for n in range(2)]
    servers = [MetricsServer(e, "127.0.0.1", base + n).start()
               for n, e in enumerate(exporters)]
    try:
        for exporter in exporters:
            assert exporter.refresh_due()
        owner, stranger = servers[owner_of["other"]], servers[owner_of["prod"]]

        def state_on(server: MetricsServer) -> str | None:
            text = requests.get(server.url + "/metrics", timeout=10).text
            found = parse_exposition(text).find("ams_job_state", job_id="job-o")
            return next((dict(k)["state"] for k, v in found.items() if v == 1), None)

        event = [{"topic": f"/subscriptions/{SUB}/resourceGroups/media-rg/providers/"
                           "Microsoft.Media/mediaservices/othermedia",
                  "subject": "transforms/encode-720p/jobs/job-o",
                  "eventType": "Microsoft.Media.JobFinished",
                  "eventTime": "2026-01-01T00:00:10.0000000", "id": "1",
                  "data": {"state": "Finished", "previousState": "Processing",
                           "outputs": [{"progress": 100, "state": "Finished", "label": "x"}]},
                  "dataVersion": "1.0"}]
        events = stranger.url + "/events?secret=" + SECRET
        assert requests.post(events, data=json.dumps(event), timeout=10).status_code == 200
        assert wait_until(lambda: state_on(owner) == "Finished", timeout=2.0)
        assert state_on(stranger) is None, "only the owner exports the account"
        owner.stop()  # the owner is down: the sender must retry later
        answer = requests.post(events, data=json.dumps(event), timeout=10)
        assert answer.status_code == 503 and answer.headers["Retry-After"]
    finally:
        for server in servers:
            server.stop()
        for exporter in exporters:
            exporter.close()
