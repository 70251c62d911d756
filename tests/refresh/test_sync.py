"""What a sync asks the API and what its answers come to: full and incremental
listings, vanished active jobs looked up by id, the watermark, reads by name."""

from __future__ import annotations

from collections import Counter

import pytest

from exporter.backends.transport import ApiError
from exporter.jobs.model import Job, JobKey, Listing
from exporter.jobs.states import JobState
from exporter.refresh.sync import (
    INCREMENTAL_OVERLAP_SECONDS,
    Answer,
    by_name,
    full_due,
    newest,
    sync_jobs,
)
from tests.helpers import T0
from tests.refresh.builders import job


class Source:
    """An API that answers from dicts and writes down what it was asked."""

    def __init__(self, *jobs: Job, changes: dict[JobKey, Job] | None = None,
                 malformed: int = 0, over_limit: int = 0) -> None:
        self.jobs = {j.key: j for j in jobs}
        #: What fetch_changed answers; None: the API cannot list changes.
        self.changes = changes
        self.malformed = malformed
        self.over_limit = over_limit
        self.calls: list[tuple[str, object]] = []
        self.errors: dict[str, ApiError] = {}

    known_transforms = ("t",)

    def fetch_all(self, now: float) -> Listing:
        self.calls.append(("all", now))
        return Listing(dict(self.jobs), self.malformed, over_limit=self.over_limit)

    def fetch_changed(self, since: float) -> Listing | None:
        self.calls.append(("changed", since))
        if self.changes is None:
            return None
        return Listing(dict(self.changes), self.malformed, over_limit=self.over_limit)

    def fetch_keys(self, keys: list[JobKey]) -> Listing:
        self.calls.append(("keys", list(keys)))
        if keys[0][0] in self.errors:
            raise self.errors[keys[0][0]]
        return Listing({key: self.jobs[key] for key in keys if key in self.jobs},
                       self.malformed)

    def enrich(self, jobs: dict[JobKey, Job], previous: dict[JobKey, Job]) -> None:
        """Nothing to add."""


def by_key(*jobs: Job) -> dict[JobKey, Job]:
    return {j.key: j for j in jobs}


def nothing_known() -> dict[JobKey, Job]:
    raise AssertionError("a full sync merges nothing")


@pytest.mark.parametrize(("watermark", "last_full", "now", "due"), [
    (None, T0, T0 + 1, True),  # nothing seen yet
    (T0, None, T0 + 1, True),  # never a full sync
    (T0, T0, T0 + 899, False),
    (T0, T0, T0 + 900, True),
])
def test_a_full_sync_is_due_at_first_and_every_full_resync(watermark, last_full, now, due):
    assert full_due(watermark, last_full, now, 900.0) is due


def test_a_full_sync_lists_everything_counts_what_it_skipped_and_resets_the_watermark():
    source = Source(job("a", JobState.Finished, last_modified=T0 - 50),
                    job("b", JobState.Queued, created=T0 - 20),  # no LastModified
                    malformed=2, over_limit=3)
    skipped: Counter[str] = Counter()
    answer = sync_jobs(source, T0, T0 + 10**6, True, nothing_known, skipped)
    assert answer == Answer(source.jobs, True, T0 - 20), "the watermark can go back"
    assert source.calls == [("all", T0)], "no request for changes"
    assert skipped == Counter(malformed=2, limit=3)


def test_an_incremental_sync_asks_for_changes_since_the_watermark_less_the_overlap():
    kept = job("kept", JobState.Finished, last_modified=T0 - 500)
    moved = job("moved", JobState.Finished, last_modified=T0 - 5)
    source = Source(changes=by_key(moved), malformed=1)
    skipped: Counter[str] = Counter()
    known = by_key(kept, job("moved", JobState.Processing))
    answer = sync_jobs(source, T0, T0 - 100, False, lambda: known, skipped)
    assert source.calls == [("changed", T0 - 100 - INCREMENTAL_OVERLAP_SECONDS)]
    assert answer == Answer(by_key(kept, moved), False, T0 - 5)
    assert skipped == Counter(malformed=1, limit=0)


