"""Which render a scrape gets, and what a render reuses: fills are reused only when
the render is asked to (`reuse_since`), and a render dates from its oldest fill; a
scrape that may be served older data is not held by a render in progress, and a
refresh's render (`prerender`) spares the next scrape its wait."""

from __future__ import annotations

import dataclasses
import gzip
import threading
from collections.abc import Sequence

from exporter.jobs.model import Job
from exporter.jobs.states import JobState
from exporter.metrics.chunks import CHUNK_JOBS
from exporter.metrics.fill import PerJobMembers, render_members
from exporter.metrics.per_job import AccountRenderer
from exporter.metrics.render_cache import RenderCache
from exporter.refresh.snapshot import Snapshot
from tests.helpers import T0, uid, wait_until


def jobs(n: int) -> dict[tuple[str, str], Job]:
    made = (Job(uid(i), f"job {i}", JobState.Processing, T0 - 2000 + i, start_time=T0 - 900)
            for i in range(n))
    return {job.key: job for job in made}


def ages(members: PerJobMembers) -> dict[str, float]:
    text = gzip.decompress(b"".join(members.members)).decode()
    return {line.split('job_id="')[1].split('"')[0]: float(line.rsplit(" ", 1)[1])
            for line in text.splitlines() if line.startswith("ams_job_age_seconds{")}


def test_a_render_reuses_fills_only_when_asked_and_dates_from_the_oldest():
    renderer = AccountRenderer("acct")
    before = renderer(jobs(2 * CHUNK_JOBS), None)  # two chunks
    first = render_members([before], T0)
    assert first.filled_at == T0
    [changed_key] = list(before.jobs)[-1:]
    changed = {changed_key: dataclasses.replace(before.jobs[changed_key], progress=0.5)}
    after = renderer.update(before, changed)  # the second chunk is new

    reused = render_members([after], T0 + 0.5, reuse_since=T0)
    assert reused.filled_at == T0
    values = ages(reused)
    assert values[uid(0)] == 2000  # the unchanged chunk: its fill at T0
    assert values[changed_key[1]] == 2000 - (2 * CHUNK_JOBS - 1) + 0.5  # filled now

    for refilled in (render_members([after], T0 + 1, reuse_since=T0 + 0.75),
                     render_members([after], T0 + 1)):  # too old to reuse, or not asked
        assert refilled.filled_at == T0 + 1
        assert ages(refilled)[uid(0)] == 2001


def test_a_fill_from_after_the_render_clock_is_not_reused():
    rendered = AccountRenderer("acct")(jobs(3), None)
    render_members([rendered], T0 + 10)
    earlier = render_members([rendered], T0 + 5, reuse_since=T0)
    assert earlier.filled_at == T0 + 5
    assert ages(earlier)[uid(0)] == 2005


class Renders:
    """A render function that records what it was asked."""

    def __init__(self) -> None:
        self.calls: list[tuple[tuple[int, ...], float, float | None]] = []

    def __call__(self, snapshots: Sequence[Snapshot], now: float,
                 reuse_since: float | None) -> PerJobMembers:
        self.calls.append((tuple(s.generation for s in snapshots), now, reuse_since))
        # As render_members does when it reuses: dated from the oldest fill it took.
        return PerJobMembers([f"render {len(self.calls)}".encode()],
                             now if reuse_since is None else reuse_since)


def test_the_cache_serves_fresh_renders_and_renders_new_snapshots_reusing_fills():
    renders = Renders()
    cache = RenderCache(renders)
    old, new = Snapshot.of({}), Snapshot.of({})
    assert cache.get([old], T0)[0] == [b"render 1"]
    assert renders.calls == [((old.generation,), T0, None)]
    assert cache.get([old], T0 + 0.5)[0] == [b"render 1"]  # under a second old
    assert len(renders.calls) == 1
    # A newer snapshot waits for a render, which may reuse the cached one's fills.
    assert cache.get([new], T0 + 0.6)[0] == [b"render 2"]
    assert renders.calls[1] == ((new.generation,), T0 + 0.6, T0)
    # That render dates from T0 (its oldest fill): at T0 + 2.5 it is too old to serve.
    assert cache.get([new], T0 + 2.5)[0] == [b"render 3"]
    assert renders.calls[2] == ((new.generation,), T0 + 2.5, None)
    # An older snapshot is shown by a render of a newer one.
    assert cache.get([old], T0 + 2.6)[0] == [b"render 3"]


