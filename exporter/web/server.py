"""The exporter's HTTP endpoints: /metrics, /healthz, /readyz and the landing page."""

from __future__ import annotations

import html
import logging
import socket
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from exporter import __version__
from exporter.runtime.exporter import Exporter
from exporter.web.web_config import WebConfigFile, send_unauthorized

log = logging.getLogger(__name__)

#: Answer this much before Prometheus' scrape timeout runs out.
SCRAPE_TIMEOUT_MARGIN = 0.5


def parse_listen_address(address: str) -> tuple[str, int]:
    """`:10046`, `0.0.0.0:10046`, `127.0.0.1:0`, `[::1]:10046` -> (host, port)."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"invalid listen address {address!r} (expected host:port or :port)")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], exporter: Exporter,
                 web_config: WebConfigFile | None = None) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.exporter = exporter
        self.web_config = web_config
        self.in_flight = 0
        self.in_flight_changed = threading.Condition()
        super().__init__(address, _Handler)

    # --- web config (--web.config.file): TLS handshake in the connection's thread ---
    def finish_request(self, request: socket.socket, client_address: tuple[str, int]) -> None:
        if self.web_config is None:
            super().finish_request(request, client_address)
            return
        with self.web_config.connection(request, client_address) as connection:
            if connection is not None:
                super().finish_request(connection, client_address)
    # --- end web config ---


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = f"ams-job-exporter/{__version__}"

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        path = self.path.split("?", 1)[0]
        # --- web config: basic auth before routing ---
        web_config = self.server.web_config
        if web_config is not None and not web_config.authorized(
                path, self.headers.get("Authorization")):
            send_unauthorized(self)
            return
        # --- end web config ---
        routes = {"/metrics": self._metrics, "/healthz": self._healthz,
                  "/readyz": self._readyz, "/": self._landing}
        route = routes.get(path)
        if route is None:
            self._send(404, b"not found\n", "text/plain; charset=utf-8")
            return
        with self.server.in_flight_changed:
            self.server.in_flight += 1
        try:
            route()
        except Exception:  # a scrape must never take the server down
            log.exception("error while serving %s", path)
            self._send(500, b"internal error\n", "text/plain; charset=utf-8")
        finally:
            with self.server.in_flight_changed:
                self.server.in_flight -= 1
                self.server.in_flight_changed.notify_all()

    def do_HEAD(self) -> None:  # noqa: N802
        self.do_GET()

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
        self._send(200, b"ok\n", "text/plain; charset=utf-8")

    def _readyz(self) -> None:
        if self.server.exporter.ready():
            self._send(200, b"ready\n", "text/plain; charset=utf-8")
        else:
            self._send(503, b"not ready: first refresh pending\n", "text/plain; charset=utf-8")

    def _landing(self) -> None:
        self._send(200, landing_page(self.server.exporter).encode(), "text/html; charset=utf-8")

    def _send(self, status: int, body: bytes | list[bytes], content_type: str,
              encoding: str | None = None) -> None:
        parts = [body] if isinstance(body, bytes) else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if encoding:
            self.send_header("Content-Encoding", encoding)
        self.send_header("Content-Length", str(sum(len(part) for part in parts)))
        self.end_headers()
        if self.command != "HEAD":
            for part in parts:
                self.wfile.write(part)

    def end_headers(self) -> None:
        # --- web config: http_server_config.headers on every response ---
        if self.server.web_config is not None:
            for name, value in self.server.web_config.headers():
                self.send_header(name, value)
        # --- end web config ---
        super().end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        log.debug("%s %s", self.address_string(), format % args)


def landing_page(exporter: Exporter) -> str:
    """Version, each account's last refresh result and time, and links. Only names,
    states and error summaries are shown: never endpoints' credentials or tokens."""
    rows = []
    for refresher in exporter.refreshers:
        status = refresher.status
        if status.attempts == 0:
            result = "pending"
        else:
            result = "ok" if status.up else f"failed: {status.last_error}"
        if status.refreshing:
            result += " (refreshing; serving the previous data)"
        cells = (html.escape(refresher.name), html.escape(refresher.account.api),
                 html.escape(result), _when(status.last_attempt), _when(status.last_success))
        rows.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>AMS Job Exporter</title></head>
<body>
<h1>AMS Job Exporter</h1>
<p>Version {html.escape(__version__)}</p>
<table border="1" cellpadding="4">
<tr><th>account</th><th>api</th><th>last refresh</th><th>attempted</th><th>last success</th></tr>
{''.join(rows)}
</table>
<ul>
<li><a href="metrics">/metrics</a></li>
<li><a href="healthz">/healthz</a></li>
<li><a href="readyz">/readyz</a></li>
</ul>
</body></html>
"""


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return "never"
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


class MetricsServer:
    """Serves an exporter on host:port in a background thread."""

    def __init__(self, exporter: Exporter, host: str, port: int,
                 web_config: WebConfigFile | None = None) -> None:
        self._server = _Server((host, port), exporter, web_config)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="http", daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        host = self._server.server_address[0]
        shown = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host
        web_config = self._server.web_config
        scheme = "https" if web_config is not None and web_config.tls_enabled else "http"
        return f"{scheme}://{shown}:{self.port}"

    def start(self) -> MetricsServer:
        self._thread.start()
        return self

    def set_exporter(self, exporter: Exporter) -> None:
        """Serve a reconfigured exporter from the next request on."""
        self._server.exporter = exporter

    def stop(self, grace: float = 4.0) -> None:
        """Stop accepting, let requests in progress finish (at most `grace` seconds;
        scrapes waiting for a refresh are released by Exporter.begin_stop), close."""
        self._server.shutdown()
        self._server.exporter.begin_stop()
        deadline = time.monotonic() + grace
        with self._server.in_flight_changed:
            while self._server.in_flight and time.monotonic() < deadline:
                self._server.in_flight_changed.wait(max(0.0, deadline - time.monotonic()))
        self._server.server_close()
