"""The shipped rule file and dashboards against the real thing.

One stack per module: the AMS simulator (real clock) -> the exporter (its own process,
as deployed) -> Debian's prometheus (scrapes every 1 s, evaluates the shipped rule
file every 1 s) -> Debian's prometheus-alertmanager -> a webhook receiver in this test.

Scenario: four jobs in one v2 account. "failing" goes from Processing to Error once
Prometheus has seen it processing, "healthy" finishes at the same moment, "long"
keeps processing and "waiting" stays queued. The exporter keeps final jobs for
25 s (retention), so the failed job leaves the exposition 25 s after it failed.
In the meantime the exporter process is stopped and started again.

Every dashboard query must return data from this Prometheus, except the "Push
events" row's while it has no push-event series: the exporter exports them only
with events.enabled, and this stack's v2 account cannot receive events
(test_dashboards.py runs those queries on series shaped like the receiver's).

The only change to the shipped rule file is a shorter keep_firing_for for
AMSJobFailed (8 s instead of 30 m, compiled from the mixin with that _config): with
the real value the resolved notification would come 30 minutes later.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml

from exporter.jobs.states import JobState
from exporter.simulator import SimJob, Simulator, SystemClock
from tests.helpers import ROOT, free_port
from tests.helpers.monitoring import (
    RULES,
    RUNBOOK,
    Notification,
    PrometheusAPI,
    Service,
    WebhookReceiver,
    all_panels,
    label_values_query,
    load_dashboard,
    require_binary,
    substitute,
    wait_for,
)
from tests.monitoring.mixin import defaults, rule_file_text

#: runs prometheus, prometheus-alertmanager and amtool
pytestmark = pytest.mark.system

ACCOUNT = "acct"
RETENTION_SECONDS = 25
KEEP_FIRING_FOR = "8s"
#: the scrape job name the rule file assumes for the exporter (AMSExporterDown)
EXPORTER_JOB = defaults()["exporterJob"]


def uid(n: int) -> str:
    return f"nb:jid:UUID:{n:08x}-0000-4000-8000-0000000e2e00"


FAILING = uid(1)
HEALTHY = uid(2)
LONG = uid(3)
WAITING = uid(4)

EXPORTER_CONFIG = """
refresh: {{min_interval: 0s, timeout: 5s}}
retention: {{finished: {retention}s, failed: {retention}s}}
accounts:
  - name: {account}
    api: v2
    endpoint: {endpoint}
    auth: {{method: none}}
    progress: true
    max_requests_per_second: 100
"""

# The routing docs/runbook.md recommends, with group_wait/group_interval shortened.
ALERTMANAGER_CONFIG = """
route:
  receiver: webhook
  group_by: [alertname, account]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 4h
  routes:
    - matchers: ['alertname="AMSJobFailed"']
      receiver: webhook
      group_by: [alertname, account, transform, job_id]
      group_wait: 1s
      group_interval: 1s
      repeat_interval: 48h
receivers:
  - name: webhook
    webhook_configs:
      - url: {url}
        send_resolved: true
"""

PROMETHEUS_CONFIG = """
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files: ["{rules}"]
alerting:
  alertmanagers:
    - static_configs:
        - targets: ["127.0.0.1:{alertmanager_port}"]
scrape_configs:
  - job_name: {job}
    static_configs:
      - targets: ["127.0.0.1:{exporter_port}"]
