"""An account's marks: push events merged into its exported jobs, and their claims
within the grace merged into the API's next answers (a refresh, a read by name).
One job's Mark is tested in tests/events/test_event_trust.py."""

from __future__ import annotations

from exporter.jobs.claims import EVENT_GRACE
from exporter.jobs.model import Job, JobKey
from exporter.jobs.states import JobState
from exporter.refresh.marks import Marks
from tests.helpers import T0
from tests.refresh.builders import event, job

POLLED_AT = T0 - 100


def by_key(*jobs: Job) -> dict[JobKey, Job]:
    return {j.key: j for j in jobs}


def everything(_: Job) -> bool:
    return True


def marked(current: dict[JobKey, Job], *events, received: float = T0) -> Marks:
    marks = Marks()
    marks.apply(list(events), received, current, POLLED_AT)
    return marks


def test_events_change_exported_jobs_and_name_the_others_once_in_order():
    current = by_key(job("known", JobState.Queued, created=T0 - 50))
    marks = Marks()
    changed, unknown = marks.apply([event("ghost", JobState.Error, T0),
                                    event("known", JobState.Processing, T0 - 5),
                                    event("new", JobState.Queued, T0),
                                    event("ghost", JobState.Finished, T0)],
                                   T0, current, POLLED_AT)
    assert unknown == [("t", "ghost"), ("t", "new")]
    assert set(changed) == {("t", "known")}
    assert changed[("t", "known")].state == JobState.Processing
    assert changed[("t", "known")].start_time == T0 - 5
    assert len(marks) == 1 and ("t", "known") in marks and ("t", "ghost") not in marks


def test_a_mark_remembers_the_api_record_and_when_it_was_polled():
    record = job("j", JobState.Queued)
    marks = marked(by_key(record), event("j", JobState.Processing, T0))
    mark = marks.get(("t", "j"))
    assert mark is not None
    assert (mark.base, mark.base_at) == (record, POLLED_AT)
    assert mark.known_at == T0, "the event's time"


def test_events_of_one_batch_build_on_each_other():
    current = by_key(job("j", JobState.Queued))
    changed, _ = Marks().apply([event("j", JobState.Processing, T0 - 10),
                                event("j", None, T0 - 5, progress=0.5)],
                               T0, current, POLLED_AT)
    applied = changed[("t", "j")]
    assert (applied.state, applied.progress, applied.start_time) == (
        JobState.Processing, 0.5, T0 - 10)


def test_a_repeated_delivery_changes_nothing():
    current = by_key(job("j", JobState.Queued))
    marks = Marks()
    delivery = [event("j", JobState.Processing, T0 - 10)]
    first, _ = marks.apply(delivery, T0, current, POLLED_AT)
    again, _ = marks.apply(delivery, T0, {**current, **first}, POLLED_AT)
    assert first and again == {}


def test_an_incremental_sync_merges_into_the_api_records_not_the_claims():
    record = job("j", JobState.Queued)
    other = job("other", JobState.Finished)
    marks = marked(by_key(record, other), event("j", JobState.Processing, T0))
    shown = by_key(job("j", JobState.Processing, started=T0), other)
    assert marks.api_jobs(shown) == by_key(record, other)
    assert marks.api_jobs(by_key(other)) == by_key(other), "marks of jobs not exported"


def test_claims_within_their_grace_stay_on_top_of_the_next_refresh():
    current = by_key(job("j", JobState.Processing))
    marks = marked(current, event("j", JobState.Finished, T0 - 1), received=T0)
    polled = by_key(job("j", JobState.Processing))
    merged = marks.reapply(polled, current, T0 + EVENT_GRACE - 1)
    assert merged[("t", "j")].state == JobState.Finished, "may be newer than the answer"
    assert merged is not polled and polled[("t", "j")].state == JobState.Processing
    assert len(marks) == 1


def test_claims_past_their_grace_yield_to_the_refresh_and_the_mark_goes():
    current = by_key(job("j", JobState.Processing))
    marks = marked(current, event("j", JobState.Error, T0 - 1), received=T0)
    polled = by_key(job("j", JobState.Processing, last_modified=T0 + 5))
    merged = marks.reapply(polled, current, T0 + EVENT_GRACE)
    assert merged == polled
    assert len(marks) == 0


def test_a_job_the_refresh_no_longer_has_loses_its_mark():
    current = by_key(job("j", JobState.Processing), job("k", JobState.Queued))
    marks = marked(current, event("j", JobState.Finished, T0))
    polled = by_key(job("k", JobState.Queued))
    assert marks.reapply(polled, current, T0) == polled
    assert len(marks) == 0


def test_a_job_read_by_name_while_the_refresh_ran_stays_as_exported():
    marks = Marks()
    new = job("new", JobState.Processing, created=T0)
    changed = marks.confirm(by_key(new), {}, POLLED_AT, T0 + 1, everything)
    exported = dict(changed)
    merged = marks.reapply({}, exported, T0)  # the refresh began before the read
    assert merged == exported
    assert len(marks) == 1


def test_without_marks_a_refresh_comes_back_as_it_is():
    polled = by_key(job("j", JobState.Queued))
    assert Marks().reapply(polled, {}, T0) is polled


def test_jobs_read_by_name_join_when_wanted_and_new():
    found = by_key(job("new", JobState.Queued), job("unwanted", JobState.Finished),
                   job("same", JobState.Processing))
    current = by_key(job("same", JobState.Processing))
    marks = Marks()
    changed = marks.confirm(found, current, POLLED_AT - 1000, T0,
                            lambda j: j.state.is_active)
    assert changed == by_key(found[("t", "new")])
    assert len(marks) == 1 and ("t", "new") in marks, "unchanged jobs take no mark"


def test_an_answer_older_than_what_is_known_is_left_out():
    current = by_key(job("j", JobState.Processing))
    found = by_key(job("j", JobState.Finished))
    assert Marks().confirm(found, current, POLLED_AT, POLLED_AT, everything) == {}
    marks = Marks()
    assert marks.confirm(found, current, POLLED_AT, POLLED_AT + 1, everything) == found


def test_a_read_by_name_keeps_the_claims_still_within_their_grace():
    current = by_key(job("j", JobState.Queued))
    marks = marked(current, event("j", JobState.Error, T0), received=T0)
    found = by_key(job("j", JobState.Processing))
    changed = marks.confirm(found, current, POLLED_AT, T0 + 1, everything)
    assert changed[("t", "j")].state == JobState.Error
    mark = marks.get(("t", "j"))
    assert mark is not None and mark.base == found[("t", "j")] and mark.base_at == T0 + 1


def test_marks_are_dropped_by_key_or_kept_for_the_jobs_still_exported():
    current = by_key(job("a", JobState.Queued), job("b", JobState.Queued),
                     job("c", JobState.Queued))
    marks = marked(current, *(event(name, JobState.Processing, T0) for name in "abc"))
    marks.drop([("t", "a"), ("t", "nope")])
    assert len(marks) == 2 and ("t", "a") not in marks
    marks.keep_only({("t", "c"): None})
    assert len(marks) == 1 and ("t", "c") in marks
