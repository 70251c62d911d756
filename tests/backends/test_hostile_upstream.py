"""A hostile or broken upstream: every refresh ends by its deadline with a clear
reason, ams_up 0, the last good jobs kept, and memory bounded by the body cap."""

from __future__ import annotations

import contextlib
import json
import threading
import time
import tracemalloc
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from exporter.app.config import parse_config
from exporter.app.exporter import Exporter
from exporter.simulator import ManualClock

T0 = 1767225600.0
TIMEOUT = 2.0
CAP = 1024 * 1024
GOOD = json.dumps({"value": [
    {"Id": f"nb:jid:UUID:{n:08x}-0000-4000-8000-000000000000", "Name": f"job {n}", "State": 2,
     "Created": "2025-12-31T23:00:00", "LastModified": "2025-12-31T23:00:00",
     "StartTime": "2025-12-31T23:01:00", "Priority": 0}
    for n in range(3)]}).encode()


def _bomb() -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip framing
    zeros = b"0" * (1024 * 1024)
    return b"".join([*(compressor.compress(zeros) for _ in range(100)), compressor.flush()])


BOMB = _bomb()


class Upstream(ThreadingHTTPServer):
    """A v2 API whose answer is chosen by `mode`; records the $skip values asked."""

    daemon_threads = True

    def __init__(self) -> None:
        self.mode = "good"
        self.skips: list[str] = []
        self.stop = threading.Event()
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/api/"


class _Handler(BaseHTTPRequestHandler):
    server: Upstream
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802
        mode = self.server.mode
        self.server.skips.append(self.path.partition("$skip=")[2].partition("&")[0])
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            getattr(self, f"_{mode}")()

    def _head(self, **headers: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()

    def _good(self) -> None:
        self._head(Content_Length=str(len(GOOD)))
        self.wfile.write(GOOD)

    def _drip(self) -> None:  # one byte every half second, for ever (until the client leaves)
        self._head(Content_Length=str(10**6))
        while not self.server.stop.wait(0.5):
            self.wfile.write(b" ")
            self.wfile.flush()

    def _gzip_bomb(self) -> None:  # 100 MB of zeros in ~100 KB
        body = BOMB
        self._head(Content_Length=str(len(body)), Content_Encoding="gzip")
        self.wfile.write(body)

    def _endless(self) -> None:  # chunked, never ends
        self._head(Transfer_Encoding="chunked")
        chunk = b"x" * 65536
        while not self.server.stop.is_set():
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))

    def _huge(self) -> None:  # declares 200 MB
        self._head(Content_Length=str(200 * 1024 * 1024))
        chunk = b"x" * 65536
        for _ in range(200 * 16):
            if self.server.stop.is_set():
                return
            self.wfile.write(chunk)

    def _skip_ignored(self) -> None:  # a full page, the same one whatever $skip says
        page = json.loads(GOOD)["value"][0]
        body = json.dumps({"value": [dict(page, Id=f"nb:jid:UUID:{i:032x}")
                                     for i in range(1000)]}).encode()
        self._head(Content_Length=str(len(body)))
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.stop.set()
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("mode, reason", [
    ("drip", "not complete within the request timeout"),
    ("gzip_bomb", "over the cap"),
    ("endless", "over the cap"),
    ("huge", "over the cap"),
    ("skip_ignored", "paging does not advance"),
])
def test_a_hostile_answer_fails_the_refresh_in_time_and_keeps_the_last_good_jobs(
        upstream, mode, reason):
    clock = ManualClock(T0)
    config = parse_config(f"""
refresh: {{min_interval: 10s, timeout: {TIMEOUT}s}}
max_response_bytes: 1MiB
accounts: [{{name: a, endpoint: "{upstream.endpoint}", auth: {{method: none}}}}]
""", {})
    exporter = Exporter(config, clock=clock)
    try:
        assert exporter.refresh_due()
        [refresher] = exporter.refreshers
        assert refresher.status.up and len(refresher.jobs()) == 3

        upstream.mode = mode
        clock.advance(3600)  # a full resync, so the whole listing is read again
        tracemalloc.start()
        started = time.monotonic()
        try:
            exporter.refresh_due(timeout=30)
            elapsed = time.monotonic() - started
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert not refresher.status.up
        assert reason in refresher.status.last_error
        assert len(refresher.jobs()) == 3, "the last good jobs stay exported"
        assert elapsed < TIMEOUT + 3, f"the refresh took {elapsed:.1f}s"
        assert peak < 4 * CAP + 8 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"
        if mode == "skip_ignored":
            assert upstream.skips[-2:] == ["0", "1000"], "stops at the first repeated page"
    finally:
        exporter.close()
