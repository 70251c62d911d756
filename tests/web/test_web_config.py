"""--web.config.file: basic auth, TLS and reloads, over real sockets on 127.0.0.1."""

from __future__ import annotations

import base64
import datetime
import logging
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import bcrypt
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from prometheus_client import CollectorRegistry, generate_latest

from exporter.config.errors import ConfigError
from exporter.web.basic_auth import BasicAuth, parse_basic_authorization
from exporter.web.config_file import WebConfigFile
from exporter.web.policy import weakening
from exporter.web.server import MetricsServer
from exporter.web.web_config import WebConfigError, load_web_config, parse_web_config
from tests.helpers import output_lines, parse_exposition, v2_config, wait_for_line

PASSWORD = "correct horse battery staple"
#: Cost 4 keeps the tests fast; test_htpasswd_2y_hash_is_accepted covers cost 10.
HASH = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()
OTHER_PASSWORD = "tr0ub4dor&3"
OTHER_HASH = bcrypt.hashpw(OTHER_PASSWORD.encode(), bcrypt.gensalt(4)).decode()


# ------------------------------------------------------------------ certificates

@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    rogue_cert: Path  # a client certificate from a CA the server does not trust
    rogue_key: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _issue(subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name,
           issuer_key: ec.EllipticCurvePrivateKey, *, ca: bool = False,
           server: bool = False) -> x509.Certificate:
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(issuer)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
    elif server:
        import ipaddress

        builder = builder.add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False).add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    else:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _write_pair(directory: Path, stem: str, cert: x509.Certificate,
                key: ec.EllipticCurvePrivateKey) -> tuple[Path, Path]:
    cert_path, key_path = directory / f"{stem}.pem", directory / f"{stem}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = tmp_path_factory.mktemp("pki")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = _issue("test CA", ca_key, _name("test CA"), ca_key, ca=True)
    ca_path, _ = _write_pair(directory, "ca", ca_cert, ca_key)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = _write_pair(directory, "server",
                         _issue("localhost", server_key, _name("test CA"), ca_key, server=True),
                         server_key)
    client_key = ec.generate_private_key(ec.SECP256R1())
    client = _write_pair(directory, "client",
                         _issue("prometheus", client_key, _name("test CA"), ca_key), client_key)
    rogue_ca_key = ec.generate_private_key(ec.SECP256R1())
    rogue_key = ec.generate_private_key(ec.SECP256R1())
    rogue = _write_pair(directory, "rogue",
                        _issue("mallory", rogue_key, _name("rogue CA"), rogue_ca_key), rogue_key)
    return Pki(ca_path, *server, *client, *rogue)


# ---------------------------------------------------------------------- helpers

def _write(path: Path, text: str) -> Path:
    """Write the file and move its mtime on by a second, so even a same-size rewrite
    within one timestamp tick counts as a change."""
    old = path.stat().st_mtime_ns if path.exists() else time.time_ns()
    path.write_text(text)
    new = max(time.time_ns(), old + 1_000_000_000)
    os.utime(path, ns=(new, new))
    return path


def _basic(user: str, password: str | bytes) -> dict[str, str]:
    raw = password if isinstance(password, bytes) else password.encode()
    token = base64.b64encode(user.encode() + b":" + raw).decode()
    return {"Authorization": f"Basic {token}"}


