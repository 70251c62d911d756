"""refresh.max_staleness: a scrape is answered at once from a snapshot younger than
it while the due refresh runs in the background; with an older snapshot (or none) the
scrape waits for the refresh, as before. Over HTTP, against the simulator, whose
answers are slowed down (fault injection) so that the refresh outlasts the scrape."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from exporter.app.config import parse_config
from exporter.app.exporter import Exporter
from exporter.simulator import ManualClock, SimJob, Simulator
from exporter.web.server import MetricsServer
from tests.helpers import T0, parse_exposition, uid, wait_until


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(clock=ManualClock(T0), seed=3, require_auth=False).start() as simulator:
        simulator.add_v2_account("acct")
        simulator.add_job("acct", SimJob(uid(1), "first", T0 - 60))
        yield simulator


def serve(sim: Simulator, refresh: str) -> tuple[Exporter, MetricsServer]:
    config = parse_config(f"""
refresh: {{{refresh}}}
accounts:
  - name: acct
    endpoint: {sim.v2_endpoint("acct")}
    auth: {{method: none}}
""", {})
    exporter = Exporter(config, clock=sim.clock)
    return exporter, MetricsServer(exporter, "127.0.0.1", 0).start()


def job_ids(server: MetricsServer) -> set[str]:
    text = requests.get(server.url + "/metrics", timeout=30).text
    return parse_exposition(text).job_ids()


@pytest.mark.parametrize("refresh, waits", [
    ("min_interval: 10s, timeout: 20s", False),            # default: 3 x 10 s = 30 s
    ("min_interval: 10s, timeout: 20s, max_staleness: 12s", True),
    ("min_interval: 10s, timeout: 20s, max_staleness: 0s", True),
])
def test_a_young_snapshot_answers_while_the_refresh_runs(sim, refresh, waits):
    exporter, server = serve(sim, refresh)
    try:
        assert job_ids(server) == {uid(1)}  # no snapshot yet: the first scrape waits
        sim.add_job("acct", SimJob(uid(2), "second", T0 - 30))
        sim.set_faults("acct", latency=2.0)  # the listing takes a while
        sim.clock.advance(15)  # the refresh is due; the snapshot is 15 s old
        seen = job_ids(server)
        if waits:  # older than max_staleness: the scrape waited for the new listing
            assert seen == {uid(1), uid(2)}
        else:  # answered from the snapshot while the refresh went on
            assert seen == {uid(1)}
            sim.clear_faults("acct")
            assert wait_until(lambda: job_ids(server) == {uid(1), uid(2)}, timeout=10)
    finally:
        server.stop()
        exporter.close()


def test_a_failed_refresh_does_not_make_an_old_snapshot_young(sim):
    """Age counts from the last refresh that succeeded: after failures the data
    gets older, and past max_staleness the scrape waits again."""
    exporter, server = serve(sim, "min_interval: 10s, timeout: 5s, max_staleness: 25s")
    try:
        assert job_ids(server) == {uid(1)}
        refresher = exporter.refreshers[0]
        sim.clock.advance(15)
        assert refresher.servable()
        sim.clock.advance(15)  # 30 s since the last success
        assert not refresher.servable()
    finally:
        server.stop()
        exporter.close()


def test_the_max_staleness_default_follows_min_interval():
    config = parse_config("refresh: {min_interval: 20s}\naccounts: [{name: a, "
                          "endpoint: 'http://h/api/', auth: {method: none}}]", {})
    assert config.refresh_policy().max_staleness == 60
    explicit = config.model_copy(update={"refresh": config.refresh.model_copy(
        update={"max_staleness": 5.0})})
    assert explicit.refresh_policy().max_staleness == 5




def test_a_refresh_runs_its_after_refresh_hook_before_releasing_waiting_scrapes(sim):
    """The exporter renders a refresh's snapshot in the refresh's thread (the hook),
    and a scrape that waited for the refresh is released only after it."""
    exporter, server = serve(sim, "min_interval: 1s, timeout: 20s, max_staleness: 0s")
    try:
        assert job_ids(server) == {uid(1)}
        refresher, hook = exporter.refreshers[0], exporter.scheduler.after_refresh
        assert hook is not None
        seen: list[int] = []

        def recording_hook() -> None:
            seen.append(refresher.snapshot.generation)
            hook()

        exporter.scheduler.after_refresh = recording_hook
        sim.add_job("acct", SimJob(uid(2), "second", T0 - 30))
        sim.clock.advance(1.5)  # due, and the last render is still served (under 2 s)
        assert job_ids(server) == {uid(1), uid(2)}
        assert seen == [refresher.snapshot.generation]
    finally:
        server.stop()
        exporter.close()
