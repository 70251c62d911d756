"""`--web.config.file`: TLS and basic auth for the HTTP endpoints.

The file has the exporter-toolkit format Go exporters use, so one file (and one
habit) serves both. The file is re-read when it, or a certificate it names,
changes; a broken new file keeps the previous settings. No password or hash ever
goes into an exception message, a log line or a response.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
import re
import secrets
import socket
import ssl
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

import yaml

from exporter.config.errors import ConfigError
from exporter.config.loading import yaml_error_position

log = logging.getLogger(__name__)

REALM = "ams-job-exporter"
#: Our extension: paths served without basic auth, so kubelet probes (which cannot
#: send credentials without embedding them in the pod spec) keep working.
DEFAULT_UNAUTHENTICATED_PATHS = ("/healthz", "/readyz")
#: bcrypt only reads this many bytes; bcrypt>=4.1 raises on longer passwords.
BCRYPT_MAX_PASSWORD_BYTES = 72
#: Successful checks remembered, so a scrape costs a hash lookup, not a bcrypt run.
AUTH_CACHE_SIZE = 64
RELOAD_CHECK_INTERVAL = 1.0
HANDSHAKE_TIMEOUT = 10.0
HTPASSWD_HINT = "make one with: htpasswd -nBC 10 \"\" | tr -d ':\\n'"

TOP_KEYS = frozenset({"tls_server_config", "http_server_config", "basic_auth_users",
                      "unauthenticated_paths"})
TLS_KEYS = frozenset({"cert_file", "key_file", "client_auth_type", "client_ca_file",
                      "min_version", "max_version", "cipher_suites",
                      "prefer_server_cipher_suites", "curve_preferences"})
HTTP_KEYS = frozenset({"headers", "http2"})
#: exporter-toolkit keys this exporter refuses rather than silently ignores.
UNSUPPORTED = {
    "rate_limit": "not supported by this exporter",
    "cert": "inline PEM is not supported: use cert_file",
    "key": "inline PEM is not supported: use key_file",
    "client_ca": "inline PEM is not supported: use client_ca_file",
    "client_allowed_sans": "not supported: use a client CA that signs only allowed clients",
}
#: client_auth_type -> (verify mode, client_ca_file required). Python's ssl cannot ask
#: for a certificate without verifying it: RequestClientCert (whose certificate would
#: go unused anyway) asks for none, and RequireAnyClientCert verifies it.
CLIENT_AUTH_TYPES = {
    "NoClientCert": (ssl.CERT_NONE, False),
    "RequestClientCert": (ssl.CERT_NONE, False),
    "RequireAnyClientCert": (ssl.CERT_REQUIRED, True),
    "VerifyClientCertIfGiven": (ssl.CERT_OPTIONAL, True),
    "RequireAndVerifyClientCert": (ssl.CERT_REQUIRED, True),
}
TLS_VERSIONS = {"TLS10": ssl.TLSVersion.TLSv1, "TLS11": ssl.TLSVersion.TLSv1_1,
                "TLS12": ssl.TLSVersion.TLSv1_2, "TLS13": ssl.TLSVersion.TLSv1_3}
#: Go's cipher suite names -> OpenSSL's. TLS 1.3 suites are not configurable (in Go
#: either), so they are accepted and left out.
GO_CIPHER_SUITES: dict[str, str | None] = {
    "TLS_RSA_WITH_AES_128_CBC_SHA": "AES128-SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA": "AES256-SHA",
    "TLS_RSA_WITH_AES_128_GCM_SHA256": "AES128-GCM-SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384": "AES256-GCM-SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": "ECDHE-ECDSA-AES128-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA": "ECDHE-ECDSA-AES256-SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": "ECDHE-RSA-AES128-SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": "ECDHE-RSA-AES256-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": "ECDHE-ECDSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "ECDHE-RSA-AES128-GCM-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "ECDHE-RSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-RSA-CHACHA20-POLY1305",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-ECDSA-CHACHA20-POLY1305",
    "TLS_AES_128_GCM_SHA256": None,
    "TLS_AES_256_GCM_SHA384": None,
    "TLS_CHACHA20_POLY1305_SHA256": None,
}
#: Headers the server sets itself; a configured value would contradict it.
RESERVED_HEADERS = frozenset({"content-type", "content-length", "content-encoding",
                              "transfer-encoding", "connection", "www-authenticate",
                              "server", "date"})
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_HEADER_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")
_BCRYPT_HASH = re.compile(r"\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}")

#: (password, hash) -> whether they match. bcrypt.checkpw by default; tests inject one.
Checker = Callable[[bytes, bytes], bool]


class WebConfigError(ConfigError):
    """An invalid web config file: `web.config.file: <key path>: <problem>`."""

    def __init__(self, message: str) -> None:
        super().__init__(f"web.config.file: {message}")


@dataclass(frozen=True)
class TLSSettings:
    cert_file: str
    key_file: str
    client_auth_type: str = "NoClientCert"
    client_ca_file: str | None = None
    min_version: str = "TLS12"
    max_version: str = "TLS13"
    cipher_suites: tuple[str, ...] = ()
    prefer_server_cipher_suites: bool = True

    def files(self) -> tuple[str, ...]:
        return tuple(p for p in (self.cert_file, self.key_file, self.client_ca_file) if p)


@dataclass(frozen=True)
class WebConfig:
    tls: TLSSettings | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    #: user -> bcrypt hash; kept out of repr() so a stray log line cannot show it.
    users: Mapping[str, bytes] = field(default_factory=dict, repr=False)
    unauthenticated_paths: frozenset[str] = frozenset(DEFAULT_UNAUTHENTICATED_PATHS)
    ssl_context: ssl.SSLContext | None = field(default=None, repr=False, compare=False)

    def describe(self) -> str:
        tls = f"TLS ({self.tls.client_auth_type})" if self.tls else "no TLS"
        return f"{tls}, {len(self.users)} basic auth user(s)"


# ------------------------------------------------------------------------- parsing

def load_web_config(path: str) -> WebConfig:
    """Read and validate a web config file; relative paths in it are relative to it."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not UTF-8 text"
        raise WebConfigError(f"cannot read {path}: {reason}") from None
    return parse_web_config(text, os.path.dirname(os.path.abspath(path)))


