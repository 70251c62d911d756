"""The exporter's HTTP endpoints: /metrics, /healthz, /readyz and the landing page.

TLS, basic auth and extra headers come from an `Access` (exporter.web.config_file):
the web config file's, or open access without one. A client that goes away while
it is answered costs one DEBUG line; an error after the answer has started cuts the
answer short (the connection is closed) instead of writing a 500 into its body.
"""

from __future__ import annotations

import logging
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client.metrics_core import Metric

from exporter import __version__
from exporter.runtime.exporter import Exporter
from exporter.web.basic_auth import UNAUTHORIZED
from exporter.web.config_file import OPEN_ACCESS, Access, WebConfigFile
from exporter.web.landing import landing_page
from exporter.web.tls import peer

__all__ = ["MetricsServer", "landing_page", "parse_listen_address"]

log = logging.getLogger(__name__)

#: Answer this much before Prometheus' scrape timeout runs out.
SCRAPE_TIMEOUT_MARGIN = 0.5
TEXT = "text/plain; charset=utf-8"


def parse_listen_address(address: str) -> tuple[str, int]:
    """`:10046`, `0.0.0.0:10046`, `127.0.0.1:0`, `[::1]:10046` -> (host, port)."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"invalid listen address {address!r} (expected host:port or :port)")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


class _ClientGone(Exception):
    """Writing the answer failed: the client closed or reset the connection."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], exporter: Exporter, access: Access) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.exporter = exporter
        self.access = access
        self.in_flight = 0
        self.in_flight_changed = threading.Condition()
        super().__init__(address, _Handler)

    def finish_request(self, request: socket.socket | tuple[bytes, socket.socket],
                       client_address: tuple[str, int]) -> None:
        assert isinstance(request, socket.socket)  # a stream server's connection
        # The TLS handshake, if any, runs here: in the connection's own thread.
        with self.access.connection(request, client_address) as connection:
            if connection is not None:
                super().finish_request(connection, client_address)

    def handle_error(self, request: object, client_address: object) -> None:
        """Instead of socketserver's traceback on stderr: a connection that broke
        (reset, timed out, TLS alert) is a DEBUG line; anything else is logged."""
        error = sys.exc_info()[1]
        if isinstance(error, OSError):
            log.debug("connection with %s ended: %s", peer(client_address), error)
        else:
            log.exception("error on the connection with %s", peer(client_address))


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = f"ams-job-exporter/{__version__}"
    #: Whether this request's status line has been written (or buffered): after
    #: that, an error can only cut the answer short.
    _response_started = False

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        self._response_started = False
        path = self.path.split("?", 1)[0]
        try:
            self._answer(path)
        except _ClientGone as gone:
            self.close_connection = True
            log.debug("%s went away during %s %s: %s", self.address_string(), self.command,
                      path, gone.__cause__)

    def do_HEAD(self) -> None:  # noqa: N802
        self.do_GET()

    def _answer(self, path: str) -> None:
        if not self.server.access.authorized(path, self.headers.get("Authorization")):
            refusal = UNAUTHORIZED
            self._send(refusal.status, refusal.body, refusal.content_type,
                       headers=refusal.headers)
            return
        routes: dict[str, Callable[[], None]] = {
            "/metrics": self._metrics, "/healthz": self._healthz, "/readyz": self._readyz,
            "/": self._landing}
        route = routes.get(path)
        if route is None:
            self._send(404, b"not found\n", TEXT)
            return
        with self.server.in_flight_changed:
            self.server.in_flight += 1
        try:
            route()
        except _ClientGone:
            raise
        except Exception:  # a scrape must never take the server down
            log.exception("error while serving %s", path)
            if self._response_started:
                # Part of the answer is out: a 500 now would land inside its body.
                self.close_connection = True
            else:
                self._send(500, b"internal error\n", TEXT)
        finally:
            with self.server.in_flight_changed:
                self.server.in_flight -= 1
                self.server.in_flight_changed.notify_all()

    def _metrics(self) -> None:
        exporter = self.server.exporter
        timeout = exporter.config.refresh.timeout
        header = self.headers.get("X-Prometheus-Scrape-Timeout-Seconds")
        try:
            if header is not None:
                timeout = min(timeout, max(0.0, float(header) - SCRAPE_TIMEOUT_MARGIN))
        except ValueError:
            pass
        exporter.refresh_due(timeout)
        gzip_ok = "gzip" in self.headers.get("Accept-Encoding", "")
        parts, content_type, encoding = exporter.exposition(self.headers.get("Accept", ""),
                                                            gzip_ok)
        self._send(200, parts, content_type, encoding)

    def _healthz(self) -> None:
        self._send(200, b"ok\n", TEXT)

    def _readyz(self) -> None:
        if self.server.exporter.ready():
            self._send(200, b"ready\n", TEXT)
        else:
            self._send(503, b"not ready: first refresh pending\n", TEXT)

    def _landing(self) -> None:
        self._send(200, landing_page(self.server.exporter).encode(), "text/html; charset=utf-8")

    def _send(self, status: int, body: bytes | list[bytes], content_type: str,
              encoding: str | None = None, headers: Iterable[tuple[str, str]] = ()) -> None:
        parts = [body] if isinstance(body, bytes) else body
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            if encoding:
                self.send_header("Content-Encoding", encoding)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(sum(len(part) for part in parts)))
            self.end_headers()
            if self.command != "HEAD":
                for part in parts:
                    self.wfile.write(part)
        except OSError as exc:  # reset, broken pipe, timeout, TLS alert
            raise _ClientGone from exc

    def send_response(self, code: int, message: str | None = None) -> None:
        self._response_started = True
        super().send_response(code, message)

    def end_headers(self) -> None:
        for name, value in self.server.access.headers():  # http_server_config.headers
            self.send_header(name, value)
        super().end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        log.debug("%s %s", self.address_string(), format % args)


class MetricsServer:
    """Serves an exporter on host:port in a background thread."""

    def __init__(self, exporter: Exporter, host: str, port: int,
                 web_config: WebConfigFile | None = None) -> None:
        self._web_config = web_config
        self._server = _Server((host, port), exporter,
                               OPEN_ACCESS if web_config is None else web_config)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="http", daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        host = self._server.server_address[0]
        if isinstance(host, bytes):
            host = host.decode()
        shown = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host
        scheme = "https" if self._server.access.tls_enabled else "http"
        return f"{scheme}://{shown}:{self.port}"

    @property
    def web_config(self) -> WebConfigFile | None:
        """The web config file in force, if the server has one."""
        return self._web_config

    def collect(self) -> list[Metric]:
        """The HTTP side's own metrics for the exposition (a collector): today
        ams_web_config_last_reload_successful, present with a web config file."""
        return list(self._web_config.collect()) if self._web_config is not None else []

    def start(self) -> MetricsServer:
        self._thread.start()
        return self

    def set_exporter(self, exporter: Exporter) -> None:
        """Serve a reconfigured exporter from the next request on."""
        self._server.exporter = exporter

    def stop(self, grace: float = 4.0) -> None:
        """Stop accepting, let requests in progress finish (at most `grace` seconds;
        scrapes waiting for a refresh are released by Exporter.begin_stop), close."""
        if self._thread.is_alive():  # shutdown() waits for serve_forever: only if it runs
            self._server.shutdown()
        self._server.exporter.begin_stop()
        deadline = time.monotonic() + grace
        with self._server.in_flight_changed:
            while self._server.in_flight and time.monotonic() < deadline:
                self._server.in_flight_changed.wait(max(0.0, deadline - time.monotonic()))
        self._server.server_close()
