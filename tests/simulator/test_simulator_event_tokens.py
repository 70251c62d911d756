"""Signed Event Grid delivery tokens: verified with PyJWT against the JWKS fetched over
HTTP the way a receiver finds it (OpenID configuration -> jwks_uri), expiring by the
simulator clock; a feed whose receiver checks them; and the exporter's own validator."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from exporter.events.auth import EntraValidator
from exporter.events.config import EntraConfig
from exporter.jobs.states import JobState
from exporter.simulator import ManualClock, SimJob, Simulator
from exporter.simulator.signing import EVENT_GRID_APP_ID
from tests.simulator.event_receiver import Received, Receiver

TENANT = "72f988bf-0000-4000-8000-2d7cd011db47"
AUDIENCE = "api://ams-job-exporter"
WAIT = 10.0


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(time.time())  # PyJWT checks exp against real time


@pytest.fixture
def sim(clock: ManualClock) -> Iterator[Simulator]:
    with Simulator(clock=clock, seed=4).start() as simulator:
        yield simulator


def jwks(sim: Simulator, tenant: str = TENANT) -> dict[str, Any]:
    discovery = requests.get(
        f"{sim.aad_authority}/{tenant}/v2.0/.well-known/openid-configuration", timeout=WAIT)
    assert discovery.status_code == 200
    keys = requests.get(discovery.json()["jwks_uri"], timeout=WAIT)
    assert keys.status_code == 200
    return keys.json()


def verify(sim: Simulator, token: str, **options: Any) -> dict[str, Any]:
    """What a receiver does: the key by kid from the JWKS, then PyJWT's checks."""
    keys = {k["kid"]: k for k in jwks(sim)["keys"]}
    kid = jwt.get_unverified_header(token)["kid"]
    if kid not in keys:
        raise jwt.InvalidKeyError(f"kid {kid} is not published")
    key = jwt.PyJWK(keys[kid], algorithm="RS256").key
    return jwt.decode(token, key, algorithms=["RS256"], audience=AUDIENCE,
                      issuer=[f"https://sts.windows.net/{TENANT}/",
                              f"{sim.aad_authority}/{TENANT}/v2.0"], **options)


def test_v1_tokens_verify_against_the_published_key(sim: Simulator, clock: ManualClock) -> None:
    token = sim.issue_event_grid_token(TENANT, AUDIENCE)
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "RS256" and header["typ"] == "JWT"
    assert header["x5t"] == header["kid"]
    claims = verify(sim, token)
    assert claims["iss"] == f"https://sts.windows.net/{TENANT}/"
    assert claims["aud"] == AUDIENCE and claims["appid"] == EVENT_GRID_APP_ID
    assert claims["ver"] == "1.0" and claims["tid"] == TENANT
    assert claims["roles"] == ["AzureEventGridSecureWebhookSubscriber"]
    assert claims["iat"] == claims["nbf"] == int(clock())
    assert claims["exp"] == int(clock() + 3600)
    assert "azp" not in claims


def test_v2_tokens_name_the_simulators_authority_and_azp(sim: Simulator) -> None:
    token = sim.issue_event_grid_token(TENANT, AUDIENCE, version=2, app_id="my-app")
    claims = verify(sim, token)
    assert claims["iss"] == f"{sim.aad_authority}/{TENANT}/v2.0"
    assert claims["azp"] == "my-app" and claims["ver"] == "2.0" and "appid" not in claims
    assert "x5t" not in jwt.get_unverified_header(token)


def test_the_unpublished_key_does_not_verify(sim: Simulator) -> None:
    token = sim.issue_event_grid_token(TENANT, AUDIENCE, signing_key="unpublished")
    published = jwks(sim)["keys"]
    assert jwt.get_unverified_header(token)["kid"] not in {k["kid"] for k in published}
    with pytest.raises(jwt.InvalidKeyError):
        verify(sim, token)
    # Nor does its signature check out with the published key under any kid.
    key = jwt.PyJWK(published[0], algorithm="RS256").key
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, key, algorithms=["RS256"], audience=AUDIENCE)


def test_expiry_follows_the_simulator_clock(sim: Simulator, clock: ManualClock) -> None:
    clock.set(time.time() - 7200)  # the simulator lives two hours in the past
    token = sim.issue_event_grid_token(TENANT, AUDIENCE)
    with pytest.raises(jwt.ExpiredSignatureError):
        verify(sim, token)
    claims = verify(sim, token, options={"verify_exp": False})
    assert claims["exp"] == int(clock() + 3600)
    short = sim.issue_event_grid_token(TENANT, AUDIENCE, lifetime=60)
    assert verify(sim, short, options={"verify_exp": False})["exp"] == int(clock() + 60)
    clock.set(time.time())
    assert verify(sim, sim.issue_event_grid_token(TENANT, AUDIENCE))["aud"] == AUDIENCE


