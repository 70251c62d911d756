"""Helpers for the tests of the shipped monitoring files (grafana/): the rule file's
tunables, the real Prometheus tools as subprocesses, a webhook receiver for
Alertmanager, and the dashboards' queries.

The tools are Debian's packages (`prometheus` for prometheus and promtool,
`prometheus-alertmanager`); ./test.sh installs them. Tests fail, not skip, without them.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.helpers import ROOT

RULES = ROOT / "grafana" / "alerts" / "ams-jobs.rules.yaml"
RULE_TESTS = ROOT / "grafana" / "alerts" / "tests" / "ams-jobs.rules.test.yaml"
DASHBOARD_DIR = ROOT / "grafana" / "dashboards"
PROVISIONING_DIR = ROOT / "grafana" / "provisioning"
RUNBOOK = ROOT / "docs" / "runbook.md"
DASHBOARDS_DOC = ROOT / "docs" / "dashboards.md"
METRICS_DOC = ROOT / "docs" / "metrics.md"

#: binary -> the Debian package that has it
DEBIAN_PACKAGES = {
    "promtool": "prometheus",
    "prometheus": "prometheus",
    "prometheus-alertmanager": "prometheus-alertmanager",
    "amtool": "prometheus-alertmanager",
}


def require_binary(name: str) -> str:
    """The path of a Prometheus tool; fails the test (never skips) when it is missing."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed (Debian package {DEBIAN_PACKAGES[name]}); "
                    f"./test.sh installs it", pytrace=False)
    return path


# ------------------------------------------------------------------ processes and ports

def wait_for(condition, timeout: float, interval: float = 0.2, what: str = "condition"):
    """Poll until `condition()` returns a truthy value (returned) or fail after `timeout`."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            value = condition()
            if value:
                return value
        except (requests.RequestException, ValueError, KeyError) as exc:
            last_error = exc
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_error})" if last_error else ""
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}{detail}")
        time.sleep(interval)


class Service:
    """A subprocess with its output in a log file, stopped by terminate, then kill."""

    def __init__(self, name: str, args: list[str], log_path: Path,
                 cwd: Path | None = None) -> None:
        self.name = name
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, cwd=cwd)

    def running(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(self, url: str, timeout: float = 30.0) -> None:
        def ready() -> bool:
            if not self.running():
                raise AssertionError(f"{self.name} exited with {self.process.returncode}:\n"
                                     f"{self.log_tail()}")
            try:
                return requests.get(url, timeout=2).status_code == 200
            except requests.RequestException:
                return False
        wait_for(ready, timeout, what=f"{self.name} ready at {url}")

    def stop(self) -> None:
        if self.running():
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._log.close()


# ------------------------------------------------------------------ Alertmanager webhook

@dataclass
class Notification:
    received: float
    payload: dict[str, Any]

    @property
    def status(self) -> str:
        return self.payload["status"]

    @property
    def alerts(self) -> list[dict[str, Any]]:
        return self.payload["alerts"]


@dataclass
class WebhookReceiver:
    """An HTTP server collecting what Alertmanager's webhook_config POSTs."""

    notifications: list[Notification] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._lock:
                    receiver.notifications.append(Notification(time.time(), json.loads(body)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                         name="webhook", daemon=True).start()
        return self

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/"

    def received(self) -> list[Notification]:
        with self._lock:
            return list(self.notifications)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


# ------------------------------------------------------------------ Prometheus HTTP API

class PrometheusAPI:
    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def get(self, path: str, **params: Any) -> Any:
        response = requests.get(f"{self.url}{path}", params=params, timeout=10)
        body = response.json()
        if body.get("status") != "success":
            raise AssertionError(f"{path} {params}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        data = self.get("/api/v1/query", **params)
        result = data["result"]
        if data["resultType"] == "scalar":
            return [{"metric": {}, "value": result}]
        return result

    def series(self, match: str, start: float, end: float) -> list[dict[str, str]]:
        return self.get("/api/v1/series", **{"match[]": match, "start": f"{start:.3f}",
                                             "end": f"{end:.3f}"})

    def alerts(self) -> list[dict[str, Any]]:
        return self.get("/api/v1/alerts")["alerts"]

    def rule_groups(self) -> list[dict[str, Any]]:
        return self.get("/api/v1/rules")["groups"]


# ------------------------------------------------------------------ dashboards

def load_dashboard(name: str) -> dict[str, Any]:
    return json.loads((DASHBOARD_DIR / name).read_text())


def dashboard_files() -> list[Path]:
    return sorted(DASHBOARD_DIR.glob("*.json"))


def all_panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, rows and panels inside collapsed rows included."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def targets(dashboard: dict[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(panel, target) for every query of the dashboard."""
    for panel in all_panels(dashboard):
        for target in panel.get("targets", []):
            yield panel, target


_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\[\[(\w+)(?::\w+)?\]\]|\$(\w+)")


def substitute(expr: str, values: dict[str, str]) -> str:
    """Replace Grafana template variables ($x, ${x}, ${x:fmt}, [[x]]) as Grafana would
    for these values; an unknown variable raises KeyError."""
    def replace(match: re.Match[str]) -> str:
        name = next(group for group in match.groups() if group)
        return values[name]
    return _VARIABLE.sub(replace, expr)


def variables_used(expr: str) -> set[str]:
    return {next(group for group in match.groups() if group)
            for match in _VARIABLE.finditer(expr)}


_LABEL_VALUES = re.compile(r"^\s*label_values\((?:(.*),\s*)?(\w+)\)\s*$", re.DOTALL)


def label_values_query(query: str) -> tuple[str | None, str]:
    """`label_values(selector, label)` -> (selector, label); selector None when omitted."""
    match = _LABEL_VALUES.match(query)
    if not match:
        raise ValueError(f"not a label_values() query: {query!r}")
    return match.group(1), match.group(2)
