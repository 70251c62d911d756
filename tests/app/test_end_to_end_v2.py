"""The exporter against the simulator over real HTTP (v2 API)."""

from __future__ import annotations

import pytest

from exporter.jobs.states import JobState
from exporter.simulator import SimJob, Simulator
from tests.helpers import T0, scrape, uid, v2_config


@pytest.fixture
def lifecycle_jobs(simulator: Simulator) -> dict[str, SimJob]:
    """One job in each interesting place of the lifecycle, as of T0."""
    jobs = {
        "queued": SimJob(uid(1), "queued job", T0 - 60),
        "scheduled": SimJob(uid(2), "scheduled job", T0 - 120,
                            events=[(T0 - 100, JobState.Scheduled)]),
        "processing": SimJob(uid(3), "processing job", T0 - 600, priority=3,
                             template_id="nb:jtid:UUID:aaaa",
                             events=[(T0 - 590, JobState.Scheduled),
                                     (T0 - 500, JobState.Processing)]),
        "finished": SimJob(uid(4), "finished job", T0 - 3600,
                           events=[(T0 - 3590, JobState.Scheduled),
                                   (T0 - 3500, JobState.Processing),
                                   (T0 - 3000.25, JobState.Finished)]),
        "failed": SimJob(uid(5), "failed job", T0 - 1800,
                         events=[(T0 - 1790, JobState.Processing),
                                 (T0 - 1700, JobState.Error)]),
        "canceled": SimJob(uid(6), "canceled job", T0 - 900,
                           events=[(T0 - 800, JobState.Canceling),
                                   (T0 - 790, JobState.Canceled)]),
        "future": SimJob(uid(7), "not created yet", T0 + 600),
    }
    for job in jobs.values():
        simulator.add_job("acct", job)
    return jobs


def test_every_job_appears_with_state_times_and_age(simulator, make_exporter, lifecycle_jobs):
    exporter = make_exporter(v2_config(simulator.v2_endpoint("acct")))
    metrics = scrape(exporter)
    expected_states = {"queued": "Queued", "scheduled": "Scheduled",
                       "processing": "Processing", "finished": "Finished",
                       "failed": "Error", "canceled": "Canceled"}
    assert metrics.job_ids() == {lifecycle_jobs[k].id for k in expected_states}
    for key, state in expected_states.items():
        job = lifecycle_jobs[key]
        ids = {"job_id": job.id}
        for other in JobState:
            assert metrics.value("ams_job_state", state=other.name, **ids) == (
                1 if other.name == state else 0)
        assert metrics.value("ams_job_state_code", **ids) == JobState[state].value
        assert metrics.value("ams_job_created_timestamp_seconds", **ids) == job.created
        assert metrics.value("ams_job_age_seconds", **ids) == pytest.approx(T0 - job.created)
        assert metrics.value("ams_job_priority", **ids) == job.priority

    processing = {"job_id": lifecycle_jobs["processing"].id}
    assert metrics.value("ams_job_start_timestamp_seconds", **processing) == T0 - 500
    assert metrics.value("ams_job_running_duration_seconds", **processing) == pytest.approx(500)
    assert not metrics.find("ams_job_end_timestamp_seconds", **processing)
    info = metrics.find("ams_job_info", **processing)
    assert [dict(k)["template_id"] for k in info] == ["nb:jtid:UUID:aaaa"]

    finished = {"job_id": lifecycle_jobs["finished"].id}
    assert metrics.value("ams_job_end_timestamp_seconds", **finished) == T0 - 3000.25
    assert metrics.value("ams_job_running_duration_seconds", **finished) == pytest.approx(499.75)
    assert metrics.value("ams_job_last_modified_timestamp_seconds", **finished) == T0 - 3000.25

    queued = {"job_id": lifecycle_jobs["queued"].id}
    assert metrics.value("ams_job_running_duration_seconds", **queued) == 0
    assert not metrics.find("ams_job_start_timestamp_seconds", **queued)

    assert metrics.value("ams_jobs", account="acct", state="Processing") == 1
    assert metrics.value("ams_jobs", account="acct", state="Canceling") == 0
    assert metrics.value("ams_job_oldest_age_seconds", state="Queued") == pytest.approx(60)
    assert metrics.value("ams_job_oldest_age_seconds", state="Processing") == pytest.approx(600)
    assert metrics.value("ams_up", account="acct") == 1
    assert metrics.value("ams_api_requests_total", account="acct", code="200") == 1


