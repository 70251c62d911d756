"""Plain helpers shared by the tests (no fixtures: those are in tests/conftest.py).

Test modules import from here (`from tests.helpers import T0, scrape`), never from
another test module. Helpers for the shipped monitoring files are in
tests/helpers/monitoring.py.
"""

from __future__ import annotations

import queue
import re
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from exporter.app.exporter import Exporter

#: The repository's root directory.
ROOT = Path(__file__).resolve().parents[2]

#: 2026-01-01T00:00:00Z: a fixed "now" so expected values are exact.
T0 = 1767225600.0


def uid(n: int) -> str:
    """A v2 job id (nb:jid:UUID:...) numbered n."""
    return f"nb:jid:UUID:{n:08x}-0000-4000-8000-000000000000"


@dataclass
class Scrape:
    """The samples of one exposition, indexed by name and labels."""

    samples: dict[tuple[str, frozenset[tuple[str, str]]], float]
    families: dict[str, str]  # name -> type

    def value(self, name: str, **labels: str) -> float:
        matches = self.find(name, **labels)
        assert len(matches) == 1, f"{name}{labels}: {len(matches)} samples match"
        return next(iter(matches.values()))

    def find(self, name: str, **labels: str) -> dict[frozenset[tuple[str, str]], float]:
        wanted = set(labels.items())
        return {key: value for (sample_name, key), value in self.samples.items()
                if sample_name == name and wanted <= key}

    def job_ids(self, account: str = "acct") -> set[str]:
        return {dict(key)["job_id"]
                for key in self.find("ams_job_state_code", account=account)}


def parse_exposition(text: str) -> Scrape:
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    families: dict[str, str] = {}
    for family in text_string_to_metric_families(text):
        families[family.name] = family.type
        for sample in family.samples:
            key = (sample.name, frozenset(sample.labels.items()))
            assert key not in samples, f"duplicate sample {key}"
            samples[key] = sample.value
    return Scrape(samples, families)


def scrape(exporter: Exporter) -> Scrape:
    """Refresh what is due, then parse the exposition (what /metrics does)."""
    exporter.refresh_due()
    return parse_exposition(exporter.text())


def v2_config(endpoint: str, extra_account: str = "", top: str = "",
              auth: str = "{method: token_file, path: TOKEN}") -> str:
    return f"""
refresh: {{min_interval: 0s, timeout: 10s}}
{top}
accounts:
  - name: acct
    api: v2
    endpoint: {endpoint}
    auth: {auth}
{extra_account}
"""


#: The subscription id the tests' simulated AMS v3 and RMS accounts live in.
SUB = "11111111-2222-3333-4444-555555555555"


def v3_account(arm_endpoint: str, name: str = "prod", account_name: str = "prodmedia",
               auth: str = "{method: none}", extra: str = "") -> str:
    """One `accounts` entry (YAML) for a v3 account of the simulator in media-rg."""
    return f"""
  - name: {name}
    api: v3
    subscription_id: {SUB}
    resource_group: media-rg
    account_name: {account_name}
    arm_endpoint: {arm_endpoint}
    auth: {auth}
{extra}"""


def free_port() -> int:
    """A port that was free a moment ago on 127.0.0.1 (bind to port 0, then release)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition: Callable[[], bool], timeout: float = 10.0,
               interval: float = 0.05) -> bool:
    """Poll `condition` until true or `timeout` passes (bounded, no open-ended sleeps)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


def output_lines(process: subprocess.Popen[str]) -> queue.Queue[str]:
    """A queue fed with a child process's output by a thread, so reading it with a
    timeout never blocks a test on a process that prints nothing."""
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def wait_for_line(lines: queue.Queue[str], pattern: str, timeout: float = 30.0) -> re.Match[str]:
    """The first output line matching `pattern`, or an AssertionError after `timeout`."""
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            break
        seen.append(line)
        match = re.search(pattern, line)
        if match:
            return match
    raise AssertionError(f"no line matching {pattern!r}; got: {''.join(seen)!r}")
