"""Generated jobs' correlationData: in v3, RMS and MK.IO bodies and their events, by
seed, with as many values as asked for; v2 bodies stay as they were."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest
import requests

from exporter.jobs.states import JobState
from exporter.simulator import ManualClock, SimJob, Simulator, cli
from exporter.simulator.generator import TENANTS, WORKFLOWS, correlation_data
from tests.simulator.event_receiver import Receiver

T0 = 1767225600.0
WAIT = 10.0


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


def v3_jobs(sim: Simulator, account: str = "acct1") -> list[dict]:
    arm = sim.arm_account(account)
    url = (f"{sim.arm_endpoint}{arm.resource_id}/transforms/encode-720p/jobs"
           "?api-version=2022-07-01")
    body = requests.get(url, timeout=10).json()
    return body["value"]


def test_generated_v3_jobs_carry_a_few_named_customers_and_workflows(clock):
    with Simulator(clock=clock, seed=3, require_auth=False).start() as sim:
        sim.add_v3_account("acct1")
        sim.generate_jobs("acct1", n=200, start=T0 - 3600, end=T0 - 1)
        data = [job["properties"]["correlationData"] for job in v3_jobs(sim)]
    assert {d["customerId"] for d in data} == set(TENANTS)
    assert {d["workflow"] for d in data if "workflow" in d} == set(WORKFLOWS)
    assert 0 < sum("workflow" not in d for d in data) < 50


def test_a_seed_gives_the_same_data_and_the_same_jobs_as_before(clock):
    def names_and_data(values: int | None) -> list[tuple[str, dict]]:
        with Simulator(clock=clock, seed=3, require_auth=False,
                       correlation_values=values).start() as sim:
            sim.add_v3_account("acct1")
            sim.generate_jobs("acct1", n=50, start=T0 - 3600, end=T0 - 1)
            return [(job["name"], job["properties"]["correlationData"])
                    for job in v3_jobs(sim)]

    first = names_and_data(None)
    assert first == names_and_data(None)
    wide = names_and_data(50)
    assert [name for name, _ in wide] == [name for name, _ in first]
    assert all(data == correlation_data(name, 50) for name, data in wide)


def test_the_benchmark_option_gives_fifty_values_of_each_key():
    data = [correlation_data(f"job-{i:016x}", 50) for i in range(20_000)]
    assert len({d["customerId"] for d in data}) == 50
    assert len({d["workflow"] for d in data if "workflow" in d}) == 50
    pairs = {(d["customerId"], d.get("workflow")) for d in data}
    assert len(pairs) <= 4 * 50, "a customer runs a few workflows, not all fifty"
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    args = parser.parse_args(["--api", "v3", "--correlation-values", "50", "--jobs", "300"])
    sim = cli.build(args)
    job = sim.get_job("demo", sim.generate_jobs("demo", 1, T0 - 10, T0)[0])
    assert job is not None and job.correlation is not None
    assert str(job.correlation["customerId"]).startswith("customer-0")
    with pytest.raises(SystemExit):
        parser.parse_args(["--correlation-values", "0"])


def test_mkio_bodies_and_v2_bodies(clock):
    with Simulator(clock=clock, seed=3, require_auth=False).start() as sim:
        sim.add_mkio_account("mk", project="proj", transforms=("encode",))
        token = sim.add_mkio_token("mk")
        sim.add_job("mk", SimJob("job-a", "job-a", T0 - 60, correlation={"customerId": "c"}))
        sim.add_job("mk", SimJob("job-b", "job-b", T0 - 50))
        body = requests.get(f"{sim.mkio_endpoint}/api/v1/projects/proj/media/jobs",
                            headers={"Authorization": f"Bearer {token}"}, timeout=10).json()
        properties = {job["name"]: job["properties"] for job in body["value"]}
        assert properties["job-a"]["correlationData"] == {"customerId": "c"}
        assert "correlationData" not in properties["job-b"]
        sim.add_v2_account("legacy")
        ids = sim.generate_jobs("legacy", n=5, start=T0 - 600, end=T0 - 1)
        v2_jobs = [sim.get_job("legacy", job_id) for job_id in ids]
        assert all(job is not None and job.correlation is None for job in v2_jobs)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as server:
        yield server


def test_events_carry_the_jobs_correlation_data(clock, receiver):
    with Simulator(clock=clock, seed=3, require_auth=False) as sim:
        sim.add_v3_account("acct1")
        sim.add_job("acct1", SimJob("job1", "job1", T0 - 5, correlation={"customerId": "c"},
                                    events=[(T0 + 10, JobState.Processing),
                                            (T0 + 50, JobState.Finished)]))
        feed = sim.start_events(receiver.url, progress_interval=20, output_events=True)
        assert feed.wait_idle(WAIT)
        clock.advance(60)
        assert feed.wait_idle(WAIT)
    events = receiver.events()
    specific = [e for e in events if e["eventType"] in (
        "Microsoft.Media.JobProcessing", "Microsoft.Media.JobFinished")]
    assert specific and all(e["data"]["correlationData"] == {"customerId": "c"}
                            for e in specific)
    outputs = [e for e in events if "JobOutput" in e["eventType"]]
    assert outputs and all(e["data"]["jobCorrelationData"] == {"customerId": "c"}
                           for e in outputs)