"""


@dataclass
class Stack:
    prometheus: PrometheusAPI
    webhook: WebhookReceiver
    exporter_url: str
    tmp: Path
    #: wall time at which the failing job turned to Error (its EndTime)
    failed_at: float = 0.0
    #: a Prometheus evaluation time at which the failed job was in Error there
    seen_at: float = 0.0
    services: dict[str, Service] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    def start_exporter(self) -> None:
        port = self.exporter_url.rsplit(":", 1)[1]
        exporter = Service("exporter", [
            sys.executable, "-m", "exporter", "--config.file", str(self.tmp / "exporter.yaml"),
            "--web.listen-address", f"127.0.0.1:{port}", "--log.level", "debug",
        ], self.tmp / f"exporter-{len(self.timings)}.log", cwd=ROOT)  # this tree's code
        self.services["exporter"] = exporter
        exporter.wait_ready(f"{self.exporter_url}/readyz")

    def stop_exporter(self) -> None:
        self.services.pop("exporter").stop()

    def mark(self, name: str) -> None:
        self.timings[name] = time.time()


def _jobs(now: float) -> list[SimJob]:
    return [
        SimJob(FAILING, "e2e failing job", now - 40, error_code="EncoderCrashed",
               expected_processing=600,
               events=[(now - 35, JobState.Scheduled), (now - 30, JobState.Processing)]),
        SimJob(HEALTHY, "e2e healthy job", now - 40,
               events=[(now - 35, JobState.Scheduled), (now - 30, JobState.Processing)],
               expected_processing=60),
        SimJob(LONG, "e2e long job", now - 120, expected_processing=3600,
               events=[(now - 110, JobState.Processing), (now + 3600, JobState.Finished)]),
        SimJob(WAITING, "e2e waiting job", now - 5),
    ]


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    prometheus_bin = require_binary("prometheus")
    alertmanager_bin = require_binary("prometheus-alertmanager")
    tmp = tmp_path_factory.mktemp("monitoring")
    started = time.time()
    with ExitStack() as cleanup:
        webhook = WebhookReceiver().start()
        cleanup.callback(webhook.stop)
        simulator = Simulator(clock=SystemClock(), seed=5, require_auth=False)
        simulator.add_v2_account(ACCOUNT)
        for job in _jobs(time.time()):
            simulator.add_job(ACCOUNT, job)
        simulator.start(host="127.0.0.1", port=0)
        cleanup.callback(simulator.stop)

        exporter_port, prometheus_port, alertmanager_port = (free_port(), free_port(),
                                                             free_port())
        (tmp / "exporter.yaml").write_text(EXPORTER_CONFIG.format(
            retention=RETENTION_SECONDS, account=ACCOUNT,
            endpoint=simulator.v2_endpoint(ACCOUNT)))
        rules = tmp / "ams-jobs.rules.yaml"
        rules.write_text(rule_file_text({"failedKeepFiringFor": KEEP_FIRING_FOR}))
        (tmp / "alertmanager.yml").write_text(ALERTMANAGER_CONFIG.format(url=webhook.url))
        (tmp / "prometheus.yml").write_text(PROMETHEUS_CONFIG.format(
            rules=rules, alertmanager_port=alertmanager_port, job=EXPORTER_JOB,
            exporter_port=exporter_port))

        stack = Stack(PrometheusAPI(f"http://127.0.0.1:{prometheus_port}"), webhook,
                      f"http://127.0.0.1:{exporter_port}", tmp)

        @cleanup.callback
        def stop_services() -> None:
            for service in reversed(list(stack.services.values())):
                service.stop()
            print(f"monitoring stack up for {time.time() - started:.1f}s; logs in {tmp}")

        stack.start_exporter()
        alertmanager = Service("alertmanager", [
            alertmanager_bin, f"--config.file={tmp / 'alertmanager.yml'}",
            f"--storage.path={tmp / 'alertmanager-data'}",
            f"--web.listen-address=127.0.0.1:{alertmanager_port}",
            "--cluster.listen-address=",
        ], tmp / "alertmanager.log")
        stack.services["alertmanager"] = alertmanager
        prometheus = Service("prometheus", [
            prometheus_bin, f"--config.file={tmp / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp / 'prometheus-data'}",
            f"--web.listen-address=127.0.0.1:{prometheus_port}",
        ], tmp / "prometheus.log")
        stack.services["prometheus"] = prometheus
        alertmanager.wait_ready(f"http://127.0.0.1:{alertmanager_port}/-/ready")
        prometheus.wait_ready(f"http://127.0.0.1:{prometheus_port}/-/ready")
        stack.mark("ready")

        api = stack.prometheus
        wait_for(lambda: api.query(
            f'ams_job_state{{job_id="{FAILING}", state="Processing"}} == 1'
            f' and on () ams_job_progress_ratio{{job_id="{LONG}"}}'), 30,
            what="Prometheus to scrape the processing jobs")
        stack.failed_at = time.time()
        simulator.script_state(ACCOUNT, FAILING, JobState.Error, at=stack.failed_at)
        simulator.script_state(ACCOUNT, HEALTHY, JobState.Finished, at=stack.failed_at)

        def failure_visible() -> float | None:
            at = time.time()
            checks = [f'ams_job_state{{job_id="{FAILING}", state="Error"}} == 1',
                      f'ams_job_state{{job_id="{HEALTHY}", state="Finished"}} == 1',
                      f'ams_job_error_info{{job_id="{FAILING}"}}',
                      "account:ams_job_failure_ratio:1h"]
            return at if all(api.query(expr, at) for expr in checks) else None
        stack.seen_at = wait_for(failure_visible, 30, what="the failure in Prometheus")
        stack.mark("failure_seen")
        yield stack


def _last_evaluation(api: PrometheusAPI) -> float:
    """When Prometheus last evaluated the ams-jobs group (Unix time)."""
    stamp = api.rule_groups()[0]["lastEvaluation"]  # RFC 3339, up to nanoseconds
    whole, _, fraction = stamp.rstrip("Z").partition(".")
    seconds = datetime.fromisoformat(whole).replace(tzinfo=timezone.utc).timestamp()
    return seconds + float(f"0.{fraction or 0}")


def _about(notification: Notification, job_id: str) -> bool:
    return any(alert["labels"].get("job_id") == job_id for alert in notification.alerts)


def _failed_alert_notifications(stack: Stack) -> list[Notification]:
    return [n for n in stack.webhook.received() if _about(n, FAILING)]


def test_rule_file_loads_in_prometheus_and_every_rule_evaluates(stack):
    groups = stack.prometheus.rule_groups()
    assert [group["name"] for group in groups] == ["ams-jobs"]
    rules = groups[0]["rules"]
    assert len(rules) == len(yaml.safe_load(RULES.read_text())["groups"][0]["rules"])
    for rule in rules:
        assert rule["health"] == "ok", (rule["name"], rule.get("lastError"))
    failed = next(rule for rule in rules if rule.get("name") == "AMSJobFailed")
    assert failed["keepFiringFor"] == 8  # the test copy's substituted value (seconds)
    # The file Prometheus loaded is the shipped one but for that single line.
    shipped = RULES.read_text().splitlines()
    loaded = (stack.tmp / "ams-jobs.rules.yaml").read_text().splitlines()
    changed = [(a, b) for a, b in zip(shipped, loaded, strict=True) if a != b]
    assert changed == [("        keep_firing_for: 30m", "        keep_firing_for: 8s")]


def test_failed_job_pages_once_survives_an_exporter_restart_and_resolves(stack):
    """Exactly one firing and one resolved notification for the failed job, none for
    the healthy one, and no second page when the exporter restarts in between."""
    api = stack.prometheus
    firing = wait_for(lambda: [n for n in _failed_alert_notifications(stack)
                               if n.status == "firing"], 30,
                      what="the AMSJobFailed notification")
    stack.mark("paged")
    alert = firing[0].alerts[0]
    assert alert["labels"] == {"alertname": "AMSJobFailed", "severity": "critical",
                               "account": ACCOUNT, "job_id": FAILING,
                               "job_name": "e2e failing job"}
    annotations = alert["annotations"]
    assert ACCOUNT in annotations["description"]
    assert FAILING in annotations["description"]
    assert "EncoderCrashed" in annotations["description"]
    assert annotations["runbook_url"].endswith("docs/runbook.md#amsjobfailed")
    assert f"var-job={FAILING}".replace(":", "%3A") in annotations["dashboard_url"]
    active_since = next(a["activeAt"] for a in api.alerts()
                        if a["labels"]["alertname"] == "AMSJobFailed")

    # The exporter restarts while the job is still exported in Error: Prometheus sees
    # the target down (its series go stale), then the same job again.
    stack.stop_exporter()
    wait_for(lambda: api.query(f'up{{job="{EXPORTER_JOB}"}} == 0'), 15,
             what="Prometheus to see the exporter down")
    stack.mark("exporter_down")
    assert not api.query(f'ams_job_state{{job_id="{FAILING}"}}'), "series not stale"
    # Let the rules run at least twice on the gap: the alert keeps firing.
    wait_for(lambda: _last_evaluation(api) > stack.timings["exporter_down"] + 2, 10,
             what="two rule evaluations during the gap")
    during = [a for a in api.alerts() if a["labels"]["alertname"] == "AMSJobFailed"]
    assert [a["state"] for a in during] == ["firing"]
    stack.start_exporter()
    wait_for(lambda: api.query(f'ams_job_state{{job_id="{FAILING}", state="Error"}} == 1'),
             15, what="the restarted exporter's series")
    stack.mark("exporter_back")
    assert time.time() < stack.failed_at + RETENTION_SECONDS, \
        "the restart took too long to prove anything"
    same = [a for a in api.alerts() if a["labels"]["alertname"] == "AMSJobFailed"]
    assert [a["activeAt"] for a in same] == [active_since], "the alert re-fired"

    resolved = wait_for(lambda: [n for n in _failed_alert_notifications(stack)
                                 if n.status == "resolved"],
                        RETENTION_SECONDS + 30, what="the resolved notification")
    stack.mark("resolved")
    assert resolved[0].alerts[0]["status"] == "resolved"
    # The job left the exposition after its retention; the alert then ended on its own.
    assert resolved[0].received >= stack.failed_at + RETENTION_SECONDS
    assert not api.query(f'ams_job_state{{job_id="{FAILING}"}}')

    # Nothing else arrives: Alertmanager flushes every second, so give it three.
    count = len(stack.webhook.received())
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and len(stack.webhook.received()) == count:
        time.sleep(0.1)
    received = stack.webhook.received()
    assert [n.status for n in received if _about(n, FAILING)] == ["firing", "resolved"]
    assert not [n for n in received if _about(n, HEALTHY)]
    assert [n.payload["groupLabels"] for n in received] == [
        {"alertname": "AMSJobFailed", "account": ACCOUNT, "job_id": FAILING}] * 2, \
        "an alert other than AMSJobFailed for the failed job was notified"

    t = stack.timings
    print(f"failed -> paged {t['paged'] - stack.failed_at:.1f}s, exporter down "
          f"{t['exporter_back'] - t['exporter_down']:.1f}s, failed -> resolved "
          f"{t['resolved'] - stack.failed_at:.1f}s")


# ------------------------------------------------------------------ dashboard queries

def _values(job: str) -> dict[str, str]:
    """Template variables as Grafana would substitute them for this stack."""
    return {
        "datasource": "prometheus",
        "account": ACCOUNT,
        "transform": ".*",  # All (v2 accounts have no transform)
        "job_name": ".*",
        "job": job,
        "__rate_interval": "1m",
        "__interval": "15s",
        "__range": "1h",
        "__range_s": "3600",
    }


def _panel_results(stack: Stack, dashboard: dict, job: str) -> dict[tuple, int]:
    """(panel title, refId) -> number of series, for every query of the dashboard."""
    results = {}
    for panel in all_panels(dashboard):
        for target in panel.get("targets", []):
            expr = substitute(target["expr"], _values(job))
            try:
                series = stack.prometheus.query(expr, at=stack.seen_at)
            except AssertionError as error:
                raise AssertionError(f"panel {panel['title']!r} query "
                                     f"{target['refId']} failed: {error}") from None
            results[(panel["title"], target["refId"])] = len(series)
    return results


#: The push receiver's families (docs/metrics.md, "Push events"). The exporter
#: exports them only with events.enabled, and this stack's v2 account cannot receive
#: events, so Prometheus has none of them here.
PUSH_EVENT_METRICS = {"ams_events_received_total", "ams_events_rejected_total",
                      "ams_event_delay_seconds"}


def _absent_push_event_queries(stack: Stack, dashboard: dict) -> set[tuple]:
    """(panel title, refId) of the queries that only use push-event metrics of which
    Prometheus has no series at all: absent by design, not broken. Their data is
    checked in test_dashboards.py (promtool, series shaped like the receiver's)."""
    absent = set()
    for panel in all_panels(dashboard):
        for target in panel.get("targets", []):
            metrics = {re.sub(r"_(bucket|sum|count)$", "", m)
                       for m in re.findall(r"\b(ams_\w+)", target["expr"])}
            if not metrics or not metrics <= PUSH_EVENT_METRICS:
                continue
            present = stack.prometheus.query(
                " or ".join(f"count({{__name__=~\"{m}(_bucket)?\"}})" for m in metrics),
                at=stack.seen_at)
            if not present:
                absent.add((panel["title"], target["refId"]))
    return absent


def test_every_overview_panel_query_returns_data(stack):
    """Every query runs without error; every one returns data, but the push-event
    queries while Prometheus has no push-event series (as soon as it has some, they
    must return data too)."""
    dashboard = load_dashboard("ams-jobs-overview.json")
    results = _panel_results(stack, dashboard, job=FAILING)
    assert len(results) >= 15
    absent = _absent_push_event_queries(stack, dashboard)
    empty = [key for key, count in results.items() if count == 0 and key not in absent]
    assert not empty, f"panel queries without data: {empty}"
    assert len(results) - len(absent) >= 15


def test_every_job_detail_panel_query_returns_data(stack):
    """Run for the failed job and for the processing one: some panels only have data
    for one kind (an end time for the failed job, none while processing)."""
    dashboard = load_dashboard("ams-job-detail.json")
    failed = _panel_results(stack, dashboard, job=FAILING)
    processing = _panel_results(stack, dashboard, job=LONG)
    empty = [key for key in failed if failed[key] == 0 and processing[key] == 0]
    assert not empty, f"panel queries without data for either job: {empty}"
    # A job is one job: no query of the detail dashboard returns several series.
    assert max(failed.values()) == 1 and max(processing.values()) == 1
    # The failed job's panels have everything but nothing wrong.
    assert [key for key, count in failed.items() if count == 0] == []


@pytest.mark.parametrize("name", ["ams-jobs-overview.json", "ams-job-detail.json"])
def test_template_variable_queries_find_the_account_and_job(stack, name):
    dashboard = load_dashboard(name)
    found = {}
    for variable in dashboard["templating"]["list"]:
        if variable["type"] != "query":
            continue
        selector, label = label_values_query(variable["query"])
        assert selector, f"{variable['name']}: label_values() without a metric"
        series = stack.prometheus.series(substitute(selector, _values(FAILING)),
                                         stack.seen_at - 60, stack.seen_at)
        found[variable["name"]] = {s[label] for s in series if label in s}
    assert ACCOUNT in found["account"]
    assert found["transform"] == set()  # v2: no transform label; "All" matches it
    if "job" in found:
        assert {FAILING, HEALTHY, LONG, WAITING} <= found["job"]


def _runbook_route() -> str:
    """The Alertmanager configuration that docs/runbook.md recommends."""
    section = RUNBOOK.read_text().split("## Alertmanager routing", 1)[1]
    return section.split("```yaml\n", 1)[1].split("```", 1)[0]


def test_the_runbooks_alertmanager_route_is_valid_and_is_the_one_tested(tmp_path):
    """The e2e Alertmanager runs the recommended route, only with faster timings."""
    amtool = require_binary("amtool")
    (tmp_path / "recommended.yml").write_text(_runbook_route())
    result = subprocess.run([amtool, "check-config", str(tmp_path / "recommended.yml")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    recommended = yaml.safe_load(_runbook_route())["route"]
    tested = yaml.safe_load(ALERTMANAGER_CONFIG.format(url="http://127.0.0.1/"))["route"]
    assert tested["group_by"] == recommended["group_by"]
    [recommended_failed] = recommended["routes"]
    [tested_failed] = tested["routes"]
    for key in ("matchers", "group_by", "repeat_interval"):
        assert tested_failed[key] == recommended_failed[key], key
