"""Client for MK.IO's job API (`/api/v1/projects/{project}/media/...`).

Facts (docs/ams-api.md, "MediaKind MK.IO"): the job JSON is AMS v3's; lists come in
an envelope with `supplemental.pagination`; `@odata.nextLink` (only when more pages
follow) may be a bare path and is resolved against the endpoint, never built by
hand; filters take unquoted datetimes with `Z` and states as quoted strings; a
filtered list that matches nothing has been seen to answer 404.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote, urlencode, urljoin, urlsplit

from exporter.backends.arm_records import job_path, listing_of
from exporter.backends.arm_source import FilterDialect
from exporter.backends.odata import string_literal
from exporter.backends.transport import ApiError, Transport, json_body
from exporter.jobs.model import Listing
from exporter.jobs.states import JobState

log = logging.getLogger(__name__)

#: Items per page we ask for. MK.IO documents no default or maximum page size; a
#: server that pages by fewer is still read completely (next links, pagination).
PAGE_SIZE = 1000
#: A listing that pages further than this is not believed.
MAX_PAGES = 10_000
#: The transform to list for every job of the project in one listing.
WHOLE_PROJECT = ""


def mkio_datetime(timestamp: float) -> str:
    """MK.IO's unquoted filter literal, e.g. `2024-01-01T00:00:00Z` (whole seconds,
    rounded down: with `gt`/`ge` that can only list a job twice, never miss one)."""
    moment = datetime.fromtimestamp(int(timestamp), tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def state_clause(state: JobState) -> str:
    return f"properties/state eq {string_literal(state.name)}"


MKIO_FILTERS = FilterDialect(mkio_datetime, state_clause)


def transform_of(resource: Any) -> str | None:
    """The transform named in a job's `id` path (the project-wide list has no
    transform field)."""
    names = job_path(resource.get("id")) if isinstance(resource, dict) else None
    return names[0] if names else None


class MkioClient:
    """Reads the jobs of one MK.IO project."""

    def __init__(self, endpoint: str, project: str, transport: Transport,
                 max_jobs: int | None = None, correlation_keys: tuple[str, ...] = ()) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.project = project
        self.base = f"{self.endpoint}/api/v1/projects/{quote(project, safe='')}/media"
        self.transport = transport
        self.max_jobs = max_jobs
        #: The correlationData keys whose values the jobs keep.
        self.correlation_keys = correlation_keys
        self._origin = urlsplit(self.endpoint)[:2]
        self._logged_404 = False

    def list_jobs(self, transform: str = WHOLE_PROJECT, filter_text: str = "") -> Listing:
        """Jobs of the project (or of one transform) matching the filter."""
        path = f"/transforms/{quote(transform, safe='')}/jobs" if transform else "/jobs"
        params = {"$top": str(PAGE_SIZE)}
        if filter_text:
            params["$filter"] = filter_text
        url = f"{self.base}{path}?{urlencode(params, quote_via=quote, safe='')}"
        return listing_of(self._pages(url, bool(filter_text)),
                          lambda item: transform_of(item) or transform, self.max_jobs,
                          self.correlation_keys)

    def _pages(self, url: str, filtered: bool) -> Iterator[Any]:
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            response = self.transport.get(url, {"Accept": "application/json"})
            if response.status_code == 404 and filtered:
                if not self._logged_404:
                    log.debug("MK.IO project %s: a filtered list answered 404; read as an "
                              "empty list (a known quirk)", self.project)
                    self._logged_404 = True
                return
            if response.status_code in (401, 403):
                raise ApiError(f"HTTP {response.status_code}: the MK.IO token expired or lacks "
                               f"ams.job.get on project {self.project}", response.status_code)
            body = json_body(response)
            items = body.get("value") if isinstance(body, dict) else None
            if not isinstance(items, list):
                raise ApiError("response is not an MK.IO list")
            yield from items
            next_link = body.get("@odata.nextLink")
            if not next_link or not items or _last_page(body, len(items)):
                return
            if not isinstance(next_link, str):
                raise ApiError("next link is not a string")
            url = urljoin(self.endpoint + "/", next_link)
            if urlsplit(url)[:2] != self._origin:
                raise ApiError("next link points away from the MK.IO endpoint")
            if url in seen:
                raise ApiError("next link repeats an earlier page")
            seen.add(url)
        raise ApiError(f"more than {MAX_PAGES} pages")


def _last_page(body: dict[str, Any], records: int) -> bool:
    """A short page ends the listing, unless the envelope's pagination says more
    remain (a server whose page size is below ours still pages fully)."""
    if records >= PAGE_SIZE:
        return False
    supplemental = body.get("supplemental")
    pagination = supplemental.get("pagination") if isinstance(supplemental, dict) else None
    if isinstance(pagination, dict):
        end, total = pagination.get("end"), pagination.get("total")
        if isinstance(end, int) and isinstance(total, int) and end < total:
            return False
    return True
