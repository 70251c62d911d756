"""The command line: `once`, `--demo`, `simulate`, as a user runs them."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from exporter.jobs.states import JobState
from exporter.simulator import SimJob
from tests.helpers import (
    T0,
    output_lines,
    parse_exposition,
    v2_config,
    wait_for_line,
    wait_until,
)


def test_once_prints_the_exposition(simulator, tmp_path: Path, token_file: str):
    simulator.add_job("acct", SimJob("nb:jid:UUID:1", "job one", T0 - 30,
                                     events=[(T0 - 20, JobState.Processing)]))
    config = tmp_path / "config.yaml"
    config.write_text(v2_config(simulator.v2_endpoint("acct")).replace("TOKEN", token_file))
    result = subprocess.run([sys.executable, "-m", "exporter", "once", "--config.file",
                             str(config)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    metrics = parse_exposition(result.stdout)
    assert metrics.value("ams_job_state", job_id="nb:jid:UUID:1", state="Processing") == 1
    assert metrics.value("ams_up", account="acct") == 1


def test_once_exits_1_when_an_account_fails(tmp_path: Path):
    config = tmp_path / "config.yaml"
    config.write_text(v2_config("http://127.0.0.1:9/api/", auth="{method: none}"))
    result = subprocess.run([sys.executable, "-m", "exporter", "once", "--config.file",
                             str(config)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert parse_exposition(result.stdout).value("ams_up", account="acct") == 0
    assert "account acct: refresh failed" in result.stderr


def _start(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "exporter", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, **(env or {})})


def _read_url(process: subprocess.Popen[str], label: str, timeout: float = 30.0) -> str:
    """The URL printed after `label`."""
    return wait_for_line(output_lines(process), re.escape(label) + r"\s+(http://\S+)",
                         timeout).group(1)


def _transitions(url: str) -> float:
    metrics = parse_exposition(requests.get(url, timeout=10).text)
    return sum(metrics.find("ams_job_transitions_total").values())


def test_demo_shows_changing_metrics_within_a_minute():
    process = _start(["--demo", "--web.listen-address", "127.0.0.1:0"])
    try:
        url = _read_url(process, "Exporter metrics:")
        assert wait_until(lambda: requests.get(url, timeout=10).ok, timeout=20)
        assert wait_until(lambda: _transitions(url) > 0, timeout=20)
        first = _transitions(url)
        assert wait_until(lambda: _transitions(url) > first, timeout=60, interval=1.0)
        metrics = parse_exposition(requests.get(url, timeout=10).text)
        states = {dict(k)["state"] for k, v in metrics.find("ams_jobs").items() if v > 0}
        assert {"Finished", "Error"} <= states
        for account in ("demo", "demo-v3", "demo-rms", "demo-mkio"):  # v2, v3, RMS, MK.IO
            assert metrics.value("ams_up", account=account) == 1
            assert sum(metrics.find("ams_jobs", account=account).values()) > 0
        assert wait_until(lambda: sum(parse_exposition(requests.get(url, timeout=10).text)
                                      .find("ams_events_received_total").values()) > 0,
                          timeout=30), "the simulator pushes events to the demo"
        landing = requests.get(url.removesuffix("metrics"), timeout=10).text
        assert "<td>demo-rms</td><td>v3</td><td>rms_api_key</td><td>ok</td>" in landing
        assert "<td>demo-mkio</td><td>mkio</td><td>token</td><td>ok</td>" in landing
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0


def test_simulate_serves_the_v2_api():
    process = _start(["simulate", "--listen", "127.0.0.1:0", "--jobs", "50", "--seed", "3"])
    try:
        endpoint = _read_url(process, "account demo:")
        headers = {"x-ms-version": "2.19", "Authorization": "Bearer anything",
                   "Accept": "application/json"}
        started = time.monotonic()
        response = requests.get(endpoint + "Jobs()?$top=1000", headers=headers, timeout=10)
        assert response.status_code == 200, response.text
        assert len(response.json()["value"]) == 50
        assert time.monotonic() - started < 10
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
