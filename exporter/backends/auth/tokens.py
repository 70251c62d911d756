"""Bearer tokens for the AMS APIs.

A token provider is anything with `token() -> str | None` (None: send no
Authorization header). Providers never put a token or secret into an exception
message or a log line.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import urlsplit

from exporter.backends.auth.errors import AuthError
from exporter.common.files import Signature, file_signature

#: Renew this long before the token expires, so a refresh never carries a dying token.
EXPIRY_MARGIN_SECONDS = 300.0


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
        self._seen: Signature = None
        self._token = ""

    def token(self) -> str:
        with self._lock:
            signature = file_signature(self.path)
            if signature is None:
                raise AuthError(f"cannot read token file {self.path}")
            if signature != self._seen:
                try:
                    with open(self.path, encoding="utf-8") as handle:
                        self._token = handle.read().strip()
                except (OSError, UnicodeDecodeError) as exc:
                    reason = getattr(exc, "strerror", None) or "not UTF-8 text"
                    raise AuthError(f"cannot read token file {self.path}: {reason}") from None
                self._seen = signature
            if not self._token:
                raise AuthError(f"token file {self.path} is empty")
            return self._token


class RenewingToken:
    """A token kept until EXPIRY_MARGIN_SECONDS before it expires, then fetched again
    with `fetch() -> (token, expires at)`; one fetch at a time."""

    def __init__(self, fetch: Callable[[], tuple[str, float]],
                 clock: Callable[[], float]) -> None:
        self._fetch = fetch
        self.clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires = 0.0

    def token(self) -> str:
        with self._lock:
            if self._token is None or self.clock() >= self._expires - EXPIRY_MARGIN_SECONDS:
                self._token, self._expires = self._fetch()
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
        self._renewing = RenewingToken(self._fetch, clock)

    def token(self) -> str:
        return self._renewing.token()

    def _fetch(self) -> tuple[str, float]:
        if self._credential is None:
            self._credential = self.build_credential()
        try:
            access = self._credential.get_token(self.scope)
        except Exception as exc:  # azure-identity raises several kinds
            raise AuthError(f"{self.describe}: {_first_line(exc)}{self.hint}") from None
        return access.token, float(access.expires_on)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


#: Azure's national clouds, by the host suffix their endpoints and their token
#: scopes share; any other host is in the public cloud.
NATIONAL_CLOUDS = (".chinacloudapi.cn", ".usgovcloudapi.net")


def cloud_scope(endpoint: str, service: str, public_domain: str) -> str:
    """The token scope of an Azure service in the endpoint's cloud: in the public
    cloud `https://{service}.{public_domain}/.default`, in a national cloud e.g.
    `https://{service}.chinacloudapi.cn/.default`."""
    host = (urlsplit(endpoint).hostname or "").lower()
    domain = next((suffix[1:] for suffix in NATIONAL_CLOUDS if host.endswith(suffix)),
                  public_domain)
    return f"https://{service}.{domain}/.default"


class StaticToken:
    """A bearer token given in the configuration (normally as "${ENV_VAR}")."""

    def __init__(self, token: str) -> None:
        self._token = token.strip()

    def token(self) -> str:
        if not self._token:
            raise AuthError("auth.token is empty")
        return self._token
