"""Access tokens the simulator's Azure AD issues, remembered so the APIs can check them.

A token is an unsecured JWT (RFC 7519 §6: header with "alg": "none", empty signature)
carrying the usual claims (aud, iss, tid, appid, iat, nbf, exp), so a client can decode it
the way it would a real one. The simulator never trusts the claims: a token is valid
only if it is in the registry, which also knows its audience and expiry (by the
simulator clock). A random `jti` makes tokens unguessable.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass
from enum import Enum

MAX_REMEMBERED = 100_000  # oldest tokens are forgotten beyond this (they become "invalid")


class Verdict(Enum):
    VALID = "valid"
    UNKNOWN = "unknown"  # not a token we issued (or forgotten)
    EXPIRED = "expired"
    WRONG_AUDIENCE = "wrong audience"


@dataclass(frozen=True)
class IssuedToken:
    value: str
    tenant: str
    client_id: str
    audience: str  # the resource, e.g. https://management.azure.com
    issued_at: float
    expires_at: float


def _segment(payload: dict[str, object]) -> str:
    raw = json.dumps(payload, separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


class TokenRegistry:
    """Thread-safe; remembers up to MAX_REMEMBERED tokens."""

    def __init__(self, limit: int = MAX_REMEMBERED) -> None:
        self._lock = threading.Lock()
        self._tokens: OrderedDict[str, IssuedToken] = OrderedDict()
        self._limit = limit

    def issue(
        self, tenant: str, client_id: str, audience: str, now: float, lifetime: float
    ) -> IssuedToken:
        issued, expires = int(now), int(now + lifetime)
        claims = {
            "aud": audience,
            "iss": f"https://sts.windows.net/{tenant}/",
            "iat": issued,
            "nbf": issued,
            "exp": expires,
            "appid": client_id,
            "tid": tenant,
            "sub": client_id,
            "idtyp": "app",
            "ver": "1.0",
            "jti": secrets.token_urlsafe(16),
        }
        value = f"{_segment({'typ': 'JWT', 'alg': 'none'})}.{_segment(claims)}."
        token = IssuedToken(value, tenant, client_id, audience, now, now + lifetime)
        with self._lock:
            self._tokens[value] = token
            while len(self._tokens) > self._limit:
                self._tokens.popitem(last=False)
        return token

    def lookup(self, value: str) -> IssuedToken | None:
        with self._lock:
            return self._tokens.get(value)

    def check(self, value: str, audience: str, now: float) -> tuple[Verdict, IssuedToken | None]:
        """Is `value` an unexpired token we issued for `audience`? Expiry is checked first."""
        token = self.lookup(value)
        if token is None:
            return Verdict.UNKNOWN, None
        if now >= token.expires_at:
            return Verdict.EXPIRED, token
        if token.audience != audience:
            return Verdict.WRONG_AUDIENCE, token
        return Verdict.VALID, token