class CountingChecker:
    """bcrypt.checkpw, counted: what the cache is meant to spare."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, password: bytes, hashed: bytes) -> bool:
        self.calls += 1
        return bcrypt.checkpw(password, hashed)


@pytest.fixture
def exporter(simulator, make_exporter):
    return make_exporter(v2_config(simulator.v2_endpoint("acct")))


@pytest.fixture
def serve(exporter) -> Iterator[Callable[[WebConfigFile], MetricsServer]]:
    servers: list[MetricsServer] = []

    def start(web_config: WebConfigFile) -> MetricsServer:
        server = MetricsServer(exporter, "127.0.0.1", 0, web_config).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger="exporter")
    return caplog


def _assert_no_secrets(*texts: str) -> None:
    for text in texts:
        for secret in (PASSWORD, HASH, OTHER_PASSWORD, OTHER_HASH, HASH[7:], OTHER_HASH[7:]):
            assert secret not in text


# ---------------------------------------------------------------------- basic auth

def test_basic_auth_answers_401_with_a_challenge_and_200_to_the_right_password(
        tmp_path, serve, logs):
    path = _write(tmp_path / "web.yml", f"basic_auth_users:\n  alice: {HASH}\n")
    server = serve(WebConfigFile(str(path)))
    metrics = server.url + "/metrics"
    bodies = []
    for headers in ({}, _basic("alice", "wrong"), _basic("bob", PASSWORD),
                    _basic("alice", PASSWORD.upper()), {"Authorization": "Bearer abc"},
                    {"Authorization": "Basic !!!not-base64"},
                    {"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()},
                    {"Authorization": "Basic " + base64.b64encode(b"\xff:x").decode()},
                    {"Authorization": "Basic"}):
        response = requests.get(metrics, headers=headers, timeout=10)
        assert response.status_code == 401, headers
        assert response.headers["WWW-Authenticate"] == 'Basic realm="ams-job-exporter"'
        bodies.append(response.text)
    ok = requests.get(metrics, headers=_basic("alice", PASSWORD), timeout=10)
    assert ok.status_code == 200 and "ams_up" in ok.text
    assert requests.get(server.url + "/", timeout=10).status_code == 401
    assert requests.head(metrics, timeout=10).status_code == 401
    assert requests.get(server.url + "/", headers=_basic("alice", PASSWORD),
                        timeout=10).status_code == 200
    _assert_no_secrets(logs.text, *bodies, ok.text)


def test_health_and_readiness_stay_open_for_probes(tmp_path, serve):
    path = _write(tmp_path / "web.yml", f"basic_auth_users:\n  alice: {HASH}\n")
    server = serve(WebConfigFile(str(path)))
    assert requests.get(server.url + "/healthz", timeout=10).status_code == 200
    assert requests.get(server.url + "/readyz", timeout=10).status_code in (200, 503)
    assert requests.get(server.url + "/metrics", timeout=10).status_code == 401


def test_unauthenticated_paths_can_close_everything(tmp_path, serve):
    path = _write(tmp_path / "web.yml",
                  f"basic_auth_users:\n  alice: {HASH}\nunauthenticated_paths: []\n")
    server = serve(WebConfigFile(str(path)))
    for endpoint in ("/healthz", "/readyz", "/metrics", "/"):
        assert requests.get(server.url + endpoint, timeout=10).status_code == 401
    assert requests.get(server.url + "/healthz", headers=_basic("alice", PASSWORD),
                        timeout=10).status_code == 200


def test_passwords_over_72_bytes_are_refused_without_bcrypt(tmp_path, serve):
    checker = CountingChecker()
    path = _write(tmp_path / "web.yml", f"basic_auth_users:\n  alice: {HASH}\n")
    server = serve(WebConfigFile(str(path), checker=checker))
    # bcrypt would only read the first 72 bytes: a longer password that starts with
    # the real one must not pass either.
    for password in ("x" * 100, PASSWORD + "y" * 80, "é" * 40):
        response = requests.get(server.url + "/metrics", headers=_basic("alice", password),
                                timeout=10)
        assert response.status_code == 401
    assert checker.calls == 0


def test_a_checker_that_raises_is_a_401_not_a_500(tmp_path, serve):
    def refusing(password: bytes, hashed: bytes) -> bool:
        raise ValueError("bcrypt refuses this password")

    path = _write(tmp_path / "web.yml", f"basic_auth_users:\n  alice: {HASH}\n")
    server = serve(WebConfigFile(str(path), checker=refusing))
    response = requests.get(server.url + "/metrics", headers=_basic("alice", "a\x00b"),
                            timeout=10)
    assert response.status_code == 401


def test_checks_are_cached_successes_and_failures_alike(tmp_path, serve):
    checker = CountingChecker()
    path = _write(tmp_path / "web.yml",
                  f"basic_auth_users:\n  alice: {HASH}\n  bob: {OTHER_HASH}\n")
    web_config = WebConfigFile(str(path), checker=checker)
    server = serve(web_config)
    metrics = server.url + "/metrics"
    for _ in range(3):
        assert requests.get(metrics, headers=_basic("alice", PASSWORD),
                            timeout=10).status_code == 200
    assert checker.calls == 1
    assert requests.get(metrics, headers=_basic("bob", OTHER_PASSWORD),
                        timeout=10).status_code == 200
    assert checker.calls == 2
    # A wrong password costs bcrypt once, however often it is retried.
    for _ in range(2):
        assert requests.get(metrics, headers=_basic("alice", "wrong"),
                            timeout=10).status_code == 401
    assert checker.calls == 3
    # An unknown user costs a bcrypt run too, so timing does not reveal who exists.
    assert requests.get(metrics, headers=_basic("mallory", PASSWORD),
                        timeout=10).status_code == 401
    assert checker.calls == 4
    # alice's password does not open bob's account, even though alice's is cached.
    assert requests.get(metrics, headers=_basic("bob", PASSWORD),
                        timeout=10).status_code == 401
    assert checker.calls == 5
    # ... and a cached failure does not shadow the right password.
    assert requests.get(metrics, headers=_basic("alice", PASSWORD),
                        timeout=10).status_code == 200
    assert web_config.auth is not None and web_config.auth.bcrypt_calls == checker.calls


def test_the_cache_is_bounded():
    checker = CountingChecker()
    users = {f"user{i}": bcrypt.hashpw(f"pw{i}".encode(), bcrypt.gensalt(4))
             for i in range(3)}
    auth = BasicAuth(users, checker, cache_size=2)
    for i in range(3):
        assert auth.check(_basic(f"user{i}", f"pw{i}")["Authorization"])
    assert checker.calls == 3
    assert auth.check(_basic("user2", "pw2")["Authorization"])  # still cached
    assert checker.calls == 3
    assert auth.check(_basic("user0", "pw0")["Authorization"])  # evicted: checked again
    assert checker.calls == 4


def test_the_same_wrong_password_twice_runs_bcrypt_once(tmp_path, serve):
    checker = CountingChecker()
    path = _write(tmp_path / "web.yml", f"basic_auth_users:\n  alice: {HASH}\n")
    server = serve(WebConfigFile(str(path), checker=checker))
    for _ in range(2):
        assert requests.get(server.url + "/metrics", headers=_basic("alice", "wrong"),
                            timeout=10).status_code == 401
    assert checker.calls == 1


def test_failed_checks_are_remembered_apart_from_successes_and_bounded():
    checker = CountingChecker()
    auth = BasicAuth({"alice": HASH.encode()}, checker, cache_size=2, failed_cache_size=2)
    assert auth.check(_basic("alice", PASSWORD)["Authorization"])
    for password in ("wrong0", "wrong1", "wrong2", "wrong2"):
        assert not auth.check(_basic("alice", password)["Authorization"])
    assert checker.calls == 4
    assert not auth.check(_basic("alice", "wrong0")["Authorization"])  # evicted: again
    assert checker.calls == 5
    # A flood of wrong passwords never pushes the good one out of its own cache.
    assert auth.check(_basic("alice", PASSWORD)["Authorization"])
    assert checker.calls == 5
    # The key is the pair: the same password for another (unknown) user is checked.
    assert not auth.check(_basic("alice2", "wrong0")["Authorization"])
    assert checker.calls == 6


class OverlapDetectingChecker:
    """A checker that notices being run by two threads at once: each run waits (at
    most `hold` seconds) for another run to start beside it."""

    def __init__(self, hold: float = 0.1) -> None:
        self.hold = hold
        self.calls = 0
        self.active = 0
        self.most_active = 0
        self._changed = threading.Condition()

    def __call__(self, password: bytes, hashed: bytes) -> bool:
        with self._changed:
            self.calls += 1
            self.active += 1
            self.most_active = max(self.most_active, self.active)
            self._changed.notify_all()
            self._changed.wait_for(lambda: self.active > 1, timeout=self.hold)
            self.active -= 1
        return bcrypt.checkpw(password, hashed)


def test_bcrypt_runs_one_at_a_time(tmp_path, serve):
    checker = OverlapDetectingChecker()
    path = _write(tmp_path / "web.yml", f"basic_auth_users:\n  alice: {HASH}\n")
    server = serve(WebConfigFile(str(path), checker=checker))
    metrics = server.url + "/metrics"

    def attempt(password: str) -> int:
        return requests.get(metrics, headers=_basic("alice", password), timeout=30).status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        codes = list(pool.map(attempt, [f"wrong-{i}" for i in range(16)]))
    assert codes == [401] * 16
    assert checker.calls == 16
    assert checker.most_active == 1, "two bcrypt runs overlapped"
    # 16 clients sending the same stale password at once: one bcrypt run in all.
    with ThreadPoolExecutor(max_workers=16) as pool:
        codes = list(pool.map(attempt, ["stale"] * 16))
    assert codes == [401] * 16
    assert checker.calls == 17


def test_htpasswd_2y_hash_is_accepted(tmp_path, serve):
    # `htpasswd -nBC 10` writes $2y$10$...; $2y$ and $2b$ are the same algorithm.
    hashed = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(10)).decode().replace("$2b$", "$2y$", 1)
    assert hashed.startswith("$2y$10$")
    path = _write(tmp_path / "web.yml", f"basic_auth_users:\n  prometheus: '{hashed}'\n")
    server = serve(WebConfigFile(str(path)))
    assert requests.get(server.url + "/metrics", headers=_basic("prometheus", "s3cret"),
                        timeout=10).status_code == 200


def test_parse_basic_authorization():
    assert parse_basic_authorization(_basic("a", "b:c")["Authorization"]) == ("a", b"b:c")
    assert parse_basic_authorization("basic " + base64.b64encode(b"a:").decode()) == ("a", b"")
    for bad in (None, "", "Basic", "Digest abc", "Basic ====", "Basic YWJj"):
        assert parse_basic_authorization(bad) is None


def test_configured_headers_are_on_every_response(tmp_path, serve):
    path = _write(tmp_path / "web.yml", f"""
