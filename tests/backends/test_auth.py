"""Signing in for real: azure-identity's ClientSecretCredential against the
simulator's Azure AD over TLS, and clear failures for every method."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest

from exporter.app.config import build_config, parse_config
from exporter.app.exporter import Exporter
from exporter.backends.auth.credentials import CredentialBuilder, authority_kwargs, failure_hint
from exporter.backends.registry import BACKENDS
from exporter.simulator import SimJob, Simulator, SystemClock
from exporter.web.server import landing_page
from tests.helpers import parse_exposition, wait_until

SECRET = "s3cret-Value-7f2a9c"
TENANT = "tenant1"
CLIENT = "client1"


@pytest.fixture
def tls_sim(monkeypatch) -> Simulator:
    sim = Simulator(clock=SystemClock(), seed=3, require_auth=True)
    sim.add_v3_account("prod", resource_group="media-rg", account_name="prodmedia",
                       transforms=("encode",))
    sim.add_client(TENANT, CLIENT, SECRET)
    sim.require_issued_tokens = True
    now = time.time()
    sim.add_job("prod", SimJob("job-1", "job-1", now - 60), transform="encode")
    with sim.start(host="127.0.0.1", port=0, tls=True):
        # The CA is trusted the way a user would: through the environment that
        # requests (used by MSAL and by the exporter) reads.
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", sim.ca_cert_path)
        yield sim


def exporter_for(sim: Simulator, secret_ref: str, environ: dict[str, str]) -> Exporter:
    text = f"""
refresh: {{min_interval: 0s, timeout: 10s}}
accounts:
  - name: prod
    api: v3
    subscription_id: 00000000-0000-0000-0000-000000000000
    resource_group: media-rg
    account_name: prodmedia
    arm_endpoint: {sim.arm_endpoint}
    auth:
      method: client_secret
      tenant_id: {TENANT}
      client_id: {CLIENT}
      client_secret: "{secret_ref}"
      authority_host: {sim.aad_authority}
"""
    return Exporter(parse_config(text, environ), environ=environ)


def scrape_text(exporter: Exporter) -> str:
    exporter.refresh_due()
    return exporter.text()


def test_client_secret_sign_in_over_tls(tls_sim):
    exporter = exporter_for(tls_sim, "${AMS_SECRET}", {"AMS_SECRET": SECRET})
    try:
        metrics = parse_exposition(scrape_text(exporter))
        assert metrics.value("ams_up", account="prod") == 1
        assert metrics.job_ids("prod") == {"job-1"}
        assert tls_sim.request_count(kind="token") == 1
        scrape_text(exporter)
        assert tls_sim.request_count(kind="token") == 1  # cached until near expiry
        assert tls_sim.arm_endpoint.startswith("https://")
    finally:
        exporter.close()


def test_a_wrong_secret_is_one_clear_line_and_never_leaks(tls_sim, caplog):
    wrong = "wrong-Secret-93jd8"
    exporter = exporter_for(tls_sim, wrong, {})
    caplog.set_level(logging.DEBUG)
    try:
        first = scrape_text(exporter)
        text = scrape_text(exporter)  # a second failure with the same cause: no new line
        page = landing_page(exporter)
    finally:
        exporter.close()
    assert parse_exposition(text).value("ams_up", account="prod") == 0
    ours = [r for r in caplog.records if r.name.startswith("exporter")
            and r.levelno >= logging.WARNING]
    assert len(ours) == 1, [r.getMessage() for r in ours]
    line = ours[0].getMessage()
    assert "account prod" in line and "client_secret" in line and "AADSTS7000215" in line
    everything = "\n".join(r.getMessage() for r in caplog.records) + first + text + page
    assert wrong not in everything and SECRET not in everything


def test_an_expiring_token_is_renewed_without_a_failed_refresh(tls_sim):
    tls_sim.token_lifetime = 2.0  # seconds; the simulator rejects it afterwards
    exporter = exporter_for(tls_sim, SECRET, {})
    try:
        results = []

        def refreshed_after_renewal() -> bool:
            results.append(parse_exposition(scrape_text(exporter)).value("ams_up",
                                                                         account="prod"))
            return tls_sim.request_count(kind="token") >= 3

        assert wait_until(refreshed_after_renewal, timeout=20, interval=0.5)
        assert results and all(up == 1 for up in results), results
        assert exporter.refreshers[0].status.failures_in_a_row == 0
    finally:
        exporter.close()


def test_missing_settings_name_what_is_missing(caplog):
    text = """
