"""grafana/alerts/ams-jobs.rules.yaml: promtool check + unit tests, the SPEC §6 contract,
thresholds compiled into the rules from the mixin's _config, and the links to the
runbook and dashboards. (The mixin itself: test_mixin.py.)"""

from __future__ import annotations

import re
import subprocess

import pytest
import yaml

from tests.helpers.monitoring import (
    DASHBOARD_DIR,
    METRICS_DOC,
    RULE_TESTS,
    RULES,
    RUNBOOK,
    require_binary,
)
from tests.monitoring.mixin import defaults, rules_with_unit_tests

#: SPEC §6: alert -> severity
SPEC_ALERTS = {
    "AMSJobFailed": "critical",
    "AMSJobStuckProcessing": "warning",
    "AMSJobQueuedTooLong": "warning",
    "AMSJobFailureRateHigh": "warning",
    "AMSExporterRefreshFailing": "warning",
    "AMSExporterDown": "critical",
    "AMSApiThrottled": "warning",
    # Push events (SPEC §5/§11, issue "Push"): deliveries the receiver refuses.
    "AMSEventDeliveriesRejected": "warning",
    # Shards (SPEC §12, issue "Past one replica"): a shard missing leaves its accounts
    # unwatched, as AMSExporterDown does for all of them.
    "AMSExporterShardsMissing": "critical",
    "AMSExporterShardingMismatch": "warning",
}
#: the alerts that count the shards of one installation, by these target labels
SHARD_ALERTS = ("AMSExporterShardsMissing", "AMSExporterShardingMismatch")
INSTALLATION = "namespace, job"
ANNOTATIONS = {"summary", "description", "runbook_url", "dashboard_url"}


def rules() -> list[dict]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    assert [group["name"] for group in groups] == ["ams-jobs"]
    return groups[0]["rules"]


def alerts() -> dict[str, dict]:
    return {rule["alert"]: rule for rule in rules() if "alert" in rule}


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([require_binary("promtool"), *args], capture_output=True,
                          text=True, timeout=120)


@pytest.mark.system
def test_promtool_check_rules_is_clean():
    result = promtool("check", "rules", str(RULES))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert f"SUCCESS: {len(rules())} rules found" in output
    assert "WARNING" not in output.upper()


