"""Fast exposition of the per-job metrics.

A job has about 16 per-job series; at 100,000 jobs that is 320 MB of text. Rendering
it through prometheus_client on every scrape would cost seconds, so each account's
jobs are kept in chunks of consecutive jobs (in the exposition's order: creation
time, then key), and each chunk keeps

- its static families as one gzip member each, rendered when its jobs change
  (concatenated gzip members are one valid gzip stream, RFC 1952, which Prometheus
  and every HTTP client decode);
- the families that move with time (ages, running durations of active jobs) as
  compressed `%` templates: a render fills a chunk's values in one C-level
  `bytes % tuple` (the ages are computed in C too; only the running durations of
  active jobs take a Python step each), and a render made for new snapshots fills
  only the chunks that changed (`reusing`, used by the render cache).

Costs follow what changed, not the account's size:

- a refresh finds the changed jobs by identity against the previous render and
  re-renders only their chunks, and within a chunk whose jobs are the same (only
  their fields changed) only the families whose fields changed;
- a push event marks its chunks for re-rendering and returns; the next scrape
  renders them, so a burst of events costs one render per chunk, not one per event;
- each chunk also counts its jobs per (transform, state) and keeps the oldest
  creation time of each, so the snapshot's aggregates come from the chunks.

The per-job label text is not kept beside the members: a chunk re-render formats it
again from the jobs (the jobs are held anyway), so only the compressed forms stay.

The lines use the syntax both the 0.0.4 text format and OpenMetrics accept for
gauges, so one cache serves both.
"""

from __future__ import annotations

import re
import threading
import zlib
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from itertools import compress
from operator import attrgetter, is_not
from typing import Any

from exporter.jobs.model import Job, JobKey
from exporter.jobs.states import JobState
from exporter.metrics.names import PER_JOB_FAMILIES

#: Members made per scrape render (ages, running durations): speed over size.
GZIP_LEVEL = 1
#: Members and templates a refresh renders (off the scrape path): sent on every
#: scrape and held in memory, so a smaller result pays (level 6: ~15 % smaller than
#: 1, for 2.5 times the CPU). Chunks changed by push events are rendered by the next
#: scrape, at GZIP_LEVEL.
STATIC_GZIP_LEVEL = 6
#: Jobs per chunk: the unit re-rendered when one of its jobs changes. A chunk past
#: MAX_CHUNK_JOBS (new jobs land in the newest one) is split into CHUNK_JOBS pieces.
CHUNK_JOBS = 512
MAX_CHUNK_JOBS = 2 * CHUNK_JOBS

#: (name, help) of the per-job families, in exposition order.
STATIC_FAMILIES: tuple[tuple[str, str], ...] = (
    ("ams_job_state", "1 for the job's current state, 0 for the others."),
    ("ams_job_state_code", "The job's state as its v2 number (0 Queued .. 6 Canceling)."),
    ("ams_job_progress_ratio", "Job progress from 0 to 1, when known."),
    ("ams_job_priority", "Job priority (v3: Low=0, Normal=1, High=2)."),
    ("ams_job_created_timestamp_seconds", "Unix time the job was created."),
    ("ams_job_start_timestamp_seconds", "Unix time the job started processing."),
    ("ams_job_end_timestamp_seconds", "Unix time the job reached a final state."),
    ("ams_job_last_modified_timestamp_seconds", "Unix time the job was last modified."),
    ("ams_job_info", "Static job metadata; always 1."),
    ("ams_job_error_info", "1 per distinct error code of a failed job."),
)
RUNNING = ("ams_job_running_duration_seconds",
           "Seconds the job has been running (frozen once final).")
AGE = ("ams_job_age_seconds", "Seconds since the job was created.")
assert tuple(name for name, _ in (*STATIC_FAMILIES, RUNNING, AGE)) == PER_JOB_FAMILIES
_STATE_SUFFIXES = tuple(f',state="{state.name}"}} ' for state in JobState)

