"""Events are hints; the API is the truth (issue 18, items 5-7), over real HTTP: the
simulator serves AMS v3 and MK.IO, deliveries with a valid secret go to the
exporter's /events, and /metrics shows what they leave behind."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest
import requests

from exporter.app.config import parse_config
from exporter.app.exporter import Exporter
from exporter.events.receiver import MAX_PENDING_FETCHES
from exporter.jobs.claims import EVENT_GRACE, MAX_CLOCK_SKEW
from exporter.jobs.states import JobState
from exporter.simulator import ManualClock, SimJob, Simulator
from exporter.web.server import MetricsServer
from tests.helpers import SUB, T0, Scrape, parse_exposition, v3_account, wait_until

SECRET = "push-secret-trust"
TOPIC = (f"/subscriptions/{SUB}/resourceGroups/media-rg/providers/Microsoft.Media/"
         "mediaservices/prodmedia")
PROJECT = "mkproj"
TRANSFORM = "encode-720p"
YEAR_2100 = "2100-01-01T00:00:00Z"


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def eventgrid_errored(job: str, when: str, code: str = "Forged") -> dict:
    return {"topic": TOPIC, "subject": f"transforms/{TRANSFORM}/jobs/{job}",
            "eventType": "Microsoft.Media.JobErrored", "eventTime": when, "id": job,
            "dataVersion": "1.0",
            "data": {"state": "Error", "previousState": "Processing",
                     "outputs": [{"progress": 50, "label": "x", "state": "Error",
                                  "error": {"code": code, "category": "Service"}}]}}


def mkio_finished(job: str, when: str, transform: str = TRANSFORM, state: str = "Error",
                  code: str = "Forged") -> dict:
    """A MediaKind.JobFinished webhook with the whole job in data.resource."""
    resource = {"name": job, "id": f"/subscriptions/{SUB}/resourceGroups/default/providers/"
                                   f"Microsoft.Media/mediaservices/{PROJECT}/transforms/"
                                   f"{transform}/jobs/{job}",
                "properties": {"created": "2099-12-31T00:00:00Z", "state": state,
                               "lastModified": when, "startTime": when, "endTime": when,
                               "priority": "High",
                               "outputs": [{"progress": 100, "label": "x", "state": state,
                                            "error": {"code": code, "category": "Service"}}]}}
    return {"specversion": "1.0", "id": job, "type": "MediaKind.JobFinished",
            "source": f"/api/v1/projects/{PROJECT}/transforms/{transform}/jobs/{job}",
            "time": when, "datacontenttype": "application/json",
            "data": {"projectName": PROJECT, "previousState": "Processing", "state": state,
                     "resource": resource}}


class Running:
    """An exporter with push events on, serving HTTP, sharing the simulator's clock."""

    def __init__(self, sim: Simulator, top: str) -> None:
        self.clock = sim.clock
        config = parse_config(f"""
refresh: {{min_interval: 10s, full_resync: 1h, timeout: 10s}}
events: {{enabled: true, secrets: ["{SECRET}"], max_body_bytes: 4MiB}}
{top}
accounts:{v3_account(sim.arm_endpoint)}  - name: mk
    api: mkio
    project: {PROJECT}
    endpoint: {sim.mkio_endpoint}
    auth: {{method: none}}
""", {})
        self.exporter = Exporter(config, clock=sim.clock)
        self.server = MetricsServer(self.exporter, "127.0.0.1", 0).start()
        assert self.exporter.refresh_due()

    def post(self, events: list[dict]) -> int:
        return requests.post(self.server.url + "/events", data=json.dumps(events),
                             headers={"X-Events-Secret": SECRET}, timeout=30).status_code

    def text(self) -> str:
        return requests.get(self.server.url + "/metrics", timeout=30).text

    def metrics(self) -> Scrape:
        return parse_exposition(self.text())

    def jobs(self, account: str) -> set[str]:
        return {dict(key)["job_id"]
                for key in self.metrics().find("ams_job_state_code", account=account)}

    def rejected(self, reason: str) -> float:
        return self.metrics().value("ams_events_rejected_total", reason=reason)

    def close(self) -> None:
        self.server.stop()
        self.exporter.close()


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(clock=ManualClock(T0), seed=18, require_auth=False).start() as simulator:
        simulator.add_v3_account("prod", subscription_id=SUB, resource_group="media-rg",
                                 account_name="prodmedia", transforms=(TRANSFORM,))
        simulator.add_mkio_account("mk", project=PROJECT, transforms=(TRANSFORM,))
        for account, prefix in (("prod", "job"), ("mk", "mk")):
            simulator.add_job(account, SimJob(f"{prefix}-run", f"{prefix}-run", T0 - 600,
                                              events=[(T0 - 500, JobState.Processing)]),
                              transform=TRANSFORM)
            simulator.add_job(account, SimJob(f"{prefix}-done", f"{prefix}-done", T0 - 900,
                                              events=[(T0 - 800, JobState.Processing),
                                                      (T0 - 700, JobState.Finished)]),
                              transform=TRANSFORM)
        yield simulator


