"""What to ask the API for an account's jobs, and what its answers come to.

A sync is either full (every job the API selects: the first one, then every
`refresh.full_resync`, which also catches jobs deleted upstream) or incremental:
jobs modified since the watermark plus every active job, merged into what we have.
Jobs we held as active that the incremental answer no longer lists are looked up by
id, so a state change is never missed even where AMS does not move `LastModified`
(the seed document shows a Processing job whose LastModified is its Created time).

Records the API sent that could not be read, or that were over the listing's limit,
are added to the `skipped` counts as they come (status.skipped).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import NamedTuple

from exporter.backends.base import JobSource
from exporter.backends.transport import ApiError
from exporter.jobs.model import Job, JobKey, Listing

#: Incremental syncs ask for changes since the newest LastModified seen, minus this,
#: so jobs committed slightly out of order on the server are not missed.
INCREMENTAL_OVERLAP_SECONDS = 60.0


class Answer(NamedTuple):
    """The API's jobs after a sync (before client-side selection)."""

    jobs: dict[JobKey, Job]
    full: bool
    #: The newest LastModified seen: where the next incremental sync starts.
    watermark: float | None


class ByName(NamedTuple):
    """What reading jobs by name found."""

    found: dict[JobKey, Job]
    #: Keys the API does not have (a malformed record does not count as missing).
    missing: list[JobKey]
    #: The error that stopped the reading, and how many keys it was asked for.
    error: ApiError | None = None
    failed: int = 0


def full_due(watermark: float | None, last_full_sync: float | None, now: float,
             full_resync: float) -> bool:
    """A full sync when nothing is known yet, or `full_resync` after the last one."""
    return (watermark is None or last_full_sync is None
            or now - last_full_sync >= full_resync)


def sync_jobs(source: JobSource, now: float, watermark: float | None, full: bool,
              known: Callable[[], Mapping[JobKey, Job]],
              skipped: Counter[str]) -> Answer:
    """A full sync, or an incremental one merged into `known()` (the API's last
    answer for the exported jobs, read once the changes are in). A source that
    cannot list changes gets a full sync."""
    changed = None if full or watermark is None else source.fetch_changed(
        watermark - INCREMENTAL_OVERLAP_SECONDS)
    if changed is None:
        listing = source.fetch_all(now)
        _count(listing, skipped)
        return Answer(listing.jobs, True, newest(listing.jobs.values()))
    api = known()
    merged = {**api, **changed.jobs}
    vanished = [key for key, job in api.items()
                if job.state.is_active and key not in changed.jobs]
    if vanished:
        # Active jobs that left the active set without a newer LastModified.
        found = source.fetch_keys(vanished)
        changed.malformed += found.malformed
        merged.update(found.jobs)
        for key in vanished:
            if key not in found.jobs:
                del merged[key]  # deleted upstream
    _count(changed, skipped)
    latest = newest(changed.jobs.values())
    if latest is not None:
        watermark = max(latest, watermark or latest)
    return Answer(merged, False, watermark)


def newest(jobs: Iterable[Job]) -> float | None:
    """The newest LastModified (or creation, where the API gives none) of `jobs`."""
    return max((job.last_modified or job.created for job in jobs), default=None)


def by_name(source: JobSource, keys: list[JobKey], skipped: Counter[str]) -> ByName:
    """The jobs the API has of these, and the keys it has not. One transform at a
    time: a transform it does not have (404) refuses only its own keys; after
    another API error the rest wait for the next refresh."""
    groups: dict[str, list[JobKey]] = {}
    for key in dict.fromkeys(keys):
        groups.setdefault(key[0], []).append(key)
    found: dict[JobKey, Job] = {}
    missing: list[JobKey] = []
    for group in groups.values():
        try:
            listing = source.fetch_keys(group)
        except ApiError as exc:
            if exc.status != 404:
                return ByName(found, missing, exc, len(group))
            missing.extend(group)
            continue
        skipped["malformed"] += listing.malformed
        found.update(listing.jobs)
        if not listing.malformed:  # else a missing key may be a malformed record
            missing.extend(key for key in group if key not in listing.jobs)
    return ByName(found, missing)


def _count(listing: Listing, skipped: Counter[str]) -> None:
    skipped["malformed"] += listing.malformed
    skipped["limit"] += listing.over_limit
