"""What the simulator sends, the exporter's parser reads: every delivery of both
schemas, MK.IO webhooks and the validation handshake parse without a malformed or
ignored item, and say the same states and times the simulator's timelines hold."""

from __future__ import annotations

import pytest

from exporter.backends.ams_v3.events import arm_route
from exporter.backends.mkio.events import mkio_route
from exporter.events.parse import parse_delivery
from exporter.jobs.states import JobState
from exporter.simulator import ManualClock, SimJob, Simulator
from tests.simulator.event_receiver import Receiver

T0 = 1767225600.0
WAIT = 10.0


def jobs() -> list[SimJob]:
    return [
        SimJob(id="ok", name="", created=T0 - 5, events=[
            (T0 + 10, JobState.Scheduled), (T0 + 20, JobState.Processing),
            (T0 + 100, JobState.Finished)]),
        SimJob(id="bad", name="", created=T0 - 5, events=[
            (T0 + 20, JobState.Processing), (T0 + 80, JobState.Error)],
            error_code="UploadNotAccessible", expected_processing=120),
        SimJob(id="stop", name="", created=T0 - 5, events=[
            (T0 + 20, JobState.Processing), (T0 + 50, JobState.Canceling),
            (T0 + 55, JobState.Canceled)]),
    ]


@pytest.mark.parametrize("schema", ["eventgrid", "cloudevents"])
@pytest.mark.parametrize("batch", [1, 7])
def test_the_exporter_parses_every_delivery(schema: str, batch: int) -> None:
    clock = ManualClock(T0)
    with Simulator(clock=clock, seed=9, fidelity=True) as sim, Receiver() as receiver:
        sim.add_v3_account("acct1")
        sim.add_mkio_account("proj1")
        for job in jobs():
            sim.add_job("acct1", job)
            sim.add_job("proj1", SimJob(id=job.id, name=job.name, created=job.created,
                                        events=job.events, error_code=job.error_code))
        feed = sim.start_events(receiver.url, schema=schema, batch=batch,
                                output_events=True)
        for _ in range(12):
            clock.advance(10)
            assert feed.wait_idle(WAIT)
        arm = arm_route(sim.arm_account("acct1").resource_id)
        parsed = [parse_delivery(r.body) for r in receiver.requests() if r.method == "POST"]
        assert all(p.malformed == 0 and p.ignored == 0 for p in parsed)
        if schema == "eventgrid":
            assert parsed[0].validation is not None
        events = [e for p in parsed for e in p.events]
        assert len(events) == feed.delivered == feed.generated
        media = [e for e in events if e.routes == (arm,)]
        mkio = [e for e in events if e.routes == (mkio_route("proj1"),)]
        assert len(media) + len(mkio) == len(events)
        final = {e.job_name: (e.state, e.time) for e in media if e.state is not None}
        assert final == {"ok": (JobState.Finished, T0 + 100), "bad": (JobState.Error, T0 + 80),
                         "stop": (JobState.Canceled, T0 + 55)}
        errored = next(e for e in media if e.type == "Microsoft.Media.JobErrored")
        assert [error.code for error in errored.errors] == ["UploadNotAccessible"]
        assert errored.progress == pytest.approx(0.5)
        assert any(e.type == "Microsoft.Media.JobOutputProgress" for e in media)
        assert [(e.job_name, e.type, e.state) for e in mkio] == [
            ("ok", "MediaKind.JobStarted", JobState.Processing),
            ("bad", "MediaKind.JobStarted", JobState.Processing),
            ("stop", "MediaKind.JobStarted", JobState.Processing),
            ("stop", "MediaKind.JobFinished", JobState.Canceled),
            ("bad", "MediaKind.JobFinished", JobState.Error),
            ("ok", "MediaKind.JobFinished", JobState.Finished)]
        assert all(e.record is not None and e.record.state == e.state for e in mkio)
