"""Client for the AMS v3 API (Azure Resource Manager), as described in ams-api.md §2."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from exporter.backends.arm_records import listing_of
from exporter.backends.arm_source import FilterDialect
from exporter.backends.transport import ApiError, Transport, json_body
from exporter.jobs.model import Listing
from exporter.jobs.states import JobState

API_VERSION = "2022-07-01"
#: A listing that pages further than this is not believed (a server looping its links).
MAX_PAGES = 10_000


def v3_datetime(timestamp: float) -> str:
    """The unquoted ISO literal v3 filters use, e.g. `2021-06-01T00:00:10.0000000Z`."""
    moment = datetime.fromtimestamp(timestamp, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def state_clause(state: JobState) -> str:
    return f"properties/state eq Microsoft.Media.JobState'{state.name}'"


V3_FILTERS = FilterDialect(v3_datetime, state_clause)


class V3Client:
    """Reads transforms and jobs of one v3 Media Services account through ARM."""

    def __init__(
        self,
        arm_endpoint: str,
        subscription_id: str,
        resource_group: str,
        account_name: str,
        transport: Transport,
        max_jobs: int | None = None,
        correlation_keys: tuple[str, ...] = (),
    ) -> None:
        self.arm_endpoint = arm_endpoint.rstrip("/")
        self.prefix = (
            f"{self.arm_endpoint}/subscriptions/{quote(subscription_id, safe='')}"
            f"/resourceGroups/{quote(resource_group, safe='')}"
            f"/providers/Microsoft.Media/mediaServices/{quote(account_name, safe='')}"
        )
        self.transport = transport
        self.max_jobs = max_jobs
        #: The correlationData keys whose values the jobs keep.
        self.correlation_keys = correlation_keys
        self._origin = urlsplit(self.arm_endpoint)[:2]

    def list_transforms(self) -> list[str]:
        names = []
        for item in self._pages(self._url("/transforms", {})):
            if isinstance(item, dict) and isinstance(item.get("name"), str):
                names.append(item["name"])
        return names

    def list_jobs(self, transform: str, filter_text: str = "") -> Listing:
        params = {"$filter": filter_text}
        url = self._url(f"/transforms/{quote(transform, safe='')}/jobs", params)
        return listing_of(self._pages(url), lambda _: transform, self.max_jobs,
                          self.correlation_keys)

    def _url(self, path: str, params: dict[str, str]) -> str:
        query = {"api-version": API_VERSION, **{k: v for k, v in params.items() if v}}
        return f"{self.prefix}{path}?{urlencode(query, quote_via=quote, safe='')}"

    def _pages(self, url: str) -> Iterator[Any]:
        """Items of every page, following `@odata.nextLink` verbatim (it carries the
        whole query); the link must stay on the ARM endpoint the token is for."""
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            body = json_body(self.transport.get(url, {"Accept": "application/json"}))
            items = body.get("value") if isinstance(body, dict) else None
            if not isinstance(items, list):
                raise ApiError("response is not an ARM collection")
            yield from items
            next_link = body.get("@odata.nextLink")
            if not next_link:
                return
            if not isinstance(next_link, str) or urlsplit(next_link)[:2] != self._origin:
                raise ApiError("next link points away from the ARM endpoint")
            if next_link in seen:
                raise ApiError("next link repeats an earlier page")
            seen.add(next_link)
            url = next_link
        raise ApiError(f"more than {MAX_PAGES} pages")