def test_ages_and_running_durations_move_at_scrape_time(simulator, clock, make_exporter,
                                                        lifecycle_jobs):
    config = v2_config(simulator.v2_endpoint("acct")).replace("min_interval: 0s",
                                                              "min_interval: 1h")
    exporter = make_exporter(config)
    first = scrape(exporter)
    clock.advance(100)
    second = scrape(exporter)
    assert simulator.request_count(account="acct") == 1  # served from the snapshot
    processing = {"job_id": lifecycle_jobs["processing"].id}
    finished = {"job_id": lifecycle_jobs["finished"].id}
    assert second.value("ams_job_running_duration_seconds", **processing) == pytest.approx(
        first.value("ams_job_running_duration_seconds", **processing) + 100)
    assert second.value("ams_job_age_seconds", **processing) == pytest.approx(700)
    assert second.value("ams_job_running_duration_seconds", **finished) == pytest.approx(499.75)


def test_paging_over_more_than_1000_jobs_loses_and_duplicates_nothing(simulator, make_exporter):
    ids = simulator.generate_jobs("acct", n=2500, start=T0 - 3600 * 40, end=T0 - 60)
    exporter = make_exporter(v2_config(simulator.v2_endpoint("acct"),
                                       top="retention: {finished: 3d, failed: 3d}"))
    metrics = scrape(exporter)
    assert metrics.job_ids() == set(ids)
    assert len(metrics.find("ams_job_state_code")) == 2500
    assert sum(metrics.find("ams_jobs", account="acct").values()) == 2500
    listing = [r for r in simulator.requests if r.kind == "jobs"]
    assert len(listing) == 3
    assert all(r.decoded_query.get("$top") == "1000" for r in listing)
    assert [r.decoded_query.get("$skip") for r in listing] == ["0", "1000", "2000"]


def test_a_scripted_failure_shows_on_the_next_scrape(simulator, clock, make_exporter,
                                                     lifecycle_jobs):
    exporter = make_exporter(v2_config(simulator.v2_endpoint("acct")))
    job = lifecycle_jobs["processing"]
    before = scrape(exporter)
    assert before.value("ams_job_state", job_id=job.id, state="Processing") == 1
    errors_before = before.value("ams_job_transitions_total", to_state="Error")
    simulator.script_state("acct", job.id, JobState.Error, at=T0 + 5)
    clock.advance(10)
    after = scrape(exporter)
    assert after.value("ams_job_state", job_id=job.id, state="Error") == 1
    assert after.value("ams_job_state", job_id=job.id, state="Processing") == 0
    assert after.value("ams_job_end_timestamp_seconds", job_id=job.id) == T0 + 5
    assert after.value("ams_job_running_duration_seconds", job_id=job.id) == pytest.approx(505)
    assert after.value("ams_job_transitions_total", to_state="Error") == errors_before + 1


def test_odd_job_names_are_exported_intact(simulator, make_exporter):
    name = 'He said "it\'s done" \\ C:\\media\\in.mp4\nline two — 日本語 ü 🎬'
    simulator.add_job("acct", SimJob(uid(42), name, T0 - 10))
    simulator.add_job("acct", SimJob(uid(43), "", T0 - 10))
    exporter = make_exporter(v2_config(simulator.v2_endpoint("acct")))
    metrics = scrape(exporter)
    assert [dict(k)["job_name"] for k in metrics.find("ams_job_state_code", job_id=uid(42))] == [
        name]
    assert metrics.find("ams_job_state_code", job_id=uid(43), job_name="")


