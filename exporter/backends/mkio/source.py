"""What an MK.IO project's refresh asks: one project-wide listing (or one per
configured transform), then only changed and active jobs in between."""

from __future__ import annotations

from collections import defaultdict

from exporter.backends.mkio.client import MkioClient, mkio_datetime, name_batches, state_clause
from exporter.backends.mkio.config import MkioAccountConfig
from exporter.backends.odata import changed_or_active, selection_clauses
from exporter.jobs.model import Job, JobKey, Listing


class MkioSource:
    """Progress and error codes come with the jobs' outputs: no extra requests."""

    def __init__(self, account: MkioAccountConfig, client: MkioClient, lookback: float) -> None:
        self.account = account
        self.client = client
        self.lookback = lookback
        self._seen_transforms: set[str] = set(account.transforms)

    @property
    def known_transforms(self) -> tuple[str, ...]:
        return tuple(sorted(self._seen_transforms))

    def fetch_all(self, now: float) -> Listing:
        selection = self.account.jobs
        if selection.ids:
            states = " and ".join(selection_clauses(selection.states, None, state_clause))
            listing = self._listing()
            for names in name_batches(selection.ids):
                filter_text = " and ".join(part for part in (names, states) if part)
                for transform in self._transforms():
                    listing.merge(self.client.list_jobs(transform, filter_text))
            return self._remember(listing)
        since = f"properties/created ge {mkio_datetime(now - self.lookback)}"
        filter_text = " and ".join(selection_clauses(selection.states, since, state_clause))
        return self._remember(self._each_transform(filter_text))

    def fetch_changed(self, since: float) -> Listing | None:
        if self.account.jobs.ids:
            return None
        changed = changed_or_active(f"properties/lastModified gt {mkio_datetime(since)}",
                                    state_clause)
        return self._remember(self._each_transform(changed))

    def fetch_keys(self, keys: list[JobKey]) -> Listing:
        by_transform: dict[str, list[str]] = defaultdict(list)
        for transform, name in keys:
            by_transform[transform].append(name)
        listing = self._listing()
        for transform, names in by_transform.items():
            for batch in name_batches(tuple(names)):
                listing.merge(self.client.list_jobs(transform or None, batch))
        return listing

    def enrich(self, jobs: dict[JobKey, Job], previous: dict[JobKey, Job]) -> None:
        """Nothing to add: MK.IO jobs carry their outputs' progress and errors."""

    def _transforms(self) -> tuple[str | None, ...]:
        """The configured transforms, or None: the project-wide listing."""
        return self.account.transforms or (None,)

    def _each_transform(self, filter_text: str) -> Listing:
        listing = self._listing()
        for transform in self._transforms():
            listing.merge(self.client.list_jobs(transform, filter_text))
        return listing

    def _listing(self) -> Listing:
        return Listing(limit=self.client.max_jobs)

    def _remember(self, listing: Listing) -> Listing:
        self._seen_transforms.update(job.transform for job in listing.jobs.values())
        return listing
