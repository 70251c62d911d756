"""The job aggregates, transitions and distributions are encoded once per change of
the data they show (with correlation labels they are tens of thousands of series),
while the moving ages and the health families are built every scrape. Against the
simulator over HTTP, with a manual clock."""

from __future__ import annotations

import gzip
from collections.abc import Iterator

import pytest

from exporter.app.config import parse_config
from exporter.app.exporter import Exporter
from exporter.jobs.states import JobState
from exporter.simulator import ManualClock, SimJob, Simulator
from tests.helpers import T0, parse_exposition, uid

OPENMETRICS = "application/openmetrics-text; version=1.0.0"


@pytest.fixture
def exporter() -> Iterator[tuple[Exporter, Simulator]]:
    with Simulator(clock=ManualClock(T0), seed=5, require_auth=False).start() as sim:
        sim.add_v2_account("acct")
        sim.add_job("acct", SimJob(uid(1), "queued", T0 - 100))
        config = parse_config(f"""
refresh: {{min_interval: 30s, timeout: 10s}}
accounts:
  - {{name: acct, endpoint: "{sim.v2_endpoint('acct')}", auth: {{method: none}}}}
""", {})
        made = Exporter(config, clock=sim.clock)
        try:
            yield made, sim
        finally:
            made.close()


def text(exporter: Exporter, accept: str = "") -> str:
    exporter.refresh_due()
    return gzip.decompress(b"".join(exporter.exposition(accept)[0])).decode()


def test_kept_segments_follow_the_data_and_the_ages_follow_the_clock(exporter):
    made, sim = exporter
    segments = made.exposition_builder

    first = parse_exposition(text(made))
    assert first.value("ams_jobs", account="acct", transform="", state="Queued") == 1
    assert first.value("ams_job_oldest_age_seconds", account="acct", transform="",
                       state="Queued") == 100
    kept = dict(segments._segments)
    assert len(kept) == 3  # counts, distributions, transitions

    sim.clock.advance(10)  # no refresh due: the same data, ten seconds later
    second = parse_exposition(text(made))
    assert second.value("ams_job_oldest_age_seconds", account="acct", transform="",
                        state="Queued") == 110
    assert segments._segments == kept  # nothing encoded again
    assert all(segments._segments[i][1] is kept[i][1] for i in kept)

    sim.add_job("acct", SimJob(uid(2), "failed", T0 - 50,
                               events=[(T0 - 40, JobState.Error)]))
    sim.clock.advance(30)  # a refresh is due and finds the new job
    third = parse_exposition(text(made))
    assert third.value("ams_jobs", account="acct", transform="", state="Error") == 1
    assert third.value("ams_job_transitions_total", account="acct", transform="",
                       to_state="Error") == 1
    assert segments._segments != kept


def test_openmetrics_ends_once_with_eof(exporter):
    made, _ = exporter
    for _ in range(2):  # encoded, then kept
        body = text(made, OPENMETRICS)
        assert body.endswith("# EOF\n")
        assert body.count("# EOF") == 1
