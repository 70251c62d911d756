"""The simulator's Azure AD over TLS, used by the real azure-identity ClientSecretCredential."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest
import requests
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import ClientSecretCredential

from exporter.simulator import ManualClock, SimJob, Simulator

T0 = 1767225600.0  # 2026-01-01T00:00:00Z
TENANT, CLIENT, SECRET = "tenant1", "client1", "s3cret-Value~42"
ARM_SCOPE = "https://management.azure.com/.default"
V2_SCOPE = "https://rest.media.azure.net/.default"
V2_HEADERS = {"x-ms-version": "2.19", "Accept": "application/json"}


@pytest.fixture
def mclock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def sim(mclock: ManualClock, monkeypatch: pytest.MonkeyPatch) -> Iterator[Simulator]:
    with Simulator(clock=mclock, seed=2).start(tls=True) as simulator:
        assert simulator.ca_cert_path is not None
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", simulator.ca_cert_path)
        simulator.add_client(TENANT, CLIENT, SECRET)
        simulator.add_v2_account("old")
        simulator.add_v3_account("acct1")
        simulator.add_job("old", SimJob(id="nb:jid:UUID:1", name="v2 job", created=T0 - 5))
        simulator.add_job("acct1", SimJob(id="job1", name="v3 job", created=T0 - 5))
        yield simulator


def credential(sim: Simulator, secret: str = SECRET, client: str = CLIENT,
               tenant: str = TENANT) -> ClientSecretCredential:
    return ClientSecretCredential(tenant, client, secret, authority=sim.aad_authority,
                                  disable_instance_discovery=True)


def v3_get(sim: Simulator, token: str) -> requests.Response:
    url = (sim.arm_endpoint + sim.arm_account("acct1").resource_id
           + "/transforms/encode-720p/jobs/job1")
    return requests.get(url, params={"api-version": "2022-07-01"},
                        headers={"Authorization": f"Bearer {token}"}, timeout=10)


def v2_get(sim: Simulator, token: str) -> requests.Response:
    return requests.get(sim.v2_endpoint("old") + "Jobs",
                        headers=V2_HEADERS | {"Authorization": f"Bearer {token}"}, timeout=10)


def arm_code(response: requests.Response) -> str:
    assert response.status_code == 401
    return response.json()["error"]["code"]


def token_request(sim: Simulator, tenant: str = TENANT, **form: str) -> requests.Response:
    fields = {"grant_type": "client_credentials", "client_id": CLIENT,
              "client_secret": SECRET, "scope": ARM_SCOPE} | form
    fields = {k: v for k, v in fields.items() if v is not None}
    return requests.post(f"{sim.url}/{tenant}/oauth2/v2.0/token", data=fields, timeout=10)


# ------------------------------------------------------------------ the real client


def test_client_secret_credential_signs_in_and_both_apis_accept_its_tokens(
    sim: Simulator,
) -> None:
    sim.require_issued_tokens = True
    cred = credential(sim)
    arm = cred.get_token(ARM_SCOPE)
    assert cred.get_token(ARM_SCOPE).token == arm.token  # cached by MSAL: 3599 s to live
    assert sim.request_count(kind="discovery", api="aad") == 1
    assert sim.request_count(kind="token") == 1
    assert v3_get(sim, arm.token).json()["name"] == "job1"
    media = cred.get_token(V2_SCOPE)
    assert sim.request_count(kind="token") == 2
    [job] = v2_get(sim, media.token).json()["value"]
    assert job["Name"] == "v2 job"
    # Each token is for one audience only.
    assert v2_get(sim, arm.token).status_code == 401
    assert arm_code(v3_get(sim, media.token)) == "InvalidAuthenticationTokenAudience"
    assert arm_code(v3_get(sim, "made-up")) == "InvalidAuthenticationToken"
    sim.require_issued_tokens = False
    assert v3_get(sim, "made-up").status_code == 200


def test_token_looks_like_a_jwt_with_the_usual_claims(sim: Simulator) -> None:
    token = credential(sim).get_token(ARM_SCOPE).token
    header, claims, signature = token.split(".")

    def decode(part: str) -> dict:
        return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))

    assert decode(header) == {"typ": "JWT", "alg": "none"}
    body = decode(claims)
    assert (body["aud"], body["tid"], body["appid"]) == (
        "https://management.azure.com", TENANT, CLIENT)
    assert body["exp"] - body["iat"] == 3599 and body["iat"] == int(T0)
    assert signature == ""


def test_wrong_secret_is_refused_without_revealing_it(
    sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "not-the-secret-9f81"
    with pytest.raises(ClientAuthenticationError) as caught:
        credential(sim, secret=wrong).get_token(ARM_SCOPE)
    assert "AADSTS7000215" in str(caught.value)
    assert wrong not in str(caught.value) and SECRET not in str(caught.value)
    assert wrong not in caplog.text
    answer = token_request(sim, client_secret=wrong)
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"
    assert answer.json()["error_codes"] == [7000215]
    assert wrong.encode() not in answer.content and SECRET.encode() not in answer.content
    assert all(wrong not in str(r.headers) + r.path for r in sim.requests)
    with pytest.raises(ClientAuthenticationError, match="AADSTS700016"):
        credential(sim, client="somebody-else").get_token(ARM_SCOPE)


def test_expired_tokens_stop_working(sim: Simulator, mclock: ManualClock) -> None:
    sim.require_issued_tokens = True
    sim.token_lifetime = 60
    cred = credential(sim)
    arm, media = cred.get_token(ARM_SCOPE), cred.get_token(V2_SCOPE)
    assert v3_get(sim, arm.token).status_code == 200
    assert v2_get(sim, media.token).status_code == 200
    mclock.advance(59)
    assert v3_get(sim, arm.token).status_code == 200
    mclock.advance(1)
    assert arm_code(v3_get(sim, arm.token)) == "ExpiredAuthenticationToken"
    expired_v2 = v2_get(sim, media.token)
    assert expired_v2.status_code == 401
    assert 'error="invalid_token"' in expired_v2.headers["WWW-Authenticate"]
    # A token this short-lived is never served from MSAL's cache: the next one is new.
    fresh = cred.get_token(ARM_SCOPE)
    assert fresh.token != arm.token
    assert v3_get(sim, fresh.token).status_code == 200


# ------------------------------------------------------------------ the endpoints themselves


def test_openid_configuration(sim: Simulator) -> None:
    config = requests.get(f"{sim.url}/{TENANT}/v2.0/.well-known/openid-configuration",
                          timeout=10).json()
    assert config["token_endpoint"] == f"{sim.url}/{TENANT}/oauth2/v2.0/token"
    assert config["authorization_endpoint"].startswith(f"{sim.url}/{TENANT}/")
    assert config["issuer"] == f"{sim.url}/{TENANT}/v2.0"
    unknown = requests.get(f"{sim.url}/nobody/v2.0/.well-known/openid-configuration",
                           timeout=10)
    assert unknown.status_code == 400 and unknown.json()["error"] == "invalid_tenant"


@pytest.mark.parametrize(
    ("tenant", "form", "status", "error"),
    [
        ("nobody", {}, 400, "invalid_request"),
        (TENANT, {"grant_type": "password"}, 400, "unsupported_grant_type"),
        (TENANT, {"grant_type": None}, 400, "invalid_request"),
        (TENANT, {"client_secret": None}, 401, "invalid_client"),
        (TENANT, {"client_id": "unknown"}, 400, "unauthorized_client"),
        (TENANT, {"scope": "https://management.azure.com/user_impersonation"}, 400,
         "invalid_scope"),
        (TENANT, {"scope": "https://graph.microsoft.com/.default"}, 400, "invalid_resource"),
        (TENANT, {"scope": None}, 400, "invalid_request"),
    ],
)
def test_token_endpoint_errors(sim: Simulator, tenant: str, form: dict[str, str | None],
                               status: int, error: str) -> None:
    response = token_request(sim, tenant, **form)
    assert response.status_code == status
    body = response.json()
    assert body["error"] == error
    assert body["error_description"].startswith("AADSTS")
    assert SECRET.encode() not in response.content


def test_token_endpoint_success_shape(sim: Simulator) -> None:
    sim.token_lifetime = 120
    response = token_request(sim, scope="https://rest.media.azure.net/.default")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"token_type", "expires_in", "ext_expires_in", "access_token"}
    assert (body["token_type"], body["expires_in"], body["ext_expires_in"]) == ("Bearer", 120,
                                                                                120)
    assert response.headers["Cache-Control"].startswith("no-store")
    assert requests.get(f"{sim.url}/{TENANT}/oauth2/v2.0/token", timeout=10).status_code == 400
    assert sim.request_count(kind="token") == 2


def test_faults_leave_azure_ad_alone(sim: Simulator) -> None:
    sim.set_faults(error_rate=1.0)
    assert token_request(sim).status_code == 200
    sim.set_down(True)
    down = token_request(sim)
    assert down.status_code == 500 and down.json()["error"] == "server_error"