#: The job fields each rendered part depends on (besides the labels): a chunk whose
#: jobs stay the same re-renders a part only when one of its fields changed.
_DEPENDS: dict[str, Callable[[Job], Any]] = {
    "ams_job_state": attrgetter("state"),
    "ams_job_state_code": attrgetter("state"),
    "ams_job_progress_ratio": attrgetter("progress"),
    "ams_job_priority": attrgetter("priority"),
    "ams_job_created_timestamp_seconds": attrgetter("created"),
    "ams_job_start_timestamp_seconds": attrgetter("start_time"),
    "ams_job_end_timestamp_seconds": attrgetter("state", "end_time"),
    "ams_job_last_modified_timestamp_seconds": attrgetter("last_modified"),
    "ams_job_info": attrgetter("template_id", "priority"),
    "ams_job_error_info": attrgetter("errors"),
    # The final jobs' frozen durations and which jobs are active (the template).
    RUNNING[0]: attrgetter("state", "start_time", "end_time", "api_running_duration"),
}
_CREATED = attrgetter("created")

_SURROGATES = re.compile("[\ud800-\udfff]")


def escape(value: str) -> str:
    """A label value for the exposition; text UTF-8 cannot carry (lone surrogates,
    which JSON allows) becomes U+FFFD instead of failing the whole render."""
    if _SURROGATES.search(value):
        value = _SURROGATES.sub("\ufffd", value)
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def header(name: str, help_text: str, kind: str = "gauge") -> str:
    return f"# HELP {name} {escape(help_text)}\n# TYPE {name} {kind}\n"


def gzip_member(chunks: Iterable[str], level: int = GZIP_LEVEL) -> bytes:
    """One gzip member holding the concatenated chunks."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, 31)
    parts = [compressor.compress(chunk.encode("utf-8")) for chunk in chunks]
    parts.append(compressor.flush())
    return b"".join(parts)


def _num(value: float) -> str:
    return repr(float(value))


def _order(job: Job) -> tuple[float, str, str]:
    """The exposition's order of jobs: creation time, then key."""
    return (job.created, job.transform, job.job_id)


# ------------------------------------------------------------------ chunks


@dataclass(frozen=True)
class _Parts:
    """What a chunk renders to. Templates are raw-deflate compressed `%` formats
    (one `%r` per line, `%` in label values doubled); b"" when excluded."""

    static: dict[str, bytes]
    running_final: bytes
    ages: bytes
    running: bytes


#: Serializes the rendering of pending chunks (scrape renders, refreshes).
_SETTLING = threading.Lock()


class RenderedBlock:
    """Consecutive jobs of one account (at most MAX_CHUNK_JOBS) and their rendered
    series. A chunk made by a push event is pending: it holds the parts of its
    previous version and the names of the parts to render again, and renders them
    when first read (`parts()`), under a lock, once."""

    __slots__ = ("jobs", "active", "counts", "oldest", "_parts", "_pending", "_filled")

    def __init__(self, jobs: tuple[Job, ...], parts: _Parts | None,
                 pending: tuple[str, frozenset[str], _Parts | None,
                                frozenset[str] | None] | None = None,
                 summary: tuple[Counter[tuple[str, JobState]],
                                dict[tuple[str, JobState], float]] | None = None,
                 active: tuple[int, ...] | None = None) -> None:
        self.jobs = jobs
        #: Positions of the jobs that are not final (their durations still run).
        self.active = active if active is not None else tuple(
            i for i, job in enumerate(jobs) if not job.state.is_final)
        if summary is None:
            counts: Counter[tuple[str, JobState]] = Counter()
            oldest: dict[tuple[str, JobState], float] = {}
            for job in jobs:  # in creation order: the first of a pair is its oldest
                pair = (job.transform, job.state)
                counts[pair] += 1
                if pair not in oldest:
                    oldest[pair] = job.created
            summary = (counts, oldest)
        self.counts, self.oldest = summary
        self._parts = parts
        #: (account, excluded, base parts or None, parts to render or None for all)
        self._pending = pending
        #: The last fill of the time-dependent members: (time, ages, running durations).
        self._filled: tuple[float, bytes, bytes] | None = None

    @property
    def first(self) -> tuple[float, str, str]:
        return _order(self.jobs[0])

    @property
    def static(self) -> dict[str, bytes]:
        """Family name -> gzip member (excluded families are absent)."""
        return self.parts().static

    @property
    def running_final(self) -> bytes:
        return self.parts().running_final

    @property
    def pending(self) -> bool:
        return self._parts is None

    def parts(self, level: int = GZIP_LEVEL) -> _Parts:
        """The rendered parts; a pending chunk is rendered now (compressed at `level`)."""
        parts = self._parts
        if parts is None:
            with _SETTLING:
                parts = self._parts
                if parts is None:
                    pending = self._pending
                    assert pending is not None
                    account, excluded, base, stale = pending
                    parts = _render_parts(account, self.jobs, self.active, excluded, base,
                                          stale, level)
                    self._parts = parts  # before dropping the base: readers check this first
                    self._pending = None
        return parts

    def _base(self) -> tuple[_Parts | None, frozenset[str] | None]:
        """(parts to build on, names already stale in them)."""
        pending = self._pending  # read first: parts() sets _parts before clearing it
        parts = self._parts
        if parts is not None:
            return parts, frozenset()
        assert pending is not None
        return pending[2], pending[3]


