"""The monitoring mixin (grafana/mixin, SPEC §6): the shipped files are its output, and
its _config (selector, thresholds, grouping and correlation labels) changes the rules
and dashboards as docs/mixin.md says."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import Any

import pytest

from tests.helpers import ROOT
from tests.helpers.monitoring import RULES, all_panels, dashboard_files, require_binary
from tests.monitoring.mixin import (
    BUILD_SCRIPT,
    alerts_of,
    build_mixin,
    dashboards,
    defaults,
    records_of,
    rule_file,
)

RECORDS = ("account:ams_job_transitions_ended:increase1h",
           "account:ams_job_transitions_error:increase1h")


def _one_line(expr: str) -> str:
    return re.sub(r"\s+", " ", expr).strip()


def _changed(before: dict[str, Any], after: dict[str, Any]) -> set[str]:
    """Names of the rules that differ between two rule files."""
    old = {r.get("alert") or r["record"]: r for g in before["groups"] for r in g["rules"]}
    new = {r.get("alert") or r["record"]: r for g in after["groups"] for r in g["rules"]}
    assert old.keys() == new.keys()
    return {name for name in old if old[name] != new[name]}


def test_shipped_files_are_the_mixins_output():
    """grafana/alerts, grafana/dashboards and the chart's files/ are what
    scripts/build-mixin writes: editing them instead of the mixin fails here."""
    result = subprocess.run([sys.executable, str(BUILD_SCRIPT), "--check"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    text = RULES.read_text()
    assert "GENERATED from grafana/mixin" in text.splitlines()[1]
    assert "# threshold:" not in text


def test_the_mixin_interface():
    """kube-prometheus reads prometheusAlerts, prometheusRules and grafanaDashboards
    (keyed by file name); _config has the SPEC §6 names, every threshold the chart
    sets, and the correlation label settings."""
    config = defaults()
    build = build_mixin()
    for name in (*build.THRESHOLDS, *build.LINKS, "amsExporterSelector",
                 "failureRateGroupingLabels", "correlationLabels", "tenantLabel"):
        assert name in config, name
    assert config["failureRateGroupingLabels"] == config["correlationLabels"] == []
    assert config["tenantLabel"] == "tenant"
    assert set(dashboards()) == {path.name for path in dashboard_files()}
    mixin = build.evaluate(ROOT)
    [recording] = mixin["prometheusRules"]["groups"]
    assert {rule["record"] for rule in recording["rules"]} >= set(RECORDS)
    [alerting] = mixin["prometheusAlerts"]["groups"]
    assert alerting["name"] == "ams-jobs" and all("alert" in r for r in alerting["rules"])
    # Distinct group names: kube-prometheus puts both into one PrometheusRule.
    assert recording["name"] != alerting["name"]


def test_the_exporter_selector_changes_the_rule_that_looks_for_targets():
    default = rule_file()
    custom = rule_file({"amsExporterSelector": 'job="media", namespace="ams"'})
    assert _changed(default, custom) == {"AMSExporterDown"}
    expr = alerts_of(custom)["AMSExporterDown"]["expr"]
    assert expr.count('up{job="media", namespace="ams"}') == 2
    assert "ams-job-exporter" not in expr
    # The selector follows exporterJob unless it is set itself.
    by_job = alerts_of(rule_file({"exporterJob": "media"}))["AMSExporterDown"]["expr"]
    assert by_job.count('up{job="media"}') == 2


def test_thresholds_change_their_rules_only():
    default = rule_file()
    custom = rule_file({"stuckProcessingSeconds": 10800, "failureRatio": 0.25,
                        "failureRateFor": "15m", "throttledPer5m": 1000000,
                        "failedKeepFiringFor": "1h"})
    assert _changed(default, custom) == {"AMSJobStuckProcessing", "AMSJobFailureRateHigh",
                                         "AMSApiThrottled", "AMSJobFailed"}
    alerts = alerts_of(custom)
    assert re.search(r"\)\s*> 10800\b", alerts["AMSJobStuckProcessing"]["expr"])
    assert "7200" not in alerts["AMSJobStuckProcessing"]["expr"]
    assert "> 0.25\n" in alerts["AMSJobFailureRateHigh"]["expr"]
    assert alerts["AMSJobFailureRateHigh"]["for"] == "15m"
    # plain PromQL literals: no 1e+06, no 0.25000000000000001
    assert "> 1000000\n" in alerts["AMSApiThrottled"]["expr"]
    assert alerts["AMSJobFailed"]["keep_firing_for"] == "1h"


def test_links_follow_the_base_urls():
    custom = rule_file({"grafanaUrl": "https://grafana.media.example",
                        "runbookUrl": "https://wiki.media.example/ams/runbook"})
    for name, alert in alerts_of(custom).items():
        annotations = alert["annotations"]
        assert annotations["dashboard_url"].startswith("https://grafana.media.example/d/")
        assert annotations["runbook_url"] == (
            f"https://wiki.media.example/ams/runbook#{name.lower()}")


def test_failure_rate_grouping_labels_change_the_by_clauses():
    """failureRateGroupingLabels: the recording rules and AMSJobFailureRateHigh are per
    account and those labels, which the duplicate removal keeps too."""
    default = rule_file()
    grouped = rule_file({"failureRateGroupingLabels": ["tenant", "flow"]})
    assert _changed(default, grouped) == {*RECORDS, "AMSJobFailureRateHigh"}
    for name in RECORDS:
        expr = _one_line(records_of(grouped)[name]["expr"])
        assert expr.startswith("sum by (account, tenant, flow) ( max by "
                               "(account, transform, to_state, tenant, flow) ("), expr
    alert = alerts_of(grouped)["AMSJobFailureRateHigh"]
    assert "and on (account, tenant, flow)\n" in alert["expr"]
    assert "unless on (account)\n" in alert["expr"]  # resets are per account
    annotations = alert["annotations"]
    assert annotations["summary"].endswith(
        "in account {{ $labels.account }}, tenant {{ $labels.tenant }}, flow {{ $labels.flow }}")
    assert ('increase1h{account=%q, tenant=%q, flow=%q}" $labels.account $labels.tenant '
            "$labels.flow | query" in annotations["description"])


def test_correlation_labels_are_kept_by_the_duplicate_removal():
    """With correlation labels on the transition counters, `max by` without them would
    take the largest tenant's count instead of adding the tenants up."""
    custom = rule_file({"correlationLabels": ["tenant"]})
    assert _changed(rule_file(), custom) == set(RECORDS)
    for name in RECORDS:
        expr = _one_line(records_of(custom)[name]["expr"])
        assert expr.startswith("sum by (account) ( max by "
                               "(account, transform, to_state, tenant) ("), expr
    boards = dashboards({"correlationLabels": ["tenant"]})
    overview = _panels(boards["ams-jobs-overview.json"])
    assert ("max by (account, transform, state, tenant) (ams_jobs{"
            in overview["Jobs by state"]["targets"][0]["expr"])
    detail = _panels(boards["ams-job-detail.json"])
    assert "priority, tenant) (ams_job_info{" in detail["Job info"]["targets"][0]["expr"]


