"""The jobs of an account's last good refresh, as one immutable value.

The snapshot holds data only. What the metrics make of it (pre-rendered series)
is produced by a renderer the refresher is given, and kept beside the jobs so a
scrape reads jobs and series from the same refresh.

The per (transform, state) counts and oldest creation times are computed once per
snapshot. A renderer that keeps them itself (exporter.metrics.per_job keeps them
per chunk of jobs, so they cost what changed) hands them over: then a snapshot of
100,000 jobs is made without looking at every job.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from exporter.jobs.model import Job, JobKey
from exporter.jobs.states import JobState

_generations = itertools.count(1)


class Renderer(Protocol):
    """What the metrics make of a snapshot's jobs, computed when it is published.

    What it makes may also carry `jobs` (the very mapping it was made from:
    `__call__`'s argument, or for `update` a new dict of the previous one's jobs
    with the changes), `counts` and `oldest_created` (as Snapshot has them): the
    snapshot then uses those instead of counting, and shares the mapping."""

    def __call__(self, jobs: Mapping[JobKey, Job], previous: Any) -> Any:
        """All jobs; `previous` is what was made of the last snapshot (or None)."""
        ...

    def update(self, previous: Any, changed: Mapping[JobKey, Job]) -> Any:
        """`previous` with a few jobs added or replaced (push events)."""
        ...


class NoRendering:
    def __call__(self, jobs: Mapping[JobKey, Job], previous: Any) -> None:
        return None

    def update(self, previous: Any, changed: Mapping[JobKey, Job]) -> None:
        return None


no_rendering = NoRendering()


@dataclass(frozen=True)
class Snapshot:
    """Jobs by key, their rendered form, and the per (transform, state) numbers the
    aggregates need, all computed once per refresh."""

    jobs: dict[JobKey, Job]
    rendered: Any
    counts: Counter[tuple[str, JobState]]
    oldest_created: dict[tuple[str, JobState], float]
    generation: int = field(default_factory=lambda: next(_generations))

    @classmethod
    def of(cls, jobs: dict[JobKey, Job], rendered: Any = None) -> Snapshot:
        summary = _summary(rendered)
        if summary is not None and getattr(rendered, "jobs", None) is jobs:
            return cls(jobs, rendered, *summary)
        counts: Counter[tuple[str, JobState]] = Counter()
        oldest: dict[tuple[str, JobState], float] = {}
        for job in jobs.values():
            key = (job.transform, job.state)
            counts[key] += 1
            if job.created < oldest.get(key, float("inf")):
                oldest[key] = job.created
        return cls(jobs, rendered, counts, oldest)

    def with_changes(self, changed: Mapping[JobKey, Job], rendered: Any) -> Snapshot:
        """This snapshot with some jobs added or replaced; the counts are adjusted,
        not recounted (the oldest job of a state is looked for again only when the
        oldest one left it), or taken from `rendered` when it has them."""
        made = getattr(rendered, "jobs", None)
        summary = _summary(rendered)
        if (summary is not None and isinstance(made, dict)
                and getattr(self.rendered, "jobs", None) is self.jobs
                and len(made) == len(self.jobs) + sum(1 for k in changed if k not in self.jobs)):
            # The renderer merged the same jobs already: share its mapping.
            return Snapshot(made, rendered, *summary)
        jobs = {**self.jobs, **changed}
        counts = Counter(self.counts)
        oldest = dict(self.oldest_created)
        lost_oldest: set[tuple[str, JobState]] = set()
        for key, job in changed.items():
            old = self.jobs.get(key)
            if old is not None:
                before = (old.transform, old.state)
                counts[before] -= 1
                if before != (job.transform, job.state) and oldest.get(before) == old.created:
                    lost_oldest.add(before)
            counts[(job.transform, job.state)] += 1
            if job.created < oldest.get((job.transform, job.state), float("inf")):
                oldest[(job.transform, job.state)] = job.created
        for pair in lost_oldest:
            created = [job.created for job in jobs.values()
                       if (job.transform, job.state) == pair]
            if created:
                oldest[pair] = min(created)
            else:
                oldest.pop(pair, None)
        return Snapshot(jobs, rendered, +counts, oldest)


def _summary(rendered: Any) -> tuple[Counter[tuple[str, JobState]],
                                     dict[tuple[str, JobState], float]] | None:
    """The counts and oldest creation times a rendered value carries, if any."""
    counts = getattr(rendered, "counts", None)
    oldest = getattr(rendered, "oldest_created", None)
    if isinstance(counts, Counter) and isinstance(oldest, dict):
        return counts, oldest
    return None
