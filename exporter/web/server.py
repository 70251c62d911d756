"""The exporter's HTTP endpoints: /metrics, /healthz, /readyz and the landing page.

TLS, basic auth and extra headers come from an `Access` (exporter.web.config_file):
the web config file's, or open access without one. A client that goes away while
it is answered costs one DEBUG line; an error after the answer has started cuts the
answer short (the connection is closed) instead of writing a 500 into its body.

Hostile or broken clients get bounded time and memory (exporter.web.limits): a cap
on concurrent /metrics requests (503 beyond it), a deadline for the request line
and headers, an idle limit on kept-alive connections, a timeout per write, and the
body written in bounded slices (exporter.web.body); a request whose headers end
with the connection instead of a blank line is not answered.

The request's head is read strictly (exporter.web.request_head): whatever is
malformed or over a limit gets a 4xx (or 501/505) status line and closes the
connection, counted by reason in ams_http_requests_rejected_total
(exporter.web.rejections); never a traceback. A connection closed after an answer
while the client may still be sending is drained for a moment first, so the client
reads its answer instead of a reset. The access log (DEBUG) goes through
`log_message`, which blanks query `secret=` values; headers are never logged.
"""

from __future__ import annotations

import contextlib
import io
import logging
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable
from http.client import HTTPMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from requests.structures import CaseInsensitiveDict

from exporter import __version__
from exporter.common.logs import redact_secrets
from exporter.events.receiver import EventReceiver, Reply
from exporter.metrics.exposition import IDENTITY
from exporter.web.basic_auth import UNAUTHORIZED
from exporter.web.body import gunzip_chunks, plain_length, slices
from exporter.web.config_file import OPEN_ACCESS, Access, WebConfigFile
from exporter.web.landing import landing_page
from exporter.web.limits import (
    BACKLOG,
    HEADER_TIMEOUT,
    IDLE_TIMEOUT,
    LINGER_BYTES,
    LINGER_SECONDS,
    MAX_REQUEST_LINE,
    MAX_REQUESTS,
    WRITE_TIMEOUT,
    Limits,
)
from exporter.web.reading import DeadlineReader, drain
from exporter.web.rejections import (
    LENGTH_REQUIRED,
    TOO_LONG,
    UNSUPPORTED_METHOD,
    HttpRejections,
)
from exporter.web.request_head import (
    Refused,
    body_length,
    check_query,
    parse_request_line,
    read_headers,
)
from exporter.web.served import Served
from exporter.web.tls import peer

__all__ = ["MetricsServer", "landing_page", "parse_listen_address"]

log = logging.getLogger(__name__)

#: Answer this much before Prometheus' scrape timeout runs out.
SCRAPE_TIMEOUT_MARGIN = 0.5
TEXT = "text/plain; charset=utf-8"
#: How often the accept loop looks for stop(): what stop() may wait for it.
SHUTDOWN_POLL = 0.1
#: The methods served; any other gets 501.
METHODS = frozenset({"GET", "HEAD", "POST", "OPTIONS"})


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