def _prefixes(account: str, jobs: Sequence[Job]) -> list[str]:
    """Every job's label prefix (see label_prefix), escaping shared values once."""
    head = f'{{account="{escape(account)}",transform="'
    transforms: dict[str, str] = {}
    out = []
    for job in jobs:
        transform = transforms.get(job.transform)
        if transform is None:
            transform = transforms[job.transform] = head + escape(job.transform)
        out.append(f'{transform}",job_id="{escape(job.job_id)}",'
                   f'job_name="{escape(job.name)}"')
    return out


def _template(name: str, prefixes: Iterable[str], level: int) -> bytes:
    text = "".join(f"{name}{prefix.replace('%', '%%')}}} %r\n" for prefix in prefixes)
    return zlib.compress(text.encode("utf-8"), level, wbits=-15)


def _render_parts(account: str, jobs: tuple[Job, ...], active: tuple[int, ...],
                  excluded: frozenset[str], base: _Parts | None = None,
                  stale: frozenset[str] | None = None, level: int = GZIP_LEVEL) -> _Parts:
    """Render a chunk: every part, or (with a base) only the `stale` ones."""
    def renders(name: str) -> bool:
        return base is None or stale is None or name in stale

    prefixes = _prefixes(account, jobs)
    static = {}
    for name, _ in STATIC_FAMILIES:
        if name in excluded:
            continue
        if renders(name):
            static[name] = gzip_member(["".join(map(_LINE_WRITERS[name], prefixes, jobs))],
                                       level)
        else:
            assert base is not None
            static[name] = base.static[name]
    if RUNNING[0] in excluded:
        running_final = running = b""
    elif renders(RUNNING[0]):
        running_final = gzip_member(["".join(
            _running_final_lines(prefix, job)
            for prefix, job in zip(prefixes, jobs, strict=True) if job.state.is_final)],
            level)
        running = _template(RUNNING[0], (prefixes[i] for i in active), level)
    else:
        assert base is not None
        running_final, running = base.running_final, base.running
    if AGE[0] in excluded:
        ages = b""
    elif base is None or stale is None:  # the labels or the jobs changed
        ages = _template(AGE[0], prefixes, level)
    else:
        ages = base.ages
    return _Parts(static, running_final, ages, running)


def _new_block(account: str, excluded: frozenset[str], jobs: tuple[Job, ...],
               eager: bool) -> RenderedBlock:
    block = RenderedBlock(jobs, None, (account, excluded, None, None))
    if eager:
        block.parts(STATIC_GZIP_LEVEL)
    return block


# ------------------------------------------------------------------ accounts


