"""An account's per-job series, kept up to date as its jobs change.

A job has about 16 per-job series; at 100,000 jobs that is 320 MB of text.
Rendering it through prometheus_client on every scrape would cost seconds, so each
account's jobs are kept in chunks of consecutive jobs (in the exposition's order:
creation time, then key; exporter.metrics.chunks), and costs follow what changed,
not the account's size:

- a refresh finds the changed jobs by identity against the previous rendering and
  renders only their chunks again, and within a chunk whose jobs are the same
  (only their fields changed) only the families whose fields changed
  (JobFamily.fields);
- a push event marks its chunks to render again and returns; the next scrape
  renders them, so a burst of events costs one render per chunk, not one per event;
- each chunk also counts its jobs per group (transform, state, correlation label
  values) and keeps the oldest creation time of each, so the snapshot's aggregates
  come from the chunks.

What moves with time (ages, running durations of active jobs) is filled in per
scrape render (exporter.metrics.fill).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import compress
from operator import attrgetter, is_not

from exporter.jobs.model import Group, Job, JobKey
from exporter.metrics.chunks import (
    CHUNK_JOBS,
    MAX_CHUNK_JOBS,
    Order,
    Pending,
    RenderedBlock,
    label_prefixes,
    new_block,
    order,
)
from exporter.metrics.job_families import JOB_FAMILIES
from exporter.metrics.text import STATIC_GZIP_LEVEL
from exporter.refresh.snapshot import Rendering

#: Per family, what it is rendered from (its fields, compared between a job's
#: versions); a family rendered from nothing but the labels is not listed.
_FIELDS: dict[str, Callable[[Job], object]] = {
    family.name: attrgetter(*family.fields) for family in JOB_FAMILIES if family.fields}


@dataclass(frozen=True)
class RenderedAccount:
    """One account's per-job series (a Rendering): its chunks in exposition order,
    the jobs they were made from (the snapshot's own mapping, not a copy), and per
    group (transform, state, correlation labels) the number of jobs and the oldest
    creation time, summed over the chunks."""

    blocks: tuple[RenderedBlock, ...]
    jobs: Mapping[JobKey, Job]
    account: str = ""
    excluded: frozenset[str] = frozenset()
    counts: Counter[Group] = field(default_factory=Counter)
    oldest_created: dict[Group, float] = field(default_factory=dict)
    correlation_labels: tuple[str, ...] = ()

    @classmethod
    def of(cls, blocks: Sequence[RenderedBlock], jobs: Mapping[JobKey, Job], account: str,
           excluded: frozenset[str],
           correlation_labels: tuple[str, ...] = ()) -> RenderedAccount:
        counts: Counter[Group] = Counter()
        oldest: dict[Group, float] = {}
        for block in blocks:  # in creation order: the first block with a group has its oldest
            counts.update(block.counts)
            for pair, created in block.oldest.items():
                oldest.setdefault(pair, created)
        return cls(tuple(blocks), jobs, account, excluded, counts, oldest, correlation_labels)


class AccountRenderer:
    """The renderer the refresh engine is given for one account (a Renderer):
    renders again only the chunks whose jobs changed since the previous snapshot."""

    def __init__(self, account: str, excluded: frozenset[str] = frozenset(),
                 correlation_labels: tuple[str, ...] = ()) -> None:
        self.account = account
        self.excluded = excluded
        self.correlation_labels = correlation_labels

    def __call__(self, jobs: Mapping[JobKey, Job],
                 previous: Rendering | None) -> RenderedAccount:
        return render_account(self.account, jobs,
                              previous if isinstance(previous, RenderedAccount) else None,
                              self.excluded, self.correlation_labels)

    def update(self, previous: Rendering | None,
               changed: Mapping[JobKey, Job]) -> RenderedAccount:
        """`previous` with some jobs added or replaced: their chunks are marked and
        rendered by the next scrape, so a burst of events costs one render per
        chunk. The new labels are checked now, so a job that cannot be rendered
        fails here, not in a scrape."""
        if not isinstance(previous, RenderedAccount):  # not ours: render everything
            jobs = {} if previous is None else previous.jobs
            return render_account(self.account, {**jobs, **changed}, None, self.excluded,
                                  self.correlation_labels)
        return update_account(self.account, previous, changed, self.excluded,
                              self.correlation_labels)


def label_prefix(account: str, job: Job) -> str:
    """`{account="..",transform="..",job_id="..",job_name=".."` (left open for more)."""
    return label_prefixes(account, (job,))[0]


def render_account(account: str, jobs: Mapping[JobKey, Job] | Iterable[Job],
                   previous: RenderedAccount | None = None,
                   excluded: frozenset[str] = frozenset(),
                   correlation_labels: tuple[str, ...] = ()) -> RenderedAccount:
    """Render the jobs, reusing what `previous` rendered of the unchanged ones: the
    jobs are compared by identity (then equality), so the cost follows the number
    of changed jobs. Everything is rendered before returning. Excluded families are
    not rendered at all."""
    if not isinstance(jobs, Mapping):
        jobs = {job.key: job for job in jobs}
    if (previous is None or not previous.blocks or previous.account != account
            or previous.excluded != excluded
            or previous.correlation_labels != correlation_labels):
        ordered = sorted(jobs.values(), key=order)
        blocks = [new_block(account, excluded, tuple(ordered[i:i + CHUNK_JOBS]), True,
                            correlation_labels)
                  for i in range(0, len(ordered), CHUNK_JOBS)]
        return RenderedAccount.of(blocks, jobs, account, excluded, correlation_labels)
    old = previous.jobs
    if old is not jobs:
        # The jobs that are not the very objects rendered before (equal ones only
        # swap objects, see _replaced), found without Python code per job (~100 ns).
        keys = jobs.keys()
        changed = {key: jobs[key] for key in compress(
            keys, map(is_not, map(old.get, keys), jobs.values()))}
        added = sum(1 for key in changed if key not in old)
        removed = [] if len(old) + added == len(jobs) else [k for k in old if k not in jobs]
        previous = _apply(previous, jobs, changed, removed, eager=True)
    for block in previous.blocks:  # pending since push events: render them now
        block.parts(STATIC_GZIP_LEVEL)
    return previous


def update_account(account: str, previous: RenderedAccount, changed: Mapping[JobKey, Job],
                   excluded: frozenset[str] = frozenset(),
                   correlation_labels: tuple[str, ...] = ()) -> RenderedAccount:
    """`previous` with the changed jobs in place; their chunks render lazily."""
    if (previous.account != account or previous.excluded != excluded or not previous.blocks
            or previous.correlation_labels != correlation_labels):
        return render_account(account, {**previous.jobs, **changed}, None, excluded,
                              correlation_labels)
    old = previous.jobs
    real = {key: job for key, job in changed.items() if old.get(key) is not job}
    for key, job in real.items():
        before = old.get(key)
        if before is None or before.name != job.name:
            label_prefix(account, job)  # new labels: what could fail to render, checked now
    return _apply(previous, {**old, **changed}, real, [], eager=False)


@dataclass
class _Edit:
    put: dict[JobKey, Job] = field(default_factory=dict)
    drop: set[JobKey] = field(default_factory=set)
    #: Whether a put job is new to the chunk (else each replaces one in its place).
    inserts: bool = False


def _apply(previous: RenderedAccount, jobs: Mapping[JobKey, Job], changed: Mapping[JobKey, Job],
           removed: Iterable[JobKey], eager: bool) -> RenderedAccount:
    """`previous` with jobs added, replaced (`changed`) and `removed`; `jobs` is the
    resulting mapping. Only the chunks holding those jobs are made again."""
    old = previous.jobs
    blocks = list(previous.blocks)
    firsts = [block.first for block in blocks]
    edits: dict[int, _Edit] = {}

    def edit(at: Order) -> _Edit:
        index = max(0, bisect_right(firsts, at) - 1)
        found = edits.get(index)
        if found is None:
            found = edits[index] = _Edit()
        return found

    for key in removed:
        edit(order(old[key])).drop.add(key)
    for key, job in changed.items():
        before = old.get(key)
        at = order(job)
        if before is None:
            target = edit(at)
            target.inserts = True
        else:
            was = order(before)
            if was != at:  # moved: its creation time changed
                edit(was).drop.add(key)
                target = edit(at)
                target.inserts = True
            else:
                target = edit(at)
        target.put[key] = job
    for index in sorted(edits, reverse=True):
        blocks[index:index + 1] = _edit(previous, old, blocks[index], edits[index], eager)
    return RenderedAccount.of(blocks, jobs, previous.account, previous.excluded,
                              previous.correlation_labels)


def _edit(previous: RenderedAccount, old: Mapping[JobKey, Job],
          block: RenderedBlock, edit: _Edit, eager: bool) -> list[RenderedBlock]:
    """The chunk(s) replacing `block` after the edit (none if it empties); `previous`
    is the rendering the chunk belongs to (its account, exclusions and labels)."""
    if not edit.drop and not edit.inserts:
        return [_replaced(previous, old, block, edit.put, eager)]
    members = {job.key: job for job in block.jobs}
    for key in edit.drop:
        members.pop(key, None)
    members.update(edit.put)
    ordered = sorted(members.values(), key=order)
    if len(ordered) <= MAX_CHUNK_JOBS:
        pieces = [ordered] if ordered else []
    else:
        count = -(-len(ordered) // CHUNK_JOBS)
        size = -(-len(ordered) // count)
        pieces = [ordered[i:i + size] for i in range(0, len(ordered), size)]
    return [new_block(previous.account, previous.excluded, tuple(piece), eager,
                      previous.correlation_labels) for piece in pieces]


def _replaced(previous: RenderedAccount, old: Mapping[JobKey, Job],
              block: RenderedBlock, put: Mapping[JobKey, Job], eager: bool) -> RenderedBlock:
    """`block` with jobs replaced in place (same keys, same order): only the families
    whose fields changed are rendered again, none if the jobs are merely equal
    (new objects from a listing: they take the old ones' place, which can go)."""
    jobs = list(block.jobs)
    stale: set[str] | None = set()
    # The chunk's counts and oldest creation times, adjusted (not recounted) unless
    # a state lost the job that was its oldest; its active jobs unless one ended.
    counts, oldest = block.counts, block.oldest
    recount = refinal = False
    for key, job in put.items():
        before = old[key]
        jobs[bisect_left(jobs, order(job), key=order)] = job
        refinal = refinal or before.state.is_final != job.state.is_final
        if before.state != job.state or before.correlation != job.correlation:
            if counts is block.counts:
                counts, oldest = Counter(counts), dict(oldest)
            was, pair = before.group, job.group
            counts[was] -= 1
            if not counts[was]:
                del counts[was]
            counts[pair] += 1
            recount = recount or oldest.get(was) == before.created
            if job.created < oldest.get(pair, float("inf")):
                oldest[pair] = job.created
        if stale is None or before == job:
            continue
        if before.name != job.name:
            stale = None  # the labels change: everything
            continue
        stale.update(name for name, get in _FIELDS.items()
                     if name not in stale and get(before) != get(job))
    summary = None if recount else (counts, oldest)
    active = None if refinal else block.active
    base, before_stale = block.base()
    account, excluded = previous.account, previous.excluded
    labels = previous.correlation_labels
    if stale == set():
        if base is not None and before_stale == frozenset():
            return RenderedBlock(tuple(jobs), base, None, summary, active)
        return RenderedBlock(tuple(jobs), None, Pending(account, excluded, base, before_stale,
                                                        labels), summary, active)
    if stale is None or base is None or before_stale is None:
        pending = Pending(account, excluded, correlation_labels=labels)
    else:
        pending = Pending(account, excluded, base, before_stale | stale, labels)
    new = RenderedBlock(tuple(jobs), None, pending, summary, active)
    if eager:
        new.parts(STATIC_GZIP_LEVEL)
    return new