@pytest.mark.system
def test_grouped_failure_rate_fires_per_tenant(tmp_path):
    """One account, two tenants: half of tenant a's jobs fail, none of b's. Grouped by
    tenant, the alert fires for a only; ungrouped, for the account's share (25 %)."""
    series = []
    for tenant, finished, failed in (("a", 1, 1), ("b", 2, 0)):
        for to_state, step in (("Finished", finished), ("Error", failed)):
            series.append({
                "series": f'ams_job_transitions_total{{account="acct", transform="enc", '
                          f'to_state="{to_state}", tenant="{tenant}", job="ams-job-exporter", '
                          f'instance="a:1"}}',
                "values": f"0+{step}x80"})
    series.append({"series": 'ams_api_requests_total{account="acct", code="200", '
                             'job="ams-job-exporter", instance="a:1"}',
                   "values": "0+10x80"})

    def fired(config: dict[str, Any]) -> str:
        """promtool's report of the alerts that fire at 75m (expected: none, so it
        lists every one it got with its labels and annotations)."""
        rules = tmp_path / "rules.yaml"
        rules.write_text(json.dumps(rule_file(config)))
        alert = {"eval_time": "75m", "alertname": "AMSJobFailureRateHigh", "exp_alerts": []}
        (tmp_path / "test.yaml").write_text(json.dumps({
            "rule_files": [rules.name], "evaluation_interval": "1m",
            "tests": [{"interval": "1m", "input_series": series,
                       "alert_rule_test": [alert]}]}))
        result = subprocess.run([require_binary("promtool"), "test", "rules",
                                 str(tmp_path / "test.yaml")],
                                capture_output=True, text=True, timeout=120)
        assert result.returncode != 0, "no alert fired"
        return result.stdout + result.stderr

    grouped = fired({"failureRateGroupingLabels": ["tenant"]})
    assert re.findall(r"Labels:\{([^}]*)\}", grouped) == [
        'account="acct", alertname="AMSJobFailureRateHigh", severity="warning", tenant="a"']
    # The description's query reads the tenant's own count of ended jobs (2 a minute).
    assert "In account acct, tenant a, 50% of the jobs" in grouped
    assert "(of 120 jobs)" in grouped
    ungrouped = fired({"correlationLabels": ["tenant"]})
    assert re.findall(r"Labels:\{([^}]*)\}", ungrouped) == [
        'account="acct", alertname="AMSJobFailureRateHigh", severity="warning"']
    assert "In account acct, 25% of the jobs" in ungrouped
    # Without correlationLabels the duplicate removal takes each state's largest tenant
    # (2 finished, 1 failed a minute): the share is off. docs/mixin.md says so.
    assert "In account acct, 33.33% of the jobs" in fired({})


