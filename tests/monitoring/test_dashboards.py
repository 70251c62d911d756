"""grafana/dashboards/*.json and grafana/provisioning/: structure Grafana needs to load
them as-is, the SPEC §7 contract, units, colours, links and docs. (That every panel
query returns data is tested against a real Prometheus in test_monitoring_e2e.py.)"""

from __future__ import annotations

import itertools
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from exporter.jobs.states import JobState
from tests.helpers.monitoring import (
    DASHBOARD_DIR,
    DASHBOARDS_DOC,
    METRICS_DOC,
    PROVISIONING_DIR,
    RULES,
    all_panels,
    dashboard_files,
    label_values_query,
    require_binary,
    substitute,
    targets,
    variables_used,
)

DS = {"type": "prometheus", "uid": "${datasource}"}
EXPECTED = {"ams-jobs-overview.json": "ams-jobs-overview",
            "ams-job-detail.json": "ams-job-detail"}
#: variables Grafana defines itself
BUILTIN_VARIABLES = {"__rate_interval", "__interval", "__interval_ms", "__range",
                     "__range_s", "__range_ms", "__dashboard", "__from", "__to"}


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


@pytest.fixture(params=sorted(EXPECTED), ids=lambda name: name.removesuffix(".json"))
def board(request) -> dict[str, Any]:
    return load(DASHBOARD_DIR / request.param)


def variables(board: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in board["templating"]["list"]}


def test_the_spec_dashboards_and_nothing_else():
    assert {path.name for path in dashboard_files()} == set(EXPECTED)
    for name, uid in EXPECTED.items():
        assert load(DASHBOARD_DIR / name)["uid"] == uid
    titles = [load(path)["title"] for path in dashboard_files()]
    assert len(set(titles)) == len(titles)


def test_loads_as_is_without_import_placeholders(board):
    raw = json.dumps(board)
    assert "__inputs" not in board and "__requires" not in board
    assert "${DS_" not in raw
    assert board["id"] is None  # provisioning assigns ids
    assert board["schemaVersion"] >= 36
    assert "ams" in board["tags"]
    assert board["editable"] is True
    assert board["time"]["from"].startswith("now-")


def test_panel_ids_unique_and_layout_inside_24_columns(board):
    panels = list(all_panels(board))
    titles = [panel["title"] for panel in panels]
    assert len(titles) == len(set(titles)), "panel titles repeat"
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids)) and all(isinstance(i, int) for i in ids)
    boxes = []
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["y"] >= 0 and grid["w"] >= 1 and grid["h"] >= 1
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        boxes.append((panel["title"], grid))
    for (title_a, a), (title_b, b) in itertools.combinations(boxes, 2):
        overlap = (a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"]
                   and a["y"] < b["y"] + b["h"] and b["y"] < a["y"] + a["h"])
        assert not overlap, f"{title_a!r} overlaps {title_b!r}"