basic_auth_users:
  alice: {HASH}
http_server_config:
  http2: false
  headers:
    X-Frame-Options: deny
    X-Content-Type-Options: nosniff
    Strict-Transport-Security: max-age=31536000
    Content-Security-Policy: ""
""")
    server = serve(WebConfigFile(str(path)))
    for response in (requests.get(server.url + "/metrics", timeout=10),
                     requests.get(server.url + "/healthz", timeout=10),
                     requests.get(server.url + "/nope", headers=_basic("alice", PASSWORD),
                                  timeout=10)):
        assert response.headers["X-Frame-Options"] == "deny"
        assert response.headers["Strict-Transport-Security"] == "max-age=31536000"
        assert "Content-Security-Policy" not in response.headers


# ---------------------------------------------------------------------------- TLS

def _tls_file(tmp_path: Path, pki: Pki, extra: str = "", users: str = "") -> Path:
    return _write(tmp_path / "web.yml", f"""
tls_server_config:
  cert_file: {pki.server_cert}
  key_file: {pki.server_key}
{extra}
{users}
""")


def test_https_with_the_ca(tmp_path, pki, serve):
    server = serve(WebConfigFile(str(_tls_file(tmp_path, pki))))
    assert server.url.startswith("https://127.0.0.1:")
    response = requests.get(server.url + "/metrics", verify=str(pki.ca), timeout=10)
    assert response.status_code == 200 and "ams_up" in response.text
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(server.url + "/metrics", timeout=10)  # not trusted without the CA
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(server.url.replace("https", "http") + "/metrics", timeout=10)


def test_tls_and_basic_auth_together(tmp_path, pki, serve):
    path = _tls_file(tmp_path, pki, users=f"basic_auth_users:\n  alice: {HASH}")
    server = serve(WebConfigFile(str(path)))
    assert requests.get(server.url + "/metrics", verify=str(pki.ca),
                        timeout=10).status_code == 401
    assert requests.get(server.url + "/metrics", verify=str(pki.ca),
                        headers=_basic("alice", PASSWORD), timeout=10).status_code == 200


def test_require_and_verify_client_cert(tmp_path, pki, serve):
    path = _tls_file(tmp_path, pki, extra=f"""  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: {pki.ca}""")
    server = serve(WebConfigFile(str(path)))
    url = server.url + "/metrics"
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(url, verify=str(pki.ca), timeout=10)
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(url, verify=str(pki.ca), cert=(str(pki.rogue_cert), str(pki.rogue_key)),
                     timeout=10)
    response = requests.get(url, verify=str(pki.ca),
                            cert=(str(pki.client_cert), str(pki.client_key)), timeout=10)
    assert response.status_code == 200


def test_verify_client_cert_if_given(tmp_path, pki, serve):
    path = _tls_file(tmp_path, pki, extra=f"""  client_auth_type: VerifyClientCertIfGiven
  client_ca_file: {pki.ca}""")
    server = serve(WebConfigFile(str(path)))
    url = server.url + "/healthz"
    assert requests.get(url, verify=str(pki.ca), timeout=10).status_code == 200
    assert requests.get(url, verify=str(pki.ca), timeout=10,
                        cert=(str(pki.client_cert), str(pki.client_key))).status_code == 200
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(url, verify=str(pki.ca), cert=(str(pki.rogue_cert), str(pki.rogue_key)),
                     timeout=10)


def _handshake(port: int, pki: Pki, maximum: ssl.TLSVersion | None = None) -> str:
    context = ssl.create_default_context(cafile=str(pki.ca))
    if maximum is not None:
        context.maximum_version = maximum
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock, \
            context.wrap_socket(sock, server_hostname="127.0.0.1") as tls:
        return tls.version() or ""


def test_min_version_tls13_rejects_a_tls12_client(tmp_path, pki, serve):
    server = serve(WebConfigFile(str(_tls_file(tmp_path, pki, extra="  min_version: TLS13"))))
    assert _handshake(server.port, pki) == "TLSv1.3"
    with pytest.raises(ssl.SSLError):
        _handshake(server.port, pki, maximum=ssl.TLSVersion.TLSv1_2)


def test_a_silent_client_does_not_block_the_others(tmp_path, pki, serve):
    server = serve(WebConfigFile(str(_tls_file(tmp_path, pki))))
    with socket.create_connection(("127.0.0.1", server.port), timeout=10):
        # This connection never sends a ClientHello; the next one is served anyway.
        started = time.monotonic()
        response = requests.get(server.url + "/healthz", verify=str(pki.ca), timeout=5)
        assert response.status_code == 200
        assert time.monotonic() - started < 3


# ------------------------------------------------------------------------ reloads

def test_changed_users_apply_without_restart(tmp_path, serve):
    path = _write(tmp_path / "web.yml", f"basic_auth_users:\n  alice: {HASH}\n")
    web_config = WebConfigFile(str(path))
    server = serve(web_config)
    metrics = server.url + "/metrics"
    assert requests.get(metrics, headers=_basic("alice", PASSWORD), timeout=10).ok
    assert web_config.reload_if_changed() is False  # nothing changed
    _write(path, f"basic_auth_users:\n  bob: {OTHER_HASH}\n")
    assert web_config.reload_if_changed() is True
    assert requests.get(metrics, headers=_basic("alice", PASSWORD),
                        timeout=10).status_code == 401
    assert requests.get(metrics, headers=_basic("bob", OTHER_PASSWORD), timeout=10).ok
    _write(path, "")  # an empty file would mean no auth at all: refused while running
    assert web_config.reload_if_changed() is False
    assert requests.get(metrics, timeout=10).status_code == 401
    assert requests.get(metrics, headers=_basic("bob", OTHER_PASSWORD), timeout=10).ok


def test_requests_pick_up_a_change_on_their_own(tmp_path, serve):
    path = _write(tmp_path / "web.yml", f"basic_auth_users:\n  alice: {HASH}\n")
    web_config = WebConfigFile(str(path), check_interval=0.0)
    server = serve(web_config)
    _write(path, f"basic_auth_users:\n  bob: {OTHER_HASH}\n")
    # check_interval 0: the next connection looks at the file before it is served.
    response = requests.get(server.url + "/metrics", headers=_basic("bob", OTHER_PASSWORD),
                            timeout=10)
    assert response.status_code == 200


def test_the_throttle_bounds_how_often_the_file_is_looked_at(tmp_path):
    now = [100.0]
    path = _write(tmp_path / "web.yml", f"basic_auth_users:\n  alice: {HASH}\n")
    web_config = WebConfigFile(str(path), check_interval=1.0, clock=lambda: now[0])
    _write(path, f"basic_auth_users:\n  bob: {OTHER_HASH}\n")
    web_config.maybe_reload()
    assert set(web_config.config.users) == {"alice"}  # within the interval: not looked at
    now[0] += 1.0
    web_config.maybe_reload()
    assert set(web_config.config.users) == {"bob"}


def test_an_invalid_new_file_keeps_the_old_config(tmp_path, serve, logs):
    path = _write(tmp_path / "web.yml", f"basic_auth_users:\n  alice: {HASH}\n")
    web_config = WebConfigFile(str(path))
    server = serve(web_config)
    _write(path, f"basic_auth_users:\n  alice: {HASH}\n  bob: {PASSWORD}\n")  # not a hash
    assert web_config.reload_if_changed() is False
    assert web_config.reload_if_changed() is False
    errors = [r for r in logs.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, "one error line per broken file, not one per check"
    assert "basic_auth_users.bob: not a bcrypt hash" in errors[0].getMessage()
    assert requests.get(server.url + "/metrics", headers=_basic("alice", PASSWORD),
                        timeout=10).ok
    _write(path, f"basic_auth_users:\n  bob: {OTHER_HASH}\n")  # fixed: applies
    assert web_config.reload_if_changed() is True
    _assert_no_secrets(logs.text)


def test_a_rotated_certificate_is_picked_up(tmp_path, pki, serve):
    directory = tmp_path / "tls"
    directory.mkdir()
    for name in ("server.pem", "server.key"):
        (directory / name).write_bytes((pki.server_cert.parent / name).read_bytes())
    path = _write(directory / "web.yml",
                  "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n")
    web_config = WebConfigFile(str(path))
    server = serve(web_config)
    assert requests.get(server.url + "/healthz", verify=str(pki.ca), timeout=10).ok
    # A certificate from another CA replaces the file (as cert-manager would renew it).
    other_ca = ec.generate_private_key(ec.SECP256R1())
    key = ec.generate_private_key(ec.SECP256R1())
    _write_pair(directory, "server", _issue("localhost", key, _name("new CA"), other_ca,
                                            server=True), key)
    assert web_config.reload_if_changed() is True
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(server.url + "/healthz", verify=str(pki.ca), timeout=10)


# ------------------------------------------------- reloads never weaken protection

def _reload_metric(collector: object) -> float:
    """The gauge as an exposition shows it (the collector registered as-is)."""
    registry = CollectorRegistry()
    registry.register(collector)  # type: ignore[arg-type]
    text = generate_latest(registry).decode()
    return parse_exposition(text).value("ams_web_config_last_reload_successful")


def test_a_file_rewritten_while_running_never_turns_tls_or_basic_auth_off(
        tmp_path, pki, serve, logs):
    good = (f"tls_server_config:\n  cert_file: {pki.server_cert}\n"
            f"  key_file: {pki.server_key}\nbasic_auth_users:\n  alice: '{HASH}'\n")
    path = _write(tmp_path / "web.yml", good)
    web_config = WebConfigFile(str(path), check_interval=0.0)
    server = serve(web_config)
    https = server.url + "/metrics"
    plain = https.replace("https://", "http://", 1)
    assert _reload_metric(web_config) == 1
    cut = good.index(HASH) + 20
    cases = [
        ("empty", "", "reload refused: it turns TLS off"),
        ("half-written", good[:cut], "not valid YAML at line 5"),  # inside the quotes
        ("TLS only", good[:good.index("basic_auth_users")],
         "reload refused: it turns basic auth off"),
        ("users only", good[good.index("basic_auth_users"):],
         "reload refused: it turns TLS off"),
    ]
    for name, text, expected in cases:
        errors_before = len([r for r in logs.records if r.levelno >= logging.ERROR])
        _write(path, text)
        # check_interval 0: this very connection looks at the file first; the server
        # still wants a TLS handshake, so plain HTTP gets no answer.
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(plain, timeout=10)
        assert requests.get(https, verify=str(pki.ca), timeout=10).status_code == 401, name
        assert requests.get(https, verify=str(pki.ca), headers=_basic("alice", PASSWORD),
                            timeout=10).status_code == 200, name
        assert web_config.last_reload_successful is False, name
        assert _reload_metric(web_config) == 0, name
        errors = [r for r in logs.records if r.levelno >= logging.ERROR][errors_before:]
        assert len(errors) == 1, f"{name}: {[r.getMessage() for r in errors]}"
        message = errors[0].getMessage()
        assert message.startswith("web.config.file: ") and expected in message, message
        assert "\n" not in message and errors[0].exc_info is None, name
        assert "keeping the web configuration in force" in message
        assert good[good.index(HASH):cut] not in logs.text  # not even the cut hash
        # The file is put right again: it applies, and the metric says so.
        _write(path, good)
        assert web_config.reload_if_changed() is True, name
        assert _reload_metric(web_config) == 1, name
    _assert_no_secrets(logs.text)


_TLS = "tls_server_config:\n  cert_file: {cert}\n  key_file: {key}\n"
_MTLS = _TLS + "  client_auth_type: {auth}\n  client_ca_file: {ca}\n"
_USERS = f"basic_auth_users:\n  alice: '{HASH}'\n"


@pytest.mark.parametrize(("before", "after", "reason"), [
    (_MTLS.replace("{auth}", "RequireAndVerifyClientCert"),
     _MTLS.replace("{auth}", "VerifyClientCertIfGiven"), "verifies client certificates less"),
    (_MTLS.replace("{auth}", "VerifyClientCertIfGiven"), _TLS,
     "verifies client certificates less"),
    (_TLS + "  min_version: TLS13\n", _TLS, "lowers the minimum TLS version (TLS13 -> TLS12)"),
    (_USERS + "unauthenticated_paths: []\n", _USERS, "opens paths that needed credentials "
                                                      "(unauthenticated_paths: /healthz, /readyz)"),
    (_USERS, _USERS + "unauthenticated_paths: [/metrics]\n", "opens paths"),
    (_USERS, "basic_auth_users: {{}}\n", "turns basic auth off"),
    # Rotations and tightening apply without a restart.
    (_TLS + _USERS, _TLS + f"basic_auth_users:\n  bob: '{OTHER_HASH}'\n", None),
    (_TLS, _MTLS.replace("{auth}", "RequireAndVerifyClientCert"), None),
    (_MTLS.replace("{auth}", "RequireAnyClientCert"),
     _MTLS.replace("{auth}", "RequireAndVerifyClientCert"), None),
    (_TLS, _TLS + "  min_version: TLS13\n  cipher_suites: [TLS_AES_128_GCM_SHA256]\n", None),
    (_USERS, _USERS + "unauthenticated_paths: [/healthz]\n", None),
    ("", _USERS, None),
    ("", "", None),
], ids=["mtls-to-optional", "optional-to-none", "min-version-down", "paths-opened",
        "metrics-opened", "users-emptied", "users-changed", "mtls-added",
        "same-verify-mode", "tightened-tls", "paths-closed", "users-added", "both-empty"])
def test_what_a_reload_may_not_weaken(pki, tmp_path, before, after, reason):
    def load(template: str):
        return parse_web_config(template.format(cert=pki.server_cert, key=pki.server_key,
                                                ca=pki.ca), str(tmp_path))

    found = weakening(load(before), load(after))
    if reason is None:
        assert found is None
    else:
        assert found is not None and reason in found
        assert HASH not in found and OTHER_HASH not in found


# ------------------------------------------------------------------------ parsing

def test_relative_paths_resolve_against_the_file(tmp_path, pki, monkeypatch):
    directory = tmp_path / "conf"
    directory.mkdir()
    for source in (pki.server_cert, pki.server_key, pki.ca):
        (directory / source.name).write_bytes(source.read_bytes())
    path = _write(directory / "web.yml", """
