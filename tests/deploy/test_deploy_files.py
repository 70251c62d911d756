"""The deployment files checked without helm or podman (fast tier): the Dockerfile's
labels and .dockerignore, and the chart's files/ as scripts/build-mixin writes them.
What needs the binaries is in test_container.py and test_helm_chart.py (marked
`system`)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.helpers import ROOT

CHART = ROOT / "helm" / "ams-job-exporter"
DASHBOARDS = ROOT / "grafana" / "dashboards"


def test_dockerfile_labels_come_from_build_args():
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^ARG BASE_IMAGE=\S*python\S*slim", text, re.MULTILINE)
    assert len(re.findall(r"^FROM \$\{BASE_IMAGE\}", text, re.MULTILINE)) == 2
    for key, arg in (("version", "VERSION"), ("revision", "REVISION"), ("source", "SOURCE")):
        assert re.search(rf"^ARG {arg}\b", text, re.MULTILINE), arg
        assert f'org.opencontainers.image.{key}="${{{arg}}}"' in text, key
    assert "--no-cache-dir" in text
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert ignored[ignored.index("*") + 1:][:3] == ["!pyproject.toml", "!README.md",
                                                   "!exporter/"]


def test_chart_files_are_the_mixins_output():
    """files/ holds the dashboards and the rule file as a Helm template, both written by
    scripts/build-mixin (test_mixin.py checks them all against the mixin)."""
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "build-mixin"),
                             "--check"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, (
        "helm/ams-job-exporter/files/ is not the mixin's output: run scripts/build-mixin\n"
        + result.stdout + result.stderr)
    files = sorted(p.relative_to(CHART / "files").as_posix()
                   for p in (CHART / "files").rglob("*") if p.is_file())
    assert files == ["alerts/ams-jobs.rules.yaml"] + sorted(
        f"dashboards/{p.name}" for p in DASHBOARDS.glob("*.json"))
    for path in DASHBOARDS.glob("*.json"):
        assert (CHART / "files" / "dashboards" / path.name).read_text() == path.read_text()
    rules = (CHART / "files" / "alerts" / "ams-jobs.rules.yaml").read_text()
    assert 'include "ams-job-exporter.mixinValue" (list . "stuckProcessingSeconds" "7200")' \
        in rules
    assert "{{ $labels" not in rules, "a Prometheus template left for Helm to execute"


def test_build_script_reports_and_repairs_drift(tmp_path: Path):
    for part in ("grafana", "helm/ams-job-exporter/files"):
        shutil.copytree(ROOT / part, tmp_path / part)
    script = [sys.executable, str(ROOT / "scripts" / "build-mixin"), "--root", str(tmp_path)]

    def check() -> subprocess.CompletedProcess[str]:
        return subprocess.run([*script, "--check"], capture_output=True, text=True,
                              timeout=120)

    assert check().returncode == 0
    (tmp_path / "grafana/alerts/ams-jobs.rules.yaml").write_text("groups: []\n")
    (tmp_path / "helm/ams-job-exporter/files/dashboards/gone.json").write_text("{}\n")
    (tmp_path / "helm/ams-job-exporter/files/alerts/ams-jobs.rules.yaml").unlink()
    drift = check()
    assert drift.returncode == 1
    assert "run scripts/build-mixin" in drift.stderr
    for name in ("grafana/alerts/ams-jobs.rules.yaml", "files/dashboards/gone.json",
                 "files/alerts/ams-jobs.rules.yaml"):
        assert name in drift.stdout
    built = subprocess.run(script, capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stderr
    assert check().returncode == 0
    assert not (tmp_path / "helm/ams-job-exporter/files/dashboards/gone.json").exists()
    assert (tmp_path / "grafana/alerts/ams-jobs.rules.yaml").read_text() == (
        ROOT / "grafana/alerts/ams-jobs.rules.yaml").read_text()
