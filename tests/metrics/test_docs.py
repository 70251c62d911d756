"""docs/metrics.md documents every metric the exporter emits."""

from __future__ import annotations

import re

from exporter.jobs.states import JobState
from exporter.simulator import SimJob
from tests.helpers import ROOT, scrape, uid, v2_config

DOCS = ROOT / "docs" / "metrics.md"


def documented_metrics() -> dict[str, str]:
    """metric name -> type, from the tables of docs/metrics.md."""
    rows = re.findall(r"^\| `((?:ams|process)_[a-z_]+)` \| (gauge|counter|histogram) \|",
                      DOCS.read_text(), flags=re.MULTILINE)
    return dict(rows)


def test_every_emitted_metric_is_documented_with_its_type(simulator, clock, make_exporter):
    t = clock()
    simulator.add_job("acct", SimJob(uid(1), "processing", t - 100,
                                     events=[(t - 50, JobState.Processing)]))
    simulator.add_job("acct", SimJob(uid(2), "failed", t - 100, error_code="E1",
                                     events=[(t - 50, JobState.Processing),
                                             (t - 10, JobState.Error)]))
    simulator.add_job("acct", SimJob(uid(3), "finished", t - 100,
                                     events=[(t - 50, JobState.Processing),
                                             (t - 10, JobState.Finished)]))
    # With a correlation label: its overflow counter is emitted only then.
    exporter = make_exporter(v2_config(simulator.v2_endpoint("acct"),
                                       extra_account="    progress: true",
                                       top="metrics: {correlation_labels: {tenant: c}}"))
    metrics = scrape(exporter)
    documented = documented_metrics()
    assert len(documented) >= 20
    for family, kind in metrics.families.items():
        assert family in documented or f"{family}_total" in documented, (
            f"{family} is emitted but not in docs/metrics.md")
        name = family if family in documented else f"{family}_total"
        assert documented[name] == kind, f"{family}: emitted as {kind}, documented as " \
                                         f"{documented[name]}"