@dataclass(frozen=True)
class RenderedAccount:
    """One account's per-job series: its chunks in exposition order, the jobs they
    were made from (the snapshot's own mapping, not a copy), and per (transform,
    state) the number of jobs and the oldest creation time, summed over the chunks."""

    blocks: tuple[RenderedBlock, ...]
    jobs: Mapping[JobKey, Job]
    account: str = ""
    excluded: frozenset[str] = frozenset()
    counts: Counter[tuple[str, JobState]] = field(default_factory=Counter)
    oldest_created: dict[tuple[str, JobState], float] = field(default_factory=dict)

    @classmethod
    def of(cls, blocks: Sequence[RenderedBlock], jobs: Mapping[JobKey, Job], account: str,
           excluded: frozenset[str]) -> RenderedAccount:
        counts: Counter[tuple[str, JobState]] = Counter()
        oldest: dict[tuple[str, JobState], float] = {}
        for block in blocks:  # in creation order: the first block with a pair has its oldest
            counts.update(block.counts)
            for pair, created in block.oldest.items():
                oldest.setdefault(pair, created)
        return cls(tuple(blocks), jobs, account, excluded, counts, oldest)


class AccountRenderer:
    """The renderer the refresh engine is given for one account: re-renders only the
    chunks whose jobs changed since the previous snapshot."""

    def __init__(self, account: str, excluded: frozenset[str] = frozenset()) -> None:
        self.account = account
        self.excluded = excluded

    def __call__(self, jobs: Mapping[JobKey, Job], previous: Any) -> RenderedAccount:
        return render_account(self.account, jobs,
                              previous if isinstance(previous, RenderedAccount) else None,
                              self.excluded)

    def update(self, previous: Any, changed: Mapping[JobKey, Job]) -> RenderedAccount:
        """`previous` with some jobs added or replaced: their chunks are marked and
        rendered by the next scrape, so a burst of events costs one render per
        chunk. The new labels are checked now, so a job that cannot be rendered
        fails here, not in a scrape."""
        assert isinstance(previous, RenderedAccount)
        return update_account(self.account, previous, changed, self.excluded)


def label_prefix(account: str, job: Job) -> str:
    """`{account="..",transform="..",job_id="..",job_name=".."` (left open for more)."""
    return (f'{{account="{escape(account)}",transform="{escape(job.transform)}",'
            f'job_id="{escape(job.job_id)}",job_name="{escape(job.name)}"')


def render_account(account: str, jobs: Mapping[JobKey, Job] | Iterable[Job],
                   previous: RenderedAccount | None = None,
                   excluded: frozenset[str] = frozenset()) -> RenderedAccount:
    """Render the jobs, reusing what `previous` rendered of the unchanged ones: the
    jobs are compared by identity (then equality), so the cost follows the number
    of changed jobs. Everything is rendered before returning. Excluded families are
    not rendered at all."""
    if not isinstance(jobs, Mapping):
        jobs = {job.key: job for job in jobs}
    if (previous is None or not previous.blocks or previous.account != account
            or previous.excluded != excluded):
        ordered = sorted(jobs.values(), key=_order)
        blocks = [_new_block(account, excluded, tuple(ordered[i:i + CHUNK_JOBS]), True)
                  for i in range(0, len(ordered), CHUNK_JOBS)]
        return RenderedAccount.of(blocks, jobs, account, excluded)
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
                   excluded: frozenset[str] = frozenset()) -> RenderedAccount:
    """`previous` with the changed jobs in place; their chunks render lazily."""
    if previous.account != account or previous.excluded != excluded or not previous.blocks:
        return render_account(account, {**previous.jobs, **changed}, None, excluded)
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
    account, excluded, old = previous.account, previous.excluded, previous.jobs
    blocks = list(previous.blocks)
    firsts = [block.first for block in blocks]
    edits: dict[int, _Edit] = {}

    def edit(order: tuple[float, str, str]) -> _Edit:
        index = max(0, bisect_right(firsts, order) - 1)
        found = edits.get(index)
        if found is None:
            found = edits[index] = _Edit()
        return found

    for key in removed:
        edit(_order(old[key])).drop.add(key)
    for key, job in changed.items():
        before = old.get(key)
        order = _order(job)
        if before is None:
            target = edit(order)
            target.inserts = True
        else:
            was = _order(before)
            if was != order:  # moved: its creation time changed
                edit(was).drop.add(key)
                target = edit(order)
                target.inserts = True
            else:
                target = edit(order)
        target.put[key] = job
    for index in sorted(edits, reverse=True):
        blocks[index:index + 1] = _edit(account, excluded, old, blocks[index], edits[index],
                                        eager)
    return RenderedAccount.of(blocks, jobs, account, excluded)