class _Slots:
    """At most `limit` holders at once (0: no limit); taking one never waits."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._held = 0
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            if self.limit and self._held >= self.limit:
                return False
            self._held += 1
            return True

    def give_back(self) -> None:
        with self._lock:
            self._held -= 1

    @property
    def held(self) -> int:
        return self._held


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = BACKLOG  # socketserver's default is 5

    #: Set by MetricsServer.stop: requests on connections still open get 503.
    stopped = False

    def __init__(self, address: tuple[str, int], exporter: Served, access: Access,
                 limits: Limits | None = None) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.exporter = exporter
        self.access = access
        self.limits = limits or Limits()
        self.metrics_slots = _Slots(self.limits.max_requests)
        self.in_flight = 0
        self.in_flight_changed = threading.Condition()
        super().__init__(address, _Handler)

    @property
    def rejections(self) -> HttpRejections:
        """The exporter's counter, kept across reloads."""
        return self.exporter.http_rejections

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
    _reader: DeadlineReader
    _requests_read = 0
    #: The request's declared body length (None: no Content-Length) and whether it
    #: came with Transfer-Encoding (never read: this server takes no chunked bodies).
    _length: int | None = None
    _chunked = False
    #: The client may still be sending this request (its head or body is not read in
    #: full): the answer says `Connection: close`, and closing drains first.
    _unread = False
    #: `Connection: close` is among this answer's headers.
    _close_sent = False

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes: without TCP_NODELAY, Nagle's
        # algorithm holds the second until the client's delayed ACK (~40 ms a request).
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # Reads go through a DeadlineReader: the request line and headers have
        # header_timeout seconds in all, from the connection for the first request.
        self.rfile.close()
        self._reader = DeadlineReader(self.connection)
        self._reader.limit(self.server.limits.header_timeout)
        self.rfile = io.BufferedReader(self._reader)

    def handle_one_request(self) -> None:
        """One request, read strictly (instead of http.server's own reading, which
        answers some malformed heads with nothing, or with a traceback)."""
        limits = self.server.limits
        if self._requests_read:  # kept alive: idle until the next request begins
            self._reader.wait_for_request(limits.idle_timeout, limits.header_timeout)
        self._requests_read += 1
        self.close_connection = True  # until a complete HTTP/1.1 head says otherwise
        self.command, self.path, self.requestline = "", "", ""
        self.request_version = "HTTP/1.0"  # so that a refusal has a status line
        self._response_started = self._close_sent = False
        self._unread = True
        try:
            self.raw_requestline = self._request_line()
            if self.raw_requestline and self.parse_request():
                getattr(self, "do_" + self.command)()
                self.wfile.flush()
        except Refused as refused:
            self._refuse(refused)
        except TimeoutError as exc:  # the head did not arrive in time: not answered
            self.close_connection = True
            log.debug("%s: request timed out: %s", self.address_string(), exc)

    def _request_line(self) -> bytes:
        """The request line; empty at the end of the stream. One blank line before
        it is skipped (RFC 9112, 2.2: what some clients send after a body)."""
        raw = self.rfile.readline(MAX_REQUEST_LINE + 1)
        if raw in (b"\r\n", b"\n"):
            raw = self.rfile.readline(MAX_REQUEST_LINE + 1)
        self.requestline = raw.decode("latin-1").rstrip("\r\n")
        if len(raw) > MAX_REQUEST_LINE:
            self.requestline = self.requestline[:200] + "..."
            raise Refused(414, TOO_LONG,
                          f"A request line may have at most {MAX_REQUEST_LINE} bytes.")
        if raw and not raw.endswith(b"\n"):
            self._ended_inside()
            return b""
        return raw

    def _ended_inside(self) -> None:
        self.close_connection = True
        log.debug("%s closed the connection inside its request: not answered",
                  self.address_string())

    def parse_request(self) -> bool:
        """Reads and checks the head: True when the request is to be routed; False
        when it was answered or ended too soon. Raises Refused."""
        line = parse_request_line(self.raw_requestline)
        self.command, self.path = line.method, line.target
        self.request_version = f"HTTP/1.{line.minor}"
        if self.path.startswith("//"):  # never taken for a //host URI (as http.server)
            self.path = "/" + self.path.lstrip("/")
        headers = read_headers(self.rfile.readline)
        if headers is None:
            self._ended_inside()
            return False
        self.headers = headers
        if self.command not in METHODS:
            raise Refused(501, UNSUPPORTED_METHOD, "This server serves GET, HEAD, POST and "
                                                   "OPTIONS.")
        check_query(self.path)
        self._length = body_length(headers)
        self._chunked = "Transfer-Encoding" in headers
        self._unread = bool(self._length) or self._chunked
        self._keep_alive(headers, line.minor)
        self.connection.settimeout(self.server.limits.write_timeout)
        if self.server.stopped:
            # A kept-alive connection outlives the listener: no new work after stop.
            self.close_connection = True
            self.send_error(503, "shutting down")
            return False
        return True

    def _keep_alive(self, headers: HTTPMessage, minor: int) -> None:
        tokens = {t.strip().lower() for t in headers.get("Connection", "").split(",")}
        if "close" in tokens:
            self.close_connection = True
        else:
            self.close_connection = minor == 0 and "keep-alive" not in tokens

    def _refuse(self, refused: Refused) -> None:
        """Answer a malformed or oversized request, count it, close the connection."""
        self.close_connection = True
        self.server.rejections.count(refused.reason, refused.status, self.address_string())
        if self._response_started:  # never expected: the head is checked before routing
            return
        self.send_error(refused.status, None, refused.explain)

    def finish(self) -> None:
        """After an answer to a request not read in full, read what the client still
        sends for a moment: closing with unread data would reset the connection, and
        the client could lose the answer."""
        linger = self._unread and self._response_started and not self._reader.eof
        super().finish()
        if linger:
            drain(self.connection, LINGER_SECONDS, LINGER_BYTES)

    def send_error(self, code: int, message: str | None = None,
                   explain: str | None = None) -> None:
        if self._reader.eof:  # no answer to a request that did not arrive in full
            self.close_connection = True
            return
        super().send_error(code, message, explain)

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

    # ------------------------------------------------------------- push events

    def do_POST(self) -> None:  # noqa: N802
        """Push deliveries at events.path: their own authentication (a secret or an
        Entra token), not the web config's basic auth; everything else is 404."""
        self._response_started = False
        path, _, query = self.path.partition("?")
        receiver = self.server.exporter.events
        try:
            if receiver is None or path != receiver.path:
                self._send(404, b"not found\n", TEXT)
                return
            self._deliver(receiver, query)
        except _ClientGone as gone:
            self.close_connection = True
            log.debug("%s went away during POST %s: %s", self.address_string(), path,
                      gone.__cause__)

    def do_OPTIONS(self) -> None:  # noqa: N802
        """The CloudEvents webhook handshake (Event Grid's subscription validation)."""
        self._response_started = False
        receiver = self.server.exporter.events
        try:
            if receiver is None or self.path.partition("?")[0] != receiver.path:
                self._send(404, b"not found\n", TEXT)
                return
            self._reply(receiver.options(self._header_map()))
        except _ClientGone:
            self.close_connection = True

    def _deliver(self, receiver: EventReceiver, query: str) -> None:
        # The query's size and number of fields were checked with the head.
        params = {key: values[0] for key, values in
                  parse_qs(query, keep_blank_values=True).items()}
        refusal = receiver.authorize(params, self._header_map())
        if refusal is not None:
            self._reply(refusal)
            return
        declared = self._length
        if self._chunked or declared is None:
            self.close_connection = True
            self.server.rejections.count(LENGTH_REQUIRED, 411, self.address_string())
            self._send(411, b"a Content-Length is required\n", TEXT,
                       headers=[("Connection", "close")])
            return
        if declared > receiver.config.max_body_bytes:
            self._reply(receiver.too_large())
            return
        self._continue()
        self._reader.limit(self.server.limits.header_timeout)  # the body, in time too
        try:
            body = self.rfile.read(declared)
        except OSError as exc:
            raise _ClientGone from exc
        if len(body) != declared:  # the client stopped sending: nothing applied
            self.close_connection = True
            log.debug("%s sent %d of %d body bytes: not applied", self.address_string(),
                      len(body), declared)
            return
        self._unread = False
        self._reply(receiver.deliver(body, self._header_map()))

    def _continue(self) -> None:
        """`100 Continue` to a client waiting for it, once its body is wanted (never
        before: a refused delivery gets its final answer instead)."""
        if (self.request_version != "HTTP/1.0"
                and self.headers.get("Expect", "").lower() == "100-continue"):
            try:
                self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            except OSError as exc:
                raise _ClientGone from exc

    def _header_map(self) -> CaseInsensitiveDict[str]:
        return CaseInsensitiveDict(self.headers.items())

    def _reply(self, reply: Reply) -> None:
        if reply.close:
            self.close_connection = True  # the body was not read
        self._send(reply.status, reply.body, reply.content_type, headers=reply.headers)

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
        slots = self.server.metrics_slots if path == "/metrics" else None
        if slots is not None and not slots.take():
            self._send(503, f"too many concurrent /metrics requests (--web.max-requests "
                            f"{slots.limit}); try again later\n".encode(), TEXT,
                       headers=[("Retry-After", "1")])
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
            if slots is not None:
                slots.give_back()
            with self.server.in_flight_changed:
                self.server.in_flight -= 1
                self.server.in_flight_changed.notify_all()

    def _metrics(self) -> None:
        exporter = self.server.exporter
        timeout = exporter.scrape_timeout
        header = self.headers.get("X-Prometheus-Scrape-Timeout-Seconds")
        try:
            if header is not None:
                timeout = min(timeout, max(0.0, float(header) - SCRAPE_TIMEOUT_MARGIN))
        except ValueError:
            pass
        exporter.refresh_due(timeout, serve_stale=True)
        gzip_ok = "gzip" in self.headers.get("Accept-Encoding", "")
        parts, content_type, encoding = exporter.exposition(self.headers.get("Accept", ""),
                                                            gzip_ok, serve_stale=True)
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
        """Answer with `body`: its parts as they are, or, with encoding IDENTITY,
        gzip members decoded as they are written (no Content-Encoding)."""
        parts = [body] if isinstance(body, bytes) else body
        decode = encoding == IDENTITY
        length = plain_length(parts) if decode else sum(len(part) for part in parts)
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            if encoding and not decode:
                self.send_header("Content-Encoding", encoding)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(length))
            self.end_headers()
            if self.command == "HEAD":
                return
            written = 0
            for chunk in gunzip_chunks(parts) if decode else slices(parts):
                self.wfile.write(chunk)  # each write has limits.write_timeout
                written += len(chunk)
        except OSError as exc:  # reset, broken pipe, timeout, TLS alert
            raise _ClientGone from exc
        if written != length:  # never expected: the client cannot trust this answer
            self.close_connection = True
            log.error("the body of %s was %d bytes, not the %d of its Content-Length",
                      self.path.split("?", 1)[0], written, length)

    def send_response(self, code: int, message: str | None = None) -> None:
        self._response_started = True
        super().send_response(code, message)

    def send_header(self, keyword: str, value: str) -> None:
        if keyword.lower() == "connection" and value.lower() == "close":
            self._close_sent = True
        super().send_header(keyword, value)

    def end_headers(self) -> None:
        for name, value in self.server.access.headers():  # http_server_config.headers
            self.send_header(name, value)
        if self._unread and not self._close_sent:  # the rest of the request is not read
            self.send_header("Connection", "close")
        super().end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        """The access log and http.server's other lines: every line that may hold
        the request line comes through here, `secret=` values blanked."""
        log.debug("%s %s", self.address_string(), redact_secrets(format % args))


