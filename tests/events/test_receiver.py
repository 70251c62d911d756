"""The receiver applied to real accounts (the simulator's v3 API behind them):
events change the exported jobs at once, unknown jobs are fetched, strangers are
refused, and nothing is applied from a refused delivery."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone

import pytest

from exporter.jobs.states import JobState
from exporter.simulator import SimJob
from tests.helpers import T0, parse_exposition, wait_until

SUB = "11111111-2222-3333-4444-555555555555"
TOPIC = (f"/subscriptions/{SUB}/resourceGroups/media-rg/providers/Microsoft.Media/"
         "mediaservices/prodmedia")
SECRET = "s3cret-for-events"


def eg_time(t: float) -> str:
    return datetime.fromtimestamp(t, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")


def job_event(kind: str, job: str, t: float, state: str | None = None,
              topic: str = TOPIC, **data: object) -> dict:
    body = {"topic": topic, "subject": f"transforms/encode-720p/jobs/{job}", "eventType": kind,
            "eventTime": eg_time(t), "id": f"{kind}-{job}-{t}",
            "data": ({"state": state, "previousState": "Processing"} if state else {}) | data,
            "dataVersion": "1.0", "metadataVersion": "1"}
    return body


@pytest.fixture
def v3_exporter(simulator, make_exporter):
    simulator.add_v3_account("prod", subscription_id=SUB, resource_group="media-rg",
                             account_name="prodmedia", transforms=("encode-720p",))
    simulator.add_job("prod", SimJob("job-run", "job-run", T0 - 600,
                                     events=[(T0 - 500, JobState.Processing)]),
                      transform="encode-720p")
    exporter = make_exporter(f"""
refresh: {{min_interval: 10m, timeout: 10s}}
events: {{enabled: true, secrets: ["{SECRET}", "next-secret"]}}
accounts:
  - name: prod
    api: v3
    subscription_id: {SUB}
    resource_group: media-rg
    account_name: prodmedia
    arm_endpoint: {simulator.arm_endpoint}
    auth: {{method: token_file, path: TOKEN}}
    jobs: {{name_regex: "^job-"}}
""")
    assert exporter.refresh_due()
    return exporter


def metrics(exporter):
    return parse_exposition(exporter.text())


def test_a_failure_shows_on_the_next_scrape_without_a_refresh(simulator, v3_exporter, clock):
    clock.advance(30)
    simulator.script_state("prod", "job-run", JobState.Error, at=clock() - 1,
                           transform="encode-720p")
    receiver = v3_exporter.events
    assert receiver.authorize({"secret": SECRET}, {}) is None
    error = job_event("Microsoft.Media.JobErrored", "job-run", clock() - 1, "Error",
                      outputs=[{"progress": 40, "state": "Error", "label": "x",
                                "error": {"code": "ContentMalformed", "category": "Content"}}])
    requests_before = simulator.request_count()
    reply = receiver.deliver(json.dumps([error]).encode())
    assert reply.status == 200
    assert v3_exporter.refreshers[0].status.attempts == 1, "no refresh: min_interval is 10m"
    after = metrics(v3_exporter)
    run = {"job_id": "job-run", "transform": "encode-720p"}
    assert after.value("ams_job_state", state="Error", **run) == 1
    assert after.value("ams_job_end_timestamp_seconds", **run) == pytest.approx(clock() - 1,
                                                                                 abs=1e-3)
    assert after.find("ams_job_error_info", code="ContentMalformed", **run)
    assert after.value("ams_job_transitions_total", account="prod", transform="encode-720p",
                       to_state="Error") == 1
    assert after.value("ams_jobs", account="prod", transform="encode-720p", state="Error") == 1
    assert after.value("ams_events_received_total", account="prod",
                       type="Microsoft.Media.JobErrored") == 1
    assert simulator.request_count() == requests_before, "no API call for a known job"
    # the same delivery again (at least once): nothing changes, nothing counted twice
    assert receiver.deliver(json.dumps([error]).encode()).status == 200
    again = metrics(v3_exporter)
    assert again.value("ams_job_transitions_total", account="prod", transform="encode-720p",
                       to_state="Error") == 1


def test_a_job_not_known_yet_is_fetched_by_name(simulator, v3_exporter, clock):
    clock.advance(60)
    simulator.add_job("prod", SimJob("job-new", "job-new", clock() - 20,
                                     events=[(clock() - 10, JobState.Processing)]),
                      transform="encode-720p")
    simulator.add_job("prod", SimJob("other-new", "other-new", clock() - 20),
                      transform="encode-720p")
    receiver = v3_exporter.events
    body = [job_event("Microsoft.Media.JobProcessing", "job-new", clock() - 10, "Processing"),
            job_event("Microsoft.Media.JobScheduled", "other-new", clock() - 10, "Scheduled")]
    assert receiver.deliver(json.dumps(body).encode()).status == 200
    assert wait_until(lambda: "job-new" in {k[1] for k in v3_exporter.refreshers[0]
                                            .snapshot.jobs})
    exported = metrics(v3_exporter)
    assert exported.value("ams_job_state", job_id="job-new", state="Processing") == 1
    assert not exported.find("ams_job_state", job_id="other-new"), "outside the selection"


def test_refused_deliveries_apply_nothing(simulator, v3_exporter, clock, caplog):
    receiver = v3_exporter.events
    assert receiver.authorize({"secret": "wrong"}, {}).status == 401
    assert receiver.authorize({}, {"X-Events-Secret": "next-secret"}) is None  # rotation
    assert receiver.authorize({}, {}).status == 401
    assert receiver.deliver(b"{not json").status == 400
    assert receiver.too_large().status == 413
    stranger = job_event("Microsoft.Media.JobFinished", "job-run", clock(), "Finished",
                         topic=TOPIC.replace("prodmedia", "elsewhere"))
    with caplog.at_level(logging.WARNING, logger="exporter.events.receiver"):
        for _ in range(3):
            assert receiver.deliver(json.dumps([stranger]).encode()).status == 200
    assert len([r for r in caplog.records if "no configured account" in r.getMessage()]) == 1
    exported = metrics(v3_exporter)
    assert exported.value("ams_job_state", job_id="job-run", state="Processing") == 1
    rejected = {reason: exported.value("ams_events_rejected_total", reason=reason)
                for reason in ("unauthorized", "malformed", "too_large", "unknown_account")}
    assert rejected == {"unauthorized": 2, "malformed": 1, "too_large": 1,
                        "unknown_account": 3}


def test_the_validation_handshake(v3_exporter):
    body = [{"id": "1", "topic": "/subscriptions/x", "subject": "", "eventTime":
             "2022-10-28T04:23:35.1981776Z", "eventType":
             "Microsoft.EventGrid.SubscriptionValidationEvent",
             "data": {"validationCode": "512d38b6-c7b8"}, "dataVersion": "1"}]
    reply = v3_exporter.events.deliver(json.dumps(body).encode())
    assert reply.status == 200
    assert json.loads(reply.body) == {"validationResponse": "512d38b6-c7b8"}
    options = v3_exporter.events.options({"WebHook-Request-Origin": "eventgrid.azure.net"})
    assert ("WebHook-Allowed-Origin", "eventgrid.azure.net") in options.headers