def test_an_id_with_a_quote_is_quoted_in_the_filter(simulator, make_exporter):
    tricky = "nb:jid:UUID:it's' or Id ne '"
    simulator.add_job("acct", SimJob(tricky, "tricky", T0 - 10))
    simulator.add_job("acct", SimJob(uid(8), "other", T0 - 10))
    exporter = make_exporter(v2_config(simulator.v2_endpoint("acct"), extra_account=f"""
    jobs:
      ids: ["{tricky}"]
"""))
    metrics = scrape(exporter)
    assert metrics.job_ids() == {tricky}
    [request] = [r for r in simulator.requests if r.kind == "jobs"]
    assert request.decoded_query["$filter"] == "Id eq 'nb:jid:UUID:it''s'' or Id ne '''"


def test_many_ids_are_fetched_in_few_requests(simulator, make_exporter):
    ids = simulator.generate_jobs("acct", n=120, start=T0 - 3600, end=T0 - 60)
    wanted = ids[:90]
    id_list = ", ".join(f'"{i}"' for i in wanted)
    exporter = make_exporter(v2_config(simulator.v2_endpoint("acct"), extra_account=f"""
    jobs:
      ids: [{id_list}]
"""))
    metrics = scrape(exporter)
    assert metrics.job_ids() == set(wanted)
    requests_made = simulator.request_count(account="acct", kind="jobs")
    assert 1 <= requests_made <= 6  # the seed's method would make 90


def test_selection_by_states_and_name_regex(simulator, make_exporter, lifecycle_jobs):
    exporter = make_exporter(v2_config(simulator.v2_endpoint("acct"), extra_account="""
    jobs:
      states: [Processing, Error, Finished]
      name_regex: "^(processing|failed)"
"""))
    metrics = scrape(exporter)
    assert metrics.job_ids() == {lifecycle_jobs["processing"].id, lifecycle_jobs["failed"].id}


def test_lookback_and_retention(simulator, make_exporter):
    old_active = SimJob(uid(20), "old but active", T0 - 5 * 86400,
                        events=[(T0 - 5 * 86400 + 10, JobState.Processing)])
    old_done = SimJob(uid(21), "old and finished", T0 - 5 * 86400,
                      events=[(T0 - 5 * 86400 + 10, JobState.Finished)])
    finished_long_ago = SimJob(uid(22), "finished 7h ago", T0 - 8 * 3600,
                               events=[(T0 - 7 * 3600, JobState.Finished)])
    failed_long_ago = SimJob(uid(23), "failed 7h ago", T0 - 8 * 3600,
                             events=[(T0 - 7 * 3600, JobState.Error)])
    for job in (old_active, old_done, finished_long_ago, failed_long_ago):
        simulator.add_job("acct", job)
    exporter = make_exporter(v2_config(simulator.v2_endpoint("acct"),
                                       top="lookback: 2d\nretention: {finished: 6h, failed: 1d}"))
    assert scrape(exporter).job_ids() == {old_active.id, failed_long_ago.id}


def test_job_limit_is_counted(simulator, make_exporter):
    simulator.generate_jobs("acct", n=30, start=T0 - 3600, end=T0 - 60)
    exporter = make_exporter(v2_config(simulator.v2_endpoint("acct"),
                                       top="max_jobs_per_account: 10"))
    metrics = scrape(exporter)
    assert len(metrics.job_ids()) == 10
    assert metrics.value("ams_jobs_skipped_total", reason="limit") == 20


def test_simulator_down_keeps_last_data_and_recovers(simulator, clock, make_exporter,
                                                     lifecycle_jobs):
    exporter = make_exporter(v2_config(simulator.v2_endpoint("acct")))
    healthy = scrape(exporter)
    assert healthy.value("ams_up", account="acct") == 1
    simulator.set_down(True)
    clock.advance(1)
    down = scrape(exporter)
    assert down.value("ams_up", account="acct") == 0
    assert down.job_ids() == healthy.job_ids()  # last good data is kept
    assert down.value("ams_api_requests_total", code="500") >= 1
    assert down.value("ams_last_refresh_success_timestamp_seconds") == T0
    simulator.set_down(False)
    simulator.add_job("acct", SimJob(uid(99), "new while down", T0))
    clock.advance(1)
    back = scrape(exporter)
    assert back.value("ams_up", account="acct") == 1
    assert back.job_ids() == healthy.job_ids() | {uid(99)}


