"""The HTTP transport: a stdlib ThreadingHTTPServer handing requests to the simulator.

With an SSL context it serves HTTPS; the handshake runs in the connection's own thread,
so a client that stalls in it does not hold up the accept loop.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import struct
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from exporter.simulator.responses import Request, Response

log = logging.getLogger(__name__)

App = Callable[[Request], Response]
_MAX_REQUEST_BODY = 1 << 20
_HANDSHAKE_TIMEOUT = 10.0


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
        body = self._read_body()
        if body is None:
            self.close_connection = True
            body = b""
        host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
        request = Request(
            self.command, self.path, dict(self.headers.items()),
            f"{self.server.scheme}://{host}", body,
        )
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

    def _read_body(self) -> bytes | None:
        """The request body; None when it cannot be read (and the connection not reused)."""
        if self.headers.get("Transfer-Encoding"):
            return None
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return None
        if length < 0 or length > _MAX_REQUEST_BODY:
            return None
        return self.rfile.read(length) if length else b""

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
        self,
        address: tuple[str, int],
        app: App,
        refusing: Callable[[], bool],
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.app = app
        self.refusing = refusing
        self.tls = tls
        self.scheme = "https" if tls is not None else "http"
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = super().get_request()
        if self.tls is not None:
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, address

    def finish_request(self, request: Any, client_address: Any) -> None:
        if isinstance(request, ssl.SSLSocket):
            try:
                request.settimeout(_HANDSHAKE_TIMEOUT)
                request.do_handshake()
            except (OSError, ValueError):  # ssl.SSLError is an OSError
                log.debug("TLS handshake with %s failed", client_address, exc_info=True)
                return
        super().finish_request(request, client_address)

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
