"""The full exposition of a fixed scenario, byte for byte.

A fixed-seed simulator with v2 and v3 accounts, a hand-driven clock, two refreshes
(a full one, then an incremental one after jobs moved on): metric names, label
names and values, sample values and their order are a contract with dashboards,
alerts and users' queries, so any change to them shows up here.

Only what cannot be fixed is left out: request latencies (real time), the build's
Python version, the config load time, and the process_* / python_* families of
prometheus-client. Regenerate after a deliberate change with
`AMS_UPDATE_GOLDEN=1 pytest tests/metrics/test_golden_exposition.py`, and review the diff.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from exporter.app.config import parse_config
from exporter.app.exporter import Exporter
from exporter.simulator import ManualClock, Simulator
from tests.helpers import T0

GOLDEN = Path(__file__).parent / "golden" / "exposition.txt"
VOLATILE = re.compile(
    r"^(?:# (?:HELP|TYPE) )?(?:ams_api_request_duration_seconds|ams_exporter_build_info"
    r"|ams_config_last_reload_success_timestamp_seconds|process_|python_)")
SUB = "11111111-2222-3333-4444-555555555555"


def scenario_exposition() -> str:
    clock = ManualClock(T0)
    sim = Simulator(clock=clock, seed=42, require_auth=False)
    sim.add_v2_account("legacy")
    sim.add_v3_account("prod", subscription_id=SUB, resource_group="media-rg",
                       account_name="prodmedia", transforms=("encode-720p", "thumbs"))
    sim.generate_jobs("legacy", n=40, start=T0 - 6 * 3600, end=T0)
    sim.generate_jobs("prod", n=30, start=T0 - 6 * 3600, end=T0)
    with sim.start(host="127.0.0.1", port=0):
        config = parse_config(f"""
refresh: {{min_interval: 30s, timeout: 10s}}
accounts:
  - name: legacy
    api: v2
    endpoint: {sim.v2_endpoint("legacy")}
    auth: {{method: none}}
    progress: true
  - name: prod
    api: v3
    subscription_id: {SUB}
    resource_group: media-rg
    account_name: prodmedia
    arm_endpoint: {sim.arm_endpoint}
    auth: {{method: none}}
""", {})
        exporter = Exporter(config, clock=clock)
        try:
            assert exporter.refresh_due()
            clock.advance(600)  # jobs move on; the next refresh is incremental
            assert exporter.refresh_due()
            clock.advance(5)  # ages and running durations move at scrape time
            text = exporter.text()
        finally:
            exporter.close()
    return "".join(line for line in text.splitlines(keepends=True)
                   if not VOLATILE.match(line))


def test_exposition_matches_the_golden_file():
    text = scenario_exposition()
    if os.environ.get("AMS_UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(text, encoding="utf-8")
    expected = GOLDEN.read_text(encoding="utf-8")
    assert text.count("\n") > 500, "the scenario should export many series"
    assert text == expected


def test_scenario_is_deterministic():
    assert scenario_exposition() == scenario_exposition()
