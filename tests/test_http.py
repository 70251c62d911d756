"""The exporter's HTTP endpoints, over real sockets."""

from __future__ import annotations

import gzip
import logging
import shutil
import socket
import struct
import subprocess

import pytest
import requests

from exporter.jobs.states import JobState
from exporter.simulator import SimJob
from exporter.web.rejections import HttpRejections
from exporter.web.server import MetricsServer, parse_listen_address
from tests.helpers import SUB, T0, parse_exposition, v2_config, v3_account, wait_until


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


def test_promtool_finds_nothing_wrong_with_correlation_labels(simulator, make_exporter):
    promtool = shutil.which("promtool")
    assert promtool, "promtool (Debian package prometheus) is required; .ci/run installs it"
    simulator.add_v3_account("prod", subscription_id=SUB, resource_group="media-rg",
                             account_name="prodmedia", transforms=("encode", "thumbs"))
    simulator.generate_jobs("prod", n=60, start=T0 - 3600, end=T0 - 1)
    simulator.add_job("prod", SimJob("job-odd", "job-odd", T0 - 10, correlation={
        "customerId": 'quote " back\\ new\nline', "workflow": {"not": "a value"}}))
    exporter = make_exporter(
        "refresh: {min_interval: 0s, timeout: 10s}\n"
        "metrics: {correlation_labels: {tenant: customerId, flow: workflow}, "
        "correlation_label_limit: 3}\naccounts:"
        + v3_account(simulator.arm_endpoint, auth="{method: token_file, path: TOKEN}"))
    server = MetricsServer(exporter, "127.0.0.1", 0).start()
    try:
        body = requests.get(server.url + "/metrics", timeout=10).text
    finally:
        server.stop()
    assert 'tenant="__other__"' in body and 'flow="vod"' in body
    assert "ams_correlation_label_overflow_total{" in body
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


# ------------------------------------------------------- clients that go away

class StubExporter:
    """Answers /metrics with fixed body parts: no accounts, no refreshes."""

    def __init__(self, parts: list) -> None:
        self.parts = parts
        self.scrape_timeout = 1.0
        self.events = None
        self.http_rejections = HttpRejections()
        self.refreshers: list = []

    def refresh_due(self, timeout: float | None = None, serve_stale: bool = False) -> bool:
        return True

    def exposition(self, accept: str = "", gzip_ok: bool = False, serve_stale: bool = False):
        return self.parts, "text/plain; version=0.0.4; charset=utf-8", None

    def ready(self) -> bool:
        return True

    def begin_stop(self) -> None:
        pass


REQUEST = b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


@pytest.fixture
def stub_server():
    servers: list[MetricsServer] = []

    def start(parts: list) -> MetricsServer:
        server = MetricsServer(StubExporter(parts), "127.0.0.1", 0).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def test_a_client_gone_mid_answer_is_one_debug_line_and_no_traceback(stub_server, caplog,
                                                                      capfd):
    caplog.set_level(logging.DEBUG, logger="exporter")
    # 64 MiB (one buffer, repeated): far more than the kernel buffers on both sides.
    server = stub_server([b"#" * (1 << 20)] * 64)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(REQUEST)
        head = b""
        while b"\r\n\r\n" not in head:
            data = sock.recv(4096)
            assert data, "the server closed before sending its headers"
            head += data
        assert head.startswith(b"HTTP/1.1 200 ")
        # Close with a reset while the server is still writing the body.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    def gone() -> list[logging.LogRecord]:
        return [r for r in caplog.records if "went away" in r.getMessage()]

    assert wait_until(lambda: len(gone()) == 1, timeout=10)
    # The server goes on serving, and the disconnect stays one line.
    assert requests.get(server.url + "/healthz", timeout=10).status_code == 200
    assert len(gone()) == 1
    assert gone()[0].levelno == logging.DEBUG and gone()[0].exc_info is None
    assert "GET /metrics" in gone()[0].getMessage()
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert "Traceback" not in capfd.readouterr().err


def test_an_error_after_the_answer_started_cuts_it_short_instead_of_a_500(stub_server,
                                                                          caplog):
    caplog.set_level(logging.DEBUG, logger="exporter")
    # The second part cannot be written (not bytes): the 200 and the first part are out.
    server = stub_server([b"first part\n", "not bytes"])
    received = b""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(REQUEST)
        while data := sock.recv(65536):  # until the server closes (or the 10 s timeout)
            received += data
    assert received.startswith(b"HTTP/1.1 200 ")
    assert received.count(b"HTTP/1.1") == 1 and b" 500 " not in received
    assert received.endswith(b"\r\n\r\nfirst part\n")
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].getMessage() == "error while serving /metrics"
    # The connection was closed, not the server.
    assert requests.get(server.url + "/healthz", timeout=10).status_code == 200


def test_an_error_before_the_answer_started_is_a_500(stub_server):
    server = stub_server([])
    server._server.exporter.exposition = None  # calling it fails before any byte is out
    response = requests.get(server.url + "/metrics", timeout=10)
    assert response.status_code == 500 and response.text == "internal error\n"
