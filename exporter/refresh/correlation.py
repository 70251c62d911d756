"""The cardinality cap of the correlation labels (`metrics.correlation_labels`).

Per account and label, the distinct values seen first keep their value; once
`correlation_label_limit` of them are in use, a new one reads `__other__`. A value
once in use stays in use (the counters keep its series anyway), so a job's label
never changes while the exporter runs. The empty value (no such key) and a literal
`__other__` take no place. The set starts empty at each start (and when a reload
rebuilds the account), so after a restart the values seen first may be others.

The cap is applied where every job of an account passes on its way to a snapshot
(AccountRefresher._commit): listings, reads by name and push events alike.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import replace
from itertools import compress
from operator import is_not

from exporter.jobs.correlation import OTHER, CorrelationLabels, shared
from exporter.jobs.model import Job, JobKey

#: Value tuples whose capped form is remembered (it never changes: a value in use
#: stays in use, a value refused stays refused); past this many each is worked out.
MAX_REMEMBERED = 10_000


class CorrelationCap:
    """One account's correlation label values in use, and the cap on them."""

    def __init__(self, labels: CorrelationLabels) -> None:
        self.labels = labels
        self._in_use: list[set[str]] = [set() for _ in labels.names]
        self._capped: dict[tuple[str, ...], tuple[str, ...]] = {}

    def in_use(self, label: str) -> int:
        """How many distinct values of the label are in use."""
        return len(self._in_use[self.labels.names.index(label)])

    def apply(self, jobs: dict[JobKey, Job], current: Mapping[JobKey, Job]
              ) -> tuple[dict[JobKey, Job], Counter[str]]:
        """The jobs with one value per label, capped, and per label the number of
        jobs whose value turned `__other__` (not already so in `current`). Jobs that
        are the very objects of `current` were capped before and are not looked at."""
        overflow: Counter[str] = Counter()
        if not self.labels:
            return jobs, overflow
        capped: dict[JobKey, Job] | None = None
        # The jobs that are not the very objects of `current`, found in C (~100 ns each).
        keys = jobs.keys()
        for key in compress(keys, map(is_not, map(current.get, keys), jobs.values())):
            job, before = jobs[key], current.get(key)
            values = self.values(job.correlation)
            if values == job.correlation:
                continue
            if capped is None:
                capped = dict(jobs)
            capped[key] = replace(job, correlation=values)
            self._count(overflow, job.correlation, values, before)
        return (jobs if capped is None else capped), overflow

    def values(self, raw: tuple[str, ...]) -> tuple[str, ...]:
        """The label values of a job's correlation values (equal to `raw` when they
        stand as they are)."""
        known = self._capped.get(raw)
        if known is not None:
            return known
        count = len(self.labels.names)
        padded = (raw + ("",) * count)[:count]
        values = tuple(self._value(i, value) for i, value in enumerate(padded))
        result = raw if values == raw else shared(values)
        if len(self._capped) < MAX_REMEMBERED:
            self._capped[raw] = result
        return result

    def _value(self, index: int, value: str) -> str:
        if not value or value == OTHER:
            return value
        in_use = self._in_use[index]
        if value in in_use:
            return value
        if len(in_use) < self.labels.limit:
            in_use.add(value)
            return value
        return OTHER

    def _count(self, overflow: Counter[str], raw: tuple[str, ...], values: tuple[str, ...],
               before: Job | None) -> None:
        was = before.correlation if before is not None else ()
        for index, name in enumerate(self.labels.names):
            if (values[index] == OTHER and raw[index:index + 1] != (OTHER,)
                    and was[index:index + 1] != (OTHER,)):
                overflow[name] += 1
