"""A refresh whose rendering fails is a failed refresh: ams_up 0, one log line with
the reason, the previous snapshot kept, and no transition counted."""

from __future__ import annotations

import logging

import requests

from exporter.app.config import parse_config
from exporter.backends.auth.tokens import StaticToken
from exporter.backends.registry import backend_for
from exporter.backends.transport import Transport
from exporter.jobs.states import JobState
from exporter.metrics.per_job import AccountRenderer
from exporter.refresh.refresher import AccountRefresher
from exporter.simulator import SimJob
from tests.helpers import T0, uid


class FlakyRenderer:
    """Renders like the exporter does, except when told to fail."""

    def __init__(self) -> None:
        self.fail = False
        self.inner = AccountRenderer("acct")

    def __call__(self, jobs, previous):
        if self.fail:
            raise UnicodeEncodeError("utf-8", "x", 0, 1, "surrogates not allowed")
        return self.inner(jobs, previous)


def test_a_failed_render_fails_the_refresh_and_counts_nothing(simulator, clock, caplog):
    simulator.add_job("acct", SimJob(uid(1), "one", T0 - 60,
                                     events=[(T0 - 30, JobState.Processing),
                                             (T0 + 30, JobState.Error)]))
    config = parse_config(f"""
refresh: {{min_interval: 0s}}
accounts: [{{name: acct, endpoint: "{simulator.v2_endpoint('acct')}", auth: {{method: none}}}}]
""", {})
    [account] = config.accounts
    source = backend_for(account).job_source(
        account, Transport(requests.Session(), StaticToken("test-token")), config.lookback, 100)
    renderer = FlakyRenderer()
    refresher = AccountRefresher(account, config.refresh_policy(), source, clock,
                                 render=renderer)

    refresher.ensure_fresh()
    assert refresher.status.up
    assert refresher.status.transitions[("", JobState.Processing, ())] == 1
    good = refresher.snapshot

    renderer.fail = True
    clock.advance(60)  # the job is now in Error
    with caplog.at_level(logging.WARNING, logger="exporter.refresh.refresher"):
        refresher.ensure_fresh()
        clock.advance(60)
        refresher.ensure_fresh()  # the same cause again: no second line
    assert not refresher.status.up
    assert "UnicodeEncodeError" in refresher.status.last_error
    assert refresher.snapshot is good
    assert refresher.status.transitions[("", JobState.Error, ())] == 0
    lines = [r for r in caplog.records if "refresh failed" in r.getMessage()]
    assert len(lines) == 1

    renderer.fail = False
    clock.advance(60)
    refresher.ensure_fresh()
    assert refresher.status.up
    assert refresher.status.transitions[("", JobState.Error, ())] == 1
