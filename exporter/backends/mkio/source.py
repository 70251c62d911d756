"""How an MK.IO project knows its transforms: it lists every job of the project at
once (or one listing per configured transform) and learns the transforms from the
jobs' ids."""

from __future__ import annotations

from exporter.backends.mkio.client import WHOLE_PROJECT
from exporter.jobs.model import Listing


class SeenTransforms:
    """The configured transforms, and every transform a listed job belonged to."""

    def __init__(self, configured: tuple[str, ...]) -> None:
        self.configured = configured
        self._seen: set[str] = set(configured)

    @property
    def known(self) -> tuple[str, ...]:
        return tuple(sorted(self._seen))

    def to_list(self, full: bool) -> tuple[str, ...]:
        return self.configured or (WHOLE_PROJECT,)

    def listed(self, transforms: tuple[str, ...], listing: Listing, full: bool) -> None:
        self._seen.update(job.transform for job in listing.jobs.values())
