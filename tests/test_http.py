"""The exporter's HTTP endpoints, over real sockets."""

from __future__ import annotations

import gzip
import shutil
import subprocess

import pytest
import requests

from exporter.jobs.states import JobState
from exporter.simulator import SimJob
from exporter.web.server import MetricsServer, parse_listen_address
from tests.conftest import T0, parse_exposition, v2_config


@pytest.fixture
def served(simulator, make_exporter):
    simulator.add_job("acct", SimJob("nb:jid:UUID:1", 'name with "quotes" and \\ and \n',
                                     T0 - 100, events=[(T0 - 50, JobState.Processing)]))
    simulator.add_job("acct", SimJob("nb:jid:UUID:2", "failed", T0 - 100,
                                     error_code="ErrorEncoding",
                                     events=[(T0 - 50, JobState.Processing),
                                             (T0 - 10, JobState.Error)]))
    exporter = make_exporter(v2_config(simulator.v2_endpoint("acct"),
                                       extra_account="    progress: true"))
    server = MetricsServer(exporter, "127.0.0.1", 0).start()
    yield exporter, server
    server.stop()


def test_metrics_text_format(served):
    _, server = served
    response = requests.get(server.url + "/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    metrics = parse_exposition(response.text)
    assert metrics.value("ams_job_state", job_id="nb:jid:UUID:1", state="Processing") == 1


def test_metrics_openmetrics_and_gzip(served):
    _, server = served
    response = requests.get(server.url + "/metrics", timeout=10, headers={
        "Accept": "application/openmetrics-text; version=1.0.0", "Accept-Encoding": "gzip"},
        stream=True)
    raw = response.raw.read()
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.headers["Content-Type"].startswith("application/openmetrics-text")
    text = gzip.decompress(raw).decode()
    assert text.rstrip().endswith("# EOF")
    assert "ams_job_state{" in text


def test_health_readiness_and_landing(served, simulator):
    exporter, server = served
    assert requests.get(server.url + "/healthz", timeout=10).status_code == 200
    assert requests.get(server.url + "/readyz", timeout=10).status_code == 503
    exporter.refresh_due()
    assert requests.get(server.url + "/readyz", timeout=10).status_code == 200
    page = requests.get(server.url + "/", timeout=10)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "acct" in page.text and ">ok<" in page.text and 'href="metrics"' in page.text
    assert "test-token" not in page.text
    assert requests.get(server.url + "/nope", timeout=10).status_code == 404
    simulator.set_down(True)
    response = requests.get(server.url + "/metrics", timeout=10)
    assert response.status_code == 200
    assert parse_exposition(response.text).value("ams_up", account="acct") == 0
    assert requests.get(server.url + "/", timeout=10).text.count("failed: HTTP 500") == 1
    assert requests.get(server.url + "/healthz", timeout=10).status_code == 200


def test_scrape_timeout_header_bounds_the_wait(served, simulator):
    _, server = served
    simulator.set_faults(account=None, latency=3.0)
    response = requests.get(server.url + "/metrics", timeout=10,
                            headers={"X-Prometheus-Scrape-Timeout-Seconds": "1"})
    assert response.status_code == 200
    assert response.elapsed.total_seconds() < 2.5


def test_promtool_finds_nothing_wrong(served):
    promtool = shutil.which("promtool")
    assert promtool, "promtool (Debian package prometheus) is required; .ci/run installs it"
    exporter, server = served
    body = requests.get(server.url + "/metrics", timeout=10).text
    assert "ams_job_error_info{" in body and "ams_job_progress_ratio{" in body
    result = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "" and result.stderr.strip() == ""


@pytest.mark.parametrize("address, expected", [
    (":10046", ("", 10046)), ("127.0.0.1:0", ("127.0.0.1", 0)), ("[::1]:9", ("::1", 9))])
def test_listen_addresses(address, expected):
    assert parse_listen_address(address) == expected


@pytest.mark.parametrize("address", ["10046", "host:", "host:99999", "a:b"])
def test_bad_listen_addresses(address):
    with pytest.raises(ValueError):
        parse_listen_address(address)