class MetricsServer:
    """Serves an exporter on host:port in a background thread.

    `max_requests` caps concurrent /metrics requests (0: no cap); the timeouts, in
    seconds, bound the request line and headers, an idle kept-alive connection, and
    each write of an answer (exporter.web.limits)."""

    def __init__(self, exporter: Served, host: str, port: int,
                 web_config: WebConfigFile | None = None, *,
                 max_requests: int = MAX_REQUESTS, header_timeout: float = HEADER_TIMEOUT,
                 idle_timeout: float = IDLE_TIMEOUT,
                 write_timeout: float = WRITE_TIMEOUT) -> None:
        self.limits = Limits(max_requests, header_timeout, idle_timeout, write_timeout)
        self._server = _Server((host, port), exporter,
                               OPEN_ACCESS if web_config is None else web_config, self.limits)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        args=(SHUTDOWN_POLL,), name="http", daemon=True)

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

    def start(self) -> MetricsServer:
        self._thread.start()
        return self

    def set_exporter(self, exporter: Served) -> None:
        """Serve a reconfigured exporter from the next request on."""
        self._server.exporter = exporter

    def stop(self, grace: float = 4.0) -> None:
        """Stop accepting, let requests in progress finish (at most `grace` seconds;
        scrapes waiting for a refresh are released by Served.begin_stop), close."""
        self._server.stopped = True
        if self._thread.is_alive():  # shutdown() waits for serve_forever: only if it runs
            self._server.shutdown()
        self._server.exporter.begin_stop()
        deadline = time.monotonic() + grace
        with self._server.in_flight_changed:
            while self._server.in_flight and time.monotonic() < deadline:
                self._server.in_flight_changed.wait(max(0.0, deadline - time.monotonic()))
        self._server.server_close()
