"""The job source of the ARM-style APIs (AMS v3, RMS and MK.IO): jobs listed
transform by transform, filtered on the properties of the ARM job JSON. A full sync
lists the selection (the lookback, or the selected names); an incremental one only
the jobs changed since the watermark and the active ones. Progress and error codes
come with the jobs' outputs: no extra requests.

What differs between the APIs is passed in: how their filters write a datetime and
a state, and how an account knows its transforms (Transforms).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from exporter.backends.odata import any_of, changed_or_active, selection_clauses, string_literal
from exporter.jobs.model import Job, JobKey, Listing
from exporter.jobs.selection import JobSelection
from exporter.jobs.states import JobState

#: Names per `name eq ... or ...` filter when jobs are selected by name.
NAMES_PER_REQUEST = 20


@dataclass(frozen=True)
class FilterDialect:
    """How an API's `$filter` writes the literals that differ between the APIs."""

    #: An unquoted datetime literal for a Unix time.
    datetime: Callable[[float], str]
    #: The clause `properties/state eq <the state's literal>`.
    state_clause: Callable[[JobState], str]


class ArmJobsClient(Protocol):
    """What the source needs of an API client."""

    max_jobs: int | None

    def list_jobs(self, transform: str, filter_text: str = "") -> Listing:
        """Every page of a transform's jobs matching the filter."""
        ...


class Transforms(Protocol):
    """How an account knows its transforms: which ones its listings go through,
    and which ones its aggregates report (zeros included)."""

    @property
    def known(self) -> tuple[str, ...]: ...

    def to_list(self, full: bool) -> tuple[str, ...]:
        """The transforms a full (or incremental) sync lists."""
        ...

    def listed(self, transforms: tuple[str, ...], listing: Listing, full: bool) -> None:
        """Learn from a sync that listed `transforms` successfully."""
        ...


def name_batches(names: Sequence[str]) -> Iterator[str]:
    """`name eq` filters for these names, NAMES_PER_REQUEST at a time."""
    for start in range(0, len(names), NAMES_PER_REQUEST):
        batch = names[start:start + NAMES_PER_REQUEST]
        yield any_of(f"name eq {string_literal(name)}" for name in batch)


class ArmSource:
    """Lists an account's selected jobs, transform by transform."""

    def __init__(self, selection: JobSelection, client: ArmJobsClient, dialect: FilterDialect,
                 transforms: Transforms, lookback: float) -> None:
        self.selection = selection
        self.client = client
        self.dialect = dialect
        self.transforms = transforms
        self.lookback = lookback

    @property
    def known_transforms(self) -> tuple[str, ...]:
        return self.transforms.known

    def fetch_all(self, now: float) -> Listing:
        return self._sync(True, self._selection_filters(now))

    def fetch_changed(self, since: float) -> Listing | None:
        if self.selection.ids:
            return None  # name batches cost the same either way
        # No state or lookback clause here: a job leaving the selected states must
        # still be seen; the refresher applies the selection to the merged result.
        changed = changed_or_active(
            f"properties/lastModified gt {self.dialect.datetime(since)}",
            self.dialect.state_clause)
        return self._sync(False, [changed])

    def fetch_keys(self, keys: list[JobKey]) -> Listing:
        by_transform: dict[str, list[str]] = defaultdict(list)
        for transform, name in keys:
            by_transform[transform].append(name)
        listing = Listing(limit=self.client.max_jobs)
        for transform, names in by_transform.items():
            listing.merge(self._list((transform,), list(name_batches(names))))
        return listing

    def enrich(self, jobs: dict[JobKey, Job], previous: dict[JobKey, Job]) -> None:
        """Nothing to add: the jobs carry their outputs' progress and errors."""

    def _selection_filters(self, now: float) -> list[str]:
        """The filters of a full sync: the selected names in batches, each with the
        selected states; or the selected states within the lookback."""
        states, ids = self.selection.states, self.selection.ids
        if ids:
            state_filter = " and ".join(
                selection_clauses(states, None, self.dialect.state_clause))
            return [" and ".join(part for part in (names, state_filter) if part)
                    for names in name_batches(ids)]
        since = f"properties/created ge {self.dialect.datetime(now - self.lookback)}"
        return [" and ".join(selection_clauses(states, since, self.dialect.state_clause))]

    def _sync(self, full: bool, filters: list[str]) -> Listing:
        transforms = self.transforms.to_list(full)
        listing = self._list(transforms, filters)
        self.transforms.listed(transforms, listing, full)
        return listing

    def _list(self, transforms: tuple[str, ...], filters: list[str]) -> Listing:
        listing = Listing(limit=self.client.max_jobs)
        for transform in transforms:
            for filter_text in filters:
                listing.merge(self.client.list_jobs(transform, filter_text))
        return listing
