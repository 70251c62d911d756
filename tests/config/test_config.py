"""Configuration: defaults, ${ENV} expansion, and one-line errors naming the key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from exporter.app.config import parse_config
from exporter.config.errors import ConfigError
from exporter.config.types import duration_seconds
from exporter.jobs.states import JobState

VALID = """
refresh: {min_interval: 45s, full_resync: 1h30m, timeout: 20s}
retention: {finished: 6h, failed: 2d}
lookback: 48h
max_jobs_per_account: 500
accounts:
  - name: legacy-eu
    api: v2
    endpoint: https://myacct.restv2.westeurope.media.azure.net/api
    auth: {method: default, client_id: "${CLIENT}"}
    jobs:
      ids: ["nb:jid:UUID:f3c43f94-327f-2347-90bb-3bf79f8559f1"]
      name_regex: "^Encoding "
      states: [Queued, Scheduled, Processing, Error]
    progress: true
    max_requests_per_second: 2
"""


def test_valid_config() -> None:
    config = parse_config(VALID, {"CLIENT": "11111111-2222"})
    assert config.refresh.min_interval == 45
    assert config.refresh.full_resync == 5400
    assert config.retention.failed == 172800
    assert config.max_jobs_per_account == 500
    [account] = config.accounts
    assert account.endpoint == "https://myacct.restv2.westeurope.media.azure.net/api/"
    assert account.auth.options == {"client_id": "11111111-2222"}
    assert account.jobs.states == frozenset(
        {JobState.Queued, JobState.Scheduled, JobState.Processing, JobState.Error})
    assert account.jobs.name_regex is not None and account.progress is True


def test_defaults() -> None:
    config = parse_config("accounts: [{name: a, endpoint: 'http://127.0.0.1:1/api/'}]", {})
    assert config.refresh.min_interval == 30
    assert config.retention.finished == 6 * 3600
    assert config.lookback == 48 * 3600
    assert config.accounts[0].auth.method == "default"


def test_dollar_escape_and_env_values_are_not_yaml() -> None:
    config = parse_config(
        "accounts: [{name: 'a$$b', endpoint: '${EP}'}]", {"EP": "http://h/api/"})
    assert config.accounts[0].name == "a$b"
    assert config.accounts[0].endpoint == "http://h/api/"


@pytest.mark.parametrize("value, seconds", [
    ("30s", 30), ("15m", 900), ("6h", 21600), ("2d", 172800), ("1h30m", 5400),
    ("500ms", 0.5), ("0s", 0)])
def test_durations(value: str, seconds: float) -> None:
    assert duration_seconds(value) == seconds


ACCOUNT = "name: a, endpoint: 'http://h/api/'"


@pytest.mark.parametrize("text, message", [
    (f"accounts: [{{{ACCOUNT}, colour: red}}]", "accounts[0].colour: unknown key"),
    (f"refresh: {{min_interval: 10 minutes}}\naccounts: [{{{ACCOUNT}}}]",
     "refresh.min_interval: invalid duration"),
    (f"retention: {{failed: 30}}\naccounts: [{{{ACCOUNT}}}]",
     "retention.failed: expected a duration"),
    ("accounts: [{name: a}]", "accounts[0].endpoint: required"),
    ("accounts: [{name: a, endpoint: 'ftp://h/'}]",
     "accounts[0].endpoint: expected an http(s) URL"),
    (f"accounts: [{{{ACCOUNT}, jobs: {{name_regex: '(unclosed'}}}}]",
     "accounts[0].jobs.name_regex: invalid regular expression"),
    (f"accounts: [{{{ACCOUNT}, jobs: {{states: [Running]}}}}]",
     "accounts[0].jobs.states[0]: unknown state 'Running'"),
    (f"accounts: [{{{ACCOUNT}, auth: {{method: foo}}}}]",
     "accounts[0].auth.method: unknown method 'foo'"),
    (f"accounts: [{{{ACCOUNT}, auth: {{method: token_file}}}}]", "accounts[0].auth.path: required"),
    (f"accounts: [{{{ACCOUNT}}}, {{{ACCOUNT}}}]", "accounts[1].name: duplicate"),
    (f"accounts: [{{{ACCOUNT}, max_requests_per_second: 0}}]",
     "accounts[0].max_requests_per_second: expected a positive number"),
    ("accounts: []", "accounts: required"),
    ("accounts: [{name: a, endpoint: '${MISSING_VAR}'}]",
     "accounts[0].endpoint: environment variable MISSING_VAR is not set"),
    ("accounts: [oops", "config.file: not valid YAML"),
    ("accounts: [{name: a, api: v4, endpoint: 'http://h/'}]", "accounts[0].api: unsupported API"),
])
def test_invalid_configs_name_the_key(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, {})
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "exporter", *args], capture_output=True,
                          text=True, timeout=60, env=env)


@pytest.mark.parametrize("text, key", [
    ("accounts: [{name: a, endpoint: 'http://h/api/', colour: red}]", "accounts[0].colour"),
    ("refresh: {timeout: soon}\naccounts: [{name: a, endpoint: 'http://h/api/'}]",
     "refresh.timeout"),
    ("accounts: [{name: a}]", "accounts[0].endpoint"),
    ("accounts: [{name: a, endpoint: 'http://h/api/', jobs: {name_regex: '[z-a]'}}]",
     "accounts[0].jobs.name_regex"),
])
def test_check_config_exits_2_with_one_line(tmp_path: Path, text: str, key: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    result = run_cli("check-config", "--config.file", str(path))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {key}: "), result.stderr


def test_check_config_accepts_a_valid_file(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(VALID.replace("${CLIENT}", "abc"))
    result = run_cli("check-config", "--config.file", str(path))
    assert result.returncode == 0, result.stderr
    assert "legacy-eu" in result.stdout


def test_serve_with_a_bad_config_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("lookback: forever\naccounts: [{name: a, endpoint: 'http://h/api/'}]")
    result = run_cli("--config.file", str(path), "--web.listen-address", "127.0.0.1:0")
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: lookback: ")