refresh: {min_interval: 0s, timeout: 5s}
accounts:
  - name: wi
    api: v3
    subscription_id: s
    resource_group: rg
    arm_endpoint: http://127.0.0.1:9
    auth: {method: workload_identity}
"""
    exporter = Exporter(parse_config(text, {}), environ={})
    caplog.set_level(logging.WARNING)
    try:
        exporter.start_background_refresh()
        assert wait_until(exporter.ready, timeout=10)
        metrics = parse_exposition(exporter.text())
    finally:
        exporter.close()
    assert metrics.value("ams_up", account="wi") == 0
    [line] = [r.getMessage() for r in caplog.records if r.name.startswith("exporter")]
    assert "account wi" in line and "workload_identity" in line
    assert "tenant_id (auth.tenant_id or AZURE_TENANT_ID)" in line
    assert "AZURE_FEDERATED_TOKEN_FILE" in line


def test_credentials_for_each_method_are_built_from_config_and_environment(tmp_path):
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET + "\n")
    builder = CredentialBuilder({"AZURE_TENANT_ID": "t", "AZURE_CLIENT_ID": "c",
                                 "AZURE_FEDERATED_TOKEN_FILE": str(tmp_path / "jwt")})
    kinds = {
        "default": auth("default", {}),
        "client_secret": auth("client_secret",
                              {"client_secret_file": str(secret_file)}),
        "managed_identity": auth("managed_identity", {"client_id": "mi"}),
        "workload_identity": auth("workload_identity", {}),
        "azure_cli": auth("azure_cli", {}),
    }
    names = {method: type(builder(auth)).__name__ for method, auth in kinds.items()}
    assert names == {"default": "DefaultAzureCredential",
                     "client_secret": "ClientSecretCredential",
                     "managed_identity": "ManagedIdentityCredential",
                     "workload_identity": "WorkloadIdentityCredential",
                     "azure_cli": "AzureCliCredential"}


def auth(method: str, options: dict[str, str]) -> Any:
    """The validated auth section of a config with these settings."""
    account = {"name": "a", "endpoint": "http://h/api/", "auth": {"method": method, **options}}
    return build_config({"accounts": [account]}).accounts[0].auth


def scope_of(account: dict[str, str]) -> str:
    [parsed] = build_config({"accounts": [{"name": "a", **account}]}).accounts
    return BACKENDS[parsed.api].token_scope(parsed)


def test_authority_hosts_and_scopes():
    assert authority_kwargs("login.microsoftonline.com") == {
        "authority": "login.microsoftonline.com"}
    assert authority_kwargs("https://127.0.0.1:8443") == {
        "authority": "https://127.0.0.1:8443", "disable_instance_discovery": True}
    assert scope_of({"endpoint": "https://acct.restv2.westeurope.media.azure.net/api/"}) == \
        "https://rest.media.azure.net/.default"
    assert scope_of({"api": "v3", "subscription_id": "s", "resource_group": "r"}) == \
        "https://management.azure.com/.default"
    assert scope_of({"api": "v3", "subscription_id": "s", "resource_group": "r",
                     "arm_endpoint": "https://management.chinacloudapi.cn"}) == \
        "https://management.chinacloudapi.cn/.default"
    assert "AZURE_CLIENT_ID" in failure_hint(auth("managed_identity", {}), {})
    assert failure_hint(auth("managed_identity", {"client_id": "x"}), {}) == ""
