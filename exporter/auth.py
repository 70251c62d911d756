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

V2_SCOPE = "https://rest.media.azure.net/.default"
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
    before they expire (azure-identity caches too, but not every credential does)."""

    def __init__(
        self,
        credential: Any,
        scope: str,
        clock: Callable[[], float],
        describe: str = "credential",
    ) -> None:
        self.credential = credential
        self.scope = scope
        self.clock = clock
        self.describe = describe
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_on = 0.0

    def token(self) -> str:
        with self._lock:
            if self._token is None or self.clock() >= self._expires_on - EXPIRY_MARGIN_SECONDS:
                try:
                    access = self.credential.get_token(self.scope)
                except Exception as exc:  # azure-identity raises several kinds
                    raise AuthError(f"{self.describe}: {_first_line(exc)}") from None
                self._token = access.token
                self._expires_on = float(access.expires_on)
            return self._token


def default_credential(client_id: str | None, authority_host: str | None) -> Any:
    """azure-identity's DefaultAzureCredential (env, workload identity, managed
    identity, Azure CLI ...), with interactive sign-in excluded."""
    from azure.identity import DefaultAzureCredential

    kwargs: dict[str, Any] = {}
    if client_id:
        kwargs["managed_identity_client_id"] = client_id
        kwargs["workload_identity_client_id"] = client_id
    if authority_host:
        kwargs["authority"] = authority_host
    return DefaultAzureCredential(**kwargs)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
