"""Who may deliver events: a shared secret, or a Microsoft Entra token.

Secrets come as query `secret=` or header `X-Events-Secret` and are compared in
constant time with every configured secret (several at once allow rotation).
Entra tokens (`Authorization: Bearer`, what Event Grid sends to a webhook secured
with Entra ID) are checked with PyJWT: RS256 signature with a key from the tenant's
JWKS (cached; fetched again for an unknown key id, at most every 30 s), expiry and
not-before, issuer (v1 `https://sts.windows.net/{tenant}/` or v2
`{authority}/{tenant}/v2.0`), audience, and the calling app (`appid`/`azp`:
Event Grid's by default).
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import requests

from exporter.backends.transport import ApiError, read_body
from exporter.events.config import EntraConfig, EventsConfig

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Events-Secret"
#: An unknown key id refetches the keys at most this often (a flood of forged
#: tokens cannot turn into a flood of requests to Entra).
REFETCH_SECONDS = 30.0
MAX_DOCUMENT_BYTES = 1024 * 1024
CLOCK_SKEW_SECONDS = 120


class SecretCheck:
    def __init__(self, secrets: tuple[str, ...]) -> None:
        self._secrets = [s.encode("utf-8") for s in secrets]

    def __bool__(self) -> bool:
        return bool(self._secrets)

    def accepts(self, offered: str | None) -> bool:
        if offered is None:
            return False
        given = offered.encode("utf-8", "replace")
        matches = [hmac.compare_digest(given, secret) for secret in self._secrets]
        return any(matches)


class EntraValidator:
    def __init__(self, config: EntraConfig, session: requests.Session,
                 clock: Callable[[], float] = time.time, timeout: float = 10.0) -> None:
        self.config = config
        self.session = session
        self.clock = clock
        self.timeout = timeout
        tenant = config.tenant_id
        self.issuers = (f"https://sts.windows.net/{tenant}/",
                        f"{config.authority}/{tenant}/v2.0")
        self._keys: dict[str, Any] = {}
        self._fetched_at = -REFETCH_SECONDS
        self._lock = threading.Lock()

    def accepts(self, authorization: str | None) -> bool:
        """True for a valid bearer token; every failure is False (the reason is
        logged at debug, never the token)."""
        if not authorization or not authorization.startswith("Bearer "):
            return False
        token = authorization[len("Bearer "):].strip()
        import jwt  # here, not at the top: PyJWT and cryptography cost ~20 MB of RSS

        try:
            header = jwt.get_unverified_header(token)
            key = self._key(str(header.get("kid", "")))
            if key is None:
                log.debug("events: token signed with an unknown key")
                return False
            claims = jwt.decode(
                token, key=key, algorithms=["RS256"], audience=list(self.config.audiences),
                issuer=list(self.issuers),
                # expiry and not-before are checked below, by the injected clock
                options={"require": ["exp", "iss", "aud"], "verify_exp": False,
                         "verify_nbf": False})
        except jwt.PyJWTError as exc:
            log.debug("events: token refused: %s", type(exc).__name__)
            return False
        now = self.clock()
        expires, not_before = claims.get("exp"), claims.get("nbf", 0)
        if not isinstance(expires, int | float) or now > expires + CLOCK_SKEW_SECONDS \
                or not isinstance(not_before, int | float) \
                or now < not_before - CLOCK_SKEW_SECONDS:
            log.debug("events: token expired or not yet valid")
            return False
        client = claims.get("appid") or claims.get("azp")
        if client not in self.config.allowed_client_ids:
            log.debug("events: token of an app that is not allowed to deliver")
            return False
        return True

    def _key(self, kid: str) -> Any:
        with self._lock:
            if kid not in self._keys and self.clock() - self._fetched_at >= REFETCH_SECONDS:
                self._fetched_at = self.clock()
                try:
                    self._keys = self._fetch_keys()
                except (requests.RequestException, ApiError, ValueError) as exc:
                    log.warning("events: cannot read the signing keys of tenant %s: %s",
                                self.config.tenant_id, exc)
            return self._keys.get(kid)

    def _fetch_keys(self) -> dict[str, Any]:
        import jwt  # only Entra needs PyJWT (see accepts)

        base = f"{self.config.authority}/{self.config.tenant_id}/v2.0"
        discovery = self._json(f"{base}/.well-known/openid-configuration")
        jwks_uri = discovery.get("jwks_uri") if isinstance(discovery, dict) else None
        if not isinstance(jwks_uri, str):
            raise ValueError("the OpenID configuration names no jwks_uri")
        document = self._json(jwks_uri)
        keys = {}
        for entry in document.get("keys", []) if isinstance(document, dict) else []:
            if isinstance(entry, dict) and isinstance(entry.get("kid"), str):
                try:
                    keys[entry["kid"]] = jwt.PyJWK(entry, algorithm="RS256").key
                except jwt.PyJWTError:
                    continue
        return keys

    def _json(self, url: str) -> Any:
        started = time.perf_counter()
        response = self.session.get(url, timeout=self.timeout, stream=True,
                                    allow_redirects=False)
        try:
            body = read_body(response, MAX_DOCUMENT_BYTES, started + self.timeout)
        finally:
            response.close()
        if response.status_code != 200:
            raise ValueError(f"HTTP {response.status_code} from {url}")
        return json.loads(body)


class DeliveryAuth:
    """Secrets and/or Entra; with neither (insecure_no_auth), everything passes."""

    def __init__(self, config: EventsConfig, session: requests.Session,
                 clock: Callable[[], float] = time.time) -> None:
        self.secrets = SecretCheck(config.secrets)
        self.entra = EntraValidator(config.entra, session, clock) if config.entra else None
        self.open = not self.secrets and self.entra is None

    def accepts(self, query: Mapping[str, str], headers: Mapping[str, str]) -> bool:
        if self.open:
            return True
        if self.secrets and (self.secrets.accepts(query.get("secret"))
                             or self.secrets.accepts(headers.get(SECRET_HEADER))):
            return True
        return self.entra is not None and self.entra.accepts(headers.get("Authorization"))
