"""Placeholder times (.NET's DateTime.MinValue, 0001-01-01T00:00:00Z) never make a job
vanish, and a truly malformed record is counted on every refresh but logged once."""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from exporter.backends.ams_v2.records import parse_job as parse_v2
from exporter.backends.arm_records import parse_job
from exporter.backends.records import MalformedRecord
from exporter.jobs.model import MAX_NAME_LENGTH
from exporter.jobs.states import JobState
from exporter.simulator import ManualClock, SimJob, Simulator
from exporter.simulator.fidelity import Fidelity
from tests.helpers import T0, scrape

SUB = "11111111-2222-3333-4444-555555555555"
PLACEHOLDER = "0001-01-01T00:00:00Z"
#: Shaped like the Queued job of the Encoding 2018-07-01 REST spec's list example:
#: `created` and `lastModified` are placeholders and there is no other time.
QUEUED_2018 = {
    "name": "job1",
    "id": "/subscriptions/0a0a/resourceGroups/contoso/providers/Microsoft.Media/mediaservices/"
          "contosomedia/transforms/exampleTransform/jobs/job1",
    "type": "Microsoft.Media/mediaservices/transforms/jobs",
    "properties": {
        "created": PLACEHOLDER,
        "state": "Queued",
        "input": {"@odata.type": "#Microsoft.Media.JobInputs", "inputs": []},
        "lastModified": PLACEHOLDER,
        "outputs": [],
        "priority": "Low",
        "correlationData": {},
    },
}


def test_a_job_with_only_placeholder_times_is_parsed_with_its_state() -> None:
    job = parse_job(QUEUED_2018, "exampleTransform")
    assert job.state == JobState.Queued
    assert job.created_unknown
    assert (job.last_modified, job.start_time, job.end_time) == (None, None, None)


def test_placeholder_start_and_end_times_read_as_not_set() -> None:
    body = json.loads(json.dumps(QUEUED_2018))
    body["properties"].update(state="Processing", created="2021-06-01T10:00:00Z",
                              startTime=PLACEHOLDER, endTime=PLACEHOLDER)
    job = parse_job(body, "t")
    assert not job.created_unknown
    assert job.start_time is None and job.end_time is None


def _era_2018_ids(seed: int, count: int) -> list[str]:
    traits = Fidelity(seed, enabled=True)
    ids = [f"era-{n}" for n in range(400)]
    chosen = [i for i in ids if (t := traits.traits(i)) is not None and t.era_2018]
    assert len(chosen) >= count, "the seed gives 2018-era jobs"
    return chosen[:count]


def test_placeholder_only_jobs_are_exported_over_http_aged_from_first_sight(
        simulator: Simulator, clock: ManualClock, make_exporter) -> None:
    """Through the simulator's 2018-era bodies: a Queued job with no real time is
    exported (on today's main it was dropped as malformed); its creation is when the
    exporter first saw it, and later refreshes keep that time."""
    simulator.add_v3_account("prod", subscription_id=SUB, resource_group="rg",
                             account_name="prodmedia", transforms=("t",))
    queued = _era_2018_ids(7, 1)[0]
    simulator.add_job("prod", SimJob(queued, queued, T0 - 3600), transform="t")
    simulator.fidelity = True
    exporter = make_exporter(f"""
refresh: {{min_interval: 0s, timeout: 10s, full_resync: 0s}}
accounts:
  - name: prod
    api: v3
    subscription_id: {SUB}
    resource_group: rg
    account_name: prodmedia
    arm_endpoint: {simulator.arm_endpoint}
    auth: {{method: token_file, path: TOKEN}}
""")
    first = scrape(exporter)
    labels = {"account": "prod", "job_id": queued}
    assert first.value("ams_job_state", state="Queued", **labels) == 1
    assert first.value("ams_job_created_timestamp_seconds", **labels) == T0
    assert first.value("ams_jobs_skipped_total", account="prod", reason="malformed") == 0
    assert not first.find("ams_job_last_modified_timestamp_seconds", **labels)
    clock.advance(120)
    later = scrape(exporter)
    assert later.value("ams_job_created_timestamp_seconds", **labels) == T0
    assert later.value("ams_job_age_seconds", **labels) == 120
    assert later.value("ams_jobs", account="prod", transform="t", state="Queued") == 1


class _Upstream(ThreadingHTTPServer):
    """A v2 API answering every GET with one good and one malformed job."""

    daemon_threads = True
    body = json.dumps({"value": [
        {"Id": "nb:jid:UUID:good", "Name": "good", "State": 0,
         "Created": "2025-12-31T23:00:00", "Priority": 0},
        {"Id": "nb:jid:UUID:bad\nforged line", "Name": "bad", "State": 99,
         "Created": "2025-12-31T23:00:00", "Priority": 0},
    ]}).encode()

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Upstream
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802
        with contextlib.suppress(OSError):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(self.server.body)))
            self.end_headers()
            self.wfile.write(self.server.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def upstream() -> Iterator[_Upstream]:
    server = _Upstream()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_a_malformed_record_is_counted_every_refresh_and_logged_once(
        upstream: _Upstream, clock: ManualClock, make_exporter,
        caplog: pytest.LogCaptureFixture) -> None:
    endpoint = f"http://127.0.0.1:{upstream.server_address[1]}/api/"
    exporter = make_exporter(f"""
refresh: {{min_interval: 0s, timeout: 5s, full_resync: 0s}}
accounts:
  - name: acct
    endpoint: {endpoint}
    auth: {{method: token_file, path: TOKEN}}
""")
    with caplog.at_level(logging.DEBUG):
        for refreshes in range(1, 4):
            metrics = scrape(exporter)
            assert metrics.job_ids("acct") == {"nb:jid:UUID:good"}
            assert metrics.value("ams_jobs_skipped_total", account="acct",
                                 reason="malformed") == refreshes
            clock.advance(1)
    logged = [r for r in caplog.records if "malformed job record" in r.getMessage()]
    assert len(logged) == 1
    assert logged[0].levelno == logging.WARNING
    assert "unknown State 99" in logged[0].getMessage()


def test_names_are_bounded_as_events_are() -> None:
    """A listing's names meet the bound events meet (exporter.jobs.model): a v3 name
    over it is malformed (it is the job's identity); a v2 Name is free text, cut."""
    long_name = "n" * (MAX_NAME_LENGTH + 1)
    with pytest.raises(MalformedRecord, match="name"):
        parse_job(dict(QUEUED_2018, name=long_name), "t")
    with pytest.raises(MalformedRecord, match="transform"):
        parse_job(QUEUED_2018, long_name)
    v2 = parse_v2({"Id": "nb:jid:UUID:1", "Name": long_name, "State": 0,
                   "Created": "2025-12-31T23:00:00"})
    assert len(v2.name) == MAX_NAME_LENGTH
