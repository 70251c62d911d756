"""Listings keep memory bounded over the job cap and keep the best-ranked jobs."""

from __future__ import annotations

import random

from exporter.jobs.model import Job, Listing, keep_rank
from exporter.jobs.states import JobState


def make_job(n: int, state: JobState) -> Job:
    return Job(job_id=f"job-{n}", name=f"job {n}", state=state, created=1000.0 + n)


def test_a_limited_listing_keeps_the_top_of_everything_it_saw():
    rng = random.Random(5)
    jobs = [make_job(n, rng.choice(list(JobState))) for n in range(1000)]
    listing = Listing(limit=50)
    largest = 0
    for job in jobs:
        listing.add(job)
        largest = max(largest, len(listing.jobs))
    assert largest <= 100, "never more than twice the limit"
    best = sorted(jobs, key=keep_rank, reverse=True)[:50]
    kept = sorted(listing.jobs.values(), key=keep_rank, reverse=True)[:50]
    assert kept == best
    assert listing.over_limit + len(listing.jobs) == 1000


def test_merging_counts_what_each_part_dropped():
    first, second = Listing(limit=2), Listing(limit=2)
    for n in range(5):
        first.add(make_job(n, JobState.Finished))
        second.add(make_job(100 + n, JobState.Processing))
    merged = Listing(limit=2)
    merged.merge(first)
    merged.merge(second)
    assert merged.over_limit + len(merged.jobs) == 10
    top = sorted(merged.jobs.values(), key=keep_rank, reverse=True)[:2]
    assert [job.job_id for job in top] == ["job-104", "job-103"]


def test_an_unlimited_listing_keeps_everything():
    listing = Listing()
    for n in range(300):
        listing.add(make_job(n, JobState.Queued))
    assert len(listing.jobs) == 300 and listing.over_limit == 0
