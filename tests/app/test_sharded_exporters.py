"""Several shards over one configuration, against the simulator on loopback."""

from __future__ import annotations

import subprocess
import sys

import pytest

from exporter.app.config import parse_config
from exporter.app.exporter import Exporter
from exporter.common.sharding import Sharding, shard_of
from tests.helpers import T0, parse_exposition

ACCOUNTS = [f"tenant-{n}" for n in range(9)]
#: Series that depend on the process, not on the accounts it owns.
PROCESS_WIDE = ("process_", "ams_exporter_", "ams_config_", "ams_api_request_duration",
                "ams_http_requests_rejected")


@pytest.fixture
def nine_accounts(simulator):
    for name in ACCOUNTS:
        simulator.add_v2_account(name)
        simulator.generate_jobs(name, n=5, start=T0 - 3600, end=T0)
    simulator.require_auth = False
    accounts = "".join(f"""
  - name: {name}
    endpoint: {simulator.v2_endpoint(name)}
    auth: {{method: none}}""" for name in ACCOUNTS)
    return parse_config(f"refresh: {{min_interval: 0s}}\naccounts:{accounts}", {})


def account_series(exporter: Exporter) -> dict[tuple, float]:
    exporter.refresh_due()
    samples = parse_exposition(exporter.text()).samples
    return {key: value for key, value in samples.items()
            if not key[0].startswith(PROCESS_WIDE)}


def exported_accounts(series: dict[tuple, float]) -> set[str]:
    return {dict(labels)["account"] for name, labels in series if name == "ams_up"}


def run_shards(config, clock, total: int) -> list[dict[tuple, float]]:
    shards = [Exporter(config, clock=clock, sharding=Sharding(n, total)) for n in range(total)]
    try:
        return [account_series(shard) for shard in shards]
    finally:
        for shard in shards:
            shard.close()


def test_three_shards_export_each_account_once_and_together_what_one_exporter_does(
        nine_accounts, clock, simulator):
    whole = Exporter(nine_accounts, clock=clock)
    try:
        everything = account_series(whole)
    finally:
        whole.close()
    simulator.reset_counters()
    shards = run_shards(nine_accounts, clock, 3)
    owned = [exported_accounts(series) for series in shards]
    for ordinal, accounts in enumerate(owned):
        assert accounts == {a for a in ACCOUNTS if shard_of(a, 3) == ordinal}
    assert sum(len(accounts) for accounts in owned) == len(ACCOUNTS)
    union: dict[tuple, float] = {}
    for series in shards:
        assert not set(series) & set(union), "a series exported by two shards"
        union.update(series)
    assert union == everything
    # a shard never calls the API for an account it does not own: one listing each
    for name in ACCOUNTS:
        assert simulator.request_count(account=name) == 1


def test_from_three_to_four_shards_only_changed_owners_move(nine_accounts, clock):
    before = [exported_accounts(s) for s in run_shards(nine_accounts, clock, 3)]
    after = [exported_accounts(s) for s in run_shards(nine_accounts, clock, 4)]
    assert sorted(a for s in after for a in s) == sorted(ACCOUNTS)  # none twice, none missing
    for ordinal in range(3):
        assert after[ordinal] <= before[ordinal], "accounts only move to the new shard"
    moved = after[3]
    assert moved == {a for a in ACCOUNTS if shard_of(a, 3) != shard_of(a, 4)}


def test_check_config_prints_each_accounts_owner(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("accounts:\n" + "".join(
        f"  - {{name: {name}, endpoint: 'http://h/api/'}}\n" for name in ACCOUNTS))
    result = subprocess.run([sys.executable, "-m", "exporter", "check-config", "--config.file",
                             str(path), "--total-shards", "3"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    owners = [line.split(": ") for line in result.stdout.splitlines()[1:]]
    assert {name: int(shard.split()[1]) for shard, name in owners} == {
        name: shard_of(name, 3) for name in ACCOUNTS}