@pytest.fixture
def running(sim, request) -> Iterator[Running]:
    service = Running(sim, getattr(request, "param", ""))
    yield service
    service.close()


def timestamps(scrape: Scrape) -> dict[str, float]:
    """Every *_timestamp_seconds sample of a job, by metric name and job."""
    return {f"{name}{{{dict(labels)['job_id']}}}": value
            for (name, labels), value in scrape.samples.items()
            if name.endswith("_timestamp_seconds") and "job_id" in dict(labels)}


def job_series(scrape: Scrape, job: str, name: str) -> list[dict[str, str]]:
    return [dict(labels) for labels in scrape.find(name, job_id=job)]


def state_of(scrape: Scrape, job: str) -> str:
    [state] = [dict(k)["state"] for k, v in scrape.find("ams_job_state", job_id=job).items()
               if v == 1]
    return state


@pytest.mark.parametrize("flavour", ["eventgrid", "mkio"])
def test_a_future_dated_failure_lasts_until_the_first_refresh_after_its_grace(
        sim, running, flavour):
    """Item 5: a JobErrored dated 2100 for a Processing job is shown at once (events
    are fast), capped at the receipt plus the skew, and is gone with its error code
    and end time at the first refresh begun 30 s after its receipt."""
    job, event = (("job-run", eventgrid_errored("job-run", YEAR_2100)) if flavour == "eventgrid"
                  else ("mk-run", mkio_finished("mk-run", YEAR_2100)))
    received = sim.clock()
    assert running.post([event]) == 200
    forged = running.metrics()
    assert state_of(forged, job) == "Error"
    assert [e["code"] for e in job_series(forged, job, "ams_job_error_info")] == ["Forged"]
    assert forged.value("ams_job_end_timestamp_seconds", job_id=job) == received + MAX_CLOCK_SKEW
    assert max(timestamps(forged).values()) <= sim.clock() + MAX_CLOCK_SKEW

    sim.clock.advance(EVENT_GRACE - 10)  # a refresh: the event may be newer than it
    assert running.exporter.refresh_due()
    assert state_of(running.metrics(), job) == "Error"

    sim.clock.advance(10)  # a refresh begun 30 s after the receipt: the API's answer
    assert running.exporter.refresh_due()
    truth = running.metrics()
    assert state_of(truth, job) == "Processing"
    assert job_series(truth, job, "ams_job_error_info") == []
    assert job_series(truth, job, "ams_job_end_timestamp_seconds") == []
    assert max(timestamps(truth).values()) <= sim.clock() + MAX_CLOCK_SKEW
    account = "prod" if flavour == "eventgrid" else "mk"
    assert truth.value("ams_jobs", account=account, transform=TRANSFORM, state="Error") == 0


def transform_labels(text: str) -> set[str]:
    return set(re.findall(r'transform="([^"]*)"', text))


