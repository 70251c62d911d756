"""Ravnur Media Services sign-in: an API key exchanged for a JWT.

`POST {token_url}` with `{"subscriptionId": ..., "apiKey": ...}` answers the bare
JWT as the body. It is reused until five minutes before its `exp` (one hour when it
has none, as Ravnur's own Python sample does). The key never appears in an error.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests

from exporter.backends.auth.config import RmsApiKeyAuth
from exporter.backends.auth.errors import AuthError
from exporter.backends.auth.tokens import RenewingToken
from exporter.backends.transport import ApiError, read_body

#: A token without `exp` is kept this long.
DEFAULT_LIFETIME_SECONDS = 3600.0
MAX_TOKEN_BYTES = 64 * 1024


def jwt_expiry(token: str) -> float | None:
    """The `exp` claim of a JWT (read, not verified: we are the client), or None."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error):
        return None
    exp = payload.get("exp") if isinstance(payload, dict) else None
    return float(exp) if isinstance(exp, int | float) and not isinstance(exp, bool) else None


def token_from_body(body: bytes) -> str:
    """The bare JWT of the body; a JSON object with a token field is also read."""
    text = body.decode("utf-8", "replace").strip()
    if text.startswith("{"):
        try:
            data: Any = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict):
            for key in ("token", "access_token", "accessToken"):
                if isinstance(data.get(key), str):
                    return data[key].strip()
    if text.startswith('"') and text.endswith('"'):
        text = text[1:-1]
    return text


class RmsApiKeyToken:
    def __init__(self, token_url: str, subscription_id: str, auth: RmsApiKeyAuth,
                 session: requests.Session, *, timeout: float = 20.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.token_url = token_url
        self.subscription_id = subscription_id
        self.auth = auth
        self.session = session
        self.timeout = timeout
        self.clock = clock
        self._renewing = RenewingToken(self._fetch, clock)

    def token(self) -> str:
        return self._renewing.token()

    def _api_key(self) -> str:
        if self.auth.api_key:
            return self.auth.api_key
        path = self.auth.api_key_file or ""
        try:
            with open(path, encoding="utf-8") as handle:
                key = handle.read().strip()
        except (OSError, UnicodeDecodeError):
            raise AuthError(f"rms_api_key: cannot read api_key_file {path}") from None
        if not key:
            raise AuthError(f"rms_api_key: api_key_file {path} is empty")
        return key

    def _fetch(self) -> tuple[str, float]:
        host = urlsplit(self.token_url).netloc
        started = time.perf_counter()
        try:
            response = self.session.post(
                self.token_url, json={"subscriptionId": self.subscription_id,
                                      "apiKey": self._api_key()},
                headers={"Accept": "application/jwt, text/plain, application/json"},
                timeout=self.timeout, allow_redirects=False, stream=True)
            try:
                body = read_body(response, MAX_TOKEN_BYTES, started + self.timeout)
            finally:
                response.close()
        except requests.RequestException as exc:
            raise AuthError(f"rms_api_key: token request to {host} failed: "
                            f"{type(exc).__name__}") from None
        except ApiError as exc:
            raise AuthError(f"rms_api_key: token answer from {host}: {exc}") from None
        if response.status_code != 200:
            hint = " (check api_key and subscription_id)" if response.status_code in (
                400, 401, 403) else ""
            raise AuthError(f"rms_api_key: {host} answered HTTP {response.status_code} "
                            f"to the token request{hint}")
        token = token_from_body(body)
        if not token or any(ch.isspace() for ch in token):
            raise AuthError(f"rms_api_key: {host} answered no usable token")
        expires = jwt_expiry(token) or self.clock() + DEFAULT_LIFETIME_SECONDS
        return token, expires