def _datasources(node: Any) -> list[Any]:
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "datasource":
                found.append(value)
            found.extend(_datasources(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_datasources(item))
    return found


def test_every_panel_and_query_uses_the_datasource_variable(board):
    for panel in all_panels(board):
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == DS, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == DS, panel["title"]
            assert target["expr"].strip()
    for variable in board["templating"]["list"]:
        if variable["type"] in ("query", "adhoc"):
            assert variable["datasource"] == DS, variable["name"]
    builtin_annotations = {"type": "grafana", "uid": "-- Grafana --"}
    for value in _datasources(board):
        assert value in (DS, builtin_annotations), value


def test_template_variables(board):
    found = variables(board)
    detail = board["uid"] == "ams-job-detail"
    expected = ["datasource", "account", "transform", "job_name"] + (["job"] if detail else [])
    assert list(found) == expected + ["filters"]
    # Ad hoc filters (correlation labels, issue 21): on the dashboards' data source.
    assert found["filters"]["type"] == "adhoc"
    assert found["filters"]["datasource"] == DS
    datasource = found["datasource"]
    assert (datasource["type"], datasource["query"]) == ("datasource", "prometheus")
    account = found["account"]
    assert account["type"] == "query"
    assert label_values_query(account["query"]) == ("ams_up", "account")
    assert account["multi"] and account["includeAll"] and account["allValue"] == ".*"
    transform = found["transform"]
    assert label_values_query(transform["query"])[1] == "transform"
    assert transform["includeAll"] and transform["allValue"] == ".*"  # v2: no label
    assert found["job_name"]["type"] == "textbox"
    assert found["job_name"]["query"] == ".*"
    if detail:
        job = found["job"]
        assert label_values_query(job["query"])[1] == "job_id"
        assert not job["multi"] and not job["includeAll"]
        for name in ("account", "transform", "job_name"):
            assert f"${name}" in job["query"]


def test_queries_use_only_defined_variables_and_never_job_or_instance(board):
    defined = set(variables(board)) | BUILTIN_VARIABLES
    queries = [target["expr"] for _, target in targets(board)]
    queries += [v["query"] for v in board["templating"]["list"] if v["type"] == "query"]
    for expr in queries:
        assert variables_used(expr) <= defined, expr
        without_variables = re.sub(r"\$\{?\w+\}?", "VAR", expr)
        assert not re.search(r"\b(job|instance)\b", without_variables), expr


def documented_labels() -> dict[str, str]:
    """metric -> the labels column of its row in docs/metrics.md."""
    rows = re.findall(r"^\| `(ams_[a-z_]+)` \| [^|]+ \| ([^|]+) \|", METRICS_DOC.read_text(),
                      flags=re.MULTILINE)
    return dict(rows)


def test_queries_filter_on_the_selected_accounts(board):
    """Every selector of a metric that has an `account` label filters on the variable;
    the ones without it (ams_exporter_build_info, ams_events_rejected_total: a refused
    delivery is not attributed to an account) cannot."""
    labels = documented_labels()
    without_account = {name for name, column in labels.items()
                       if "per-job" not in column and "`account`" not in column}
    assert {"ams_exporter_build_info", "ams_events_rejected_total"} <= without_account
    for panel, target in targets(board):
        expr = target["expr"]
        for metric, selector in re.findall(r"\b(ams_\w+)\{([^}]*)\}", expr):
            if re.sub(r"_(bucket|sum|count)$", "", metric) in without_account:
                continue
            assert 'account=~"$account"' in selector, (panel["title"], expr)
        for metric in re.findall(r"\b(ams_\w+)\b(?!\{)", expr):
            name = re.sub(r"_(bucket|sum|count)$", "", metric)
            assert name in without_account, (panel["title"], f"{metric} without a selector")


def test_metrics_in_queries_are_documented(board):
    documented = set(re.findall(r"^\| `(ams_[a-z_]+)`", METRICS_DOC.read_text(),
                                flags=re.MULTILINE))
    for panel, target in targets(board):
        for metric in re.findall(r"\b(ams_[a-z_]+)", target["expr"]):
            name = re.sub(r"_(bucket|sum|count)$", "", metric)
            assert name in documented, (panel["title"], metric)


def _state_mapping_ok(mappings: list[dict[str, Any]]) -> bool:
    options = {}
    for mapping in mappings:
        if mapping["type"] == "value":
            options.update(mapping["options"])
    names = {code: option["text"] for code, option in options.items()}
    colors = [option.get("color") for option in options.values()]
    return (names == {str(state.value): state.name for state in JobState}
            and all(colors) and len(set(colors)) == len(colors))


def test_job_states_use_state_timelines_with_a_mapping_and_colour_per_state(board):
    timelines = [p for p in all_panels(board) if p["type"] == "state-timeline"]
    assert timelines
    for panel in timelines:
        assert "ams_job_state_code" in panel["targets"][0]["expr"]
        assert _state_mapping_ok(panel["fieldConfig"]["defaults"]["mappings"]), panel["title"]
    # Wherever else a state code is shown, it is mapped the same way.
    for panel, target in targets(board):
        if "ams_job_state_code" not in target["expr"] or panel["type"] == "state-timeline":
            continue
        mappings = list(panel["fieldConfig"]["defaults"].get("mappings", []))
        for override in panel["fieldConfig"]["overrides"]:
            for prop in override["properties"]:
                if prop["id"] == "mappings":
                    mappings += prop["value"]
        assert _state_mapping_ok(mappings), panel["title"]


def _unit_of(panel: dict[str, Any], ref: str) -> str | None:
    """The unit the values of one query are shown with (table columns: overrides)."""
    renames = {}
    for transformation in panel.get("transformations", []):
        if transformation["id"] == "organize":
            renames = transformation["options"].get("renameByName", {})
    columns = {f"Value #{ref}", "Value"}
    columns |= {renames[c] for c in columns if c in renames}
    for override in panel["fieldConfig"]["overrides"]:
        if override["matcher"]["options"] in columns:
            for prop in override["properties"]:
                if prop["id"] == "unit":
                    return prop["value"]
    return panel["fieldConfig"]["defaults"].get("unit")


def test_units(board):
    for panel, target in targets(board):
        expr, title = target["expr"], panel["title"]
        unit = _unit_of(panel, target["refId"])
        if panel["type"] in ("stat", "timeseries"):
            assert unit, title
        if "ams_job_progress_ratio" in expr or "to_state=\"Error\"" in expr and "/" in expr:
            assert unit == "percentunit", title
        elif "_timestamp_seconds" in expr and "* 1000" in expr:
            assert unit == "dateTimeAsIso", title
        elif re.search(r"_seconds(_bucket)?\{", expr):
            assert unit == "s", title


def test_dashboards_link_to_each_other(board):
    links = board["links"]
    assert any(link["type"] == "dashboards" and "ams" in link["tags"]
               and link["includeVars"] and link["keepTime"] for link in links)


def test_overview_tables_link_rows_to_the_job_detail_dashboard():
    overview = load(DASHBOARD_DIR / "ams-jobs-overview.json")
    detail = load(DASHBOARD_DIR / "ams-job-detail.json")
    detail_variables = set(variables(detail))
    linked = []
    for panel in all_panels(overview):
        for override in panel.get("fieldConfig", {}).get("overrides", []):
            for prop in override["properties"]:
                if prop["id"] != "links":
                    continue
                for link in prop["value"]:
                    url = link["url"]
                    assert url.startswith("/d/ams-job-detail/"), url
                    used = set(re.findall(r"var-(\w+)=", url))
                    assert {"account", "transform", "job"} <= used <= detail_variables
                    assert "${__data.fields.job_id}" in url
                    linked.append(panel["title"])
    assert {"Failed jobs", "Active jobs"} <= set(linked)


def test_docs_describe_every_panel_and_alert():
    doc = DASHBOARDS_DOC.read_text()
    for path in dashboard_files():
        board = load(path)
        section = doc.split(f"`{board['uid']}`", 1)[1]
        for panel in all_panels(board):
            if panel["type"] != "row":
                assert f"**{panel['title']}**" in section, (board["uid"], panel["title"])
            assert panel.get("description") or panel["type"] == "row", panel["title"]
    for alert in re.findall(r"^\s*- alert: (\w+)", RULES.read_text(), flags=re.MULTILINE):
        assert f"`{alert}`" in doc, alert


def test_provisioning_files():
    datasources = yaml.safe_load(
        (PROVISIONING_DIR / "datasources" / "ams-prometheus.yaml").read_text())
    assert datasources["apiVersion"] == 1
    [prometheus] = datasources["datasources"]
    assert prometheus["type"] == "prometheus" and prometheus["url"].startswith("http")
    providers = yaml.safe_load(
        (PROVISIONING_DIR / "dashboards" / "ams-job-exporter.yaml").read_text())
    assert providers["apiVersion"] == 1
    [provider] = providers["providers"]
    assert provider["type"] == "file" and provider["options"]["path"].startswith("/")
    # The dashboards find the data source through their variable, not its uid.
    for path in dashboard_files():
        assert prometheus["uid"] not in {d.get("uid") for d in _datasources(load(path))
                                         if isinstance(d, dict)}


# ------------------------------------------------------------------ push events row

#: Series shaped like the push receiver's (docs/metrics.md, "Push events"), as
#: Prometheus stores them: two replicas, a second account the variable leaves out,
#: delays in the receiver's histogram. (The end-to-end stack's exporter has a v2
#: account, which receives no events, so this is where these queries meet data.)
PUSH_EVENT_SERIES = [
    ('ams_events_received_total{account="acct", type="Microsoft.Media.JobFinished", '
     'job="ams-job-exporter", instance="a:1"}', "0+2x20"),
    ('ams_events_received_total{account="acct", type="Microsoft.Media.JobFinished", '
     'job="ams-job-exporter", instance="b:1"}', "0+1x20"),
    ('ams_events_received_total{account="other", type="Microsoft.Media.JobFinished", '
     'job="ams-job-exporter", instance="a:1"}', "0+1x20"),
    ('ams_events_rejected_total{reason="unauthorized", job="ams-job-exporter", '
     'instance="a:1"}', "0+1x20"),
    ('ams_events_rejected_total{reason="unauthorized", job="ams-job-exporter", '
     'instance="b:1"}', "0x20"),
    *((f'ams_event_delay_seconds_bucket{{account="{account}", le="{le}", '
       f'job="ams-job-exporter", instance="a:1"}}', f"0+{step}x20")
      for account in ("acct", "other")
      for le, step in (("0.1", 0), ("1", 1), ("10", 2), ("+Inf", 2))),
]
#: the one value of each label in PUSH_EVENT_SERIES once $account is "acct"
PUSH_EVENT_LABELS = {"account": "acct", "type": "Microsoft.Media.JobFinished",
                     "reason": "unauthorized"}


def _push_event_targets() -> list[tuple[str, dict[str, Any]]]:
    overview = load(DASHBOARD_DIR / "ams-jobs-overview.json")
    found = [(panel["title"], target) for panel, target in targets(overview)
             if re.search(r"\bams_events?_", target["expr"])]
    return found


def test_the_overview_has_a_push_events_row():
    overview = load(DASHBOARD_DIR / "ams-jobs-overview.json")
    panels = list(all_panels(overview))
    row = next(p for p in panels if p["type"] == "row" and p["title"] == "Push events")
    # the panels of the row: below it, above the next row
    end = min([p["gridPos"]["y"] for p in panels
               if p["type"] == "row" and p["gridPos"]["y"] > row["gridPos"]["y"]],
              default=float("inf"))
    below = [p for p in panels if row["gridPos"]["y"] < p["gridPos"]["y"] < end
             and p["type"] != "row"]
    metrics = {re.sub(r"_(bucket|sum|count)$", "", m)
               for p in below for t in p["targets"]
               for m in re.findall(r"\b(ams_events?_\w+)", t["expr"])}
    assert metrics == {"ams_events_received_total", "ams_events_rejected_total",
                       "ams_event_delay_seconds"}
    assert {title for title, _ in _push_event_targets()} == {p["title"] for p in below}
    quantiles = sorted(re.search(r"histogram_quantile\(([0-9.]+),", t["expr"]).group(1)
                       for p in below for t in p["targets"]
                       if "ams_event_delay_seconds_bucket" in t["expr"])
    assert quantiles == ["0.5", "0.95"]


@pytest.mark.system
def test_push_event_queries_return_the_series_their_legends_name(tmp_path):
    """Each query of the "Push events" row, variables filled in as Grafana would, in
    promtool's PromQL engine on PUSH_EVENT_SERIES: one series per legend label
    combination, only for the selected account, and the values make sense."""
    values = {"account": "acct", "transform": ".*", "job_name": ".*",
              "__rate_interval": "5m"}
    tests = []
    for title, target in _push_event_targets():
        expr = substitute(target["expr"], values)
        legend = re.findall(r"\{\{\s*(\w+)\s*\}\}", target["legendFormat"])
        assert legend and set(legend) <= set(PUSH_EVENT_LABELS), (title, legend)
        labels = ", ".join(f'{name}="{PUSH_EVENT_LABELS[name]}"' for name in legend)
        # One series per legend combination, nothing else (no other account).
        tests.append({"expr": f"count by ({', '.join(legend)}) ({expr})", "eval_time": "15m",
                      "exp_samples": [{"labels": "{" + labels + "}", "value": 1}]})
        # And a number, not NaN (an empty histogram) nor negative.
        tests.append({"expr": f"count(({expr}) >= 0)", "eval_time": "15m",
                      "exp_samples": [{"labels": "{}", "value": 1}]})
    assert len(tests) == 2 * 4
    (tmp_path / "empty.rules.yaml").write_text("groups: []\n")
    test_file = tmp_path / "push-events.test.yaml"
    test_file.write_text(json.dumps({
        "rule_files": ["empty.rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [{"interval": "1m",
                   "input_series": [{"series": series, "values": values}
                                    for series, values in PUSH_EVENT_SERIES],
                   "promql_expr_test": tests}],
    }))
    result = subprocess.run([require_binary("promtool"), "test", "rules", str(test_file)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
