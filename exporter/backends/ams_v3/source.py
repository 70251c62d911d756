"""What a v3 account's refresh asks ARM: transforms, then each transform's jobs."""

from __future__ import annotations

from collections import defaultdict

from exporter.backends.ams_v3.client import (
    V3Client,
    filter_for,
    name_batches,
    state_clause,
    v3_datetime,
)
from exporter.backends.ams_v3.config import V3AccountConfig
from exporter.backends.odata import changed_or_active
from exporter.jobs.model import Job, JobKey, Listing


class V3Source:
    """Lists the selected jobs of every configured (or discovered) transform.
    Progress and error codes come with the jobs' outputs: no extra requests.
    Transforms are discovered at full syncs only."""

    def __init__(self, account: V3AccountConfig, client: V3Client, lookback: float) -> None:
        self.account = account
        self.client = client
        self.lookback = lookback
        self.known_transforms: tuple[str, ...] = account.transforms

    def fetch_all(self, now: float) -> Listing:
        transforms = self.account.transforms or tuple(self.client.list_transforms())
        selection = self.account.jobs
        listing = Listing(limit=self.client.max_jobs)
        for transform in transforms:
            if selection.ids:
                states = filter_for(selection.states, None)
                for names in name_batches(selection.ids):
                    listing.merge(self.client.list_jobs(
                        transform, " and ".join(p for p in (names, states) if p)))
            else:
                listing.merge(self.client.list_jobs(
                    transform, filter_for(selection.states, now - self.lookback)))
        self.known_transforms = transforms
        return listing

    def fetch_changed(self, since: float) -> Listing | None:
        if self.account.jobs.ids:
            return None
        changed = changed_or_active(f"properties/lastModified gt {v3_datetime(since)}",
                                    state_clause)
        listing = Listing(limit=self.client.max_jobs)
        for transform in self.known_transforms:
            listing.merge(self.client.list_jobs(transform, changed))
        return listing

    def fetch_keys(self, keys: list[JobKey]) -> Listing:
        by_transform: dict[str, list[str]] = defaultdict(list)
        for transform, name in keys:
            by_transform[transform].append(name)
        listing = Listing(limit=self.client.max_jobs)
        for transform, names in by_transform.items():
            for batch in name_batches(tuple(names)):
                listing.merge(self.client.list_jobs(transform, batch))
        return listing

    def enrich(self, jobs: dict[JobKey, Job], previous: dict[JobKey, Job]) -> None:
        """Nothing to add: v3 jobs carry their outputs' progress and errors."""