def parse_web_config(text: str, base_dir: str) -> WebConfig:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise WebConfigError(f"not valid YAML{yaml_error_position(exc)}") from None
    top = _mapping(raw, "", TOP_KEYS)
    tls = _tls_settings(top.get("tls_server_config"), base_dir)
    return WebConfig(
        tls=tls,
        headers=_headers(_mapping(top.get("http_server_config"), "http_server_config",
                                  HTTP_KEYS)),
        users=_users(top.get("basic_auth_users")),
        unauthenticated_paths=_paths(top.get("unauthenticated_paths")),
        ssl_context=build_ssl_context(tls) if tls else None,
    )


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def _kind(value: Any) -> str:
    return "nothing" if value is None else type(value).__name__


def _mapping(value: Any, path: str, allowed: frozenset[str] | None) -> dict[Any, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise WebConfigError(f"{path or '.'}: expected a mapping, got {_kind(value)}")
    if allowed is not None:
        for key in sorted(value, key=str):
            if key not in allowed:
                problem = UNSUPPORTED.get(str(key), "unknown key")
                raise WebConfigError(f"{_join(path, key)}: {problem}")
    return value


def _string(section: dict[Any, Any], path: str, key: str, default: str | None) -> str | None:
    value = section.get(key, default)
    if value is not None and not isinstance(value, str):
        raise WebConfigError(f"{_join(path, key)}: expected a string, got {_kind(value)}")
    return value or default


def _choice(section: dict[Any, Any], path: str, key: str, default: str,
            choices: Mapping[str, Any]) -> str:
    value = _string(section, path, key, default)
    if value not in choices:
        raise WebConfigError(f"{_join(path, key)}: expected one of {', '.join(choices)}, "
                             f"got {value!r}")
    return value


def _strings(section: dict[Any, Any], path: str, key: str) -> list[str]:
    value = section.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise WebConfigError(f"{_join(path, key)}: expected a list of strings")
    return value


def _file(section: dict[Any, Any], path: str, key: str, base_dir: str) -> str | None:
    value = _string(section, path, key, None)
    return os.path.join(base_dir, value) if value else None


def _tls_settings(value: Any, base_dir: str) -> TLSSettings | None:
    path = "tls_server_config"
    section = _mapping(value, path, TLS_KEYS)
    if not section:
        return None
    cert_file = _file(section, path, "cert_file", base_dir)
    key_file = _file(section, path, "key_file", base_dir)
    for key, given in (("cert_file", cert_file), ("key_file", key_file)):
        if not given:
            raise WebConfigError(f"{path}.{key}: required")
    auth_type = _choice(section, path, "client_auth_type", "NoClientCert", CLIENT_AUTH_TYPES)
    ca_file = _file(section, path, "client_ca_file", base_dir)
    if ca_file and auth_type == "NoClientCert":
        raise WebConfigError(f"{path}.client_ca_file: set, but client_auth_type is "
                             "NoClientCert (use RequireAndVerifyClientCert)")
    if CLIENT_AUTH_TYPES[auth_type][1] and not ca_file:
        raise WebConfigError(f"{path}.client_ca_file: required for client_auth_type "
                             f"{auth_type}")
    min_version = _choice(section, path, "min_version", "TLS12", TLS_VERSIONS)
    max_version = _choice(section, path, "max_version", "TLS13", TLS_VERSIONS)
    if TLS_VERSIONS[min_version] > TLS_VERSIONS[max_version]:
        raise WebConfigError(f"{path}.max_version: {max_version} is below min_version "
                             f"{min_version}")
    suites = _strings(section, path, "cipher_suites")
    for index, name in enumerate(suites):
        if name not in GO_CIPHER_SUITES:
            raise WebConfigError(f"{path}.cipher_suites[{index}]: unknown cipher suite "
                                 f"{name!r}")
    prefer = section.get("prefer_server_cipher_suites", True)
    if not isinstance(prefer, bool):
        raise WebConfigError(f"{path}.prefer_server_cipher_suites: expected true or false")
    # curve_preferences is checked for shape only: OpenSSL's default groups are kept.
    _strings(section, path, "curve_preferences")
    return TLSSettings(cert_file=cert_file or "", key_file=key_file or "",
                       client_auth_type=auth_type, client_ca_file=ca_file,
                       min_version=min_version, max_version=max_version,
                       cipher_suites=tuple(suites), prefer_server_cipher_suites=prefer)


def _headers(section: dict[Any, Any]) -> dict[str, str]:
    http2 = section.get("http2", True)
    if not isinstance(http2, bool):  # accepted for compatibility; we serve HTTP/1.1
        raise WebConfigError("http_server_config.http2: expected true or false")
    raw = _mapping(section.get("headers"), "http_server_config.headers", None)
    headers = {}
    for name, value in raw.items():
        path = f"http_server_config.headers.{name}"
        if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
            raise WebConfigError(f"{path}: not a valid header name")
        if name.lower() in RESERVED_HEADERS:
            raise WebConfigError(f"{path}: set by the exporter itself")
        if value is None or value == "":
            continue  # blank: unset, as in exporter-toolkit
        if not isinstance(value, str) or not _HEADER_VALUE.fullmatch(value):
            raise WebConfigError(f"{path}: expected a one-line string")
        allowed = {"x-frame-options": ("deny", "sameorigin"),
                   "x-content-type-options": ("nosniff",)}.get(name.lower())
        if allowed and value.lower() not in allowed:
            raise WebConfigError(f"{path}: expected one of {', '.join(allowed)}")
        headers[name] = value
    return headers


def _users(value: Any) -> dict[str, bytes]:
    users = {}
    for name, hashed in _mapping(value, "basic_auth_users", None).items():
        path = f"basic_auth_users.{name}"
        if not isinstance(name, str) or not name or ":" in name:
            raise WebConfigError(f"{path}: a user name is a non-empty string without ':'")
        # Never echo the value: it is a secret (or a password pasted by mistake).
        if not isinstance(hashed, str) or not _BCRYPT_HASH.fullmatch(hashed):
            raise WebConfigError(f"{path}: not a bcrypt hash ({HTPASSWD_HINT})")
        users[name] = hashed.encode("ascii")
    return users


def _paths(value: Any) -> frozenset[str]:
    if value is None:
        return frozenset(DEFAULT_UNAUTHENTICATED_PATHS)
    if not isinstance(value, list):
        raise WebConfigError("unauthenticated_paths: expected a list of paths such as /healthz")
    for index, item in enumerate(value):
        if not isinstance(item, str) or not item.startswith("/"):
            raise WebConfigError(f"unauthenticated_paths[{index}]: expected a path "
                                 "starting with /")
    return frozenset(value)


def build_ssl_context(tls: TLSSettings) -> ssl.SSLContext:
    """A server-side context for the settings; errors name the key, never file contents."""
    path = "tls_server_config"
    for key in ("cert_file", "key_file", "client_ca_file"):
        name = getattr(tls, key)
        if name:
            try:
                with open(name, "rb"):
                    pass
            except OSError as exc:
                raise WebConfigError(f"{path}.{key}: cannot read {name}: {exc.strerror}") \
                    from None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = TLS_VERSIONS[tls.min_version]
    context.maximum_version = TLS_VERSIONS[tls.max_version]
    try:
        context.load_cert_chain(tls.cert_file, tls.key_file, password=_no_password)
    except _EncryptedKey:
        raise WebConfigError(f"{path}.key_file: encrypted keys are not supported") from None
    except ssl.SSLError as exc:
        raise WebConfigError(f"{path}.cert_file: cannot load it with key_file "
                             f"({exc.reason or 'invalid PEM'})") from None
    verify_mode, _ = CLIENT_AUTH_TYPES[tls.client_auth_type]
    if tls.client_ca_file and verify_mode != ssl.CERT_NONE:
        try:
            context.load_verify_locations(cafile=tls.client_ca_file)
        except ssl.SSLError as exc:
            raise WebConfigError(f"{path}.client_ca_file: cannot load it "
                                 f"({exc.reason or 'invalid PEM'})") from None
    context.verify_mode = verify_mode
    openssl_names = [GO_CIPHER_SUITES[name] for name in tls.cipher_suites]
    if any(openssl_names):
        try:
            context.set_ciphers(":".join(n for n in openssl_names if n))
        except ssl.SSLError:
            raise WebConfigError(f"{path}.cipher_suites: none of them is available") from None
    if tls.prefer_server_cipher_suites:
        context.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    else:
        context.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
    context.set_alpn_protocols(["http/1.1"])
    return context


class _EncryptedKey(Exception):
    pass


def _no_password() -> bytes:
    """Called by OpenSSL only for an encrypted key: fail instead of prompting on a tty."""
    raise _EncryptedKey


# -------------------------------------------------------------------- basic auth

def parse_basic_authorization(header: str | None) -> tuple[str, bytes] | None:
    """`Basic base64(user:password)` -> (user, password); None for anything malformed."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "basic" or not token.strip():
        return None
    try:
        raw = base64.b64decode(token.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    user, sep, password = raw.partition(b":")
    if not sep:
        return None
    try:
        return user.decode("utf-8"), password
    except UnicodeDecodeError:
        return None


def bcrypt_checker() -> Checker:
    try:
        import bcrypt
    except ImportError:
        raise WebConfigError("basic_auth_users: needs the bcrypt package "
                             "(pip install bcrypt)") from None
    return bcrypt.checkpw


class BasicAuth:
    """Checks Basic credentials against bcrypt hashes and remembers successes.

    bcrypt at cost 10 takes ~50 ms: paying it on every scrape would be a waste, so a
    successful (user, password) is kept, as an HMAC under a per-process random key
    (never the password, nor a plain digest one could brute-force), in a small LRU.
    Failures are not cached. An unknown user still costs one bcrypt run, so timing
    does not tell which users exist.
    """

    def __init__(self, users: Mapping[str, bytes], checker: Checker,
                 cache_size: int = AUTH_CACHE_SIZE) -> None:
        self._users = dict(users)
        self._decoy = self._users[min(self._users)] if self._users else b""
        self._checker = checker
        self._cache_size = cache_size
        self._cache: OrderedDict[tuple[str, bytes], None] = OrderedDict()
        self._key = secrets.token_bytes(32)
        self._lock = threading.Lock()
        #: bcrypt runs so far (tests and debugging; never the credentials).
        self.bcrypt_calls = 0

    def check(self, authorization: str | None) -> bool:
        credentials = parse_basic_authorization(authorization)
        if credentials is None:
            return False
        user, password = credentials
        if len(password) > BCRYPT_MAX_PASSWORD_BYTES:
            return False  # bcrypt would ignore the rest (or raise): never a match
        # The key is keyed-hash output: comparing it leaks nothing about the password.
        key = (user, hmac.new(self._key, password, hashlib.sha256).digest())
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return True
        hashed = self._users.get(user)
        matched = self._bcrypt(password, hashed if hashed is not None else self._decoy)
        if not matched or hashed is None:
            return False
        with self._lock:
            self._cache[key] = None
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return True

    def _bcrypt(self, password: bytes, hashed: bytes) -> bool:
        with self._lock:
            self.bcrypt_calls += 1
        try:
            return bool(self._checker(password, hashed))
        except ValueError:  # e.g. a NUL byte bcrypt refuses: no match, not a 500
            return False


def send_unauthorized(handler: BaseHTTPRequestHandler) -> None:
    body = b"unauthorized\n"
    handler.send_response(401)
    handler.send_header("WWW-Authenticate", f'Basic realm="{REALM}"')
    handler.send_header("Content-Type", "text/plain; charset=utf-8")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(body)


# ------------------------------------------------------------------ the live file

@dataclass(frozen=True)
class _Active:
    config: WebConfig
    auth: BasicAuth | None
    signature: tuple[Any, ...]


class WebConfigFile:
    """The web config in force: loaded from `path`, reloaded when it changes.

    Changes are looked for at most once per `check_interval` seconds, by the
    connection that happens to come in (`maybe_reload`), or on demand
    (`reload_if_changed`). The file's stat and those of the certificate files it
    names make the signature, so a rotated certificate is picked up too.
    """

    def __init__(self, path: str, checker: Checker | None = None,
                 check_interval: float = RELOAD_CHECK_INTERVAL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.path = path
        self._checker = checker
        self._check_interval = check_interval
        self._clock = clock
        self._next_check = clock() + check_interval
        self._lock = threading.Lock()
        self._active = self._load()  # raises WebConfigError: the caller exits 2
        self._seen = self._active.signature

    @property
    def config(self) -> WebConfig:
        return self._active.config

    @property
    def auth(self) -> BasicAuth | None:
        return self._active.auth

    @property
    def tls_enabled(self) -> bool:
        return self._active.config.ssl_context is not None

    def _signature(self, config: WebConfig, first: Any = None) -> tuple[Any, ...]:
        files = config.tls.files() if config.tls else ()
        return (first if first is not None else _stat(self.path), *map(_stat, files))

    def _load(self) -> _Active:
        before = _stat(self.path)  # taken before reading: a write during it shows next time
        config = load_web_config(self.path)
        auth = None
        if config.users:
            auth = BasicAuth(config.users, self._checker or bcrypt_checker())
        return _Active(config, auth, self._signature(config, before))

    def reload_if_changed(self) -> bool:
        """Re-read the file if it or a certificate changed; True if new settings apply."""
        with self._lock:
            current = self._signature(self._active.config)
            if current == self._seen:
                return False
            self._seen = current  # a broken file is reported once, not on every check
            try:
                active = self._load()
            except ConfigError as error:
                log.error("%s; keeping the previous web configuration", error)
                return False
            self._active, self._seen = active, active.signature
        log.info("web configuration reloaded from %s: %s", self.path, active.config.describe())
        return True

    def maybe_reload(self) -> None:
        now = self._clock()
        if now >= self._next_check:
            self._next_check = now + self._check_interval
            self.reload_if_changed()

    def authorized(self, path: str, authorization: str | None) -> bool:
        active = self._active
        if active.auth is None or path in active.config.unauthenticated_paths:
            return True
        return active.auth.check(authorization)

    def headers(self) -> list[tuple[str, str]]:
        return list(self._active.config.headers.items())

    @contextmanager
    def connection(self, sock: socket.socket,
                   client_address: Any) -> Iterator[socket.socket | None]:
        """The connection to serve: `sock` itself, or it wrapped in TLS with the
        handshake done here (in the connection's own thread, with a timeout, so a
        slow or silent client holds up no one else). None if the handshake failed."""
        self.maybe_reload()
        context = self._active.config.ssl_context
        if context is None:
            yield sock
            return
        previous_timeout = sock.gettimeout()
        sock.settimeout(HANDSHAKE_TIMEOUT)
        try:
            tls = context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        except OSError as exc:
            log.debug("TLS set-up for %s failed: %s", _peer(client_address), exc)
            sock.close()
            yield None
            return
        try:
            tls.do_handshake()
        except OSError as exc:  # ssl.SSLError, timeouts and resets alike
            log.debug("TLS handshake with %s failed: %s", _peer(client_address), exc)
            tls.close()
            yield None
            return
        tls.settimeout(previous_timeout)
        try:
            yield tls
        except OSError as exc:  # a TLS alert or reset mid-request: not worth a traceback
            log.debug("TLS connection with %s ended: %s", _peer(client_address), exc)
        finally:
            with suppress(OSError):
                tls.shutdown(socket.SHUT_WR)
            tls.close()


def _stat(path: str) -> tuple[int, int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino, st.st_dev)


def _peer(client_address: Any) -> str:
    return str(client_address[0]) if isinstance(client_address, tuple) else str(client_address)
