"""Bearer tokens for the AMS APIs.

A token provider is anything with `token() -> str | None` (None: send no
Authorization header). Providers never put a token or secret into an exception
message or a log line.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import urlsplit

V2_SCOPE = "https://rest.media.azure.net/.default"
V3_SCOPE = "https://management.azure.com/.default"
#: Sovereign clouds have their own resources: endpoint host suffix -> (v2, v3) scope.
SOVEREIGN_SCOPES = {
    ".chinacloudapi.cn": ("https://rest.media.chinacloudapi.cn/.default",
                          "https://management.chinacloudapi.cn/.default"),
    ".usgovcloudapi.net": ("https://rest.media.usgovcloudapi.net/.default",
                           "https://management.usgovcloudapi.net/.default"),
}
#: Renew this long before the token expires, so a refresh never carries a dying token.
EXPIRY_MARGIN_SECONDS = 300.0


class AuthError(RuntimeError):
    """No token could be obtained; the message says why, without secrets."""


class TokenProvider(Protocol):
    def token(self) -> str | None: ...


class NoToken:
    """For the simulator and tests: no Authorization header at all."""

    def token(self) -> str | None:
        return None


class TokenFile:
    """A bearer token kept in a file (e.g. by a sidecar), re-read when it changes."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._seen: tuple[float, int] | None = None
        self._token = ""

    def token(self) -> str:
        with self._lock:
            try:
                stat = os.stat(self.path)
                signature = (stat.st_mtime, stat.st_size)
                if signature != self._seen:
                    with open(self.path, encoding="utf-8") as handle:
                        self._token = handle.read().strip()
                    self._seen = signature
            except OSError as exc:
                raise AuthError(f"cannot read token file {self.path}: {exc.strerror}") from None
            if not self._token:
                raise AuthError(f"token file {self.path} is empty")
            return self._token


class CredentialToken:
    """Tokens from an azure-identity credential for one scope, cached until shortly
    before they expire. The credential is built on first use, and again after a
    failure to build it, so a fixed environment is picked up without a restart."""

    def __init__(
        self,
        build_credential: Callable[[], Any],
        scope: str,
        clock: Callable[[], float],
        describe: str = "credential",
        hint: str = "",
    ) -> None:
        self.build_credential = build_credential
        self.scope = scope
        self.clock = clock
        self.describe = describe
        self.hint = hint
        self._credential: Any = None
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_on = 0.0

    def token(self) -> str:
        with self._lock:
            if self._token is None or self.clock() >= self._expires_on - EXPIRY_MARGIN_SECONDS:
                if self._credential is None:
                    self._credential = self.build_credential()
                try:
                    access = self._credential.get_token(self.scope)
                except Exception as exc:  # azure-identity raises several kinds
                    raise AuthError(f"{self.describe}: {_first_line(exc)}{self.hint}") from None
                self._token = access.token
                self._expires_on = float(access.expires_on)
            return self._token


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


def scope_for(api: str, endpoint: str) -> str:
    """The token scope of an account: its API's resource, in its cloud."""
    host = urlsplit(endpoint).hostname or ""
    for suffix, scopes in SOVEREIGN_SCOPES.items():
        if host.endswith(suffix):
            return scopes[0] if api == "v2" else scopes[1]
    return V2_SCOPE if api == "v2" else V3_SCOPE
