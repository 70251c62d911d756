"""The metrics renderer's output is the snapshot's Rendering: the snapshot takes its
counts and shares its mapping when it was made from the snapshot's jobs, and
counts itself otherwise."""

from __future__ import annotations

import dataclasses
from collections import Counter

from exporter.jobs.model import Job
from exporter.jobs.states import JobState
from exporter.metrics.per_job import AccountRenderer, RenderedAccount
from exporter.refresh.snapshot import Renderer, Snapshot, no_rendering
from tests.helpers import T0, uid


def jobs() -> dict[tuple[str, str], Job]:
    made = (Job(uid(i), f"job {i}", (JobState.Queued, JobState.Finished)[i % 2], T0 - 100 + i,
                transform=("a", "b")[i % 3 == 0]) for i in range(40))
    return {job.key: job for job in made}


def counted(jobs: dict[tuple[str, str], Job]) -> tuple[Counter, dict]:
    """Jobs and the oldest creation time per (transform, state, correlation labels),
    counted here."""
    pairs = Counter((job.transform, job.state, job.correlation) for job in jobs.values())
    oldest = {pair: min(job.created for job in jobs.values()
                        if (job.transform, job.state, job.correlation) == pair)
              for pair in pairs}
    return pairs, oldest


def test_a_snapshot_takes_the_counts_of_a_rendering_of_its_jobs():
    renderer: Renderer = AccountRenderer("acct")
    mapping = jobs()
    rendering = renderer(mapping, None)
    snapshot = Snapshot.of(mapping, rendering)
    assert isinstance(rendering, RenderedAccount)
    assert snapshot.counts is rendering.counts
    assert (snapshot.counts, snapshot.oldest_created) == counted(mapping)


def test_a_snapshot_counts_when_the_rendering_is_of_other_jobs():
    mapping = jobs()
    rendering = AccountRenderer("acct")(dict(mapping), None)
    snapshot = Snapshot.of(mapping, rendering)
    assert snapshot.counts is not rendering.counts
    assert snapshot.counts == rendering.counts


def test_push_changes_share_the_renderings_mapping_and_counts():
    renderer = AccountRenderer("acct")
    mapping = jobs()
    snapshot = Snapshot.of(mapping, renderer(mapping, None))
    first = next(iter(mapping.values()))
    changed = {first.key: dataclasses.replace(first, state=JobState.Processing)}
    new = Job(uid(99), "new", JobState.Queued, T0 - 500, transform="a")
    changed[new.key] = new
    rendering = renderer.update(snapshot.rendered, changed)
    after = snapshot.with_changes(changed, rendering)
    assert after.jobs is rendering.jobs
    assert after.counts is rendering.counts
    assert (after.counts, after.oldest_created) == counted({**mapping, **changed})
    # Without a rendering the snapshot adjusts its own numbers to the same result.
    plain = Snapshot.of(mapping, no_rendering(mapping, None)).with_changes(changed, None)
    assert (plain.counts, plain.oldest_created) == (after.counts, after.oldest_created)


def test_an_update_without_a_previous_rendering_renders_everything():
    mapping = jobs()
    rendering = AccountRenderer("acct").update(None, mapping)
    assert dict(rendering.jobs) == mapping
    assert sum(len(block.jobs) for block in rendering.blocks) == len(mapping)
    assert not any(block.pending for block in rendering.blocks)