def test_malformed_pages_and_errors_mark_the_account_down(simulator, clock, make_exporter,
                                                          lifecycle_jobs):
    exporter = make_exporter(v2_config(simulator.v2_endpoint("acct")))
    good = scrape(exporter)
    for faults in ({"malformed_rate": 1.0}, {"error_rate": 1.0}, {"throttle_rate": 1.0},
                   {"reset_rate": 1.0}):
        simulator.set_faults(account=None, **faults)
        clock.advance(1)
        metrics = scrape(exporter)
        assert metrics.value("ams_up", account="acct") == 0, faults
        assert metrics.job_ids() == good.job_ids()
        simulator.set_faults(account=None)
    assert metrics.value("ams_api_throttled_total", account="acct") >= 1
    assert metrics.value("ams_api_requests_total", code="error") >= 1
    clock.advance(1)
    assert scrape(exporter).value("ams_up", account="acct") == 1


def test_legacy_endpoint_redirect_is_resolved_once(simulator, clock, make_exporter,
                                                   lifecycle_jobs):
    exporter = make_exporter(v2_config(simulator.legacy_endpoint))
    first = scrape(exporter)
    assert first.value("ams_up", account="acct") == 1
    assert len(first.job_ids()) == 6
    assert simulator.request_count(kind="legacy") == 1
    clock.advance(1)
    scrape(exporter)
    assert simulator.request_count(kind="legacy") == 1
    assert simulator.request_count(account="acct", kind="jobs") == 2


def test_verbose_json_gives_the_same_numbers(simulator, make_exporter, lifecycle_jobs):
    light = scrape(make_exporter(v2_config(simulator.v2_endpoint("acct"))))
    verbose_config = v2_config(simulator.v2_endpoint("acct"),
                               extra_account="    odata_format: verbose")
    verbose = scrape(make_exporter(verbose_config))
    assert any("odata=verbose" in r.headers.get("Accept", "") for r in simulator.requests)
    per_job = {k: v for k, v in light.samples.items() if k[0].startswith("ams_job_")}
    assert per_job == {k: v for k, v in verbose.samples.items() if k[0].startswith("ams_job_")}


def test_task_progress_and_error_codes(simulator, clock, make_exporter):
    job = SimJob(uid(30), "half way", T0 - 200, events=[(T0 - 100, JobState.Processing),
                                                       (T0 + 100, JobState.Finished)])
    failed = SimJob(uid(31), "broken", T0 - 200, error_code="ErrorDownloadingInputAsset",
                    events=[(T0 - 100, JobState.Processing), (T0 - 50, JobState.Error)])
    simulator.add_job("acct", job)
    simulator.add_job("acct", failed)
    exporter = make_exporter(v2_config(simulator.v2_endpoint("acct"),
                                       extra_account="    progress: true"))
    metrics = scrape(exporter)
    assert metrics.value("ams_job_progress_ratio", job_id=job.id) == pytest.approx(0.5, abs=0.01)
    [error] = metrics.find("ams_job_error_info", job_id=failed.id)
    assert dict(error)["code"] == "ErrorDownloadingInputAsset"
    tasks_requests = simulator.request_count(kind="tasks")
    assert tasks_requests == 2
    clock.advance(50)
    metrics = scrape(exporter)
    assert metrics.value("ams_job_progress_ratio", job_id=job.id) == pytest.approx(0.75, abs=0.01)
    # error codes are looked up once per failed job, not on every refresh
    assert simulator.request_count(kind="tasks") == tasks_requests + 1


def test_bearer_token_is_sent_and_required(simulator, clock, make_exporter, lifecycle_jobs):
    scrape(make_exporter(v2_config(simulator.v2_endpoint("acct"))))
    assert simulator.requests[-1].headers.get("Authorization") == "Bearer test-token"
    assert simulator.requests[-1].headers.get("x-ms-version") == "2.19"
    anonymous = make_exporter(v2_config(simulator.v2_endpoint("acct"), auth="{method: none}"))
    metrics = scrape(anonymous)
    assert metrics.value("ams_up", account="acct") == 0
    assert metrics.value("ams_api_requests_total", code="401") == 1
    assert anonymous.refreshers[0].status.last_error.startswith("HTTP 401")
