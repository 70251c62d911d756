"""Signed tokens of the simulator's Azure AD: the ones Event Grid sends to webhooks
secured with Microsoft Entra ID (ams-successors.md §3.4).

Each Simulator has two RSA-2048 key pairs, made on first use (a JWKS request or a
token) so that simulators which never need them pay nothing:

- the *published* key, listed at `/{tenant}/discovery/v2.0/keys` (the `jwks_uri` of
  the tenant's OpenID configuration), as Entra lists its keys: `kty`, `use`, `kid`,
  `x5t`, `n`, `e` and `x5c` (a self-signed certificate of the key), `kid` = `x5t` =
  the certificate's SHA-1 thumbprint, base64url;
- the *unpublished* key, in no JWKS, for tokens whose signature a receiver must
  refuse.

The claims are those of an Entra app-only access token issued to Event Grid's
service principal: v1 (`iss` `https://sts.windows.net/{tenant}/`, `appid`,
`ver` 1.0) or v2 (`iss` `{authority}/{tenant}/v2.0`, `azp`, `ver` 2.0), with
`roles` `AzureEventGridSecureWebhookSubscriber`. `iat`, `nbf` and `exp` come from the
simulator clock. The client-credential tokens of aad.py stay unsigned.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import secrets
import threading
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

#: Event Grid's application id in public Azure (US Gov: 54316b56-...; §3.4).
EVENT_GRID_APP_ID = "4962773b-9cdb-44cf-a8bf-237846a00ab7"
SUBSCRIBER_ROLE = "AzureEventGridSecureWebhookSubscriber"
PUBLISHED = "published"
UNPUBLISHED = "unpublished"
_KEY_BITS = 2048
_CERT_VALIDITY = datetime.timedelta(days=365)
_IDS = uuid.UUID("5b0e3f52-1c7d-4e8a-b9a3-2d6f4c8e1a07")


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _uint(value: int) -> str:
    return _b64url(value.to_bytes((value.bit_length() + 7) // 8 or 1, "big"))


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: rsa.RSAPrivateKey
    jwk: dict[str, object]  # the public key as a JWKS entry


def make_signing_key(common_name: str) -> SigningKey:
    """A new RSA key and its JWK, with a self-signed certificate as Entra's keys have."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=_KEY_BITS)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + _CERT_VALIDITY)
        .sign(key, hashes.SHA256())
    )
    der = certificate.public_bytes(serialization.Encoding.DER)
    thumbprint = _b64url(hashlib.sha1(der).digest())  # x5t is SHA-1 (RFC 7517)
    numbers = key.public_key().public_numbers()
    jwk: dict[str, object] = {
        "kty": "RSA",
        "use": "sig",
        "kid": thumbprint,
        "x5t": thumbprint,
        "n": _uint(numbers.n),
        "e": _uint(numbers.e),
        "x5c": [base64.b64encode(der).decode("ascii")],
    }
    return SigningKey(thumbprint, key, jwk)


class SigningKeys:
    """The published and the unpublished key of one simulator, made on first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: dict[str, SigningKey] = {}

    def get(self, which: str = PUBLISHED) -> SigningKey:
        if which not in (PUBLISHED, UNPUBLISHED):
            raise ValueError(f"signing_key is {PUBLISHED!r} or {UNPUBLISHED!r}, not {which!r}")
        with self._lock:
            key = self._keys.get(which)
            if key is None:
                key = self._keys[which] = make_signing_key(f"ams-simulator {which} signing key")
            return key

    def jwks(self) -> dict[str, object]:
        """The JWKS document: the published key only."""
        return {"keys": [self.get(PUBLISHED).jwk]}


def event_grid_claims(
    tenant_id: str,
    audience: str,
    now: float,
    lifetime: float,
    app_id: str,
    version: int,
    authority: str | None,
) -> dict[str, Any]:
    """Claims of an Entra app-only token for Event Grid's service principal."""
    if version not in (1, 2):
        raise ValueError(f"version is 1 or 2, not {version!r}")
    if lifetime <= 0:
        raise ValueError("lifetime must be positive")
    issued = int(now)
    principal = str(uuid.uuid5(_IDS, f"{tenant_id}/{app_id}"))  # its object id in the tenant
    claims: dict[str, Any] = {"aud": audience}
    if version == 1:
        issuer = f"https://sts.windows.net/{tenant_id}/"
        claims |= {"iss": issuer, "iat": issued, "nbf": issued, "exp": int(now + lifetime),
                   "appid": app_id, "appidacr": "2", "idp": issuer}
    else:
        if authority is None:
            raise RuntimeError("v2 tokens name the authority: start the simulator first")
        claims |= {"iss": f"{authority}/{tenant_id}/v2.0", "iat": issued, "nbf": issued,
                   "exp": int(now + lifetime), "azp": app_id, "azpacr": "2"}
    claims |= {"oid": principal, "roles": [SUBSCRIBER_ROLE], "sub": principal,
               "tid": tenant_id, "uti": secrets.token_urlsafe(16),
               "ver": "1.0" if version == 1 else "2.0"}
    return claims


def sign(claims: dict[str, Any], key: SigningKey, version: int) -> str:
    """An RS256 JWT; v1 tokens carry `x5t` beside `kid` in the header, as Entra's do."""
    headers: dict[str, Any] = {"typ": "JWT", "kid": key.kid}
    if version == 1:
        headers["x5t"] = key.kid
    return jwt.encode(claims, key.private_key, algorithm="RS256", headers=headers)
