"""When the per-job families are rendered: at most once per second, off the scrape.

Ages and running durations move with time, so the per-job body is re-rendered for
new clock readings; with 10,000 jobs that takes ~30 ms of CPU. Concurrent scrapes
share one render, and while scrapes keep coming a render under two seconds old is
served at once while a fresh one is made in the background, so no scrape waits for
rendering. Values are therefore computed at scrape time to within two seconds; a
new snapshot (a refresh) or an older render is always rendered before answering.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

#: A render younger than this is served as it is.
FRESH_SECONDS = 1.0
#: A render younger than this is served while a new one is made in the background.
SERVE_STALE_SECONDS = 2.0


@dataclass(frozen=True)
class _Render:
    generations: tuple[int, ...]
    rendered_at: float
    body: list[bytes]


class RenderCache:
    def __init__(self, render: Callable[[Sequence[Any], float], list[bytes]]) -> None:
        self.render = render
        self._cached: _Render | None = None
        self._render_lock = threading.Lock()  # one render at a time (single flight)
        self._background: threading.Thread | None = None

    def get(self, snapshots: Sequence[Any], generations: tuple[int, ...],
            now: float) -> list[bytes]:
        cached = self._cached
        if cached is not None and cached.generations == generations:
            age = now - cached.rendered_at
            if 0 <= age < FRESH_SECONDS:
                return cached.body
            if 0 <= age < SERVE_STALE_SECONDS:
                self._render_in_background(snapshots, generations, now)
                return cached.body
        with self._render_lock:
            cached = self._cached  # another scrape may have rendered meanwhile
            if (cached is not None and cached.generations == generations
                    and 0 <= now - cached.rendered_at < FRESH_SECONDS):
                return cached.body
            return self._render(snapshots, generations, now)

    def _render(self, snapshots: Sequence[Any], generations: tuple[int, ...],
                now: float) -> list[bytes]:
        body = self.render(snapshots, now)
        self._cached = _Render(generations, now, body)
        return body

    def _render_in_background(self, snapshots: Sequence[Any],
                              generations: tuple[int, ...], now: float) -> None:
        if self._background is not None and self._background.is_alive():
            return

        def run() -> None:
            if self._render_lock.acquire(blocking=False):
                try:
                    self._render(snapshots, generations, now)
                finally:
                    self._render_lock.release()

        self._background = threading.Thread(target=run, name="render", daemon=True)
        self._background.start()
