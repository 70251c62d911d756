"""Hostile clients get bounded time and memory: the /metrics cap (503 beyond it),
the header deadline, the idle limit, the write timeout, half requests left
unanswered, and plain bodies decoded as they are written. Real sockets on
127.0.0.1; every wait is bounded."""

from __future__ import annotations

import gzip
import logging
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import requests

from exporter.app.cli import _serve_parser
from exporter.metrics.exposition import IDENTITY
from exporter.metrics.text import gzip_member
from exporter.web.limits import BACKLOG, raise_open_files_limit
from exporter.web.rejections import HttpRejections
from exporter.web.server import MetricsServer
from tests.helpers import T0, v2_config, wait_until

TEXT_FORMAT = "text/plain; version=0.0.4; charset=utf-8"
REQUEST = b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


class GatedExporter:
    """Answers /metrics with fixed gzip members; while `gate` is closed, each scrape
    waits in refresh_due (at most 10 s), holding its slot."""

    def __init__(self, members: list[bytes]) -> None:
        self.members = members
        self.scrape_timeout = 1.0
        self.events = None
        self.http_rejections = HttpRejections()
        self.refreshers: list = []
        self.gate = threading.Event()
        self.gate.set()
        self.waiting = 0
        self.scrapes = 0  # route calls: every /metrics that got past the cap
        self._lock = threading.Lock()

    def refresh_due(self, timeout: float | None = None, serve_stale: bool = False) -> bool:
        with self._lock:
            self.scrapes += 1
            self.waiting += 1
        try:
            self.gate.wait(10)
        finally:
            with self._lock:
                self.waiting -= 1
        return True

    def exposition(self, accept: str = "", gzip_ok: bool = False, serve_stale: bool = False):
        return self.members, TEXT_FORMAT, "gzip" if gzip_ok else IDENTITY

    def ready(self) -> bool:
        return True

    def begin_stop(self) -> None:
        self.gate.set()


BODY = b"".join(b'ams_job_state{account="a",job_id="%d"} 1.0\n' % i for i in range(3000))


@pytest.fixture
def start() -> Iterator[Callable[..., tuple[MetricsServer, GatedExporter]]]:
    servers: list[MetricsServer] = []

    def run(members: list[bytes] | None = None, **limits: float) -> tuple[MetricsServer,
                                                                          GatedExporter]:
        exporter = GatedExporter(members if members is not None
                                 else [gzip_member([BODY.decode()]), gzip_member(["# end\n"])])
        server = MetricsServer(exporter, "127.0.0.1", 0, **limits).start()
        servers.append(server)
        return server, exporter

    yield run
    for server in servers:
        server.stop(grace=1.0)


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger="exporter")
    return caplog


