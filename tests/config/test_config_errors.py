"""Configuration errors: key paths through tagged unions, and no value echoed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from exporter.app.config import parse_config
from exporter.config.errors import ConfigError, key_path

SECRET = "S3cr3t-never-printed"


@pytest.mark.parametrize("loc, data, expected", [
    (("accounts", 0, "v2", "auth", "client_secret", "colour"),
     {"accounts": [{"auth": {"method": "client_secret", "client_secret": "x"}}]},
     "accounts[0].auth.colour"),
    # the secret's key shares its name with the method's tag: the tag goes, the key stays
    (("accounts", 0, "v2", "auth", "client_secret", "client_secret"),
     {"accounts": [{"auth": {"method": "client_secret", "client_secret": 5}}]},
     "accounts[0].auth.client_secret"),
    (("accounts", 1, "v3", "subscription_id"),
     {"accounts": [{}, {"api": "v3"}]}, "accounts[1].subscription_id"),
    (("refresh", "timeout"), {"refresh": {"timeout": "x"}}, "refresh.timeout"),
])
def test_key_paths_drop_union_tags(loc, data, expected):
    assert key_path(loc, data) == expected


@pytest.mark.parametrize("auth, key, message", [
    (f'{{method: client_secret, client_secret: "{SECRET}", colour: blue}}',
     "accounts[0].auth.colour", "unknown key"),
    ("{method: client_secret, client_secret: 12345}",
     "accounts[0].auth.client_secret", "expected a string"),
    (f'{{method: token, token: "{SECRET}", path: /x}}', "accounts[0].auth.path", "unknown key"),
    (f'{{method: rms_api_key, api_key: "{SECRET}", api_key_file: /k}}', "accounts[0].auth",
     "give exactly one of api_key and api_key_file"),
    (f'{{method: rms_api_key, api_key: "{SECRET}"}}', "accounts[0].auth",
     "rms_api_key signs in to Ravnur RMS, an AMS v3 API: use api: v3 for an RMS account"),
])
def test_auth_errors_name_the_key_and_never_the_secret(auth, key, message):
    with pytest.raises(ConfigError) as caught:
        parse_config(f"accounts: [{{name: a, endpoint: 'http://h/api/', auth: {auth}}}]", {})
    assert str(caught.value) == f"{key}: {message}"
    assert SECRET not in str(caught.value)


def test_check_config_with_an_unknown_auth_key_exits_2_without_the_secret(tmp_path: Path):
    path = tmp_path / "config.yaml"
    path.write_text(f"""
accounts:
  - name: prod
    api: v3
    subscription_id: 00000000-0000-0000-0000-000000000000
    resource_group: media-rg
    auth:
      method: client_secret
      tenant_id: t
      client_id: c
      client_secret: "{SECRET}"
      client_secrte_file: /typo
""")
    result = subprocess.run([sys.executable, "-m", "exporter", "check-config", "--config.file",
                             str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip() == "error: accounts[0].auth.client_secrte_file: unknown key"
    assert SECRET not in result.stdout + result.stderr


def test_an_unknown_api_and_method_list_the_choices():
    with pytest.raises(ConfigError, match=r"^accounts\[0\]\.api: unsupported API 'v9' "
                                          r"\(one of: 'v2', 'v3', 'mkio'\)$"):
        parse_config("accounts: [{name: a, api: v9}]", {})
    with pytest.raises(ConfigError, match=r"^accounts\[0\]\.auth\.method: unknown method 'x'"):
        parse_config("accounts: [{name: a, endpoint: 'http://h/', auth: {method: x}}]", {})


CORRELATION_ACCOUNT = "accounts: [{name: a, endpoint: 'http://h/api/'}]\n"


@pytest.mark.parametrize("labels, message", [
    ("{job_id: customerId}", "'job_id' is one of the exporter's own labels"),
    ("{le: customerId}", "'le' is one of the exporter's own labels"),
    ("{instance: customerId}", "'instance' is one of the exporter's own labels"),
    ("{label: customerId}", "'label' is one of the exporter's own labels"),
    ("{__tenant: customerId}", "'__tenant': names starting with __ are Prometheus' own"),
    ("{tenant-id: customerId}", "'tenant-id' is not a valid Prometheus label name"),
    ("{1tenant: customerId}", "'1tenant' is not a valid Prometheus label name"),
    ("{tenant: 5}", "'tenant': expected a correlationData key (a non-empty string)"),
    ("{tenant: ''}", "'tenant': expected a correlationData key (a non-empty string)"),
    ("[tenant]", "expected a mapping of label names to correlationData keys"),
])
def test_a_bad_correlation_label_names_metrics_correlation_labels(labels, message):
    with pytest.raises(ConfigError) as caught:
        parse_config(f"{CORRELATION_ACCOUNT}metrics: {{correlation_labels: {labels}}}", {})
    assert str(caught.value).startswith(f"metrics.correlation_labels: {message}")


def test_correlation_labels_keep_their_order_and_the_limit_is_positive():
    config = parse_config(f"{CORRELATION_ACCOUNT}metrics: {{correlation_labels: "
                          "{tenant: customerId, flow: Workflow}}", {})
    labels = config.metrics.correlation()
    assert (labels.names, labels.keys, labels.limit) == (
        ("tenant", "flow"), ("customerId", "Workflow"), 100)
    assert not parse_config(CORRELATION_ACCOUNT, {}).metrics.correlation()
    for limit in ("0", "-1", "1.5", "many"):
        with pytest.raises(ConfigError, match="^metrics.correlation_label_limit: "):
            parse_config(f"{CORRELATION_ACCOUNT}metrics: {{correlation_label_limit: {limit}}}",
                         {})


def test_check_config_with_a_colliding_correlation_label_exits_2(tmp_path: Path):
    path = tmp_path / "config.yaml"
    path.write_text(CORRELATION_ACCOUNT + "metrics:\n  correlation_labels:\n"
                                          "    tenant: customerId\n    state: status\n")
    result = subprocess.run([sys.executable, "-m", "exporter", "check-config", "--config.file",
                             str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip() == ("error: metrics.correlation_labels: 'state' is one of "
                                     "the exporter's own labels (see docs/metrics.md)")
