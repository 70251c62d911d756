"""A running exporter process: graceful SIGTERM, reloads on SIGHUP and file change."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from exporter.simulator import SimJob, Simulator, SystemClock
from tests.helpers import free_port, parse_exposition, wait_until


@pytest.fixture
def live_sim():
    sim = Simulator(clock=SystemClock(), seed=5, require_auth=False)
    sim.add_v2_account("acct")
    sim.add_v2_account("other")
    now = time.time()
    sim.add_job("acct", SimJob("nb:jid:UUID:a1", "a1", now - 60))
    sim.add_job("other", SimJob("nb:jid:UUID:o1", "o1", now - 60))
    with sim.start():
        yield sim


def account(sim: Simulator, name: str) -> str:
    return f"""
  - name: {name}
    endpoint: {sim.v2_endpoint(name)}
    auth: {{method: none}}
"""


def write_config(path: Path, sim: Simulator, *names: str, min_interval: str = "0s") -> None:
    path.write_text(f"refresh: {{min_interval: {min_interval}, timeout: 20s}}\naccounts:"
                    + "".join(account(sim, n) for n in names))


@pytest.fixture
def run_exporter(tmp_path):
    processes: list[subprocess.Popen[str]] = []

    def start(config: Path) -> tuple[subprocess.Popen[str], str]:
        port = free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "exporter", "--config.file", str(config),
             "--web.listen-address", f"127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        processes.append(process)
        url = f"http://127.0.0.1:{port}"

        def up() -> bool:
            try:
                return requests.get(url + "/healthz", timeout=2).ok
            except requests.ConnectionError:
                return False

        assert wait_until(up, timeout=20), "exporter did not start"
        return process, url

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def metrics(url: str):
    return parse_exposition(requests.get(url + "/metrics", timeout=30).text)


def test_sigterm_answers_the_scrape_in_flight_and_exits_quickly(live_sim, tmp_path,
                                                                run_exporter):
    config = tmp_path / "config.yaml"
    write_config(config, live_sim, "acct")
    process, url = run_exporter(config)
    assert metrics(url).value("ams_up", account="acct") == 1
    live_sim.set_faults(account=None, latency=10.0)  # the next refresh hangs
    answers: list[int] = []
    scrape = threading.Thread(target=lambda: answers.append(
        requests.get(url + "/metrics", timeout=30).status_code))
    scrape.start()
    # the scrape is waiting for a refresh that the simulator holds up
    assert wait_until(lambda: "refreshing" in requests.get(url + "/", timeout=5).text,
                      timeout=10)
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0
    scrape.join(timeout=10)
    assert time.monotonic() - started < 5
    assert answers == [200]


def test_sighup_applies_a_new_config_and_keeps_existing_accounts(live_sim, tmp_path,
                                                                 run_exporter):
    config = tmp_path / "config.yaml"
    write_config(config, live_sim, "acct")
    process, url = run_exporter(config)
    first = metrics(url)
    assert first.value("ams_config_last_reload_successful") == 1
    requests_before = first.value("ams_api_requests_total", account="acct", code="200")
    write_config(config, live_sim, "acct", "other")
    process.send_signal(signal.SIGHUP)
    assert wait_until(lambda: metrics(url).find("ams_up", account="other"), timeout=10)
    after = metrics(url)
    assert after.value("ams_up", account="other") == 1
    assert after.job_ids("other") == {"nb:jid:UUID:o1"}
    # the unchanged account kept its counters (a new one would start from zero)
    assert after.value("ams_api_requests_total", account="acct", code="200") > requests_before
    assert after.value("ams_job_transitions_total", account="acct", to_state="Queued") == 1

    config.write_text("accounts: [{name: broken}]")
    process.send_signal(signal.SIGHUP)
    assert wait_until(
        lambda: metrics(url).value("ams_config_last_reload_successful") == 0, timeout=10)
    kept = metrics(url)
    assert kept.job_ids("acct") == {"nb:jid:UUID:a1"}
    assert kept.job_ids("other") == {"nb:jid:UUID:o1"}
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0
    assert "configuration reload failed, keeping the running one: accounts[0].endpoint" \
        in process.stderr.read()


def test_a_changed_config_file_is_picked_up_without_a_signal(live_sim, tmp_path,
                                                             run_exporter):
    config = tmp_path / "config.yaml"
    write_config(config, live_sim, "acct")
    _, url = run_exporter(config)
    assert not metrics(url).find("ams_up", account="other")
    write_config(config, live_sim, "other")
    os.utime(config, (time.time() + 5, time.time() + 5))  # a visible mtime change
    assert wait_until(lambda: metrics(url).find("ams_up", account="other"), timeout=15)
    assert not metrics(url).find("ams_up", account="acct")
