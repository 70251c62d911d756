"""Ravnur Media Services (RMS) sign-in: `POST /auth/token` with an API key, a bare JWT back.

RMS serves the AMS v3 ARM paths unchanged on its own host (ams-successors.md §2);
only sign-in differs. A client posts `{"subscriptionId": "<sub>", "apiKey": "<key>"}` as
`application/json` and gets the JWT itself as the body (text, no JSON fields); it then
sends it as `Authorization: Bearer <jwt>` and reuses it until its `exp`.

Where the sources are silent the simulator chooses, and says so here:
- lifetime: one hour (`Simulator.rms_token_lifetime`), what Ravnur's Python sample
  assumes for a bare JWT;
- the token: an unsecured JWT (`"alg": "none"`) with `iss`, `aud`, `sub`
  (the subscription), `iat`, `nbf`, `exp` and a random `jti`; only tokens in the registry
  are accepted, whatever the claims say;
- errors: RMS's reply is not documented, so we answer as an ASP.NET Core service does by
  default, an RFC 7807 problem (`application/problem+json`): 401 for an unknown
  subscription or a wrong key (one answer for both, so a caller cannot probe which),
  400 for a body that is not a JSON object with both strings, 415 without a JSON
  Content-Type, 405 for a method other than POST.

A token is good for the RMS accounts of its subscription whose API key signed it in.
"""

from __future__ import annotations

import base64
import hmac
import json
import secrets
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from exporter.simulator.clock import Clock
from exporter.simulator.responses import Request, Response
from exporter.simulator.tokens import Verdict
from exporter.simulator.v3_service import V3Account

TOKEN_PATH = "/auth/token"
TOKEN = "token"  # request-log kind
DEFAULT_TOKEN_LIFETIME = 3600
AUDIENCE = "rms-api"
MAX_REMEMBERED = 100_000
PROBLEM = "application/problem+json; charset=utf-8"
_PROBLEM_TYPES = {
    400: ("https://tools.ietf.org/html/rfc9110#section-15.5.1", "Bad Request"),
    401: ("https://tools.ietf.org/html/rfc9110#section-15.5.2", "Unauthorized"),
    405: ("https://tools.ietf.org/html/rfc9110#section-15.5.6", "Method Not Allowed"),
    415: ("https://tools.ietf.org/html/rfc9110#section-15.5.16", "Unsupported Media Type"),
    500: ("https://tools.ietf.org/html/rfc9110#section-15.6.1", "Internal Server Error"),
    503: ("https://tools.ietf.org/html/rfc9110#section-15.6.4", "Service Unavailable"),
}


@dataclass(frozen=True)
class RmsToken:
    value: str
    subscription: str  # lower case
    key: str  # the API key that signed in
    expires_at: float


def _segment(payload: dict[str, object]) -> str:
    raw = json.dumps(payload, separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def problem(status: int, detail: str, headers: Iterable[tuple[str, str]] = ()) -> Response:
    """An RFC 7807 problem body, the way ASP.NET Core writes one."""
    kind, title = _PROBLEM_TYPES.get(status, ("about:blank", "Error"))
    body = {"type": kind, "title": title, "status": status, "detail": detail,
            "traceId": f"00-{uuid.uuid4().hex}-{secrets.token_hex(8)}-00"}
    return Response(status, json.dumps(body, separators=(",", ":")).encode("utf-8"),
                    [("Content-Type", PROBLEM), *headers])


class RmsService:
    """The token endpoint and the registry of what it issued (thread-safe)."""

    def __init__(self, clock: Clock, accounts: Callable[[], Iterable[V3Account]]) -> None:
        self.clock = clock
        self.token_lifetime: float = DEFAULT_TOKEN_LIFETIME
        self._accounts = accounts
        self._lock = threading.Lock()
        self._tokens: OrderedDict[str, RmsToken] = OrderedDict()

    @staticmethod
    def is_token_path(path: str) -> bool:
        return path == TOKEN_PATH

    def _known(self, subscription: str, key: str) -> bool:
        """Is `key` the API key of an RMS account in `subscription`? (constant-time compare)"""
        found = False
        for account in self._accounts():
            if account.rms_key is None or account.subscription_id.lower() != subscription:
                continue
            found |= hmac.compare_digest(account.rms_key.encode(), key.encode())
        return found

    def issue(self, subscription: str, key: str, origin: str = "https://rms.simulator") -> str:
        now = self.clock()
        issued, expires = int(now), int(now + self.token_lifetime)
        claims = {"iss": origin, "aud": AUDIENCE, "sub": subscription, "iat": issued,
                  "nbf": issued, "exp": expires, "jti": secrets.token_urlsafe(16)}
        value = f"{_segment({'typ': 'JWT', 'alg': 'none'})}.{_segment(claims)}."
        token = RmsToken(value, subscription.lower(), key, now + self.token_lifetime)
        with self._lock:
            self._tokens[value] = token
            while len(self._tokens) > MAX_REMEMBERED:
                self._tokens.popitem(last=False)
        return value

    def check(self, value: str, account: V3Account) -> Verdict:
        with self._lock:
            token = self._tokens.get(value)
        if token is None:
            return Verdict.UNKNOWN
        if self.clock() >= token.expires_at:
            return Verdict.EXPIRED
        if (token.subscription != account.subscription_id.lower()
                or account.rms_key is None
                or not hmac.compare_digest(token.key.encode(), account.rms_key.encode())):
            return Verdict.WRONG_AUDIENCE
        return Verdict.VALID

    def handle(self, request: Request) -> Response:
        if request.method != "POST":
            return problem(405, "Sign in with POST.", [("Allow", "POST")])
        content_type = (request.header("Content-Type") or "").split(";")[0].strip().lower()
        if content_type != "application/json":
            return problem(415, "The body must be application/json.")
        try:
            payload = json.loads(request.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return problem(400, "The body is not valid JSON.")
        if not isinstance(payload, dict):
            return problem(400, "The body must be a JSON object.")
        subscription, key = payload.get("subscriptionId"), payload.get("apiKey")
        if not isinstance(subscription, str) or not subscription:
            return problem(400, "The subscriptionId field is required.")
        if not isinstance(key, str) or not key:
            return problem(400, "The apiKey field is required.")
        if not self._known(subscription.lower(), key):
            return problem(401, "Invalid subscription or API key.")
        token = self.issue(subscription, key, request.origin)
        return Response(200, token.encode("ascii"),
                        [("Content-Type", "text/plain; charset=utf-8"),
                         ("Cache-Control", "no-store, no-cache")])
