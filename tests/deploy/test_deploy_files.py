"""The deployment files checked without helm or podman (fast tier): the Dockerfile's
labels and .dockerignore, and the chart's copies of grafana/ with their sync script.
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


def test_chart_copies_of_grafana_files_are_in_sync():
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "sync-chart-files"),
                             "--check"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, (
        "helm/ams-job-exporter/files/ differs from grafana/: run scripts/sync-chart-files\n"
        + result.stdout + result.stderr)
    copies = sorted(p.relative_to(CHART / "files").as_posix()
                    for p in (CHART / "files").rglob("*") if p.is_file())
    sources = sorted([f"alerts/{p.name}" for p in (ROOT / "grafana/alerts").glob("*.yaml")]
                     + [f"dashboards/{p.name}" for p in DASHBOARDS.glob("*.json")])
    assert copies == sources
    assert "alerts/ams-jobs.rules.yaml" in copies


def test_sync_script_reports_and_repairs_drift(tmp_path: Path):
    for part in ("grafana/alerts", "grafana/dashboards", "helm/ams-job-exporter/files"):
        shutil.copytree(ROOT / part, tmp_path / part)
    script = [sys.executable, str(ROOT / "scripts" / "sync-chart-files"),
              "--root", str(tmp_path)]

    def check() -> subprocess.CompletedProcess[str]:
        return subprocess.run([*script, "--check"], capture_output=True, text=True,
                              timeout=60)

    subprocess.run(script, capture_output=True, text=True, timeout=60, check=True)
    assert check().returncode == 0
    (tmp_path / "grafana/alerts/ams-jobs.rules.yaml").write_text("groups: []\n")
    (tmp_path / "grafana/dashboards/new.json").write_text("{}\n")
    (tmp_path / "helm/ams-job-exporter/files/dashboards/gone.json").write_text("{}\n")
    drift = check()
    assert drift.returncode == 1
    assert "run scripts/sync-chart-files" in drift.stderr
    for name in ("alerts/ams-jobs.rules.yaml", "dashboards/new.json", "dashboards/gone.json"):
        assert name in drift.stdout
    synced = subprocess.run(script, capture_output=True, text=True, timeout=60)
    assert synced.returncode == 0, synced.stderr
    assert check().returncode == 0
    files = tmp_path / "helm/ams-job-exporter/files"
    assert (files / "alerts/ams-jobs.rules.yaml").read_text() == "groups: []\n"
    assert (files / "dashboards/new.json").exists()
    assert not (files / "dashboards/gone.json").exists()
