"""Chunks of consecutive jobs of one account and what they render to.

A chunk keeps, per family of exporter.metrics.job_families, what is rendered with
its jobs as one gzip member (concatenated gzip members are one gzip stream), and
per moving family a compressed `%` template of its moving lines, which a scrape
fills (exporter.metrics.fill). The per-job label text is not kept beside them: a
chunk rendered again formats it again from its jobs (held anyway), so only the
compressed forms stay.

A chunk made by a push event is pending: it keeps the parts of its previous
version and which families to render again, and renders them when first read.
"""

from __future__ import annotations

import threading
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache

from exporter.jobs.model import Group, Job
from exporter.metrics.job_families import JOB_FAMILIES, JOB_LABELS, LineWriter
from exporter.metrics.text import GZIP_LEVEL, STATIC_GZIP_LEVEL, escape, gzip_member

#: Jobs per chunk: the unit rendered again when one of its jobs changes. A chunk past
#: MAX_CHUNK_JOBS (new jobs land in the newest one) is split into CHUNK_JOBS pieces.
CHUNK_JOBS = 512
MAX_CHUNK_JOBS = 2 * CHUNK_JOBS



@cache
def writers(correlation_labels: tuple[str, ...] = ()) -> dict[str, LineWriter | None]:
    """Each family's writer, with these correlation labels (one set per process)."""
    return {family.name: family.writer(correlation_labels) for family in JOB_FAMILIES}


#: Where a job stands in the exposition: creation time, then key.
Order = tuple[float, str, str]
#: Per group (transform, state, correlation labels): the number of jobs, and the
#: oldest creation time.
Summary = tuple[Counter[Group], dict[Group, float]]
#: A fill of a chunk's moving values: (its time, moving family -> gzip member).
Filled = tuple[float, dict[str, bytes]]


def order(job: Job) -> Order:
    return (job.created, job.transform, job.job_id)


@dataclass(frozen=True)
class Parts:
    """What a chunk renders to; excluded families are absent."""

    #: Family -> gzip member of what is rendered with the jobs: every job's samples,
    #: or for a moving family the final jobs' frozen values.
    members: dict[str, bytes]
    #: Moving family -> raw-deflate `%` template of the moving lines, one `%r` per
    #: job it covers (`%` in label values doubled).
    templates: dict[str, bytes]


@dataclass(frozen=True)
class Pending:
    """How a pending chunk renders: for `account` without the `excluded` families,
    on the parts of its previous version (`base`, None for none) of which `stale`
    families (None: all) are rendered again, with the `correlation_labels`."""

    account: str
    excluded: frozenset[str]
    base: Parts | None = None
    stale: frozenset[str] | None = None
    correlation_labels: tuple[str, ...] = ()


#: Serializes the rendering of pending chunks (scrape renders, refreshes).
_SETTLING = threading.Lock()


