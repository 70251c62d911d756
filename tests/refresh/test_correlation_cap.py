"""The cap on correlation label values: values seen first keep theirs, later ones read
__other__, and the overflow counts each job once."""

from __future__ import annotations

import dataclasses

from exporter.jobs.correlation import OTHER, CorrelationLabels
from exporter.jobs.model import Job
from exporter.jobs.states import JobState
from exporter.refresh.correlation import CorrelationCap
from tests.helpers import T0

LABELS = CorrelationLabels(("tenant", "flow"), ("customerId", "workflow"), limit=2)


def jobs(*values: tuple[str, ...]) -> dict[tuple[str, str], Job]:
    made = (Job(f"j{i}", f"j{i}", JobState.Queued, T0 + i, correlation=v)
            for i, v in enumerate(values))
    return {job.key: job for job in made}


def test_values_seen_first_keep_theirs_and_later_ones_read_other():
    cap = CorrelationCap(LABELS)
    capped, overflow = cap.apply(jobs(("a", "x"), ("b", ""), ("c", "y"), ("a", "z")), {})
    assert [job.correlation for job in capped.values()] == [
        ("a", "x"), ("b", ""), (OTHER, "y"), ("a", OTHER)]
    assert overflow == {"tenant": 1, "flow": 1}
    assert cap.in_use("tenant") == 2 and cap.in_use("flow") == 2, "the empty value is free"


def test_a_job_is_counted_once_and_jobs_already_capped_are_not_looked_at():
    cap = CorrelationCap(LABELS)
    first, _ = cap.apply(jobs(("a", ""), ("b", ""), ("c", "")), {})
    again, overflow = cap.apply(jobs(("a", ""), ("b", ""), ("c", "")), first)
    assert not overflow, "j2 was __other__ already"
    assert [job.correlation for job in again.values()] == [("a", ""), ("b", ""), (OTHER, "")]
    same, overflow = cap.apply(dict(first), first)
    assert not overflow and all(same[key] is first[key] for key in first)


def test_no_labels_changes_nothing_and_short_values_are_padded():
    plain = jobs((), ())
    assert CorrelationCap(CorrelationLabels()).apply(plain, {}) == (plain, {})
    capped, _ = CorrelationCap(LABELS).apply(plain, {})
    assert [job.correlation for job in capped.values()] == [("", ""), ("", "")]


def test_a_value_in_use_stays_in_use_and_a_literal_other_takes_no_place():
    cap = CorrelationCap(dataclasses.replace(LABELS, limit=1))
    cap.apply(jobs(("a", "")), {})
    capped, overflow = cap.apply(jobs((OTHER, ""), ("b", ""), ("a", "")), {})
    assert [job.correlation for job in capped.values()] == [(OTHER, ""), (OTHER, ""),
                                                          ("a", "")]
    assert overflow == {"tenant": 1}
