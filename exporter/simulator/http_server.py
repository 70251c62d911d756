"""The HTTP transport: a stdlib ThreadingHTTPServer handing requests to the simulator."""

from __future__ import annotations

import contextlib
import logging
import socket
import struct
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from exporter.simulator.responses import Request, Response

log = logging.getLogger(__name__)

App = Callable[[Request], Response]
_MAX_REQUEST_BODY = 1 << 20


def _abort(sock: socket.socket) -> None:
    """Make the coming close send a TCP reset instead of an orderly FIN."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a requests.Session expects
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms stalls
    server_version = "AMS-Simulator"
    timeout = 120  # idle keep-alive connections give their thread back eventually
    server: SimulatorHTTPServer

    def _serve(self) -> None:
        if self.server.refusing():
            self._drop()
            return
        if not self._discard_body():
            self.close_connection = True
        host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
        request = Request(self.command, self.path, dict(self.headers.items()), f"http://{host}")
        response = self.server.app(request)
        if response.reset:
            self._drop()
            return
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_MERGE = do_OPTIONS = _serve

    def _discard_body(self) -> bool:
        """Read and drop a request body; False when the connection cannot be reused."""
        if self.headers.get("Transfer-Encoding"):
            return False
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return False
        if length < 0 or length > _MAX_REQUEST_BODY:
            return False
        if length:
            self.rfile.read(length)
        return True

    def _drop(self) -> None:
        _abort(self.connection)
        self.close_connection = True

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s " + format, self.address_string(), *args)


class SimulatorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(
        self, address: tuple[str, int], app: App, refusing: Callable[[], bool]
    ) -> None:
        self.app = app
        self.refusing = refusing
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def verify_request(self, request: Any, client_address: Any) -> bool:
        if self.refusing():
            _abort(request)
            return False
        with self._open_lock:
            self._open.add(request)
        return True

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection from %s ended with an error", client_address, exc_info=True)

    def close_connections(self) -> None:
        """End kept-alive connections so no client keeps talking to a stopped server."""
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
