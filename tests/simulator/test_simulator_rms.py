"""The Ravnur Media Services (RMS) flavour over real HTTP: /auth/token, bare JWTs, the v3
ARM paths behind them, and the official azure-mgmt-media client run unmodified."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest
import requests
from azure.core.credentials import AccessToken
from azure.mgmt.media import AzureMediaServices

from exporter.jobs.states import JobState
from exporter.simulator import ManualClock, SimJob, Simulator

T0 = 1767225600.0  # 2026-01-01T00:00:00Z
VERSION = "2022-07-01"
KEY = "k-3f9c2a"
TIMEOUT = 10


@pytest.fixture
def mclock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def sim(mclock: ManualClock) -> Iterator[Simulator]:
    with Simulator(clock=mclock, seed=9).start() as simulator:
        simulator.add_rms_account("r1", account_name="rmsdemo", api_key=KEY,
                                  transforms=("encode-720p", "thumbs"))
        yield simulator


def sign_in(sim: Simulator, account: str = "r1", key: str | None = None,
            **overrides: object) -> requests.Response:
    body = {"subscriptionId": sim.arm_account(account).subscription_id,
            "apiKey": sim.rms_api_key(account) if key is None else key} | overrides
    return requests.post(sim.rms_token_url, json=body, timeout=TIMEOUT,
                         verify=sim.ca_cert_path or True)


def claims(jwt: str) -> dict:
    payload = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def jobs_url(sim: Simulator, account: str = "r1", transform: str = "encode-720p") -> str:
    return f"{sim.rms_endpoint}{sim.arm_account(account).resource_id[1:]}/transforms/" \
           f"{transform}/jobs"


def get(url: str, token: str | None, sim: Simulator | None = None) -> requests.Response:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    return requests.get(url, params={"api-version": VERSION}, headers=headers,
                        timeout=TIMEOUT, verify=(sim.ca_cert_path if sim else None) or True)


def arm_code(response: requests.Response, status: int) -> str:
    assert response.status_code == status, response.text
    return response.json()["error"]["code"]


# ------------------------------------------------------------------ /auth/token


def test_token_endpoint_answers_a_bare_jwt_with_exp(sim: Simulator) -> None:
    response = sign_in(sim)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    token = response.text
    assert token == response.content.decode("ascii") and not token.startswith(("{", '"'))
    header, payload, signature = token.split(".")
    assert json.loads(base64.urlsafe_b64decode(header + "==")) == {"typ": "JWT", "alg": "none"}
    assert signature == ""
    decoded = claims(token)
    assert decoded["exp"] - decoded["iat"] == 3600 and decoded["iat"] == int(T0)
    assert decoded["sub"] == sim.arm_account("r1").subscription_id

    sim.rms_token_lifetime = 120
    assert claims(sign_in(sim).text)["exp"] == int(T0) + 120
    with pytest.raises(ValueError):
        sim.rms_token_lifetime = 0
    assert sim.request_count(api="rms", kind="token") == 2
    assert sign_in(sim).text != sign_in(sim).text  # every token is new
    assert sim.request_count(api="rms", kind="token") == 4


def test_a_wrong_key_or_subscription_is_401_as_a_problem_document(sim: Simulator) -> None:
    for response in (sign_in(sim, key="wrong"),
                     sign_in(sim, subscriptionId="11111111-2222-3333-4444-555555555555")):
        assert response.status_code == 401
        assert response.headers["Content-Type"] == "application/problem+json; charset=utf-8"
        problem = response.json()
        assert (problem["status"], problem["title"]) == (401, "Unauthorized")
        assert problem["detail"] == "Invalid subscription or API key."
        assert "wrong" not in response.text
    # The subscription matches without regard to case, as in ARM.
    upper = sign_in(sim, subscriptionId=sim.arm_account("r1").subscription_id.upper())
    assert upper.status_code == 200

    assert sign_in(sim, apiKey="").status_code == 400
    assert sign_in(sim, subscriptionId=7).status_code == 400
    url = sim.rms_token_url
    assert requests.post(url, data="[1]", headers={"Content-Type": "application/json"},
                         timeout=TIMEOUT).status_code == 400
    assert requests.post(url, data="{", headers={"Content-Type": "application/json"},
                         timeout=TIMEOUT).status_code == 400
    form = requests.post(url, data={"subscriptionId": "x", "apiKey": KEY}, timeout=TIMEOUT)
    assert form.status_code == 415
    wrong_method = requests.get(url, timeout=TIMEOUT)
    assert wrong_method.status_code == 405 and wrong_method.headers["Allow"] == "POST"
    assert sim.request_count(api="rms", kind="token") == 9


# ------------------------------------------------------------------ the v3 routes of RMS


def test_rms_routes_take_only_unexpired_tokens_of_their_own_sign_in(
    sim: Simulator, mclock: ManualClock
) -> None:
    sim.add_v3_account("ams", account_name="amsdemo")
    sim.add_rms_account("r2", subscription_id=sim.arm_account("r1").subscription_id,
                        account_name="other", api_key="another-key")
    sim.add_client("tenant1", "client1", "secret1")
    token = sign_in(sim).text
    assert get(jobs_url(sim), token).status_code == 200
    assert arm_code(get(jobs_url(sim), None), 401) == "AuthenticationFailed"
    assert arm_code(get(jobs_url(sim), "made-up"), 401) == "InvalidAuthenticationToken"
    aad = sim.issue_token("https://management.azure.com")
    assert arm_code(get(jobs_url(sim), aad), 401) == "InvalidAuthenticationToken"
    # Same subscription, other account and key: the token is not for it.
    assert arm_code(get(jobs_url(sim, "r2"), token), 401) == \
        "InvalidAuthenticationTokenAudience"
    assert get(jobs_url(sim, "r2"), sign_in(sim, "r2").text).status_code == 200
    # Plain AMS v3 takes AAD tokens; with issued tokens required, not RMS ones.
    sim.require_issued_tokens = True
    assert arm_code(get(jobs_url(sim, "ams"), token), 401) == "InvalidAuthenticationToken"
    assert get(jobs_url(sim, "ams"), aad).status_code == 200

    mclock.advance(3599)
    assert get(jobs_url(sim), token).status_code == 200
    mclock.advance(1)
    assert arm_code(get(jobs_url(sim), token), 401) == "ExpiredAuthenticationToken"
    assert get(jobs_url(sim), sign_in(sim).text).status_code == 200
    assert get(jobs_url(sim), sim.issue_rms_token("r1")).status_code == 200


def test_without_auth_rms_routes_take_anything(mclock: ManualClock) -> None:
    with Simulator(clock=mclock, require_auth=False).start() as sim:
        sim.add_rms_account("r1", account_name="rmsone")
        assert get(jobs_url(sim), None).json() == {"value": []}


def test_lifecycle_faults_and_counting_as_on_v3(sim: Simulator, mclock: ManualClock) -> None:
    token = sim.issue_rms_token("r1")
    ids = sim.generate_jobs("r1", 40, T0 - 3600, T0, transform="thumbs")
    assert len(ids) == 40 and all(i.startswith("job-") for i in ids)
    sim.add_job("r1", SimJob(id="j1", name="clip", created=T0 - 60,
                             events=[(T0 - 50, JobState.Processing)]))
    sim.script_state("r1", "j1", JobState.Error, at=T0 + 10)
    job_url = jobs_url(sim) + "/j1"
    assert get(job_url, token).json()["properties"]["state"] == "Processing"
    mclock.advance(11)
    job = get(job_url, token).json()
    assert job["properties"]["state"] == "Error"
    assert job["id"].endswith("/mediaservices/rmsdemo/transforms/encode-720p/jobs/j1")
    assert sim.job_state("r1", "j1") == JobState.Error
    assert len(get(jobs_url(sim, transform="thumbs"), token).json()["value"]) == 40

    sim.set_faults("r1", throttle_rate=1.0)
    throttled = get(jobs_url(sim), token)
    assert arm_code(throttled, 429) == "TooManyRequests"
    assert throttled.headers["Retry-After"] == "1"
    sim.set_faults("r1", malformed_rate=1.0)
    broken = get(jobs_url(sim), token)
    assert broken.status_code == 200
    with pytest.raises(ValueError):
        broken.json()
    sim.set_faults("r1", reset_rate=1.0)
    with pytest.raises(requests.ConnectionError):
        get(jobs_url(sim), token)
    sim.set_faults("r1", error_rate=1.0, error_status=503)
    assert arm_code(get(jobs_url(sim), token), 503) == "ServiceUnavailable"
    assert sign_in(sim).status_code == 200  # sign-in gets no injected faults
    sim.clear_faults()

    feed = sim.start_lively("r1", rate_per_minute=60)
    mclock.advance(300)
    assert feed.tick() > 100
    assert sim.request_count(account="r1", api="rms") == 7
    assert sim.request_count(account="r1", kind="job") == 2
    assert sim.request_count(api="v3") == 0


# ------------------------------------------------------------------ the official client


class RmsApiKeyCredential:
    """What Ravnur's Python sample does: POST the key to /auth/token, read the bare JWT,
    take `exp` from its payload, and reuse it until then (by the simulator's clock)."""

    def __init__(self, sim: Simulator, subscription_id: str, api_key: str) -> None:
        self.sim, self.subscription_id, self.api_key = sim, subscription_id, api_key
        self._token: AccessToken | None = None

    def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        if self._token is None or self.sim.clock() >= self._token.expires_on - 60:
            response = requests.post(
                self.sim.rms_endpoint + "auth/token",
                json={"subscriptionId": self.subscription_id, "apiKey": self.api_key},
                verify=self.sim.ca_cert_path, timeout=TIMEOUT)
            response.raise_for_status()
            self._token = AccessToken(response.text, int(claims(response.text)["exp"]))
        return self._token


@pytest.fixture
def tls_sim(mclock: ManualClock, monkeypatch: pytest.MonkeyPatch) -> Iterator[Simulator]:
    with Simulator(clock=mclock, seed=12).start(tls=True) as simulator:
        assert simulator.ca_cert_path is not None
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", simulator.ca_cert_path)
        simulator.add_rms_account("r1", account_name="rmsdemo", api_key=KEY,
                                  transforms=("encode-720p", "thumbs"))
        simulator.generate_jobs("r1", n=700, start=T0 - 86400, end=T0,
                                transform="encode-720p")
        simulator.generate_jobs("r1", n=20, start=T0 - 3600, end=T0, transform="thumbs")
        yield simulator


def test_official_client_lists_transforms_and_jobs_with_one_token(
    tls_sim: Simulator, mclock: ManualClock
) -> None:
    sim = tls_sim
    arm = sim.arm_account("r1")
    credential = RmsApiKeyCredential(sim, arm.subscription_id, KEY)
    client = AzureMediaServices(credential, arm.subscription_id,  # type: ignore[arg-type]
                                base_url=sim.url + "/")
    transforms = list(client.transforms.list(arm.resource_group, arm.account_name))
    assert [t.name for t in transforms] == ["encode-720p", "thumbs"]
    jobs = list(client.jobs.list(arm.resource_group, arm.account_name, "encode-720p"))
    assert len(jobs) == 700 and len({job.name for job in jobs}) == 700
    for job in jobs:
        assert job.state == sim.job_state("r1", job.name, "encode-720p").name
    finished = list(client.jobs.list(
        arm.resource_group, arm.account_name, "thumbs",
        filter="properties/state eq Microsoft.Media.JobState'Finished'"))
    assert finished and all(job.state == "Finished" for job in finished)
    assert sim.request_count(api="rms", kind="token") == 1  # fetched once
    assert sim.request_count(account="r1", kind="jobs") == 3  # 500 + 200, then thumbs
    assert sim.request_count(account="r1", kind="transforms") == 1

    mclock.advance(3600)  # the token expires; the credential signs in again
    again = client.jobs.get(arm.resource_group, arm.account_name, "thumbs", finished[0].name)
    assert again.state == "Finished"
    assert sim.request_count(api="rms", kind="token") == 2
    assert all(r.status in (200,) for r in sim.requests)
