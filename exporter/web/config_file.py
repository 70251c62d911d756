"""The web config in force: TLS, basic auth and headers for the HTTP server, from
`--web.config.file`, reloaded when the file (or a certificate it names) changes.

The server asks an `Access` three things: the connection to serve (TLS or not), may
this request in, and which headers go on every response. `WebConfigFile` answers
from the file; `OPEN_ACCESS` is the answer without one.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from prometheus_client.core import GaugeMetricFamily

from exporter.common.files import file_signature
from exporter.config.errors import ConfigError
from exporter.web.basic_auth import BasicAuth, Checker, bcrypt_checker
from exporter.web.policy import weakening
from exporter.web.tls import server_side
from exporter.web.web_config import WebConfig, WebConfigError, load_web_config

log = logging.getLogger(__name__)

#: A connection looks at the file at most this often.
RELOAD_CHECK_INTERVAL = 1.0
RELOAD_METRIC = "ams_web_config_last_reload_successful"

Signature = tuple[Any, ...]


class Access(Protocol):
    """What the HTTP server needs from the web config."""

    @property
    def tls_enabled(self) -> bool: ...

    def connection(self, sock: socket.socket, client_address: Any
                   ) -> AbstractContextManager[socket.socket | None]: ...

    def authorized(self, path: str, authorization: str | None) -> bool: ...

    def headers(self) -> list[tuple[str, str]]: ...


class OpenAccess:
    """No web config file: plain HTTP, every request let in, no extra headers."""

    tls_enabled = False

    @contextmanager
    def connection(self, sock: socket.socket, client_address: Any
                   ) -> Iterator[socket.socket | None]:
        yield sock

    def authorized(self, path: str, authorization: str | None) -> bool:
        return True

    def headers(self) -> list[tuple[str, str]]:
        return []


OPEN_ACCESS = OpenAccess()


@dataclass(frozen=True)
class _Active:
    config: WebConfig
    auth: BasicAuth | None
    signature: Signature


class WebConfigFile:
    """The web config loaded from `path`, reloaded when it changes, never weakened.

    Changes are looked for at most once per `check_interval` seconds, by the
    connection that happens to come in (`maybe_reload`), or on demand
    (`reload_if_changed`). The file's stat and those of the certificate files it
    names make the signature, so a rotated certificate is picked up too.

    A new file that does not load, or that would protect less (see
    exporter.web.policy), is refused: one ERROR line, the settings in force stay
    until a restart or a later acceptable file, and `collect()` reports
    ams_web_config_last_reload_successful 0 until then.
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
        self._last_reload_successful = True

    @property
    def config(self) -> WebConfig:
        return self._active.config

    @property
    def auth(self) -> BasicAuth | None:
        return self._active.auth

    @property
    def tls_enabled(self) -> bool:
        return self._active.config.ssl_context is not None

    @property
    def last_reload_successful(self) -> bool:
        """False from a refused reload until the next accepted one."""
        return self._last_reload_successful

    # ------------------------------------------------------------------ reloads

    def _signature(self, config: WebConfig, first: Any = None) -> Signature:
        files = config.tls.files() if config.tls else ()
        own = first if first is not None else file_signature(self.path)
        return (own, *map(file_signature, files))

    def _load(self) -> _Active:
        # taken before reading: a write during the read shows next time
        before = file_signature(self.path)
        config = load_web_config(self.path)
        auth = None
        if config.users:
            try:
                checker = self._checker or bcrypt_checker()
            except ImportError:
                raise WebConfigError("basic_auth_users: needs the bcrypt package "
                                     "(pip install bcrypt)") from None
            auth = BasicAuth(config.users, checker)
        return _Active(config, auth, self._signature(config, before))

    def reload_if_changed(self) -> bool:
        """Re-read the file if it or a certificate changed; True if new settings apply."""
        with self._lock:
            current = self._signature(self._active.config)
            if current == self._seen:
                return False
            self._seen = current  # a refused file is reported once, not on every check
            try:
                active = self._load()
            except ConfigError as error:
                return self._refuse(str(error))
            reason = weakening(self._active.config, active.config)
            if reason is not None:
                return self._refuse(str(WebConfigError(f"reload refused: {reason}")))
            self._active, self._seen = active, active.signature
            self._last_reload_successful = True
        log.info("web configuration reloaded from %s: %s", self.path, active.config.describe())
        return True

    def _refuse(self, message: str) -> bool:
        self._last_reload_successful = False
        log.error("%s; keeping the web configuration in force (%s) until restart",
                  message.replace("\n", " "), self._active.config.describe())
        return False

    def maybe_reload(self) -> None:
        now = self._clock()
        if now >= self._next_check:
            self._next_check = now + self._check_interval
            self.reload_if_changed()

    # ------------------------------------------------------------------- Access

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
        """The connection to serve: `sock` itself, or it wrapped in TLS (None if the
        handshake failed). Looks for a changed file first."""
        self.maybe_reload()
        context: ssl.SSLContext | None = self._active.config.ssl_context
        if context is None:
            yield sock
            return
        with server_side(context, sock, client_address) as connection:
            yield connection

    # ------------------------------------------------------------------ metrics

    def collect(self) -> list[GaugeMetricFamily]:
        """The web config's own health, as prometheus_client families (this object
        is a collector: it can be registered, or its families added to a scrape)."""
        gauge = GaugeMetricFamily(
            RELOAD_METRIC, "1 when the last reload of the web config file (TLS, basic "
            "auth) succeeded; 0 when a new file was refused and the previous settings "
            "are still in force.")
        gauge.add_metric([], 1.0 if self._last_reload_successful else 0.0)
        return [gauge]

    families = collect

