"""The legacy endpoint's one-time 301: followed only where the token may go."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
import requests

from exporter.backends.ams_v2.client import V2Client, redirect_allowed
from exporter.backends.auth.tokens import StaticToken
from exporter.backends.transport import ApiError, Transport


class Recorder(ThreadingHTTPServer):
    """Answers every GET with `answer` and records the Authorization headers."""

    def __init__(self, answer: tuple[int, dict[str, str], bytes]) -> None:
        self.answer = answer
        self.authorizations: list[str | None] = []
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: Recorder

    def do_GET(self) -> None:  # noqa: N802
        self.server.authorizations.append(self.headers.get("Authorization"))
        status, headers, body = self.server.answer
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def servers() -> Iterator[tuple[Recorder, Recorder]]:
    foreign = Recorder((200, {"Content-Type": "application/json"}, b'{"value": []}'))
    legacy = Recorder((301, {"Location": foreign.url + "/api/"}, b""))
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in (foreign, legacy)]
    for thread in threads:
        thread.start()
    yield legacy, foreign
    for server in (foreign, legacy):
        server.shutdown()
        server.server_close()


def test_a_301_to_another_host_is_refused_and_gets_no_token(servers):
    legacy, foreign = servers
    client = V2Client(legacy.url + "/api/", Transport(requests.Session(),
                                                      StaticToken("secret-token")))
    with pytest.raises(ApiError, match="refusing a redirect"):
        client.list_jobs([])
    assert legacy.authorizations == ["Bearer secret-token"]
    assert foreign.authorizations == []
    assert client.endpoint == legacy.url + "/api/"


@pytest.mark.parametrize("old, new, allowed", [
    ("https://media.windows.net/api/", "https://acct.restv2.westeurope.media.azure.net/api/",
     True),
    ("https://media.windows.net/api/", "https://evil.example.com/api/", False),
    ("https://media.windows.net/api/", "http://acct.restv2.westeurope.media.azure.net/api/",
     False),
    ("https://media.windows.net/api/", "https://acct.media.chinacloudapi.cn/api/", False),
    ("https://acct.restv2.westeurope.media.azure.net/api/",
     "https://other.restv2.westeurope.media.azure.net/api/", False),
    ("http://127.0.0.1:8080/api/", "http://127.0.0.1:8080/v2/acct/api/", True),
    ("http://127.0.0.1:8080/api/", "http://127.0.0.1:9090/api/", False),
])
def test_which_redirects_are_followed(old, new, allowed):
    assert redirect_allowed(urlsplit(old), urlsplit(new)) is allowed