class RenderedBlock:
    """Consecutive jobs of one account (at most MAX_CHUNK_JOBS) and their rendered
    parts; a pending chunk renders them when first read (`parts()`), once."""

    __slots__ = ("jobs", "active", "counts", "oldest", "filled", "latest", "_parts",
                 "_pending")

    def __init__(self, jobs: tuple[Job, ...], parts: Parts | None,
                 pending: Pending | None = None, summary: Summary | None = None,
                 active: tuple[int, ...] | None = None) -> None:
        self.jobs = jobs
        #: Positions of the jobs that are not final (their durations still run).
        self.active = active if active is not None else tuple(
            i for i, job in enumerate(jobs) if not job.state.is_final)
        self.counts, self.oldest = summary if summary is not None else _summary(jobs)
        #: The last fill of the moving values (exporter.metrics.fill).
        self.filled: Filled | None = None
        #: Per moving family, the latest time its values count from, or None when a
        #: job has none (exporter.metrics.fill, which finds it once).
        self.latest: dict[str, float | None] = {}
        self._parts = parts
        self._pending = pending

    @property
    def first(self) -> Order:
        return order(self.jobs[0])

    @property
    def static(self) -> dict[str, bytes]:
        """Family name -> gzip member of what is rendered with the jobs."""
        return self.parts().members

    @property
    def pending(self) -> bool:
        return self._parts is None

    def parts(self, level: int = GZIP_LEVEL) -> Parts:
        """The rendered parts; a pending chunk is rendered now (compressed at `level`)."""
        parts = self._parts
        if parts is None:
            with _SETTLING:
                parts = self._parts
                if parts is None:
                    pending = self._pending
                    assert pending is not None
                    parts = render_parts(pending, self.jobs, self.active, level)
                    self._parts = parts  # before dropping the base: readers check this first
                    self._pending = None
        return parts

    def base(self) -> tuple[Parts | None, frozenset[str] | None]:
        """(parts to build on, the families already stale in them: None for all)."""
        pending = self._pending  # read first: parts() sets _parts before clearing it
        parts = self._parts
        if parts is not None:
            return parts, frozenset()
        assert pending is not None
        return pending.base, pending.stale


def _summary(jobs: Sequence[Job]) -> Summary:
    counts: Counter[Group] = Counter()
    oldest: dict[Group, float] = {}
    for job in jobs:  # in creation order: the first of a group is its oldest
        pair = job.group
        counts[pair] += 1
        if pair not in oldest:
            oldest[pair] = job.created
    return counts, oldest


def new_block(account: str, excluded: frozenset[str], jobs: tuple[Job, ...],
              eager: bool, correlation_labels: tuple[str, ...] = ()) -> RenderedBlock:
    """A chunk of these jobs, rendered now (`eager`) or when first read."""
    block = RenderedBlock(jobs, None, Pending(account, excluded,
                                              correlation_labels=correlation_labels))
    if eager:
        block.parts(STATIC_GZIP_LEVEL)
    return block


def label_prefixes(account: str, jobs: Iterable[Job]) -> list[str]:
    """Every job's label prefix, `{account="..",transform="..",job_id="..",
    job_name=".."` (left open for more labels), escaping shared values once."""
    account_label, transform_label, id_label, name_label = JOB_LABELS
    head = f'{{{account_label}="{escape(account)}",{transform_label}="'
    transforms: dict[str, str] = {}
    out = []
    for job in jobs:
        transform = transforms.get(job.transform)
        if transform is None:
            transform = transforms[job.transform] = head + escape(job.transform)
        out.append(f'{transform}",{id_label}="{escape(job.job_id)}",'
                   f'{name_label}="{escape(job.name)}"')
    return out


def _template(name: str, prefixes: Iterable[str], level: int) -> bytes:
    text = "".join(f"{name}{prefix.replace('%', '%%')}}} %r\n" for prefix in prefixes)
    return zlib.compress(text.encode("utf-8"), level, wbits=-15)


def render_parts(pending: Pending, jobs: tuple[Job, ...], active: tuple[int, ...],
                 level: int = GZIP_LEVEL) -> Parts:
    """Render a chunk: every family, or (with a base) only the stale ones."""
    base, stale = pending.base, pending.stale
    prefixes = label_prefixes(pending.account, jobs)
    members: dict[str, bytes] = {}
    templates: dict[str, bytes] = {}
    written = writers(pending.correlation_labels)
    for family in JOB_FAMILIES:
        name = family.name
        if name in pending.excluded:
            continue
        if base is not None and stale is not None and name not in stale:
            if name in base.members:
                members[name] = base.members[name]
            if name in base.templates:
                templates[name] = base.templates[name]
            continue
        write = written[name]
        if write is not None:
            members[name] = gzip_member(["".join(map(write, prefixes, jobs))], level)
        moving = family.moving
        if moving is not None:
            covered = prefixes if moving.frozen is None else [prefixes[i] for i in active]
            templates[name] = _template(name, covered, level)
    return Parts(members, templates)