def test_the_jwks_entry_is_shaped_like_entras(sim: Simulator) -> None:
    sim.issue_event_grid_token(TENANT, AUDIENCE)
    [entry] = jwks(sim)["keys"]
    assert entry["kty"] == "RSA" and entry["use"] == "sig" and entry["e"] == "AQAB"
    assert entry["kid"] == entry["x5t"]
    certificate = x509.load_der_x509_certificate(base64.b64decode(entry["x5c"][0]))
    public = certificate.public_key()
    assert isinstance(public, rsa.RSAPublicKey) and public.key_size == 2048
    jwk_key = jwt.PyJWK(entry, algorithm="RS256").key
    assert public.public_numbers() == jwk_key.public_numbers()
    # the same key for every tenant and every call
    sim.issue_event_grid_token("other-tenant", AUDIENCE)
    assert jwks(sim, "other-tenant")["keys"] == [entry]


def test_unknown_tenants_and_bad_arguments(sim: Simulator) -> None:
    answer = requests.get(f"{sim.aad_authority}/nobody/discovery/v2.0/keys", timeout=WAIT)
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_tenant"
    with pytest.raises(ValueError):
        sim.issue_event_grid_token(TENANT, AUDIENCE, version=3)
    with pytest.raises(ValueError):
        sim.issue_event_grid_token(TENANT, AUDIENCE, signing_key="other")
    with pytest.raises(ValueError):
        sim.issue_event_grid_token(TENANT, AUDIENCE, lifetime=0)
    with pytest.raises(RuntimeError):
        Simulator().issue_event_grid_token(TENANT, AUDIENCE, version=2)


def test_client_credential_tokens_stay_unsigned(sim: Simulator) -> None:
    sim.add_client(TENANT, "client1", "secret1")
    answer = requests.post(f"{sim.aad_authority}/{TENANT}/oauth2/v2.0/token", timeout=WAIT,
                           data={"grant_type": "client_credentials", "client_id": "client1",
                                 "client_secret": "secret1",
                                 "scope": "https://management.azure.com/.default"})
    assert answer.status_code == 200
    assert jwt.get_unverified_header(answer.json()["access_token"])["alg"] == "none"


@pytest.mark.parametrize("signing_key", ["published", "unpublished"])
def test_a_receiver_checking_entra_tokens_takes_only_published_ones(
    sim: Simulator, clock: ManualClock, signing_key: str
) -> None:
    sim.add_v3_account("acct1")
    sim.add_job("acct1", SimJob(id="job1", name="", created=clock() - 5,
                                events=[(clock() + 10, JobState.Processing)]))

    def check(request: Received) -> int:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        try:  # the clock ran 15 s ahead of real time: a receiver's usual skew allowance
            verify(sim, token, leeway=120)
        except jwt.PyJWTError:
            return 401
        return 200

    with Receiver(answer=check) as receiver:
        feed = sim.start_events(
            receiver.url, batch=10, handshake=False, retry_scale=0.01,
            auth_header=lambda: sim.issue_event_grid_token(TENANT, AUDIENCE,
                                                           signing_key=signing_key))
        clock.advance(15)
        assert feed.wait_idle(WAIT)
        assert len(receiver.notifications()) == 1  # a 401 is not retried
        if signing_key == "published":
            assert feed.delivered == 2 and feed.dropped == 0
        else:
            assert feed.dropped == 2 and feed.drop_reasons == {"status 401": 2}


def test_the_exporters_entra_validator_takes_them(sim: Simulator, clock: ManualClock) -> None:
    v1 = sim.issue_event_grid_token(TENANT, AUDIENCE)
    v2 = sim.issue_event_grid_token(TENANT, AUDIENCE, version=2)
    forged = sim.issue_event_grid_token(TENANT, AUDIENCE, signing_key="unpublished")
    stranger = sim.issue_event_grid_token(TENANT, AUDIENCE, app_id="someone-else")
    clock.set(time.time() - 7200)
    expired = sim.issue_event_grid_token(TENANT, AUDIENCE)
    config = EntraConfig(tenant_id=TENANT, audience=AUDIENCE, authority=sim.aad_authority)
    with requests.Session() as session:
        validator = EntraValidator(config, session)
        assert validator.accepts(f"Bearer {v1}") and validator.accepts(f"Bearer {v2}")
        assert not validator.accepts(f"Bearer {forged}")
        assert not validator.accepts(f"Bearer {stranger}")
        assert not validator.accepts(f"Bearer {expired}")
