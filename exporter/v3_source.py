"""What a v3 account's refresh asks ARM: transforms, then each transform's jobs."""

from __future__ import annotations

from exporter.config import AccountConfig
from exporter.model import Job, Listing
from exporter.v3_client import V3Client, filter_for, name_batches

JobKey = tuple[str, str]


class V3Source:
    """Lists the selected jobs of every configured (or discovered) transform.
    Progress and error codes come with the jobs' outputs: no extra requests."""

    def __init__(self, account: AccountConfig, client: V3Client, lookback: float) -> None:
        self.account = account
        self.client = client
        self.lookback = lookback
        self.known_transforms: tuple[str, ...] = account.transforms

    def fetch(self, now: float) -> Listing:
        transforms = self.account.transforms or tuple(self.client.list_transforms())
        listing = self._fetch(transforms, now)
        self.known_transforms = transforms
        return listing

    def _fetch(self, transforms: tuple[str, ...], now: float) -> Listing:
        selection = self.account.jobs
        listing = Listing()
        for transform in transforms:
            if selection.ids:
                states = filter_for(selection.states, None)
                parts = [self.client.list_jobs(transform, " and ".join(
                    p for p in (names, states) if p)) for names in name_batches(selection.ids)]
            else:
                parts = [self.client.list_jobs(
                    transform, filter_for(selection.states, now - self.lookback))]
            for part in parts:
                listing.jobs.update(part.jobs)
                listing.malformed += part.malformed
        return listing

    def enrich(self, jobs: dict[JobKey, Job], previous: dict[JobKey, Job]) -> None:
        """Nothing to add: v3 jobs carry their outputs' progress and errors."""
