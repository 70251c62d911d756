"""Fast exposition of the per-job metrics.

With 10,000 jobs the per-job series are ~160,000 lines (34 MB of text). Rendering
them through prometheus_client on every scrape costs seconds, so each account's
snapshot is rendered once, right after its refresh, into gzip members per metric
family. A scrape then writes the cached members and renders only what moves with
time: ages, the running durations of active jobs, and the small aggregate and
health families. Concatenated gzip members are one valid gzip stream (RFC 1952),
which Prometheus and every HTTP client decode.

The lines use the syntax both the 0.0.4 text format and OpenMetrics accept for
gauges, so one cache serves both.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from exporter.jobs.model import Job, JobKey
from exporter.jobs.states import JobState
from exporter.metrics.names import PER_JOB_FAMILIES

GZIP_LEVEL = 1  # speed over size: members are rebuilt at every refresh
_BATCH = 2000  # jobs rendered per chunk fed to the compressor
#: Jobs are rendered in blocks by creation time, an hour of jobs per block.
BLOCK_SECONDS = 3600

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


_SURROGATES = re.compile("[\ud800-\udfff]")


def escape(value: str) -> str:
    """A label value for the exposition; text UTF-8 cannot carry (lone surrogates,
    which JSON allows) becomes U+FFFD instead of failing the whole render."""
    if _SURROGATES.search(value):
        value = _SURROGATES.sub("\ufffd", value)
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def header(name: str, help_text: str, kind: str = "gauge") -> str:
    return f"# HELP {name} {escape(help_text)}\n# TYPE {name} {kind}\n"


def gzip_member(chunks: Iterable[str]) -> bytes:
    """One gzip member holding the concatenated chunks."""
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)
    parts = [compressor.compress(chunk.encode("utf-8")) for chunk in chunks]
    parts.append(compressor.flush())
    return b"".join(parts)


def _num(value: float) -> str:
    return repr(float(value))


@dataclass(frozen=True)
class RenderedBlock:
    """The series of the jobs created within one bucket of time: the unit that is
    re-rendered when one of its jobs changes. New jobs and state changes cluster in
    the newest buckets and retention removes the oldest, so a steady-state refresh
    renders a few blocks instead of every job."""

    jobs: tuple[Job, ...]
    prefixes: tuple[str, ...]  # the jobs' label prefixes, in the same order
    static: dict[str, bytes]
    running_final: bytes
    active: tuple[int, ...]  # positions of the jobs that are not final


@dataclass(frozen=True)
class RenderedAccount:
    """One account's per-job series, as cached gzip members per block and family,
    plus what the scrape needs to render the time-dependent ones."""

    blocks: tuple[RenderedBlock, ...]
    by_bucket: dict[int, RenderedBlock]


class AccountRenderer:
    """The renderer the refresh engine is given for one account: re-renders only the
    blocks whose jobs changed since the previous snapshot."""

    def __init__(self, account: str, excluded: frozenset[str] = frozenset()) -> None:
        self.account = account
        self.excluded = excluded

    def __call__(self, jobs: Mapping[JobKey, Job], previous: Any) -> RenderedAccount:
        return render_account(self.account, jobs.values(),
                              previous if isinstance(previous, RenderedAccount) else None,
                              self.excluded)

    def update(self, previous: Any, changed: Mapping[JobKey, Job]) -> RenderedAccount:
        """`previous` with some jobs added or replaced: only their blocks are
        rendered again, so one event costs one block, not the account."""
        assert isinstance(previous, RenderedAccount)
        return update_account(self.account, previous, changed, self.excluded)


def label_prefix(account: str, job: Job) -> str:
    """`{account="..",transform="..",job_id="..",job_name=".."` (left open for more)."""
    return (f'{{account="{escape(account)}",transform="{escape(job.transform)}",'
            f'job_id="{escape(job.job_id)}",job_name="{escape(job.name)}"')


def render_account(account: str, jobs: Iterable[Job],
                   previous: RenderedAccount | None = None,
                   excluded: frozenset[str] = frozenset()) -> RenderedAccount:
    """Render the jobs, reusing every block of `previous` whose jobs are unchanged.
    Excluded families are not rendered at all."""
    buckets = _by_bucket(jobs)
    blocks = {}
    for bucket in sorted(buckets):
        members = tuple(sorted(buckets[bucket], key=lambda j: (j.created, j.key)))
        old = previous.by_bucket.get(bucket) if previous is not None else None
        blocks[bucket] = old if old is not None and old.jobs == members \
            else _render_block(account, members, excluded)
    return RenderedAccount(tuple(blocks.values()), blocks)


def update_account(account: str, previous: RenderedAccount, changed: Mapping[JobKey, Job],
                   excluded: frozenset[str] = frozenset()) -> RenderedAccount:
    """`previous` with the changed jobs in place (a job keeps its creation time, so
    it stays in its block)."""
    by_bucket = dict(previous.by_bucket)
    for bucket, jobs in _by_bucket(changed.values()).items():
        old = by_bucket.get(bucket)
        members = {job.key: job for job in old.jobs} if old is not None else {}
        members.update((job.key, job) for job in jobs)
        ordered = tuple(sorted(members.values(), key=lambda j: (j.created, j.key)))
        by_bucket[bucket] = _render_block(account, ordered, excluded)
    ordered_buckets = {bucket: by_bucket[bucket] for bucket in sorted(by_bucket)}
    return RenderedAccount(tuple(ordered_buckets.values()), ordered_buckets)


def _by_bucket(jobs: Iterable[Job]) -> dict[int, list[Job]]:
    buckets: dict[int, list[Job]] = {}
    for job in jobs:
        buckets.setdefault(int(job.created // BLOCK_SECONDS), []).append(job)
    return buckets


def _render_block(account: str, jobs: tuple[Job, ...],
                  excluded: frozenset[str] = frozenset()) -> RenderedBlock:
    prefixes = tuple(label_prefix(account, job) for job in jobs)
    pairs = list(zip(prefixes, jobs, strict=True))
    finals = [(p, j) for p, j in pairs if j.state.is_final]
    return RenderedBlock(
        jobs=jobs,
        prefixes=prefixes,
        static={name: gzip_member(_batched(pairs, _LINE_WRITERS[name]))
                for name, _ in STATIC_FAMILIES if name not in excluded},
        running_final=(b"" if RUNNING[0] in excluded
                       else gzip_member(_batched(finals, _running_final_lines))),
        active=tuple(i for i, job in enumerate(jobs) if not job.state.is_final),
    )


def _batched(pairs: list[tuple[str, Job]], write) -> Iterator[str]:
    for start in range(0, len(pairs), _BATCH):
        yield "".join(write(p, j) for p, j in pairs[start:start + _BATCH])


def _state_lines(p: str, job: Job) -> str:
    current = int(job.state)
    return "".join(f"ams_job_state{p}{suffix}{'1.0' if i == current else '0.0'}\n"
                   for i, suffix in enumerate(_STATE_SUFFIXES))


def _optional(name: str, attribute: str):
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


_LINE_WRITERS = {
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


def per_job_members(accounts: list[RenderedAccount], now: float,
                    excluded: frozenset[str] = frozenset()) -> Iterator[bytes]:
    """The per-job families of all accounts as gzip members, in family order."""
    blocks = [block for rendered in accounts for block in rendered.blocks]
    for name, _ in STATIC_FAMILIES:
        if name in excluded:
            continue
        yield _HEADERS[name]
        for block in blocks:
            yield block.static[name]
    if RUNNING[0] not in excluded:
        yield _HEADERS[RUNNING[0]]
        for block in blocks:
            yield block.running_final
        yield gzip_member("".join(_running_active_lines(block, now)) for block in blocks)
    if AGE[0] in excluded:
        return
    yield _HEADERS[AGE[0]]
    yield gzip_member(
        "".join(f"{AGE[0]}{p}}} {_num(max(0.0, now - job.created))}\n"
                for p, job in zip(block.prefixes, block.jobs, strict=True))
        for block in blocks)


def _running_active_lines(block: RenderedBlock, now: float) -> Iterator[str]:
    for index in block.active:
        start = block.jobs[index].start_time
        value = 0.0 if start is None else max(0.0, now - start)
        yield f"{RUNNING[0]}{block.prefixes[index]}}} {_num(value)}\n"
