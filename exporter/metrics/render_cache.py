"""When the per-job families are rendered: at most once per second, off the scrape.

Ages and running durations move with time, so the per-job body is re-rendered for
new clock readings; a render fills precompiled templates (exporter.metrics.per_job),
~20 ms of CPU at 10,000 jobs and ~0.2 s at 100,000, most of it compression outside
the GIL. Concurrent scrapes share one render, and while scrapes keep coming a render
under two seconds old is served at once while a fresh one is made in the background,
so no scrape waits for rendering. Values are therefore computed at scrape time to
within two seconds; a new snapshot (a refresh, push events) or an older render is
always rendered before answering.

A render made for new snapshots while the previous one may still be served (under
two seconds old) fills only the ages and durations of the chunks that changed and
takes the others from the previous render (exporter.metrics.per_job.reusing), so
the first scrape after a refresh or a push event costs what changed, not every job.
Such a render counts as old as the oldest values it holds: past a second, the next
scrape has it made again in the background, and past two it is not served.

One render serves every scrape waiting for it: a render uses, per account, the
newest snapshot any scrape has asked for, and a scrape takes any render of its
snapshots or newer ones. Under a stream of push events (a new snapshot every few
milliseconds) scrapes would otherwise queue for one render each; this way a scrape
waits for at most the render in progress and the next one, and its per-job series
may be a few milliseconds newer than the snapshot its aggregates come from.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from exporter.metrics.per_job import reusing

#: A render younger than this is served as it is.
FRESH_SECONDS = 1.0
#: A render younger than this is served while a new one is made in the background.
SERVE_STALE_SECONDS = 2.0


@dataclass(frozen=True)
class _Render:
    generations: tuple[int, ...]
    rendered_at: float
    body: list[bytes]


def _covers(rendered: tuple[int, ...], wanted: tuple[int, ...]) -> bool:
    """Whether a render of `rendered` snapshots shows `wanted` ones (or newer: the
    generations of an account's snapshots only grow)."""
    return len(rendered) == len(wanted) and all(
        have >= want for have, want in zip(rendered, wanted, strict=True))


class RenderCache:
    def __init__(self, render: Callable[[Sequence[Any], float], list[bytes]]) -> None:
        self.render = render
        self._cached: _Render | None = None
        self._render_lock = threading.Lock()  # one render at a time (single flight)
        self._background: threading.Thread | None = None
        #: Per account, the newest snapshot a scrape asked for and no render used yet.
        self._wanted: tuple[tuple[int, ...], list[Any]] | None = None
        self._wanted_lock = threading.Lock()

    def get(self, snapshots: Sequence[Any], generations: tuple[int, ...],
            now: float) -> list[bytes]:
        cached = self._cached
        if cached is not None and _covers(cached.generations, generations):
            age = now - cached.rendered_at
            if -FRESH_SECONDS < age < FRESH_SECONDS:
                return cached.body
            if 0 <= age < SERVE_STALE_SECONDS:
                self._render_in_background(snapshots, generations, now)
                return cached.body
        self._want(snapshots, generations)
        with self._render_lock:
            cached = self._cached  # another scrape (or the background) rendered meanwhile
            if (cached is not None and _covers(cached.generations, generations)
                    and -FRESH_SECONDS < now - cached.rendered_at < SERVE_STALE_SECONDS):
                return cached.body
            snapshots, generations = self._newest(snapshots, generations)
            return self._render(snapshots, generations, now, reuse=True)

    def _want(self, snapshots: Sequence[Any], generations: tuple[int, ...]) -> None:
        with self._wanted_lock:
            wanted = self._wanted
            if wanted is None or len(wanted[0]) != len(generations):
                self._wanted = (generations, list(snapshots))
            else:
                self._wanted = _merge(wanted, (generations, snapshots))

    def _newest(self, snapshots: Sequence[Any], generations: tuple[int, ...]
                ) -> tuple[Sequence[Any], tuple[int, ...]]:
        """These snapshots, or per account a newer one another scrape waits for
        (taken: a render is about to show it)."""
        with self._wanted_lock:
            wanted, self._wanted = self._wanted, None
        if wanted is None or len(wanted[0]) != len(generations):
            return snapshots, generations
        newest_generations, newest_snapshots = _merge(wanted, (generations, snapshots))
        return newest_snapshots, newest_generations

    def _render(self, snapshots: Sequence[Any], generations: tuple[int, ...],
                now: float, reuse: bool = False) -> list[bytes]:
        """Render (the render lock held). With `reuse`, what the cached render filled
        is reused where unchanged if that render may still be served; the new render
        then dates from its oldest values."""
        cached = self._cached
        since = cached.rendered_at if (
            reuse and cached is not None
            and 0 <= now - cached.rendered_at < SERVE_STALE_SECONDS) else None
        with reusing(since) as fills:
            body = self.render(snapshots, now)
        rendered_at = now if since is None else min(now, fills.oldest)
        self._cached = _Render(generations, rendered_at, body)
        return body

    def _render_in_background(self, snapshots: Sequence[Any],
                              generations: tuple[int, ...], now: float) -> None:
        if self._background is not None and self._background.is_alive():
            return

        def run() -> None:
            if self._render_lock.acquire(blocking=False):
                try:
                    self._render(*self._newest(snapshots, generations), now)
                finally:
                    self._render_lock.release()

        self._background = threading.Thread(target=run, name="render", daemon=True)
        self._background.start()


def _merge(a: tuple[tuple[int, ...], Sequence[Any]], b: tuple[tuple[int, ...], Sequence[Any]]
           ) -> tuple[tuple[int, ...], list[Any]]:
    """Per account, the snapshot of the larger generation."""
    generations, snapshots = [], []
    for gen_a, snap_a, gen_b, snap_b in zip(a[0], a[1], b[0], b[1], strict=True):
        newer = gen_a >= gen_b
        generations.append(gen_a if newer else gen_b)
        snapshots.append(snap_a if newer else snap_b)
    return tuple(generations), snapshots
