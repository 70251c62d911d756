"""The per-job part of a scrape's body: every family's header and the chunks'
members, with the moving values (ages, running durations of active jobs) filled
in at the render's clock.

A chunk's moving values are filled into its template in one C-level
`bytes % tuple`, and computed in C too when every job has its time and none is
ahead of the clock (else a Python step each: the running durations of jobs not yet
started). A render may take a chunk's last fill instead of filling it again
(`reuse_since`): the render cache (exporter.metrics.render_cache) asks for that
while the previous render may still be served, so a render for a new snapshot fills
only the chunks that changed.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from operator import attrgetter

from exporter.metrics.chunks import Filled, Parts, RenderedBlock
from exporter.metrics.job_families import JOB_FAMILIES
from exporter.metrics.per_job import RenderedAccount
from exporter.metrics.text import GZIP_LEVEL, gzip_member, header

_HEADERS = {family.name: gzip_member([header(family.name, family.help, family.type)])
            for family in JOB_FAMILIES}
#: (name, whether only the active jobs' values move, their start) per moving family.
_MOVING = tuple((family.name, moving.frozen is not None, attrgetter(moving.since))
                for family in JOB_FAMILIES if (moving := family.moving) is not None)


@dataclass(frozen=True)
class PerJobMembers:
    """The per-job families as gzip members, in family order."""

    members: list[bytes]
    #: The time of the oldest fill they hold: the render's, unless fills were reused.
    filled_at: float


def render_members(accounts: Sequence[RenderedAccount], now: float,
                   excluded: frozenset[str] = frozenset(),
                   reuse_since: float | None = None) -> PerJobMembers:
    """The per-job families of the accounts. A chunk's moving values are filled at
    `now`, or with `reuse_since`, taken from the chunk's last fill if that was made
    between `reuse_since` and `now`. Pending chunks are rendered first."""
    now = float(now)
    blocks = [block for account in accounts for block in account.blocks]
    parts = [block.parts() for block in blocks]
    fills = [_fill(block, part, now, reuse_since)
             for block, part in zip(blocks, parts, strict=True)]
    members: list[bytes] = []
    for family in JOB_FAMILIES:
        name = family.name
        if name in excluded:
            continue
        members.append(_HEADERS[name])
        members.extend(part.members[name] for part in parts if name in part.members)
        if family.moving is not None:
            members.extend(moved[name] for _, moved in fills if name in moved)
    return PerJobMembers(members, min((at for at, _ in fills), default=now))


def _fill(block: RenderedBlock, parts: Parts, now: float, reuse_since: float | None) -> Filled:
    """The chunk's moving values at `now` (or its last fill, see render_members)."""
    filled = block.filled
    if filled is not None and reuse_since is not None and reuse_since <= filled[0] <= now:
        return filled
    moved = {}
    for name, active_only, start in _MOVING:
        template = parts.templates.get(name)
        if template is None:  # excluded
            continue
        jobs = [block.jobs[i] for i in block.active] if active_only else block.jobs
        if not jobs:
            continue
        if name in block.latest:
            latest = block.latest[name]
        else:  # the same on every fill: the chunk's jobs do not change
            starts = [at for at in map(start, jobs) if at is not None]
            latest = block.latest[name] = max(starts) if len(starts) == len(jobs) else None
        if latest is not None and latest <= now:  # none is None or ahead: all in C
            values = tuple(map(now.__sub__, map(start, jobs)))
        else:
            values = tuple(0.0 if at is None else max(0.0, now - at) for at in map(start, jobs))
        moved[name] = _filled(template, values)
    filled = block.filled = (now, moved)
    return filled


def _filled(template: bytes, values: tuple[float, ...]) -> bytes:
    """One gzip member: the template filled with the values."""
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)
    text = compressor.compress(zlib.decompress(template, -15) % values)
    return text + compressor.flush()