def _panels(board: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {panel["title"]: panel for panel in all_panels(board)}


def test_overview_has_a_by_tenant_table_in_a_collapsed_row():
    overview = dashboards()["ams-jobs-overview.json"]
    rows = [p for p in overview["panels"] if p["type"] == "row" and p["collapsed"]]
    [row] = rows
    assert "metrics.correlation_labels" in row["title"]
    [table] = row["panels"]
    assert table["title"] == "By tenant" and table["type"] == "table"
    exprs = [_one_line(t["expr"]) for t in table["targets"]]
    assert all("by (account, tenant" in expr for expr in exprs), exprs
    assert any("histogram_quantile(0.95," in e and "ams_job_duration_seconds_bucket" in e
               for e in exprs)
    assert any('to_state="Error"' in e and "[$__range]" in e and " / " in e for e in exprs)
    # tenantLabel renames the grouping.
    custom = dashboards({"tenantLabel": "customer"})["ams-jobs-overview.json"]
    table = _panels(custom)["By customer"]
    assert all("by (account, customer" in _one_line(t["expr"]) for t in table["targets"])


def test_dashboard_thresholds_follow_the_alerts():
    """The overview colours the failed share and the oldest waiting job at the alerts'
    thresholds."""
    overview = _panels(dashboards({"failureRatio": 0.2, "queuedTooLongSeconds": 600})[
        "ams-jobs-overview.json"])
    steps = overview["Failed share, last hour"]["fieldConfig"]["defaults"]["thresholds"]
    assert steps["steps"][-1] == {"color": "red", "value": 0.2}
    steps = overview["Oldest waiting job"]["fieldConfig"]["defaults"]["thresholds"]
    assert steps["steps"][-1] == {"color": "orange", "value": 600}
