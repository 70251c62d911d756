"""What publishing jobs counts: state transitions, run times of jobs seen ending and
queue times of jobs seen starting, each job once."""

from __future__ import annotations

import dataclasses

from exporter.jobs.model import Job, JobKey
from exporter.jobs.states import JobState
from exporter.refresh.status import AccountStatus
from exporter.refresh.transitions import Observed, observe, seen_ending, seen_starting
from tests.helpers import T0
from tests.refresh.builders import job

WATCHING_SINCE = T0


def by_key(*jobs: Job) -> dict[JobKey, Job]:
    return {j.key: j for j in jobs}


def test_new_jobs_and_changed_states_count_as_transitions_unchanged_ones_do_not():
    current = by_key(job("same", JobState.Processing), job("moved", JobState.Queued))
    seen = by_key(job("same", JobState.Processing), job("moved", JobState.Scheduled),
                  job("new", JobState.Queued, transform="u"))
    observed = observe(current, seen, WATCHING_SINCE)
    assert observed.entered == {("t", JobState.Scheduled, ()): 1,
                                ("u", JobState.Queued, ()): 1}


def test_a_job_seen_ending_after_being_seen_active_is_timed():
    running = job("j", JobState.Processing, created=T0 - 100, started=T0 - 90)
    done = job("j", JobState.Finished, created=T0 - 100, started=T0 - 90, ended=T0 - 80)
    assert seen_ending(running, done, WATCHING_SINCE), "even though it ended before we watched"
    assert not seen_ending(done, done, WATCHING_SINCE), "once"


def test_a_job_first_seen_final_is_timed_only_if_it_ended_while_we_watched():
    before = job("j", JobState.Error, started=T0 - 90, ended=T0 - 1)
    after = job("j", JobState.Error, started=T0 - 90, ended=T0)
    assert not seen_ending(None, before, WATCHING_SINCE)
    assert seen_ending(None, after, WATCHING_SINCE)


def test_a_final_job_without_a_start_is_not_timed():
    canceled = Job(job_id="j", name="j", state=JobState.Canceled, created=T0, end_time=T0 + 1)
    assert not seen_ending(job("j", JobState.Queued), canceled, WATCHING_SINCE)


def test_queue_time_is_taken_once_when_a_job_is_first_seen_started():
    queued = job("j", JobState.Queued, created=T0 - 100)
    running = job("j", JobState.Processing, created=T0 - 100, started=T0 - 10)
    assert seen_starting(queued, running, WATCHING_SINCE)
    assert not seen_starting(running, running, WATCHING_SINCE)
    assert not seen_starting(None, running, WATCHING_SINCE), "started before we watched"
    assert seen_starting(None, job("k", JobState.Processing, started=T0), WATCHING_SINCE)
    assert not seen_starting(None, queued, WATCHING_SINCE)


def test_observing_counts_nothing_until_told_to():
    status = AccountStatus()
    current = by_key(job("j", JobState.Processing, created=T0 - 100, started=T0 - 90))
    seen = by_key(job("j", JobState.Finished, created=T0 - 100, started=T0 - 90,
                      ended=T0 + 30),
                  job("k", JobState.Processing, created=T0 - 20, started=T0 + 10))
    observed = observe(current, seen, WATCHING_SINCE)
    assert not status.transitions and not status.durations and not status.queue_durations
    observed.count(status)
    assert status.transitions == {("t", JobState.Finished, ()): 1,
                                  ("t", JobState.Processing, ()): 1}
    duration = status.durations[("t", JobState.Finished, ())]
    assert duration.count == 1 and duration.snapshot()[1] == 120.0
    queue = status.queue_durations[("t", ())]
    assert queue.count == 1 and queue.snapshot()[1] == 30.0


def test_times_that_run_backwards_count_as_zero():
    status = AccountStatus()
    odd = job("j", JobState.Finished, created=T0 + 50, started=T0 + 40, ended=T0 + 20)
    Observed(ended=[odd], started=[odd]).count(status)
    assert status.durations[("t", JobState.Finished, ())].snapshot()[1] == 0.0
    assert status.queue_durations[("t", ())].snapshot()[1] == 0.0
    assert status.durations[("t", JobState.Finished, ())].count == 1


def test_transitions_and_durations_count_by_the_jobs_correlation_labels():
    status = AccountStatus()
    acme = dataclasses.replace(job("j", JobState.Finished, created=T0 - 100, started=T0 - 90,
                                   ended=T0 + 30), correlation=("acme",))
    observe({}, by_key(acme), WATCHING_SINCE).count(status)
    assert status.transitions == {("t", JobState.Finished, ("acme",)): 1}
    assert status.durations[("t", JobState.Finished, ("acme",))].count == 1