def test_what_is_known_is_read_only_once_the_changes_are_in():
    source = Source(changes={})
    order: list[str] = []

    def known() -> dict[JobKey, Job]:
        order.append(source.calls[-1][0])
        return {}

    sync_jobs(source, T0, T0, False, known, Counter())
    assert order == ["changed"]


def test_an_active_job_left_out_of_the_changes_is_looked_up_by_id():
    pinned = job("pinned", JobState.Processing)
    gone = job("gone", JobState.Queued)
    done = job("done", JobState.Finished)
    source = Source(job("pinned", JobState.Finished, ended=T0 - 1), changes={}, malformed=1)
    skipped: Counter[str] = Counter()
    answer = sync_jobs(source, T0, T0 - 100, False, lambda: by_key(pinned, gone, done),
                       skipped)
    assert source.calls[1] == ("keys", [pinned.key, gone.key]), "final jobs are not asked"
    assert answer.jobs == {pinned.key: source.jobs[pinned.key], done.key: done}
    assert skipped["malformed"] == 2, "the changes' and the lookup's"


def test_the_watermark_never_goes_back_on_an_incremental_sync():
    late = job("late", JobState.Finished, last_modified=T0 - 500)
    assert sync_jobs(Source(changes=by_key(late)), T0, T0 - 100, False, dict,
                     Counter()).watermark == T0 - 100
    assert sync_jobs(Source(changes={}), T0, T0 - 100, False, dict,
                     Counter()).watermark == T0 - 100


def test_a_source_that_cannot_list_changes_gets_a_full_sync():
    source = Source(job("a", JobState.Queued, last_modified=T0 - 1), changes=None)
    answer = sync_jobs(source, T0, T0 - 100, False, nothing_known, Counter())
    assert answer.full and answer.jobs == source.jobs
    assert [call for call, _ in source.calls] == ["changed", "all"]


def test_newest_takes_last_modified_else_creation():
    assert newest([job("a", JobState.Queued, created=T0 - 5),
                   job("b", JobState.Finished, last_modified=T0 - 10)]) == T0 - 5
    assert newest([]) is None


def test_by_name_asks_one_transform_at_a_time_and_a_404_refuses_only_its_own_keys():
    source = Source(job("a", JobState.Queued), job("b", JobState.Queued, transform="u"))
    source.errors["evil"] = ApiError("HTTP 404: no such transform", 404)
    keys = [("evil", "x"), ("t", "a"), ("t", "nope"), ("evil", "x"), ("u", "b")]
    read = by_name(source, keys, Counter())
    assert [keys for _, keys in source.calls] == [[("evil", "x")], [("t", "a"), ("t", "nope")],
                                                 [("u", "b")]]
    assert set(read.found) == {("t", "a"), ("u", "b")}
    assert read.missing == [("evil", "x"), ("t", "nope")]
    assert read.error is None


def test_by_name_stops_at_another_error_and_says_how_many_keys_it_held():
    source = Source(job("a", JobState.Queued))
    failure = ApiError("HTTP 500: boom", 500)
    source.errors["u"] = failure
    read = by_name(source, [("t", "a"), ("u", "b"), ("u", "c"), ("v", "d")], Counter())
    assert set(read.found) == {("t", "a")}
    assert read.error is failure and read.failed == 2
    assert len(source.calls) == 2, "the rest wait for the next refresh"


def test_a_key_missing_beside_a_malformed_record_is_not_called_missing():
    source = Source(job("a", JobState.Queued), malformed=1)
    skipped: Counter[str] = Counter()
    read = by_name(source, [("t", "a"), ("t", "b")], skipped)
    assert read.missing == [] and skipped["malformed"] == 1
