"""Distinctive secrets never show up in logs (any level), metrics, the landing page,
error messages or check-config output."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import bcrypt
import pytest
import requests

from exporter.simulator import SimJob, Simulator, SystemClock
from tests.helpers import free_port, wait_until

CLIENT_SECRET = "cs-Z9q-UNIQUE-4471-secret"
BEARER_TOKEN = "tok-Q7w-UNIQUE-8823-bearer"
BASIC_PASSWORD = "bp-K3r-UNIQUE-5519-password"
WRONG_PASSWORD = "bp-wrong-UNIQUE-0042-attempt"
RMS_API_KEY = "rk-M2v-UNIQUE-6130-apikey"
MKIO_TOKEN = "mk-P8d-UNIQUE-2207-token"
SECRETS = (CLIENT_SECRET, BEARER_TOKEN, BASIC_PASSWORD, WRONG_PASSWORD, RMS_API_KEY,
           MKIO_TOKEN)


@pytest.fixture
def secret_sim():
    sim = Simulator(clock=SystemClock(), seed=9, require_auth=True)
    sim.add_v2_account("acct")
    sim.add_v3_account("prod", account_name="prodmedia", transforms=("t",))
    sim.add_client("tenant1", "client1", "the-right-secret")
    sim.add_rms_account("rms", account_name="rmsmedia", transforms=("t",), api_key=RMS_API_KEY)
    sim.add_mkio_account("mk", project="my-project")
    sim.add_mkio_token("mk", MKIO_TOKEN)
    sim.add_job("acct", SimJob("nb:jid:UUID:s1", "s1", time.time() - 30))
    with sim.start(tls=True):
        yield sim


def config_text(sim: Simulator, token_path: Path, mkio_token_path: Path) -> str:
    return f"""
refresh: {{min_interval: 0s, timeout: 10s}}
accounts:
  - name: acct
    endpoint: {sim.v2_endpoint("acct")}
    auth: {{method: token_file, path: {token_path}}}
  - name: prod
    api: v3
    subscription_id: 00000000-0000-0000-0000-000000000000
    resource_group: media-rg
    account_name: prodmedia
    arm_endpoint: {sim.arm_endpoint}
    auth:
      method: client_secret
      tenant_id: tenant1
      client_id: client1
      client_secret: "${{AMS_TEST_SECRET}}"
      authority_host: {sim.aad_authority}
  - name: rms
    api: v3
    subscription_id: {sim.arm_account("rms").subscription_id}
    resource_group: {sim.arm_account("rms").resource_group}
    account_name: rmsmedia
    arm_endpoint: {sim.rms_endpoint}
    auth: {{method: rms_api_key, api_key: "${{AMS_TEST_RMS_KEY}}"}}
  - name: mk
    api: mkio
    project: my-project
    endpoint: {sim.mkio_endpoint}
    auth: {{method: token_file, path: {mkio_token_path}}}
"""


def assert_no_secret(text: str, where: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"a secret leaked into {where}"


def test_secrets_stay_out_of_every_output(secret_sim, tmp_path):
    token_path = tmp_path / "token"
    token_path.write_text(BEARER_TOKEN)
    mkio_token_path = tmp_path / "mkio-token"
    mkio_token_path.write_text(MKIO_TOKEN + "\n")
    config = tmp_path / "config.yaml"
    config.write_text(config_text(secret_sim, token_path, mkio_token_path))
    password_hash = bcrypt.hashpw(BASIC_PASSWORD.encode(), bcrypt.gensalt(4)).decode()
    web = tmp_path / "web.yml"
    web.write_text(f"basic_auth_users:\n  prom: '{password_hash}'\n")
    env = {**os.environ, "AMS_TEST_SECRET": CLIENT_SECRET, "AMS_TEST_RMS_KEY": RMS_API_KEY,
           "REQUESTS_CA_BUNDLE": secret_sim.ca_cert_path}
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "exporter", "--config.file", str(config), "--log.level",
         "debug", "--web.listen-address", f"127.0.0.1:{port}", "--web.config.file", str(web)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        def ready() -> bool:
            try:
                return requests.get(url + "/readyz", timeout=2).ok
            except requests.ConnectionError:
                return False

        assert wait_until(ready, timeout=30)
        refused = requests.get(url + "/metrics", timeout=30, auth=("prom", WRONG_PASSWORD))
        assert refused.status_code == 401
        metrics = requests.get(url + "/metrics", timeout=30, auth=("prom", BASIC_PASSWORD)).text
        landing = requests.get(url + "/", timeout=10, auth=("prom", BASIC_PASSWORD)).text
        denied_page = refused.text
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=15)
    # the token was used, and the wrong client secret was tried and failed
    assert any(r.headers.get("Authorization") == f"Bearer {BEARER_TOKEN}"
               for r in secret_sim.requests)
    assert 'ams_up{account="acct"} 1.0' in metrics
    assert 'ams_up{account="rms"} 1.0' in metrics, "signed in with the RMS API key"
    assert 'ams_up{account="mk"} 1.0' in metrics, "read MK.IO with the personal token"
    assert 'ams_up{account="prod"} 0.0' in metrics
    assert "account prod: refresh failed: auth method client_secret" in output
    assert_no_secret(output, "the debug log")
    assert_no_secret(metrics, "the metrics")
    assert_no_secret(landing, "the landing page")
    assert_no_secret(denied_page, "the 401 answer")
    assert password_hash not in output + metrics + landing
    for request in secret_sim.requests:
        assert CLIENT_SECRET not in request.path


def test_config_errors_and_check_config_do_not_echo_secrets(tmp_path):
    cases = {
        "bad type": f"accounts: [{{name: a, endpoint: 'http://h/api/', auth: "
                    f"{{method: client_secret, client_secret: {{nested: {CLIENT_SECRET}}}}}}}]",
        "unknown key": f"accounts: [{{name: a, endpoint: 'http://h/api/', "
                       f"password: {CLIENT_SECRET}}}]",
        "valid": f"accounts: [{{name: a, endpoint: 'http://h/api/', auth: "
                 f"{{method: client_secret, tenant_id: t, client_id: c, "
                 f"client_secret: {CLIENT_SECRET}}}}}]",
        "from env": "accounts: [{name: a, endpoint: 'http://h/api/', auth: "
                    "{method: client_secret, client_secret: '${AMS_TEST_SECRET}', "
                    "authority_host: 42}}]",
    }
    for name, text in cases.items():
        path = tmp_path / f"{name.replace(' ', '_')}.yaml"
        path.write_text(text)
        result = subprocess.run(
            [sys.executable, "-m", "exporter", "check-config", "--config.file", str(path)],
            capture_output=True, text=True, timeout=60,
            env={**os.environ, "AMS_TEST_SECRET": CLIENT_SECRET})
        assert result.returncode == (0 if name == "valid" else 2), (name, result.stderr)
        assert_no_secret(result.stdout + result.stderr, f"check-config output ({name})")
