"""How a v3 (or RMS) account knows its transforms: the configured ones, or all of
the account's, discovered through ARM at each full sync."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from exporter.jobs.model import Listing


class DiscoveredTransforms:
    """The configured transforms, else the ones ARM lists at each full sync (so a
    transform deleted since is no longer listed or reported); an incremental sync
    goes through the transforms the last full sync found."""

    def __init__(self, configured: tuple[str, ...],
                 discover: Callable[[], Iterable[str]]) -> None:
        self.configured = configured
        self.discover = discover
        self.known: tuple[str, ...] = configured

    def to_list(self, full: bool) -> tuple[str, ...]:
        if not full:
            return self.known
        return self.configured or tuple(self.discover())

    def listed(self, transforms: tuple[str, ...], listing: Listing, full: bool) -> None:
        if full:
            self.known = transforms