tls_server_config:
  cert_file: server.pem
  key_file: server.key
  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: ca.pem
  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_AES_128_GCM_SHA256]
  prefer_server_cipher_suites: false
  curve_preferences: [X25519]
""")
    monkeypatch.chdir(tmp_path)
    config = load_web_config(str(path.relative_to(tmp_path)))
    assert config.tls is not None
    assert config.tls.cert_file == str(directory / "server.pem")
    assert config.tls.client_ca_file == str(directory / "ca.pem")
    assert config.ssl_context is not None
    assert config.ssl_context.verify_mode == ssl.CERT_REQUIRED


def test_defaults_and_repr_keep_hashes_out():
    config = parse_web_config(f"basic_auth_users:\n  alice: {HASH}\n", "/")
    assert config.tls is None and config.ssl_context is None
    assert config.unauthenticated_paths == {"/healthz", "/readyz"}
    assert HASH not in repr(config) and HASH[7:] not in config.describe()
    assert parse_web_config("", "/").users == {}


@pytest.mark.parametrize(("text", "message"), [
    ("tls_config: {}", "tls_config: unknown key"),
    ("rate_limit: {interval: 1s, burst: 2}", "rate_limit: not supported"),
    ("basic_auth_users:\n  alice: plain-password-oops", "basic_auth_users.alice: not a bcrypt"),
    ("basic_auth_users:\n  alice: '$2b$10$short'", "basic_auth_users.alice: not a bcrypt"),
    ("basic_auth_users:\n  'a:b': x", "basic_auth_users.a:b: a user name"),
    ("basic_auth_users: [alice]", "basic_auth_users: expected a mapping"),
    ("tls_server_config:\n  cert_file: c.pem", "tls_server_config.key_file: required"),
    ("tls_server_config:\n  cert: PEM", "tls_server_config.cert: inline PEM is not supported"),
    ("tls_server_config:\n  cert_file: c\n  key_file: k\n  client_auth_type: Always",
     "tls_server_config.client_auth_type: expected one of NoClientCert"),
    ("tls_server_config:\n  cert_file: c\n  key_file: k\n"
     "  client_auth_type: RequireAndVerifyClientCert",
     "tls_server_config.client_ca_file: required for client_auth_type"),
    ("tls_server_config:\n  cert_file: c\n  key_file: k\n  client_ca_file: ca",
     "tls_server_config.client_ca_file: set, but client_auth_type is NoClientCert"),
    ("tls_server_config:\n  cert_file: c\n  key_file: k\n  min_version: TLS13\n"
     "  max_version: TLS12", "tls_server_config.max_version: TLS12 is below"),
    ("tls_server_config:\n  cert_file: c\n  key_file: k\n  min_version: SSL3",
     "tls_server_config.min_version: expected one of"),
    ("tls_server_config:\n  cert_file: c\n  key_file: k\n  cipher_suites: [RC4]",
     "tls_server_config.cipher_suites[0]: unknown cipher suite"),
    ("tls_server_config:\n  cert_file: missing.pem\n  key_file: k",
     "tls_server_config.cert_file: cannot read"),
    ("tls_server_config:\n  client_allowed_sans: [x]",
     "tls_server_config.client_allowed_sans: not supported"),
    ("http_server_config:\n  headers:\n    Content-Type: text/html",
     "http_server_config.headers.Content-Type: set by the exporter"),
    ("http_server_config:\n  headers:\n    X-Frame-Options: allow",
     "http_server_config.headers.X-Frame-Options: expected one of deny"),
    ("http_server_config:\n  headers:\n    'X-A': \"a\\r\\nSet-Cookie: x\"",
     "http_server_config.headers.X-A: expected a one-line string"),
    ("unauthenticated_paths: /healthz", "unauthenticated_paths: expected a list"),
    ("unauthenticated_paths: [healthz]", "unauthenticated_paths[0]: expected a path"),
    ("basic_auth_users:\n  alice: [unclosed", "not valid YAML at line"),
    ("- a list", ".: expected a mapping"),
])
def test_invalid_files_name_the_key(tmp_path, text, message):
    with pytest.raises(WebConfigError) as caught:
        parse_web_config(text, str(tmp_path))
    assert isinstance(caught.value, ConfigError)
    assert str(caught.value).startswith("web.config.file: ")
    assert message in str(caught.value)
    assert "plain-password-oops" not in str(caught.value)
    assert "\n" not in str(caught.value)


def test_certificate_problems_name_the_key(tmp_path, pki):
    mismatched = (f"tls_server_config:\n  cert_file: {pki.server_cert}\n"
                  f"  key_file: {pki.client_key}\n")
    with pytest.raises(WebConfigError, match=r"tls_server_config\.cert_file: cannot load"):
        parse_web_config(mismatched, str(tmp_path))
    (tmp_path / "empty.pem").write_text("")
    no_ca = (f"tls_server_config:\n  cert_file: {pki.server_cert}\n"
             f"  key_file: {pki.server_key}\n  client_auth_type: RequireAndVerifyClientCert\n"
             f"  client_ca_file: empty.pem\n")
    with pytest.raises(WebConfigError, match=r"tls_server_config\.client_ca_file: cannot load"):
        parse_web_config(no_ca, str(tmp_path))
    encrypted = tmp_path / "encrypted.key"
    key = ec.generate_private_key(ec.SECP256R1())
    encrypted.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pass")))
    with pytest.raises(WebConfigError, match=r"tls_server_config\.key_file: encrypted"):
        parse_web_config(f"tls_server_config:\n  cert_file: {pki.server_cert}\n"
                         f"  key_file: {encrypted}\n", str(tmp_path))


# ---------------------------------------------------------------------------- CLI

def _run_cli(args: list[str], env: dict[str, str] | None = None
             ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "exporter", *args], capture_output=True,
                          text=True, timeout=60, env={**os.environ, **(env or {})})


def test_cli_exits_2_naming_the_key(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(v2_config("http://127.0.0.1:9/api/", auth="{method: none}"))
    web = _write(tmp_path / "web.yml", f"basic_auth_users:\n  alice: {PASSWORD}\n")
    result = _run_cli(["--config.file", str(config), "--web.config.file", str(web),
                       "--web.listen-address", "127.0.0.1:0"])
    assert result.returncode == 2
    assert result.stderr.strip() == ("error: web.config.file: basic_auth_users.alice: not a "
                                     "bcrypt hash (make one with: htpasswd -nBC 10 \"\" | "
                                     "tr -d ':\\n')")
    _assert_no_secrets(result.stderr, result.stdout)
    result = _run_cli(["--config.file", str(config), "--web.listen-address", "127.0.0.1:0"],
                      env={"AMS_EXPORTER_WEB_CONFIG_FILE": str(tmp_path / "missing.yml")})
    assert result.returncode == 2
    assert "web.config.file: cannot read" in result.stderr


@contextmanager
def _serving(args: list[str]) -> Iterator[str]:
    """Run `serve`; yield the URL it logs (read with a deadline by a reader thread)."""
    process = subprocess.Popen([sys.executable, "-m", "exporter", *args],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = output_lines(process)
    try:
        yield wait_for_line(lines, r" on (https?://\S+)/metrics").group(1)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def test_cli_serves_with_tls_and_basic_auth(tmp_path, pki, simulator, token_file):
    config = tmp_path / "config.yaml"
    config.write_text(v2_config(simulator.v2_endpoint("acct")).replace("TOKEN", token_file))
    web = _tls_file(tmp_path, pki, users=f"basic_auth_users:\n  alice: {HASH}")
    with _serving(["--config.file", str(config), "--web.config.file", str(web),
                   "--web.listen-address", "127.0.0.1:0"]) as url:
        assert url.startswith("https://")
        assert requests.get(url + "/metrics", verify=str(pki.ca),
                            timeout=10).status_code == 401
        assert requests.get(url + "/healthz", verify=str(pki.ca), timeout=10).ok
        response = requests.get(url + "/metrics", verify=str(pki.ca),
                                headers=_basic("alice", PASSWORD), timeout=10)
        assert response.status_code == 200 and "ams_up" in response.text
        assert "\nams_web_config_last_reload_successful 1.0\n" in response.text