@pytest.mark.parametrize("running", ["max_jobs_per_account: 3"], indirect=True)
def test_mkio_webhooks_for_jobs_mkio_lacks_are_refused_after_the_api_says_so(sim, running):
    """Item 6: webhooks whose data.resource names jobs MK.IO does not have (each in
    a transform of its own, dated 2100) export nothing, and are counted unconfirmed
    once the fetch by name finds nothing; their transforms leave no series; the cap
    holds for jobs that do exist; a 1 MB job name is malformed."""
    before = running.text()
    ghosts = [mkio_finished(f"ghost-{n}", YEAR_2100, transform=f"evil-{n}") for n in range(55)]
    assert running.post(ghosts) == 200
    assert running.jobs("mk") == {"mk-run", "mk-done"}, "nothing exported on an event's word"
    assert wait_until(lambda: running.rejected("unconfirmed") == 55, timeout=20)
    assert running.exporter.events.pending_fetches("mk") == 0
    huge = mkio_finished("j" * 1_000_000, YEAR_2100)
    assert running.post([huge]) == 200
    assert running.rejected("malformed") == 1

    after = running.text()
    assert TRANSFORM in transform_labels(before)
    assert transform_labels(after) == transform_labels(before), "no evil-* series"
    assert len(after) < len(before) + 5000, "only the event counters grew"
    sim.clock.advance(EVENT_GRACE)
    assert running.exporter.refresh_due()
    assert running.jobs("mk") == {"mk-run", "mk-done"}
    assert transform_labels(running.text()) == transform_labels(before)

    # Jobs MK.IO does have join within max_jobs_per_account, by the listing's rank.
    sim.add_job("mk", SimJob("mk-new", "mk-new", sim.clock() - 20,
                             events=[(sim.clock() - 10, JobState.Processing)]),
                transform=TRANSFORM)
    sim.add_job("mk", SimJob("mk-old", "mk-old", T0 - 3000,
                             events=[(T0 - 2900, JobState.Processing),
                                     (sim.clock() - 5, JobState.Finished)]),
                transform=TRANSFORM)
    skipped = running.metrics().value("ams_jobs_skipped_total", account="mk", reason="limit")
    assert running.post([mkio_finished("mk-new", iso(sim.clock() - 10), state="Processing"),
                         mkio_finished("mk-old", iso(sim.clock() - 5), state="Finished")]) == 200
    assert wait_until(lambda: "mk-new" in running.jobs("mk"), timeout=20)
    assert wait_until(lambda: running.metrics().value(
        "ams_jobs_skipped_total", account="mk", reason="limit") == skipped + 1, timeout=20)
    assert running.jobs("mk") == {"mk-run", "mk-done", "mk-new"}
    assert running.rejected("unconfirmed") == 55, "jobs MK.IO has are confirmed"


def test_thousands_of_unknown_jobs_queue_up_to_the_bound(sim, running):
    """Item 7: the queue of jobs to fetch by name is deduplicated and bounded; the
    overflow is counted and left to the next full resync."""
    names = [f"ghost-{n:05d}" for n in range(4500)]
    body = [eventgrid_errored(name, iso(sim.clock())) for name in names]
    requests_before = sim.request_count()
    assert running.post(body + body[:500]) == 200  # 5,000 events, with duplicates
    receiver = running.exporter.events
    assert receiver.pending_fetches("prod") <= MAX_PENDING_FETCHES
    assert running.rejected("queue_full") == 4500 - MAX_PENDING_FETCHES
    assert wait_until(lambda: running.rejected("unconfirmed") == MAX_PENDING_FETCHES,
                      timeout=30)
    assert receiver.pending_fetches("prod") == 0
    # 20 names a request: the fetches cost what the bound allows, not what was sent
    assert sim.request_count() - requests_before <= MAX_PENDING_FETCHES // 20 + 5
    assert running.jobs("prod") == {"job-run", "job-done"}
