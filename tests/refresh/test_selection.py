"""Which jobs an account exports: selection, lookback, retention and the job cap."""

from __future__ import annotations

from exporter.jobs.model import Job, JobKey
from exporter.jobs.selection import JobSelection
from exporter.jobs.states import JobState
from exporter.refresh.selection import Room, Selector
from tests.helpers import T0
from tests.refresh.builders import job, policy

EVERYTHING = JobSelection()


def by_key(*jobs: Job) -> dict[JobKey, Job]:
    return {j.key: j for j in jobs}


def test_active_jobs_are_retained_whatever_their_age():
    selector = Selector(EVERYTHING, policy(finished=60))
    assert selector.retained(job("a", JobState.Processing, created=T0 - 10**6), T0)


def test_finished_jobs_stay_for_their_retention_after_they_ended():
    selector = Selector(EVERYTHING, policy(finished=3600, failed=86400))
    done = job("done", JobState.Finished, ended=T0)
    assert selector.retained(done, T0 + 3600), "the boundary is kept"
    assert not selector.retained(done, T0 + 3600.5)


def test_failed_jobs_stay_for_the_failed_retention():
    selector = Selector(EVERYTHING, policy(finished=3600, failed=86400))
    failed = job("failed", JobState.Error, ended=T0)
    assert selector.retained(failed, T0 + 7200)
    assert not selector.retained(failed, T0 + 86401)


def test_a_final_job_without_an_end_time_is_retained():
    selector = Selector(EVERYTHING, policy(finished=1))
    undated = Job(job_id="odd", name="odd", state=JobState.Canceled, created=T0 - 10**6)
    assert selector.retained(undated, T0)


def test_lookback_leaves_out_old_final_jobs_but_not_old_active_ones():
    selector = Selector(EVERYTHING, policy(lookback=3600, finished=10**7))
    old_done = job("old", JobState.Finished, created=T0 - 7200, ended=T0 - 7000)
    old_running = job("running", JobState.Processing, created=T0 - 7200)
    recent_done = job("recent", JobState.Finished, created=T0 - 600)
    assert not selector.wanted(old_done, T0)
    assert selector.wanted(old_running, T0)
    assert selector.wanted(recent_done, T0)


def test_states_and_name_regex_are_applied_client_side():
    selection = JobSelection.model_validate({"states": ["Error"], "name_regex": "^enc-"})
    selector = Selector(selection, policy())
    assert selector.wanted(job("enc-1", JobState.Error), T0)
    assert not selector.wanted(job("enc-2", JobState.Finished), T0)
    assert not selector.wanted(job("other", JobState.Error), T0)


def test_select_filters_then_caps_and_says_how_many_the_cap_left_out():
    selector = Selector(EVERYTHING, policy(max_jobs=2, finished=3600))
    expired = job("expired", JobState.Finished, ended=T0 - 7200)
    candidates = by_key(expired, job("a", JobState.Finished, created=T0 - 500),
                        job("b", JobState.Finished, created=T0 - 400),
                        job("c", JobState.Finished, created=T0 - 300))
    kept, over = selector.select(candidates, T0)
    assert set(kept) == {("t", "b"), ("t", "c")}
    assert over == 1, "the expired job is not selected, so not counted for the limit"


def test_within_the_cap_the_same_mapping_comes_back():
    selector = Selector(EVERYTHING, policy(max_jobs=2))
    jobs = by_key(job("a", JobState.Finished), job("b", JobState.Queued))
    capped, over = selector.cap(jobs)
    assert capped is jobs and over == 0


def test_the_cap_keeps_active_jobs_first_then_the_newest():
    selector = Selector(EVERYTHING, policy(max_jobs=2))
    old_active = job("old-active", JobState.Queued, created=T0 - 9000)
    new_done = job("new-done", JobState.Finished, created=T0 - 10)
    older_done = job("older-done", JobState.Finished, created=T0 - 20)
    capped, over = selector.cap(by_key(older_done, new_done, old_active))
    assert set(capped) == {old_active.key, new_done.key} and over == 1


def test_jobs_join_without_displacing_anyone_while_there_is_room():
    selector = Selector(EVERYTHING, policy(max_jobs=3))
    current = by_key(job("a", JobState.Finished))
    changed = by_key(job("b", JobState.Queued), job("a", JobState.Error))
    assert selector.make_room(current, changed) == Room(changed, set(), set())


def test_past_the_cap_the_lowest_ranked_of_old_and_new_stay_out():
    selector = Selector(EVERYTHING, policy(max_jobs=2))
    current = by_key(job("old", JobState.Finished, created=T0 - 900),
                     job("running", JobState.Processing, created=T0 - 800))
    changed = by_key(job("older", JobState.Finished, created=T0 - 950),
                     job("fresh", JobState.Queued, created=T0 - 1))
    room = selector.make_room(current, changed)
    assert room.joining == {("t", "fresh"): changed[("t", "fresh")]}
    assert room.evicted == {("t", "old")}, "only exported jobs are evicted"
    assert room.dropped == {("t", "old"), ("t", "older")}


def test_a_job_replacing_its_exported_version_takes_no_extra_room():
    selector = Selector(EVERYTHING, policy(max_jobs=1))
    current = by_key(job("a", JobState.Processing))
    changed = by_key(job("a", JobState.Finished))
    assert selector.make_room(current, changed).dropped == set()


def test_nothing_expired_means_no_new_mapping():
    selector = Selector(EVERYTHING, policy(finished=3600))
    jobs = by_key(job("a", JobState.Finished, ended=T0), job("b", JobState.Processing))
    assert selector.unexpired(jobs, T0 + 3600) is None
    assert selector.unexpired(jobs, T0 + 3601) == {("t", "b"): jobs[("t", "b")]}
