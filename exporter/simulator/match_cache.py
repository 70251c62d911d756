"""Filtered listings kept between the pages a client asks for (v2, v3 and MK.IO).

A client paging through a listing asks the same question page after page; answering
each page by evaluating the filter (and sorting) over every job makes paging quadratic
in the jobs. So a listing's answer is kept, keyed by its caller on what it depends on
(the store versions, the filter and order texts, ...), and followed as the clock moves:
what a listing reads of a job (its state, lastModified, ...) is piecewise constant in
time, changing only at the job's timeline events, so only the jobs with an event since
the last reading need evaluating again.
"""

from __future__ import annotations

import bisect
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping, Sequence
from operator import itemgetter
from typing import Any, Generic, Protocol, TypeVar

#: Listings kept at once (a few clients or filters paging side by side).
MATCH_CACHE_SIZE = 4


class Timed(Protocol):
    """A listed item: a job, or a job with where it lives; `events` is its timeline."""

    @property
    def events(self) -> Sequence[tuple[float, object]]: ...


T = TypeVar("T", bound=Timed)
V = TypeVar("V")
_P = TypeVar("_P")

Derive = Callable[[T, float], V | None]
"""(item, now) -> the item's value in the listing at `now` (its sort key, say), or None
when the item is not listed (the filter does not match). It must change only at the
item's events."""

Order = Callable[[list[tuple[V, T]]], None]
"""Sorts (value, item) pairs in place; without one, the items keep their given order."""


class Matching(Generic[T, V]):
    """One listing's answer over one version of the items, brought up to date as the
    clock moves. `listed` holds (value, item) for the listed items, in order."""

    def __init__(self, items: Sequence[T], arrival: float | None, now: float,
                 derive: Derive[T, V], order: Order[V, T] | None = None) -> None:
        self._items = items
        self._arrival = math.inf if arrival is None else arrival
        self._now = now
        self._order = order
        self._values = [derive(item, now) for item in items]
        self._pending = sorted((at, index) for index, item in enumerate(items)
                               for at, _ in item.events if at > now)
        self._cursor = 0
        self.listed: list[tuple[V, T]] = []
        self._arrange()

    def _arrange(self) -> None:
        listed = [(value, item) for value, item in zip(self._values, self._items, strict=True)
                  if value is not None]
        if self._order is not None:
            self._order(listed)
        self.listed = listed

    def advance(self, now: float, derive: Derive[T, V]) -> bool:
        """Bring the answer to `now`; False when it cannot be (the clock went back,
        or an item has appeared since), and the answer must be computed afresh."""
        if now < self._now or now >= self._arrival:
            return False
        end = bisect.bisect_right(self._pending, (now, math.inf), self._cursor)
        changed = False
        for _, index in self._pending[self._cursor:end]:
            value = derive(self._items[index], now)
            if value != self._values[index]:
                self._values[index] = value
                changed = True
        self._cursor, self._now = end, now
        if changed:
            self._arrange()
        return True


class MatchCache(Generic[T, V]):
    """Listings kept between the pages of a client.

    Keys must name everything the answer depends on but the clock, so any change to
    the items starts afresh (store versions); the clock is followed by
    Matching.advance. Bounded (the least recently used entry goes first) and
    thread-safe.
    """

    def __init__(self, size: int = MATCH_CACHE_SIZE) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, Matching[T, V]] = OrderedDict()

    def get(self, key: Hashable, now: float, derive: Derive[T, V]) -> list[tuple[V, T]] | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or not entry.advance(now, derive):
                return None
            self._entries.move_to_end(key)
            return entry.listed

    def put(self, key: Hashable, entry: Matching[T, V]) -> None:
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def listing(self, key: Hashable, items: Callable[[], Sequence[T]], arrival: float | None,
                now: float, derive: Derive[T, V],
                order: Order[V, T] | None = None) -> list[tuple[V, T]]:
        """The answer kept under `key` brought to `now`, else computed over `items()`
        (the items of the versions in `key`; `arrival`: when the next one appears)."""
        listed = self.get(key, now, derive)
        if listed is None:
            entry = Matching(items(), arrival, now, derive, order)
            self.put(key, entry)
            listed = entry.listed
        return listed

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


def record_key(properties: Sequence[str]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """record -> its sort key on `properties` (a tuple, even for one property)."""
    getter = itemgetter(*properties)
    if len(properties) == 1:
        return lambda record: (getter(record),)
    return getter


def sort_pairs(pairs: list[tuple[tuple[Any, ...], _P]], descending: Sequence[bool]) -> None:
    """Sort (key, item) pairs in place on their key tuples, each component ascending or
    descending as told; stable, and comparing only the keys."""
    directions = set(descending)
    if len(directions) <= 1:
        pairs.sort(key=_first, reverse=bool(directions and directions.pop()))
        return
    for index in reversed(range(len(descending))):  # mixed: least significant first
        pairs.sort(key=_component(index), reverse=descending[index])


def _first(pair: tuple[tuple[Any, ...], object]) -> tuple[Any, ...]:
    return pair[0]


def _component(index: int) -> Callable[[tuple[tuple[Any, ...], object]], Any]:
    def key(pair: tuple[tuple[Any, ...], object]) -> Any:
        return pair[0][index]
    return key
