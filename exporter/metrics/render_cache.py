"""Which render of the per-job families a scrape is served, and when renders are made.

A render (exporter.metrics.fill) takes every chunk's members, rendered when the jobs
changed (by the refresh; chunks changed by push events by the first render that
reads them), and fills in the moving values (ages, running durations of active
jobs) at its clock: ~20 ms of CPU at 10,000 jobs and ~0.2 s at 100,000, most of it
compression outside the GIL.

The last render is kept. A scrape is served it if it shows the scrape's snapshots
(or newer ones) and is under a second old; one to two seconds old, it is served
while a new one is made in the background. Otherwise (a newer snapshot: a refresh,
push events; a render two seconds old or more; none yet) the scrape waits for a
render. Moving values are therefore those of the scrape's clock to within two
seconds, and a scrape that comes two seconds or more after the last one (Prometheus
scraping every 15 s) waits for a render of every chunk.

A render made while the previous one may still be served (under two seconds old)
takes the unchanged chunks' fills from it and fills only the chunks that changed,
so the first scrape after a refresh or a push event costs what changed, not every
job. Such a render counts as old as the oldest fill it holds: past a second, the
next scrape has it made again in the background, and past two it is not served.

One render at a time, and one render serves every scrape waiting for it: a render
uses, per account, the newest snapshot any scrape has asked for, and a scrape takes
any render of its snapshots or newer ones. Under a stream of push events (a new
snapshot every few milliseconds) scrapes would otherwise queue for one render each;
this way a scrape waits for at most the render in progress and the next one.

A scrape that may be answered from older data (`serve_stale`: a scrape over HTTP,
see refresh.max_staleness) does not wait for a render in progress: while the last
render is under five seconds old it is served that one, with the aggregates of the
snapshots it shows (its moving values are then up to five seconds old). And a
refresh renders its new snapshot itself, in its own thread (`prerender`), when
scrapes come often enough to be served the last render:
so at 100,000 jobs, with scrapes every 0.25 s and a refresh every 5 s, no scrape
waits for the render of a refresh. A scrape that waited for a refresh sees it: the
refresh releases it only after its render.

Every scrape's aggregates come from the snapshots of the render it is served, so a
scrape never shows per-job series of one moment and counts of another.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from exporter.metrics.fill import PerJobMembers
from exporter.refresh.snapshot import Snapshot

#: A render younger than this is served as it is.
FRESH_SECONDS = 1.0
#: A render younger than this is served while a new one is made in the background.
SERVE_STALE_SECONDS = 2.0
#: While a render is in progress, a scrape that may be served older data is served
#: the last render if younger than this (a render under load takes ~0.5 s at 100,000
#: jobs; one right after a refresh can follow the one a scrape started).
IN_PROGRESS_SECONDS = 5.0

Render = Callable[[Sequence[Snapshot], float, float | None], PerJobMembers]
"""Renders the snapshots at a time, taking the chunks' fills made at or after the
third argument (if not None) instead of filling them again."""


@dataclass(frozen=True)
class _Rendered:
    snapshots: tuple[Snapshot, ...]
    generations: tuple[int, ...]
    #: The time of the oldest moving value it holds.
    rendered_at: float
    body: list[bytes]


def _generations(snapshots: Sequence[Snapshot]) -> tuple[int, ...]:
    return tuple(snapshot.generation for snapshot in snapshots)


def _covers(rendered: tuple[int, ...], wanted: tuple[int, ...]) -> bool:
    """Whether a render of `rendered` snapshots shows `wanted` ones (or newer: the
    generations of an account's snapshots only grow)."""
    return len(rendered) == len(wanted) and all(
        have >= want for have, want in zip(rendered, wanted, strict=True))


def _newest(a: Sequence[Snapshot], b: Sequence[Snapshot]) -> list[Snapshot]:
    """Per account, the snapshot of the larger generation."""
    return [x if x.generation >= y.generation else y for x, y in zip(a, b, strict=True)]


class RenderCache:
    def __init__(self, render: Render) -> None:
        self.render = render
        self._cached: _Rendered | None = None
        self._render_lock = threading.Lock()  # one render at a time (single flight)
        self._background: threading.Thread | None = None
        #: Per account, the newest snapshot a scrape asked for and no render used yet.
        self._wanted: list[Snapshot] | None = None
        self._wanted_lock = threading.Lock()

    def get(self, snapshots: Sequence[Snapshot], now: float, serve_stale: bool = False
            ) -> tuple[list[bytes], Sequence[Snapshot]]:
        """The per-job members for a scrape of these snapshots at `now`, and the
        snapshots they show (these, or per account newer ones; with `serve_stale`,
        possibly older ones while a render is in progress)."""
        generations = _generations(snapshots)
        cached = self._cached
        if cached is not None and _covers(cached.generations, generations):
            age = now - cached.rendered_at
            if -FRESH_SECONDS < age < FRESH_SECONDS:
                return cached.body, cached.snapshots
            if 0 <= age < SERVE_STALE_SECONDS:
                self._render_in_background(snapshots, now)
                return cached.body, cached.snapshots
        self._want(snapshots)
        # A scrape that may be served older data takes the last render (under five
        # seconds old) rather than wait for a render in progress: also one that
        # began a moment ago, as a refresh's `prerender` does right after the refresh.
        if (serve_stale and cached is not None
                and len(cached.generations) == len(generations)
                and -FRESH_SECONDS < now - cached.rendered_at < IN_PROGRESS_SECONDS):
            if not self._render_lock.acquire(blocking=False):
                return cached.body, cached.snapshots  # the render in progress shows them
        else:
            self._render_lock.acquire()
        try:
            cached = self._cached  # another scrape (or the background) rendered meanwhile
            if (cached is not None and _covers(cached.generations, generations)
                    and -FRESH_SECONDS < now - cached.rendered_at < SERVE_STALE_SECONDS):
                return cached.body, cached.snapshots
            return self._render(self._take_wanted(snapshots), now, reuse=True)
        finally:
            self._render_lock.release()

    def prerender(self, snapshots: Sequence[Snapshot], now: float) -> None:
        """Render new snapshots now (a refresh's thread, after the refresh) if the last
        render is still served (scrapes come more often than every two seconds):
        scrapes meanwhile are served the last render instead of waiting. Otherwise
        nothing: the next scrape renders, with moving values of its own time."""
        cached = self._cached
        if (cached is None or _covers(cached.generations, _generations(snapshots))
                or not 0 <= now - cached.rendered_at < SERVE_STALE_SECONDS):
            return
        self._want(snapshots)
        with self._render_lock:
            cached = self._cached
            if cached is None or not _covers(cached.generations, _generations(snapshots)):
                self._render(self._take_wanted(snapshots), now, reuse=True)

    def _want(self, snapshots: Sequence[Snapshot]) -> None:
        with self._wanted_lock:
            wanted = self._wanted
            if wanted is None or len(wanted) != len(snapshots):
                self._wanted = list(snapshots)
            else:
                self._wanted = _newest(wanted, snapshots)

    def _take_wanted(self, snapshots: Sequence[Snapshot]) -> Sequence[Snapshot]:
        """These snapshots, or per account a newer one another scrape waits for
        (taken: a render is about to show it)."""
        with self._wanted_lock:
            wanted, self._wanted = self._wanted, None
        if wanted is None or len(wanted) != len(snapshots):
            return snapshots
        return _newest(wanted, snapshots)

    def _render(self, snapshots: Sequence[Snapshot], now: float, reuse: bool = False
                ) -> tuple[list[bytes], Sequence[Snapshot]]:
        """Render (the render lock held). With `reuse`, the fills of the cached render
        are reused where unchanged if that render may still be served; the new render
        then dates from its oldest fill."""
        cached = self._cached
        since = cached.rendered_at if (
            reuse and cached is not None
            and 0 <= now - cached.rendered_at < SERVE_STALE_SECONDS) else None
        made = self.render(snapshots, now, since)
        shown = tuple(snapshots)
        self._cached = _Rendered(shown, _generations(shown), made.filled_at, made.members)
        return made.members, shown

    def _render_in_background(self, snapshots: Sequence[Snapshot], now: float) -> None:
        if self._background is not None and self._background.is_alive():
            return

        def run() -> None:
            if self._render_lock.acquire(blocking=False):
                try:
                    self._render(self._take_wanted(snapshots), now)
                finally:
                    self._render_lock.release()

        self._background = threading.Thread(target=run, name="render", daemon=True)
        self._background.start()