def served_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The access-log lines (DEBUG) of answered requests."""
    return [r.getMessage() for r in caplog.records if '"GET ' in r.getMessage()]


def closed_without_answer(sock: socket.socket, timeout: float) -> bool:
    """True when the server closes `sock` within `timeout` having sent nothing."""
    sock.settimeout(timeout)
    try:
        return sock.recv(65536) == b""
    except ConnectionResetError:
        return True


# ---------------------------------------------------------------- the /metrics cap

def test_requests_beyond_the_cap_get_503_while_health_and_later_scrapes_answer(start):
    server, exporter = start(max_requests=3)
    exporter.gate.clear()
    held: list[requests.Response] = []

    def scrape() -> None:
        held.append(requests.get(server.url + "/metrics", timeout=10))

    threads = [threading.Thread(target=scrape) for _ in range(3)]
    for thread in threads:
        thread.start()
    assert wait_until(lambda: exporter.waiting == 3, timeout=5)
    try:
        refused = requests.get(server.url + "/metrics", timeout=5)
        assert refused.status_code == 503
        assert refused.headers["Retry-After"] == "1"
        assert refused.headers["Content-Type"].startswith("text/plain")
        assert "too many concurrent /metrics requests" in refused.text
        head = requests.head(server.url + "/metrics", timeout=5)
        assert head.status_code == 503
        # Probes are not counted.
        assert requests.get(server.url + "/healthz", timeout=5).status_code == 200
        assert requests.get(server.url + "/readyz", timeout=5).status_code == 200
        assert exporter.scrapes == 3  # the refused ones never reached the exporter
    finally:
        exporter.gate.set()
    for thread in threads:
        thread.join(timeout=10)
    assert [r.status_code for r in held] == [200, 200, 200]
    # The slots are given back: a normal scrape answers at once.
    started = time.monotonic()
    response = requests.get(server.url + "/metrics", timeout=5,
                            headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200 and time.monotonic() - started < 1.0
    assert response.content == BODY + b"# end\n"


def test_a_cap_of_0_lets_every_request_in(start):
    server, exporter = start(max_requests=0)
    exporter.gate.clear()
    threads = [threading.Thread(target=requests.get, args=(server.url + "/metrics",),
                                kwargs={"timeout": 10}) for _ in range(6)]
    for thread in threads:
        thread.start()
    try:
        assert wait_until(lambda: exporter.waiting == 6, timeout=5)
    finally:
        exporter.gate.set()
    for thread in threads:
        thread.join(timeout=10)


def test_the_max_requests_flag_and_its_environment_variable(monkeypatch):
    assert _serve_parser().parse_args([]).max_requests == 40
    assert _serve_parser().parse_args(["--web.max-requests", "0"]).max_requests == 0
    monkeypatch.setenv("AMS_EXPORTER_WEB_MAX_REQUESTS", "7")
    assert _serve_parser().parse_args([]).max_requests == 7
    with pytest.raises(SystemExit):
        _serve_parser().parse_args(["--web.max-requests", "-1"])


def test_backlog_and_open_files_limit(start):
    server, _ = start()
    assert server._server.request_queue_size >= 128 and BACKLOG >= 128
    resource = pytest.importorskip("resource")
    before = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        raised = raise_open_files_limit()
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        assert raised == soft == hard
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, before)


# ----------------------------------------------------------- slow and half requests

def test_slow_header_clients_are_cut_off_and_never_served(start, logs):
    server, exporter = start(header_timeout=0.5)
    results: dict[int, tuple[float, bool, int]] = {}

    def drip(index: int) -> None:
        """One byte every 50 ms of a request that would take 2 s to send."""
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            began = time.monotonic()
            sent = 0
            closed = False
            for byte in REQUEST[:-2] + b"X-Slow: " + b"y" * 10 + b"\r\n\r\n":
                try:
                    sock.sendall(bytes([byte]))
                except OSError:  # reset: the server closed
                    closed = True
                    break
                sent += 1
                readable, _, _ = select.select([sock], [], [], 0.05)
                if readable:
                    closed = closed_without_answer(sock, 1.0)
                    assert closed, "the server answered a request still dripping in"
                    break
            results[index] = (time.monotonic() - began, closed, sent)

    threads = [threading.Thread(target=drip, args=(i,)) for i in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(results) == 5
    for elapsed, closed, sent in results.values():
        assert closed, "a slow client was not cut off"
        assert 0.4 < elapsed < 1.5, elapsed
        assert sent < len(REQUEST) + 20  # cut off before the request was complete
    assert exporter.scrapes == 0 and served_lines(logs) == []
    assert [r for r in logs.records if r.levelno >= logging.INFO] == []
    # The server itself is fine.
    assert requests.get(server.url + "/metrics", timeout=5).status_code == 200


def test_a_silent_connection_is_closed_by_the_header_deadline(start, logs):
    server, exporter = start(header_timeout=0.3)
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        began = time.monotonic()
        assert closed_without_answer(sock, 3.0)
        assert time.monotonic() - began < 1.5
    assert exporter.scrapes == 0 and served_lines(logs) == []


def healthz(sock: socket.socket) -> bytes:
    """Asks for /healthz on a kept-alive connection; the whole answer."""
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    answer = b""
    while not answer.endswith(b"\r\n\r\nok\n"):
        data = sock.recv(4096)
        assert data, "closed before the answer was complete"
        answer += data
    return answer


def test_an_idle_kept_alive_connection_is_closed_and_the_next_request_has_its_deadline(
        start, logs):
    server, exporter = start(header_timeout=0.25, idle_timeout=0.6)
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        assert healthz(sock).startswith(b"HTTP/1.1 200 ")
        # Idle for longer than the header deadline: still open (the idle limit applies) ...
        assert select.select([sock], [], [], 0.35)[0] == []
        # ... the next request's first byte starts its own header deadline.
        sock.sendall(b"G")
        began = time.monotonic()
        assert closed_without_answer(sock, 3.0)
        assert 0.2 < time.monotonic() - began < 1.0
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        assert healthz(sock).startswith(b"HTTP/1.1 200 ")
        began = time.monotonic()
        assert closed_without_answer(sock, 3.0)  # nothing more sent: the idle limit
        assert 0.45 < time.monotonic() - began < 1.8
    assert exporter.scrapes == 0


@pytest.mark.parametrize("partial", [
    b"GET /metrics HTTP/1.1",  # the request line, unfinished
    b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n",  # headers without the blank line
    b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/pl",
    b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r",
    b"BREW /pot",  # not even a valid request: no 400 either
], ids=["request-line", "no-blank-line", "mid-header", "half-blank-line", "bad-method"])
def test_a_half_request_then_eof_is_not_answered(start, logs, partial):
    server, exporter = start()
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(partial)
        sock.shutdown(socket.SHUT_WR)  # end of stream; the answer could still be read
        assert closed_without_answer(sock, 5.0)
    assert wait_until(lambda: any("inside its request" in r.getMessage()
                                  for r in logs.records), timeout=5)
    assert exporter.scrapes == 0 and served_lines(logs) == []


def test_a_complete_request_then_eof_is_answered(start):
    server, exporter = start()
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(REQUEST)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while data := sock.recv(65536):
            answer += data
    assert answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(b"# end\n")
    assert exporter.scrapes == 1


# ----------------------------------------------------------------- writes and bodies

def test_a_client_that_does_not_read_is_dropped_after_the_write_timeout(start, logs):
    # 32 MiB once decoded, from a small member: far more than the socket buffers hold.
    members = [gzip_member(["#" * (1 << 20)] * 32)]
    server, exporter = start(members, write_timeout=0.5)
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(REQUEST)
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(1024)
        assert head.startswith(b"HTTP/1.1 200 ") and b"Content-Length: 33554432\r\n" in head
        # Never read again: the server gives up and gives the slot back.
        assert wait_until(lambda: any("went away" in r.getMessage() for r in logs.records),
                          timeout=5)
        assert wait_until(lambda: server._server.metrics_slots.held == 0, timeout=5)
    assert [r for r in logs.records if r.levelno >= logging.WARNING] == []


@pytest.fixture
def served_exporter(simulator, make_exporter):
    simulator.generate_jobs("acct", n=300, start=T0 - 5 * 3600, end=T0 - 60)
    exporter = make_exporter(v2_config(simulator.v2_endpoint("acct")).replace(
        "min_interval: 0s", "min_interval: 1h"))
    exporter.refresh_due()
    server = MetricsServer(exporter, "127.0.0.1", 0, None).start()  # positional, as before
    yield exporter, server
    server.stop()


def without_process(body: bytes) -> list[bytes]:
    lines = body.splitlines()
    kept = [line for line in lines if b"process_" not in line]
    assert len(lines) - len(kept) < 40
    return kept


def raw_get(url: str, headers: dict[str, str], method: str = "GET") -> requests.Response:
    response = requests.request(method, url, headers=headers, timeout=30, stream=True)
    response._content = response.raw.read(decode_content=False)  # the bytes on the wire
    return response


@pytest.mark.parametrize("accept", ["", "application/openmetrics-text; version=1.0.0"])
def test_plain_and_gzip_bodies_are_identical_and_their_lengths_right(simulator, make_exporter,
                                                                     start, accept):
    """The server's own answers, from the exposition of 1,500 jobs (many members,
    more than a megabyte: many write chunks), served from one exposition."""
    simulator.generate_jobs("acct", n=1500, start=T0 - 5 * 3600, end=T0 - 60)
    exporter = make_exporter(v2_config(simulator.v2_endpoint("acct"),
                                       top="retention: {finished: 1d, failed: 1d}"))
    exporter.refresh_due()
    members, content_type, encoding = exporter.exposition(accept, False)
    assert encoding == IDENTITY and len(members) > 20
    expected = gzip.decompress(b"".join(members))
    assert expected.decode().startswith("# HELP ams_job_state ")
    server, _ = start(members)
    url = server.url + "/metrics"
    plain = raw_get(url, {"Accept": accept, "Accept-Encoding": "identity"})
    zipped = raw_get(url, {"Accept": accept, "Accept-Encoding": "gzip"})
    head = raw_get(url, {"Accept": accept, "Accept-Encoding": "identity"}, "HEAD")
    assert "Content-Encoding" not in plain.headers
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert int(plain.headers["Content-Length"]) == len(plain.content) > 1 << 20
    assert int(zipped.headers["Content-Length"]) == len(zipped.content)
    assert plain.content == gzip.decompress(zipped.content) == expected
    assert head.headers["Content-Length"] == plain.headers["Content-Length"]
    assert head.content == b""


def test_a_real_exporter_answers_plain_and_gzip_alike(served_exporter):
    """End to end: the exporter's plain and gzip answers decode to the same text but
    for the process_* families, read anew at each scrape."""
    exporter, server = served_exporter
    url = server.url + "/metrics"
    plain = raw_get(url, {"Accept-Encoding": "identity"})
    zipped = raw_get(url, {"Accept-Encoding": "gzip"})
    assert int(plain.headers["Content-Length"]) == len(plain.content)
    assert int(zipped.headers["Content-Length"]) == len(zipped.content)
    assert without_process(gzip.decompress(zipped.content)) == without_process(plain.content)
    assert without_process(plain.content) == without_process(exporter.text().encode())


def test_the_server_uses_the_same_positional_signature(start):
    server, _ = start()
    assert server.limits.max_requests == 40
    assert server.limits.header_timeout == 10.0 and server.limits.idle_timeout == 60.0
    assert server.limits.write_timeout == 30.0