def _edit(account: str, excluded: frozenset[str], old: Mapping[JobKey, Job],
          block: RenderedBlock, edit: _Edit, eager: bool) -> list[RenderedBlock]:
    """The chunk(s) replacing `block` after the edit (none if it empties)."""
    if not edit.drop and not edit.inserts:
        return [_replaced(account, excluded, old, block, edit.put, eager)]
    members = {job.key: job for job in block.jobs}
    for key in edit.drop:
        members.pop(key, None)
    members.update(edit.put)
    ordered = sorted(members.values(), key=_order)
    if len(ordered) <= MAX_CHUNK_JOBS:
        pieces = [ordered] if ordered else []
    else:
        count = -(-len(ordered) // CHUNK_JOBS)
        size = -(-len(ordered) // count)
        pieces = [ordered[i:i + size] for i in range(0, len(ordered), size)]
    return [_new_block(account, excluded, tuple(piece), eager) for piece in pieces]


def _replaced(account: str, excluded: frozenset[str], old: Mapping[JobKey, Job],
              block: RenderedBlock, put: Mapping[JobKey, Job], eager: bool) -> RenderedBlock:
    """`block` with jobs replaced in place (same keys, same order): only the parts
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
        jobs[bisect_left(jobs, _order(job), key=_order)] = job
        if before.state != job.state:
            refinal = refinal or before.state.is_final != job.state.is_final
            if counts is block.counts:
                counts, oldest = Counter(counts), dict(oldest)
            was, pair = (before.transform, before.state), (job.transform, job.state)
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
        stale.update(name for name, get in _DEPENDS.items()
                     if name not in stale and get(before) != get(job))
    summary = None if recount else (counts, oldest)
    active = None if refinal else block.active
    base, before_stale = block._base()
    if stale == set():
        if base is not None and before_stale == frozenset():
            return RenderedBlock(tuple(jobs), base, None, summary, active)
        return RenderedBlock(tuple(jobs), None, (account, excluded, base, before_stale),
                             summary, active)
    if stale is None or base is None or before_stale is None:
        pending: tuple[str, frozenset[str], _Parts | None, frozenset[str] | None] = (
            account, excluded, None, None)
    else:
        pending = (account, excluded, base, before_stale | stale)
    new = RenderedBlock(tuple(jobs), None, pending, summary, active)
    if eager:
        new.parts(STATIC_GZIP_LEVEL)
    return new


# ------------------------------------------------------------------ lines


def _state_lines(p: str, job: Job) -> str:
    current = int(job.state)
    return "".join(f"ams_job_state{p}{suffix}{'1.0' if i == current else '0.0'}\n"
                   for i, suffix in enumerate(_STATE_SUFFIXES))


def _optional(name: str, attribute: str) -> Callable[[str, Job], str]:
    def write(p: str, job: Job) -> str:
        value = getattr(job, attribute)
        return "" if value is None else f"{name}{p}}} {_num(value)}\n"
    return write


def _end_line(p: str, job: Job) -> str:
    if job.state.is_final and job.end_time is not None:
        return f"ams_job_end_timestamp_seconds{p}}} {_num(job.end_time)}\n"
    return ""


def _info_line(p: str, job: Job) -> str:
    return (f'ams_job_info{p},template_id="{escape(job.template_id)}",'
            f'priority="{job.priority}"}} 1.0\n')


def _error_lines(p: str, job: Job) -> str:
    return "".join(f'ams_job_error_info{p},code="{escape(e.code)}",'
                   f'category="{escape(e.category)}"}} 1.0\n' for e in job.errors)


def _running_final_lines(p: str, job: Job) -> str:
    return f"{RUNNING[0]}{p}}} {_num(job.running_duration(0.0))}\n"


_LINE_WRITERS: dict[str, Callable[[str, Job], str]] = {
    "ams_job_state": _state_lines,
    "ams_job_state_code": lambda p, j: f"ams_job_state_code{p}}} {_num(int(j.state))}\n",
    "ams_job_progress_ratio": _optional("ams_job_progress_ratio", "progress"),
    "ams_job_priority": lambda p, j: f"ams_job_priority{p}}} {_num(j.priority)}\n",
    "ams_job_created_timestamp_seconds": _optional("ams_job_created_timestamp_seconds",
                                                   "created"),
    "ams_job_start_timestamp_seconds": _optional("ams_job_start_timestamp_seconds",
                                                 "start_time"),
    "ams_job_end_timestamp_seconds": _end_line,
    "ams_job_last_modified_timestamp_seconds": _optional(
        "ams_job_last_modified_timestamp_seconds", "last_modified"),
    "ams_job_info": _info_line,
    "ams_job_error_info": _error_lines,
}

_HEADERS = {name: gzip_member([header(name, help_text)])
            for name, help_text in (*STATIC_FAMILIES, RUNNING, AGE)}


# ------------------------------------------------------------------ scrapes


@dataclass
class Fills:
    """What a render may reuse of the time-dependent members filled by earlier
    renders (see `reusing`), and what it did reuse."""

    #: Reuse a chunk's ages and durations filled at or after this time (None: none).
    since: float | None
    #: The oldest fill time the render used (its values are at least this recent).
    oldest: float = float("inf")


_FILLS: ContextVar[Fills | None] = ContextVar("per_job_fills", default=None)


@contextmanager
def reusing(since: float | None) -> Iterator[Fills]:
    """Within this block, renders (per_job_members) take the ages and running
    durations of an unchanged chunk from its last fill if that was made at or after
    `since`, instead of filling them again; a scrape made for a new snapshot then
    costs what changed. The default (outside) fills every chunk at `now`."""
    fills = Fills(since)
    token = _FILLS.set(fills)
    try:
        yield fills
    finally:
        _FILLS.reset(token)


def per_job_members(accounts: list[RenderedAccount], now: float,
                    excluded: frozenset[str] = frozenset()) -> Iterator[bytes]:
    """The per-job families of all accounts as gzip members, in family order."""
    blocks = [block for rendered in accounts for block in rendered.blocks]
    parts = [block.parts() for block in blocks]
    for name, _ in STATIC_FAMILIES:
        if name in excluded:
            continue
        yield _HEADERS[name]
        for part in parts:
            yield part.static[name]
    filled = _fill_all(blocks, parts, float(now))
    if RUNNING[0] not in excluded:
        yield _HEADERS[RUNNING[0]]
        for part in parts:
            yield part.running_final
        for block, (_, _, running) in zip(blocks, filled, strict=True):
            if block.active:
                yield running
    if AGE[0] in excluded:
        return
    yield _HEADERS[AGE[0]]
    for _, ages, _ in filled:
        yield ages


def _fill_all(blocks: list[RenderedBlock], parts: list[_Parts],
              now: float) -> list[tuple[float, bytes, bytes]]:
    """Per chunk (fill time, age member, running-duration member of its active jobs)."""
    fills = _FILLS.get()
    since = None if fills is None else fills.since
    out = []
    oldest = now
    for block, part in zip(blocks, parts, strict=True):
        filled = block._filled
        if filled is None or since is None or not since <= filled[0] <= now:
            filled = (now,
                      _filled(part.ages, _ages(block, now)) if part.ages else b"",
                      _filled(part.running, _running_values(block, now))
                      if part.running and block.active else b"")
            block._filled = filled
        oldest = min(oldest, filled[0])
        out.append(filled)
    if fills is not None:
        fills.oldest = oldest
    return out


def _ages(block: RenderedBlock, now: float) -> tuple[float, ...]:
    created = map(_CREATED, block.jobs)
    if block.jobs[-1].created <= now:  # the newest job: no age below zero
        return tuple(map(now.__sub__, created))
    return tuple(max(0.0, now - value) for value in created)


def _running_values(block: RenderedBlock, now: float) -> tuple[float, ...]:
    jobs = block.jobs
    return tuple(0.0 if (start := jobs[i].start_time) is None else max(0.0, now - start)
                 for i in block.active)


def _filled(template: bytes, values: tuple[float, ...]) -> bytes:
    """One gzip member: the template filled with the values."""
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)
    text = compressor.compress(zlib.decompress(template, -15) % values)
    return text + compressor.flush()
