"""Duration histograms observe each job once; metrics.exclude removes exactly the
named families."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from exporter.app.config import parse_config
from exporter.jobs.states import JobState
from exporter.metrics.job_families import JOB_FAMILIES
from exporter.metrics.names import EXCLUDABLE
from exporter.simulator import SimJob
from tests.helpers import T0, scrape, uid, v2_config


def histogram_count(metrics, name: str, **labels: str) -> float:
    return metrics.value(f"{name}_count", account="acct", **labels)


def test_each_job_is_observed_once_across_refreshes_and_incremental_syncs(
        simulator, make_exporter, clock):
    # already over before the exporter started: never observed
    simulator.add_job("acct", SimJob(uid(1), "old", T0 - 900,
                                     events=[(T0 - 800, JobState.Processing),
                                             (T0 - 500, JobState.Finished)]))
    # runs while watched: queue time 100 s, then 300 s of processing
    simulator.add_job("acct", SimJob(uid(2), "watched", T0 - 50,
                                     events=[(T0 + 50, JobState.Processing),
                                             (T0 + 350, JobState.Error)]))
    exporter = make_exporter(v2_config(simulator.v2_endpoint("acct"),
                                       top="refresh: {min_interval: 0s, full_resync: 1h}"))
    first = scrape(exporter)
    assert histogram_count(first, "ams_job_duration_seconds", state="Finished") == 0
    assert histogram_count(first, "ams_job_queue_duration_seconds") == 0
    for step in range(12):  # incremental syncs every minute, one full resync at the end
        clock.advance(60 if step < 11 else 3600)
        metrics = scrape(exporter)
    assert histogram_count(metrics, "ams_job_queue_duration_seconds") == 1
    assert metrics.value("ams_job_queue_duration_seconds_sum", account="acct") == 100
    assert histogram_count(metrics, "ams_job_duration_seconds", state="Error") == 1
    assert metrics.value("ams_job_duration_seconds_sum", account="acct", state="Error") == 300
    assert metrics.value("ams_job_duration_seconds_bucket", account="acct", state="Error",
                         le="300.0") == 1
    assert metrics.value("ams_job_duration_seconds_bucket", account="acct", state="Error",
                         le="120.0") == 0
    assert histogram_count(metrics, "ams_job_duration_seconds", state="Finished") == 0


def test_a_reload_that_keeps_the_account_does_not_observe_again(simulator, make_exporter, clock):
    simulator.add_job("acct", SimJob(uid(3), "quick", T0 - 10,
                                     events=[(T0 + 5, JobState.Processing),
                                             (T0 + 25, JobState.Finished)]))
    text = v2_config(simulator.v2_endpoint("acct"))
    exporter = make_exporter(text)
    scrape(exporter)
    clock.advance(60)
    assert histogram_count(scrape(exporter), "ams_job_duration_seconds", state="Finished") == 1
    reloaded = exporter.reconfigured(exporter.config)
    try:
        clock.advance(60)
        metrics = scrape(reloaded)
        assert histogram_count(metrics, "ams_job_duration_seconds", state="Finished") == 1
        assert histogram_count(metrics, "ams_job_queue_duration_seconds") == 1
    finally:
        reloaded.close()


@pytest.mark.parametrize("excluded", [*(family.name for family in JOB_FAMILIES),
                                      "ams_job_transitions_total", "ams_job_duration_seconds",
                                      "ams_stale"])
def test_exclude_removes_exactly_the_named_family(simulator, make_exporter, excluded):
    simulator.add_job("acct", SimJob(uid(4), "failed", T0 - 100, error_code="E1",
                                     events=[(T0 - 90, JobState.Processing),
                                             (T0 - 10, JobState.Error)]))
    simulator.add_job("acct", SimJob(uid(5), "running", T0 - 100,
                                     events=[(T0 - 90, JobState.Processing)]))
    base = v2_config(simulator.v2_endpoint("acct"), extra_account="    progress: true")
    full = scrape(make_exporter(base))
    cut = scrape(make_exporter(base.replace("accounts:", f"metrics: {{exclude: [{excluded}]}}"
                                                           "\naccounts:")))
    name = excluded.removesuffix("_total")
    assert name in full.families
    assert set(full.families) - set(cut.families) == {name}
    kept = {key for key in full.samples if not key[0].startswith(name)}
    volatile = ("ams_api_request_duration", "ams_api_requests", "process_")
    assert {k for k in kept if not k[0].startswith(volatile)} <= set(cut.samples)


def test_an_excluded_per_job_family_is_not_rendered(simulator, make_exporter):
    simulator.add_job("acct", SimJob(uid(6), "one", T0 - 100))
    exporter = make_exporter(v2_config(simulator.v2_endpoint("acct")).replace(
        "accounts:", "metrics: {exclude: [ams_job_info, ams_job_state]}\naccounts:"))
    exporter.refresh_due()
    [refresher] = exporter.refreshers
    [block] = refresher.snapshot.rendered.blocks
    assert "ams_job_info" not in block.static and "ams_job_state" not in block.static
    assert "ams_job_state_code" in block.static


def test_every_excludable_name_is_a_documented_metric():
    docs = (Path(__file__).resolve().parents[2] / "docs" / "metrics.md").read_text()
    assert [name for name in sorted(EXCLUDABLE) if f"`{name}`" not in docs] == []


def test_an_unknown_name_in_exclude_exits_2_naming_the_key(tmp_path: Path):
    path = tmp_path / "config.yaml"
    path.write_text("metrics: {exclude: [ams_job_info, ams_jobz]}\n"
                    "accounts: [{name: a, endpoint: 'http://h/api/'}]\n")
    result = subprocess.run([sys.executable, "-m", "exporter", "check-config", "--config.file",
                             str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.startswith("error: metrics.exclude[1]: unknown metric 'ams_jobz'")


def test_exclude_is_validated_in_the_model():
    config = parse_config("metrics: {exclude: [ams_job_info]}\n"
                          "accounts: [{name: a, endpoint: 'http://h/api/'}]", {})
    assert config.metrics.exclude == ("ams_job_info",)
