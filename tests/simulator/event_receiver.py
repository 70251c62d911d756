"""A small webhook receiver for the event sender's tests: a stdlib HTTP server on
127.0.0.1 that records every request and answers as told."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

WAIT = 10.0


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: Any  # parsed JSON, or None
    at: float  # time.monotonic()

    @property
    def kind(self) -> str:
        """handshake, options or notification."""
        if self.method == "OPTIONS":
            return "options"
        if self.headers.get("aeg-event-type") == "SubscriptionValidation":
            return "handshake"
        return "notification"

    @property
    def events(self) -> list[dict[str, Any]]:
        return self.body if isinstance(self.body, list) else [self.body]


class Receiver:
    """`answer(request)` gives the status of a notification (default 200); `statuses`
    are used first, one per notification. The Event Grid handshake is echoed when
    `echo`, the CloudEvents one granted when `allow_origin`, once the statuses in
    `handshake_statuses` (one per handshake request) are used up."""

    def __init__(
        self,
        *,
        statuses: list[int] | None = None,
        answer: Callable[[Received], int] | None = None,
        echo: bool = True,
        allow_origin: bool = True,
        handshake_statuses: list[int] | None = None,
    ) -> None:
        self.statuses = list(statuses or [])
        self.handshake_statuses = list(handshake_statuses or [])
        self.answer = answer
        self.echo = echo
        self.allow_origin = allow_origin
        self.received: list[Received] = []
        self._lock = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def _record(self) -> Received:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = None
                return Received(self.command, parts.path, dict(parse_qsl(parts.query)),
                                {k.lower(): v for k, v in self.headers.items()}, body,
                                time.monotonic())

            def _send(self, status: int, body: bytes = b"",
                      headers: tuple[tuple[str, str], ...] = ()) -> None:
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_OPTIONS(self) -> None:  # noqa: N802
                request = self._record()
                receiver._add(request)
                failure = receiver._handshake_failure()
                if failure is not None:
                    self._send(failure)
                    return
                origin = request.headers.get("webhook-request-origin", "")
                granted = (("WebHook-Allowed-Origin", origin), ("Allow", "POST"))
                self._send(200, headers=granted if receiver.allow_origin else ())

            def do_POST(self) -> None:  # noqa: N802
                request = self._record()
                if request.kind == "handshake":
                    receiver._add(request)
                    failure = receiver._handshake_failure()
                    if failure is not None:
                        self._send(failure)
                        return
                    code = request.events[0]["data"]["validationCode"]
                    reply = {"validationResponse": code} if receiver.echo else {}
                    self._send(200, json.dumps(reply).encode(),
                               (("Content-Type", "application/json"),))
                    return
                status = receiver._status(request)
                receiver._add(request)
                self._send(status)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/events"

    def _status(self, request: Received) -> int:
        with self._lock:
            if self.statuses:
                return self.statuses.pop(0)
        return self.answer(request) if self.answer is not None else 200

    def _handshake_failure(self) -> int | None:
        with self._lock:
            return self.handshake_statuses.pop(0) if self.handshake_statuses else None

    def _add(self, request: Received) -> None:
        with self._lock:
            self.received.append(request)
            self._lock.notify_all()

    def requests(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    def notifications(self) -> list[Received]:
        return [r for r in self.requests() if r.kind == "notification"]

    def events(self) -> list[dict[str, Any]]:
        """Every event of every notification, in the order they came."""
        return [event for r in self.notifications() for event in r.events]

    def wait_for(self, predicate: Callable[[list[Received]], bool],
                 timeout: float = WAIT) -> bool:
        with self._lock:
            return self._lock.wait_for(lambda: predicate(self.received), timeout)


def event_types(events: Iterator[dict[str, Any]] | list[dict[str, Any]]) -> list[str]:
    return [e.get("eventType") or e.get("type") for e in events]
