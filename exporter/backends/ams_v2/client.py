"""Client for the AMS v2 REST API (OData v3), as described in ams-api.md §1."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import SplitResult, quote, urlsplit

import requests

from exporter.backends.ams_v2.records import (
    MalformedPage,
    MalformedRecord,
    TaskSummary,
    collection_entities,
    parse_job,
    summarize_tasks,
)
from exporter.backends.odata import (
    any_of,
    datetime_literal,
    selection_clauses,
    string_literal,
)
from exporter.backends.records import MALFORMED
from exporter.backends.transport import ApiError, Transport, json_body
from exporter.jobs.model import Listing
from exporter.jobs.states import JobState

log = logging.getLogger(__name__)

API_VERSION = "2.19"
PAGE_SIZE = 1000
#: A listing longer than this many pages is not believed (a million jobs).
MAX_PAGES = 1000
#: Id batches are packed so the encoded query string stays below this (IIS, in front
#: of the v2 API, rejects query strings over 2048 characters by default).
MAX_QUERY_LENGTH = 1800
_ACCEPT = {"light": "application/json", "verbose": "application/json;odata=verbose"}
_SAFE_QUERY_CHARS = "'()"


def state_clause(state: JobState) -> str:
    return f"State eq {int(state)}"


def filter_clauses_for(
    states: frozenset[JobState] | None,
    created_since: float | None,
    name_prefix: str | None,
) -> list[str]:
    """`$filter` clauses for a listing: state selection, lookback that keeps active
    jobs, and a name prefix pushed down from `^literal` regexes."""
    since = None if created_since is None else f"Created ge {datetime_literal(created_since)}"
    clauses = selection_clauses(states, since, state_clause)
    if name_prefix:
        clauses.append(f"startswith(Name,{string_literal(name_prefix)})")
    return clauses


def id_batches(ids: tuple[str, ...], max_length: int = MAX_QUERY_LENGTH) -> Iterator[list[str]]:
    """Group ids so each `Id eq ... or Id eq ...` filter fits in one request."""
    batch: list[str] = []
    length = 0
    for job_id in ids:
        clause_length = len(_encode(f" or Id eq {string_literal(job_id)}"))
        if batch and length + clause_length > max_length:
            yield batch
            batch, length = [], 0
        batch.append(job_id)
        length += clause_length
    if batch:
        yield batch


#: The legacy global endpoints and the hosts their accounts live on, per cloud.
LEGACY_HOSTS = {"media.windows.net": ".media.azure.net",
                "media.chinacloudapi.cn": ".media.chinacloudapi.cn",
                "media.usgovcloudapi.net": ".media.usgovcloudapi.net"}


def redirect_allowed(old: SplitResult, new: SplitResult) -> bool:
    """A redirect the client may follow with its token: to the same origin, or
    from a legacy global endpoint over https to an AMS host of the same cloud."""
    if (old.scheme, old.hostname, old.port) == (new.scheme, new.hostname, new.port):
        return True
    suffix = LEGACY_HOSTS.get((old.hostname or "").lower())
    host = (new.hostname or "").lower()
    return (suffix is not None and old.scheme == "https" and new.scheme == "https"
            and host.endswith(suffix))


def _encode(value: str) -> str:
    return quote(value, safe=_SAFE_QUERY_CHARS)


class V2Client:
    """Reads jobs and tasks of one v2 account.

    The transport (session, token provider, request budget) is injected, so tests
    run it against the simulator over real HTTP without patching anything.
    """

    def __init__(self, endpoint: str, transport: Transport, odata_format: str = "light",
                 max_jobs: int | None = None) -> None:
        self.endpoint = endpoint if endpoint.endswith("/") else endpoint + "/"
        self.transport = transport
        self.headers = {
            "x-ms-version": API_VERSION,
            "DataServiceVersion": "3.0",
            "MaxDataServiceVersion": "3.0",
            "Accept": _ACCEPT[odata_format],
            "Accept-Charset": "UTF-8",
        }
        self._endpoint_resolved = False
        self.max_jobs = max_jobs

    def list_jobs(self, clauses: list[str]) -> Listing:
        """All jobs matching the clauses, paged with $skip/$top.

        After a full page the next one is requested at once, in a thread of its own,
        while this one is parsed: one request in flight at a time, as before, but
        the server's time to answer overlaps the parsing (100 pages at 100,000 jobs).
        A short page ends the listing, so no request is made past the end."""
        listing = Listing(limit=self.max_jobs)
        filter_text = " and ".join(clauses)

        def page(skip: int) -> list[Any]:
            params = {"$top": str(PAGE_SIZE), "$skip": str(skip)}
            if filter_text:
                params = {"$filter": filter_text, **params}
            return self._collection("Jobs()", params)

        skip = 0
        entities = page(skip)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="v2-page") as pool:
            for _ in range(MAX_PAGES):
                # Not past a page that repeats known jobs (a server ignoring $skip).
                ahead = len(entities) >= PAGE_SIZE and any(
                    ("", entity.get("Id") if isinstance(entity, dict) else None)
                    not in listing.jobs for entity in entities)
                following = pool.submit(page, skip + len(entities)) if ahead else None
                known = len(listing.jobs) + listing.over_limit
                self._add_jobs(listing, entities)
                if len(entities) >= PAGE_SIZE and len(listing.jobs) + listing.over_limit == known:
                    # A full page without one new job: the server ignores $skip (or
                    # repeats itself); paging on would never end.
                    raise ApiError(f"paging does not advance at $skip={skip}: the page "
                                   "repeats jobs already listed")
                if following is None:
                    return listing
                skip += len(entities)
                entities = following.result()
        raise ApiError(f"more than {MAX_PAGES} pages")

    def get_jobs_by_id(self, ids: tuple[str, ...], clauses: list[str] | None = None) -> Listing:
        """The jobs with these ids, many per request; unknown ids are simply absent."""
        listing = Listing(limit=self.max_jobs)
        for batch in id_batches(ids):
            filter_text = " and ".join(
                [any_of(f"Id eq {string_literal(i)}" for i in batch), *(clauses or [])])
            entities = self._collection("Jobs()", {"$filter": filter_text,
                                                   "$top": str(PAGE_SIZE)})
            self._add_jobs(listing, entities)
        return listing

    def get_tasks(self, job_id: str) -> TaskSummary:
        path = f"Jobs({_encode(string_literal(job_id))})/Tasks"
        body = self._get(path, {})
        try:
            return summarize_tasks(body)
        except MalformedPage as exc:
            raise ApiError(f"tasks of a job: {exc}") from None

    @staticmethod
    def _add_jobs(listing: Listing, entities: list[Any]) -> None:
        for entity in entities:
            try:
                job = parse_job(entity)
            except MalformedRecord as exc:
                listing.malformed += 1
                MALFORMED.skipped(entity, exc, ("Id", "Name"))
                continue
            listing.add(job)

    def _collection(self, path: str, params: dict[str, str]) -> list[Any]:
        body = self._get(path, params)
        try:
            return collection_entities(body)
        except MalformedPage as exc:
            raise ApiError(str(exc)) from None

    def _get(self, path: str, params: dict[str, str]) -> Any:
        query = "&".join(f"{key}={_encode(value)}" for key, value in params.items())
        relative = path + ("?" + query if query else "")
        response = self.transport.get(self.endpoint + relative, self.headers)
        if response.status_code in (301, 302, 307, 308) and not self._endpoint_resolved:
            self._resolve_redirect(response)
            response = self.transport.get(self.endpoint + relative, self.headers)
        self._endpoint_resolved = True
        return json_body(response)

    def _resolve_redirect(self, response: requests.Response) -> None:
        """The legacy global endpoint answers the first call with a 301 to the
        account's own endpoint: adopt it once, never follow redirects blindly."""
        location = response.headers.get("Location", "")
        parts = urlsplit(location)
        old = urlsplit(self.endpoint)
        marker = parts.path.find("/api/")
        if parts.scheme not in ("http", "https") or not parts.netloc or marker < 0:
            raise ApiError(f"redirect to an unusable location ({response.status_code})",
                           response.status_code)
        if old.scheme == "https" and parts.scheme != "https":
            raise ApiError("refusing a redirect from https to http", response.status_code)
        if not redirect_allowed(old, parts):
            raise ApiError(f"refusing a redirect to {parts.hostname}: only the legacy global "
                           "endpoint may move an account, over https, to an AMS host of its "
                           "cloud (the token is not sent there)", response.status_code)
        self.endpoint = f"{parts.scheme}://{parts.netloc}{parts.path[:marker + 5]}"
        self._endpoint_resolved = True
        log.info("AMS endpoint moved permanently; using %s from now on", self.endpoint)


