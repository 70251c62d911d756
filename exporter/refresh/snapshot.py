"""The jobs of an account's last good refresh, as one immutable value.

The snapshot holds data only. What the metrics make of it (pre-rendered series, a
`Rendering`) is produced by a renderer the refresher is given, and kept beside the
jobs so a scrape reads jobs and series from the same refresh.

The per group (transform, state, correlation labels: Job.group) counts and oldest
creation times are computed once per snapshot. A rendering keeps them itself
(exporter.metrics.per_job keeps them per chunk of jobs, so they cost what changed)
and the snapshot takes them from it: a
snapshot of 100,000 jobs is then made without looking at every job. Without a
rendering (`no_rendering`) the snapshot counts.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from exporter.jobs.model import Group, Job, JobKey

_generations = itertools.count(1)

#: Per (transform, state, correlation label values): Job.group.
Pair = Group


class Rendering(Protocol):
    """What a renderer made of a snapshot's jobs, as far as the snapshot reads it."""

    @property
    def jobs(self) -> Mapping[JobKey, Job]:
        """The very mapping it was made from: the renderer's `jobs` argument, or for
        `update` a new dict of the previous rendering's jobs with the changes."""
        ...

    @property
    def counts(self) -> Counter[Pair]:
        """Jobs per group (Job.group), without zeros."""
        ...

    @property
    def oldest_created(self) -> dict[Pair, float]:
        """The oldest creation time per group that has jobs."""
        ...


class Renderer(Protocol):
    """What the metrics make of a snapshot's jobs, computed when it is published."""

    def __call__(self, jobs: Mapping[JobKey, Job],
                 previous: Rendering | None) -> Rendering | None:
        """All jobs; `previous` is what was made of the last snapshot (or None)."""
        ...

    def update(self, previous: Rendering | None,
               changed: Mapping[JobKey, Job]) -> Rendering | None:
        """`previous` with a few jobs added or replaced (push events)."""
        ...


class NoRendering:
    def __call__(self, jobs: Mapping[JobKey, Job], previous: Rendering | None) -> None:
        return None

    def update(self, previous: Rendering | None, changed: Mapping[JobKey, Job]) -> None:
        return None


no_rendering = NoRendering()


@dataclass(frozen=True)
class Snapshot:
    """Jobs by key, their rendering, and the per group (Job.group) numbers the
    aggregates need, all computed once per refresh."""

    jobs: dict[JobKey, Job]
    rendered: Rendering | None
    counts: Counter[Pair]
    oldest_created: dict[Pair, float]
    generation: int = field(default_factory=lambda: next(_generations))

    @classmethod
    def of(cls, jobs: dict[JobKey, Job], rendered: Rendering | None = None) -> Snapshot:
        if rendered is not None and rendered.jobs is jobs:
            return cls(jobs, rendered, rendered.counts, rendered.oldest_created)
        counts: Counter[Pair] = Counter()
        oldest: dict[Pair, float] = {}
        for job in jobs.values():
            key = job.group
            counts[key] += 1
            if job.created < oldest.get(key, float("inf")):
                oldest[key] = job.created
        return cls(jobs, rendered, counts, oldest)

    def with_changes(self, changed: Mapping[JobKey, Job],
                     rendered: Rendering | None) -> Snapshot:
        """This snapshot with some jobs added or replaced; the counts are taken from
        `rendered` when it merged the same jobs, else adjusted, not recounted (the
        oldest job of a state is looked for again only when the oldest one left it)."""
        merged = None if rendered is None else self._merged_by(rendered, changed)
        if rendered is not None and merged is not None:
            return Snapshot(merged, rendered, rendered.counts, rendered.oldest_created)
        jobs = {**self.jobs, **changed}
        counts = Counter(self.counts)
        oldest = dict(self.oldest_created)
        lost_oldest: set[Pair] = set()
        for key, job in changed.items():
            old = self.jobs.get(key)
            if old is not None:
                before = old.group
                counts[before] -= 1
                if before != job.group and oldest.get(before) == old.created:
                    lost_oldest.add(before)
            counts[job.group] += 1
            if job.created < oldest.get(job.group, float("inf")):
                oldest[job.group] = job.created
        for pair in lost_oldest:
            created = [job.created for job in jobs.values() if job.group == pair]
            if created:
                oldest[pair] = min(created)
            else:
                oldest.pop(pair, None)
        return Snapshot(jobs, rendered, +counts, oldest)

    def _merged_by(self, rendered: Rendering, changed: Mapping[JobKey, Job]
                   ) -> dict[JobKey, Job] | None:
        """The jobs of `rendered` if it is this snapshot's rendering updated with
        `changed` (this snapshot's jobs and the changes, in a dict it can share)."""
        made = rendered.jobs
        if (isinstance(made, dict) and self.rendered is not None
                and self.rendered.jobs is self.jobs
                and len(made) == len(self.jobs) + sum(1 for k in changed if k not in self.jobs)):
            return made
        return None