def test_a_render_one_to_two_seconds_old_is_served_while_another_is_made():
    renders = Renders()
    cache = RenderCache(renders)
    snapshot = Snapshot.of({})
    cache.get([snapshot], T0)
    assert cache.get([snapshot], T0 + 1.5)[0] == [b"render 1"]
    assert wait_until(lambda: cache.get([snapshot], T0 + 1.6)[0] == [b"render 2"])
    assert renders.calls[1:] == [((snapshot.generation,), T0 + 1.5, None)]


class HeldRenders(Renders):
    """Renders that, once `hold` is set, block until `release` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.hold = False
        self.started = threading.Event()
        self.release = threading.Event()

    def __call__(self, snapshots: Sequence[Snapshot], now: float,
                 reuse_since: float | None) -> PerJobMembers:
        if self.hold:
            self.started.set()
            assert self.release.wait(10), "the test never released the render"
        return super().__call__(snapshots, now, reuse_since)


def test_a_scrape_that_may_be_served_older_data_is_not_held_by_a_render():
    renders = HeldRenders()
    cache = RenderCache(renders)
    old, new = Snapshot.of({}), Snapshot.of({})
    cache.get([old], T0)
    renders.hold = True
    waiting = threading.Thread(target=cache.get, args=([new], T0 + 0.2))
    waiting.start()  # a scrape that must show `new`: it renders, and is held
    try:
        assert renders.started.wait(10)
        # Served the last render (under five seconds old) at once, with its snapshots.
        assert cache.get([new], T0 + 3.0, serve_stale=True) == ([b"render 1"], (old,))
    finally:
        renders.release.set()
        waiting.join(10)
    assert cache.get([new], T0 + 0.4, serve_stale=True) == ([b"render 2"], (new,))


def test_a_last_render_five_seconds_old_is_not_served_even_to_such_a_scrape():
    renders = HeldRenders()
    cache = RenderCache(renders)
    old, new = Snapshot.of({}), Snapshot.of({})
    cache.get([old], T0)
    renders.hold = True
    waiting = threading.Thread(target=cache.get, args=([new], T0 + 5.5))
    waiting.start()
    try:
        assert renders.started.wait(10)
        served: list[object] = []
        late = threading.Thread(target=lambda: served.append(
            cache.get([new], T0 + 5.5, serve_stale=True)))
        late.start()
        late.join(0.3)
        assert late.is_alive() and not served  # it waits for the render in progress
    finally:
        renders.release.set()
        waiting.join(10)
        late.join(10)
    assert served == [([b"render 2"], (new,))]


def test_a_refresh_renders_its_snapshot_when_scrapes_are_frequent():
    renders = Renders()
    cache = RenderCache(renders)
    old, new, newer = Snapshot.of({}), Snapshot.of({}), Snapshot.of({})
    cache.prerender([old], T0)  # nothing rendered yet: the first scrape renders
    assert renders.calls == []
    cache.get([old], T0)
    cache.prerender([new], T0 + 0.5)
    assert renders.calls[1] == ((new.generation,), T0 + 0.5, T0)
    assert cache.get([new], T0 + 0.6) == ([b"render 2"], (new,))  # no render of its own
    assert len(renders.calls) == 2
    # Scrapes stopped two seconds ago: the next scrape renders with its own clock.
    cache.prerender([newer], T0 + 3)
    assert len(renders.calls) == 2