@pytest.mark.system
def test_promtool_unit_tests_pass():
    """Fires, does not fire, resolves and thresholds, per alert (see the test file)."""
    result = promtool("test", "rules", str(RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_of_the_spec_with_severity_and_annotations():
    found = alerts()
    assert set(found) == set(SPEC_ALERTS)
    for name, rule in found.items():
        assert rule["labels"]["severity"] == SPEC_ALERTS[name], name
        assert set(rule["annotations"]) == ANNOTATIONS, name
    # Per-job alerts name the account and the job; the others name the account (or,
    # for AMSExporterDown, the scrape target).
    for name in ("AMSJobFailed", "AMSJobStuckProcessing", "AMSJobQueuedTooLong"):
        description = found[name]["annotations"]["description"]
        for label in ("account", "job_name", "job_id"):
            assert f"$labels.{label}" in description, (name, label)
    for name in ("AMSJobFailureRateHigh", "AMSExporterRefreshFailing", "AMSApiThrottled"):
        assert "$labels.account" in found[name]["annotations"]["description"], name
    assert "$labels.instance" in found["AMSExporterDown"]["annotations"]["description"]
    # Refused deliveries are not attributed to an account: the alert names the reason.
    assert "$labels.reason" in found["AMSEventDeliveriesRejected"]["annotations"]["description"]
    # Shard alerts name the installation (its scrape job, and namespace when there is one).
    for name in SHARD_ALERTS:
        annotations = found[name]["annotations"]
        assert "$labels.job" in annotations["summary"], name
        assert "$labels.namespace" in annotations["description"], name


def _runbook_anchors() -> set[str]:
    """GitHub-style anchors of the runbook's headings."""
    anchors = set()
    for heading in re.findall(r"^#{1,6} (.+)$", RUNBOOK.read_text(), flags=re.MULTILINE):
        anchor = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        anchors.add(anchor)
    return anchors


def test_runbook_urls_point_at_sections_of_docs_runbook():
    anchors = _runbook_anchors()
    for name, rule in alerts().items():
        url = rule["annotations"]["runbook_url"]
        path, _, anchor = url.partition("#")
        assert path.endswith("/docs/runbook.md"), url
        assert anchor == name.lower() and anchor in anchors, (name, url)
    text = RUNBOOK.read_text()
    for name in alerts():
        section = text.split(f"## {name}\n", 1)[1].split("\n## ", 1)[0]
        for part in ("What it means", "How to check", "What to do"):
            assert f"**{part}**" in section, (name, part)


def test_dashboard_urls_point_at_shipped_dashboards_and_their_variables():
    import json
    dashboards = {}
    for path in DASHBOARD_DIR.glob("*.json"):
        board = json.loads(path.read_text())
        dashboards[board["uid"]] = {v["name"] for v in board["templating"]["list"]}
    for name, rule in alerts().items():
        url = rule["annotations"]["dashboard_url"]
        match = re.match(r"https?://[^/]+/d/([\w-]+)/[\w-]+(?:\?(.*))?$", url)
        assert match, (name, url)
        uid, query = match.groups()
        assert uid in dashboards, (name, uid)
        for variable in re.findall(r"var-(\w+)=", query or ""):
            assert variable in dashboards[uid], (name, variable)


def test_the_spec_thresholds_and_their_defaults():
    config = defaults()
    assert config["stuckProcessingSeconds"] == 7200
    assert config["queuedTooLongSeconds"] == 1800
    assert config["failureRatio"] == 0.1
    assert config["failureRateMinJobs"] == 10
    assert config["failedKeepFiringFor"] == "30m"
    assert config["exporterJob"] == "ams-job-exporter"
    assert config["amsExporterSelector"] == 'job="ams-job-exporter"'


@pytest.mark.system
def test_compiled_thresholds_load_and_change_what_fires(tmp_path):
    """A rule file compiled with another threshold is valid and behaves differently: the
    unit tests' 7260 s job is no longer 'stuck' at 7300 s, and AMSExporterDown looks
    for another scrape job than the unit tests' series have."""
    rules, tests = rules_with_unit_tests(tmp_path, {"stuckProcessingSeconds": 7300,
                                                    "exporterJob": "my-exporter"})
    rendered = rules.read_text()
    assert "\n            > 7300\n" in rendered
    assert rendered.count('up{job="my-exporter"}') == 2
    assert promtool("check", "rules", str(rules)).returncode == 0
    result = promtool("test", "rules", str(tests))
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "AMSJobStuckProcessing" in output
    assert "AMSExporterDown" in output  # the unit tests use the default job label


@pytest.mark.system
def test_rejected_deliveries_threshold_changes_what_fires(tmp_path):
    """With eventsRejectedPer10m at 1, the unit tests' quiet subscription (one rejected
    delivery per window) no longer fires, and promtool says which alert changed."""
    rules, tests = rules_with_unit_tests(tmp_path, {"eventsRejectedPer10m": 1})
    assert ") > 1\n" in rules.read_text()
    result = promtool("test", "rules", str(tests))
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "AMSEventDeliveriesRejected on a quiet subscription" in output
    assert "AMSJobStuckProcessing" not in output


def _documented_reasons(metric: str) -> set[str]:
    """The `reason` values docs/metrics.md gives for a metric (the backquoted
    identifiers in the meaning column of its table row)."""
    row = next(line for line in METRICS_DOC.read_text().splitlines()
               if line.startswith(f"| `{metric}` |"))
    meaning = row.split("|")[4]
    return set(re.findall(r"`([a-z_]+)`", meaning))


def test_rejected_deliveries_alert_covers_the_reasons_that_lose_events():
    """Every documented rejection reason but `unknown_account` (an event of an account
    the exporter does not watch: dropped by design, nothing to fix) and `unconfirmed`
    (a job the API does not have: deleted, or forged; nothing exported) is alerted on,
    summed over replicas (a delivery reaches one of them) and per reason."""
    rule = alerts()["AMSEventDeliveriesRejected"]
    expr = re.sub(r"#.*", "", rule["expr"])
    assert re.match(r"\s*sum by \(reason\) \(\s*increase\(ams_events_rejected_total\{", expr)
    alerted = set(re.search(r'reason=~"([^"]+)"', expr).group(1).split("|"))
    documented = _documented_reasons("ams_events_rejected_total")
    assert documented == alerted | {"unknown_account", "unconfirmed"}
    assert not alerted & {"unknown_account", "unconfirmed"}
    config = defaults()
    assert (config["eventsRejectedPer10m"], config["eventsRejectedFor"]) == (0, "15m")
    assert rule["for"] == config["eventsRejectedFor"]
    # The `for` is longer than the window: one stray rejection cannot fire it.
    assert "[10m]" in expr


def test_amsjobfailed_pages_at_once_and_rides_out_restarts():
    rule = alerts()["AMSJobFailed"]
    assert "for" not in rule  # no delay: a failed job pages on the next evaluation
    assert rule["keep_firing_for"] == defaults()["failedKeepFiringFor"]
    # Keyed on the job, not on the scrape target.
    assert re.search(r"max by \(account, transform, job_id, job_name\)", rule["expr"])


def test_rules_ignore_the_exporters_job_and_instance_labels():
    """Prometheus owns `job` and `instance`; only AMSExporterDown looks at its target,
    and the shard alerts group the shards of one installation by `namespace, job`
    (never by `instance`, which changes with every restarted pod)."""
    for rule in rules():
        name = rule.get("alert") or rule["record"]
        expr = re.sub(r"#.*", "", rule["expr"])
        if name == "AMSExporterDown":
            assert re.findall(r"\bup\{job=\"[^\"]+\"\}", expr)
            continue
        if name in SHARD_ALERTS:
            expr = expr.replace(f"by ({INSTALLATION})", "")
        assert not re.search(r"\b(job|instance)\b", expr), name


def _without_comments(expr: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"#.*", "", expr)).strip()


def test_shard_alerts_count_distinct_shards_per_installation():
    """Both sides of every comparison aggregate to the same labels (one installation:
    namespace and job), so they match one to one; shards are counted by distinct
    value, so a duplicate ordinal cannot stand in for a missing one."""
    found = alerts()
    missing = _without_comments(found["AMSExporterShardsMissing"]["expr"])
    assert missing == (
        f"count by ({INSTALLATION}) ( count_values by ({INSTALLATION}) "
        f'("ordinal", ams_exporter_shard_ordinal) ) '
        f"< max by ({INSTALLATION}) (ams_exporter_total_shards)")
    mismatch = _without_comments(found["AMSExporterShardingMismatch"]["expr"])
    assert mismatch == (
        f"count by ({INSTALLATION}) ( count_values by ({INSTALLATION}) "
        f'("total", ams_exporter_total_shards) ) > 1')
    config = defaults()
    assert found["AMSExporterShardsMissing"]["for"] == config["shardsMissingFor"] == "10m"
    assert found["AMSExporterShardingMismatch"]["for"] == config[
        "shardingMismatchFor"] == "15m"


@pytest.mark.system
def test_shard_alert_durations_change_what_fires(tmp_path):
    """A longer shardsMissingFor keeps the unit tests' down shard pending at 13m, and
    the shorter shardingMismatchFor makes the resharding rollout fire: both are read
    compiled from the mixin's _config."""
    rules, tests = rules_with_unit_tests(tmp_path, {"shardsMissingFor": "20m",
                                                    "shardingMismatchFor": "5m"})
    rendered = rules.read_text()
    assert "for: 20m\n" in rendered and "for: 5m\n" in rendered
    result = promtool("test", "rules", str(tests))
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "AMSExporterShardsMissing when a shard stays down for 10 minutes" in output
    assert "A resharding rollout raises neither shard alert" in output
    assert "AMSJobStuckProcessing" not in output


def test_metrics_used_by_the_rules_are_documented():
    documented = set(re.findall(r"^\| `(ams_[a-z_]+)`", METRICS_DOC.read_text(),
                                flags=re.MULTILINE))
    recorded = {rule["record"] for rule in rules() if "record" in rule}
    used = set()
    for rule in rules():
        expr = re.sub(r"#.*", "", rule["expr"])
        used |= set(re.findall(r"\b(ams_[a-z_]+)\b", expr))
    used -= {name.split(":")[1] for name in recorded}
    assert used and used <= documented, used - documented
