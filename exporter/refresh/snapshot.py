"""The jobs of an account's last good refresh, as one immutable value.

The snapshot holds data only. What the metrics make of it (pre-rendered series)
is produced by a renderer the refresher is given, and kept beside the jobs so a
scrape reads jobs and series from the same refresh.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from exporter.jobs.model import Job, JobKey
from exporter.jobs.states import JobState

#: (jobs, what the renderer made of the previous snapshot or None) -> rendered form.
Renderer = Callable[[Mapping[JobKey, Job], Any], Any]

_generations = itertools.count(1)


def no_rendering(jobs: Mapping[JobKey, Job], previous: Any) -> None:
    return None


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
        counts: Counter[tuple[str, JobState]] = Counter()
        oldest: dict[tuple[str, JobState], float] = {}
        for job in jobs.values():
            key = (job.transform, job.state)
            counts[key] += 1
            if job.created < oldest.get(key, float("inf")):
                oldest[key] = job.created
        return cls(jobs, rendered, counts, oldest)
