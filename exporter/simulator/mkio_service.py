"""MediaKind MK.IO Media API v1: tokens, capabilities, rate limit, lists and jobs.

Checks run in this order: personal API token (401 missing/unknown/expired), right to the
project and the capability the route needs (403: `ams.job.get` for jobs,
`ams.transform.get` for transforms), the project's GET budget (429), method (405), then
the resource (404 for unknown projects, transforms and jobs) and the query (400).

Every failure has MK.IO's error body (ams-successors.md §1.5):
`{"error": {"code", "detail", "extraDetail": {}}, "status": N, "ref": "<uuid>"}`. The
`code` strings are not documented: the simulator uses the status's name in PascalCase
(Unauthorized, Forbidden, NotFound, TooManyRequests, BadRequest, ...).

Throttling: 2,000 GET a minute per project by default (set_mkio_rate_limit), answered 429
with that body and no `Retry-After`, which the docs do not mention; a project can be told
to send one. A filtered list that matches nothing answers 404 (reported by a production
client, unconfirmed), switchable with `empty_filter_404`.
"""

from __future__ import annotations

import json
import math
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from exporter.jobs.states import JobState
from exporter.simulator import mkio_query
from exporter.simulator.clock import Clock
from exporter.simulator.jobs import SimJob, view_job
from exporter.simulator.match_cache import MatchCache
from exporter.simulator.mkio_entities import (
    MkioProject,
    job_record,
    job_resource,
    transform_record,
    transform_resource,
)
from exporter.simulator.mkio_routes import (
    JOB,
    JOB_STATE,
    JOBS,
    PROJECT_JOBS,
    TRANSFORM,
    TRANSFORMS,
    UNKNOWN,
    MkioPath,
)
from exporter.simulator.odata_query import decode_query
from exporter.simulator.rate_window import MinuteWindow
from exporter.simulator.responses import JSON, Request, Response, json_response
from exporter.simulator.v3_entities import V3Transform

JOB_GET = "ams.job.get"
TRANSFORM_GET = "ams.transform.get"
DEFAULT_CAPABILITIES = (JOB_GET, TRANSFORM_GET)
DEFAULT_GET_PER_MINUTE = 2000

ERROR_CODES = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    429: "TooManyRequests",
    500: "InternalServerError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}


def mkio_error(
    status: int, detail: str, headers: Iterable[tuple[str, str]] = (), code: str | None = None
) -> Response:
    return json_response(status, {
        "error": {"code": code or ERROR_CODES.get(status, "Error"), "detail": detail,
                  "extraDetail": {}},
        "status": status,
        "ref": str(uuid.uuid4()),
    }, headers)


def _seconds(value: float) -> str:
    return str(max(0, math.ceil(value)))


@dataclass(frozen=True)
class _Listed:
    """A job in a listing, with the transform it belongs to."""

    transform: V3Transform
    job: SimJob

    @property
    def events(self) -> list[tuple[float, JobState]]:
        return self.job.events


@dataclass(frozen=True)
class MkioToken:
    value: str
    expires: float | None  # simulator clock; None: never
    grants: dict[str, frozenset[str]]  # project name -> capabilities


class MkioService:
    def __init__(self, clock: Clock, require_auth: bool = True) -> None:
        self.clock = clock
        self.require_auth = require_auth
        self.empty_filter_404 = True
        self.projects: dict[str, MkioProject] = {}  # by simulator key
        self._by_name: dict[str, MkioProject] = {}  # by project name
        self._lock = threading.Lock()
        self._tokens: dict[str, MkioToken] = {}
        self.limiter = MinuteWindow(DEFAULT_GET_PER_MINUTE)
        self._retry_after: dict[str, bool] = {}  # project name -> send Retry-After on 429
        # Filtered, ordered job listings kept between the pages a client asks for.
        self._listings: MatchCache[_Listed, mkio_query.Key] = MatchCache()

    # ------------------------------------------------------------ set-up

    def add_project(self, project: MkioProject) -> None:
        if project.key in self.projects:
            raise ValueError(f"account {project.key!r} already exists")
        if project.project in self._by_name:
            raise ValueError(f"MK.IO project {project.project!r} already exists")
        self.projects[project.key] = project
        self._by_name[project.project] = project

    def project(self, key_or_name: str) -> MkioProject:
        """By the simulator's key, else by the MK.IO project name."""
        found = self.projects.get(key_or_name) or self._by_name.get(key_or_name)
        if found is None:
            raise KeyError(f"unknown MK.IO project {key_or_name!r}")
        return found

    def find(self, path: MkioPath) -> MkioProject | None:
        return None if path.project is None else self._by_name.get(path.project)

    def add_token(
        self, project: str, token: str, expires: float | None, capabilities: Iterable[str]
    ) -> None:
        name = self.project(project).project
        with self._lock:
            known = self._tokens.get(token)
            grants = dict(known.grants) if known is not None else {}
            grants[name] = frozenset(capabilities)
            self._tokens[token] = MkioToken(token, expires, grants)

    def set_rate_limit(self, project: str, per_minute: int | None, retry_after: bool) -> None:
        name = self.project(project).project
        self.limiter.configure(name, per_minute)
        self._retry_after[name] = retry_after

    # ------------------------------------------------------------ answers

    def handle(self, request: Request, path: MkioPath) -> Response:
        problem = self._authorize(request, path)
        if problem is not None:
            return problem
        project = self.find(path)
        if project is None:
            return mkio_error(404, "The resource was not found." if path.project is None
                              else f"Project '{path.project}' was not found.")
        admission = self.limiter.take(project.project, self.clock())
        if not admission.allowed:
            headers = []
            if self._retry_after.get(project.project, False):
                headers.append(("Retry-After", str(admission.retry_after)))
            return mkio_error(429, "Rate limit exceeded: too many GET requests for project "
                                   f"'{project.project}'.", headers)
        if request.method not in ("GET", "HEAD"):
            return mkio_error(405, f"The method '{request.method}' is not allowed here.",
                              [("Allow", "GET")])
        try:
            return self._resource(request, path, project)
        except mkio_query.QueryError as exc:
            return mkio_error(400, str(exc))

    def _authorize(self, request: Request, path: MkioPath) -> Response | None:
        if not self.require_auth:
            return None
        scheme, _, value = (request.header("Authorization") or "").partition(" ")
        value = value.strip()
        if scheme.lower() != "bearer" or not value:
            return mkio_error(401, "A personal API token is required: "
                                   "'Authorization: Bearer <token>'.")
        with self._lock:
            token = self._tokens.get(value)
        if token is None:
            return mkio_error(401, "The token is not valid.")
        if token.expires is not None and self.clock() >= token.expires:
            return mkio_error(401, "The token has expired.")
        if path.project is None:
            return None
        capabilities = token.grants.get(path.project)
        if capabilities is None:
            return mkio_error(403, f"The token gives no access to project '{path.project}'.")
        if path.kind == UNKNOWN:
            return None
        needed = JOB_GET if path.about_jobs else TRANSFORM_GET
        if needed not in capabilities:
            return mkio_error(403, f"The token lacks the capability '{needed}'.")
        return None

    def _resource(self, request: Request, path: MkioPath, project: MkioProject) -> Response:
        try:
            pairs = decode_query(request.query)
        except UnicodeDecodeError:
            return mkio_error(400, "The query string is not valid percent-encoded UTF-8.")
        if path.kind == UNKNOWN:
            return mkio_error(404, "The resource was not found.")
        if path.kind == TRANSFORMS:
            return self._list_transforms(request, project, pairs)
        if path.kind == PROJECT_JOBS:
            return self._list_jobs(request, project, project.transform_list(), pairs)
        option = next((name for name, _ in pairs if name.startswith("$")), None)
        if option is not None and path.kind != JOBS:
            return mkio_error(400, f"The query parameter '{option}' is not supported here.")
        with project.lock:
            transform = project.transforms.get(path.transform or "")
        if transform is None:
            return mkio_error(404, f"Transform '{path.transform}' was not found.")
        if path.kind == TRANSFORM:
            body = transform_resource(project, transform) | {"supplemental": {
                "operation": "get", "subscription": project.supplemental_subscription()}}
            return json_response(200, body)
        if path.kind == JOBS:
            return self._list_jobs(request, project, [transform], pairs)
        job = transform.store.get(path.job or "")
        view = None if job is None else view_job(job, self.clock())
        if view is None:
            return mkio_error(404, f"Job '{path.job}' was not found in transform "
                                   f"'{transform.name}'.")
        if path.kind == JOB_STATE:
            return json_response(200, {"status": {"state": view.state.name}})
        assert path.kind == JOB
        if view.job.raw is not None:
            return Response(200, view.job.raw.encode("utf-8"), [("Content-Type", JSON)])
        body = job_resource(project, transform.name, view) | {"supplemental": {
            "operation": "get", "subscription": project.supplemental_subscription()}}
        return json_response(200, body)

    def _list_jobs(
        self,
        request: Request,
        project: MkioProject,
        transforms: list[V3Transform],
        pairs: list[tuple[str, str]],
    ) -> Response:
        query = mkio_query.parse_list_query(pairs, mkio_query.JOBS)
        now = self.clock()
        listed = self._job_listing(project, transforms, query, now)
        items = []
        for _, entry in listed[query.skip:query.skip + query.top]:
            if entry.job.raw is not None:
                items.append(entry.job.raw.encode("utf-8"))
                continue
            view = view_job(entry.job, now)
            assert view is not None, "store.snapshot() returns only jobs that exist at now"
            items.append(_dumps(job_resource(project, entry.transform.name, view)))
        return self._collection(request, project, query, mkio_query.JOBS, items, len(listed))

    def _job_listing(
        self,
        project: MkioProject,
        transforms: list[V3Transform],
        query: mkio_query.ListQuery,
        now: float,
    ) -> list[tuple[mkio_query.Key, _Listed]]:
        """The jobs of these transforms that match the filter now, with their sort keys,
        in the query's order. A client paging through a listing asks this page after
        page, so it is kept (match_cache) until the jobs or the query change, and
        follows the clock; without this, paging is quadratic in the jobs."""
        snapshots = [(transform, transform.store.snapshot(now)) for transform in transforms]
        key = (project.project, tuple((t.store, version) for t, (version, _, _) in snapshots),
               query.filter_text, query.order)
        arrivals = [arrival for _, (_, _, arrival) in snapshots if arrival is not None]
        sort_key, test = mkio_query.key_function(query.order), query.filter

        def items() -> list[_Listed]:
            return [_Listed(t, job) for t, (_, visible, _) in snapshots for job in visible]

        def derive(entry: _Listed, at: float) -> mkio_query.Key | None:
            view = view_job(entry.job, at)
            assert view is not None, "store.snapshot() returns only jobs that exist at now"
            record = job_record(project, entry.transform.name, view)
            if test is not None and not test.matches(record):
                return None
            return sort_key(record)

        def order(keyed: list[tuple[mkio_query.Key, _Listed]]) -> None:
            mkio_query.arrange(keyed, query.order)

        return self._listings.listing(key, items, min(arrivals, default=None), now, derive,
                                      order)

    def _list_transforms(
        self, request: Request, project: MkioProject, pairs: list[tuple[str, str]]
    ) -> Response:
        query = mkio_query.parse_list_query(pairs, mkio_query.TRANSFORMS)
        transforms = {f"{project.resource_id}/transforms/{t.name}": t
                      for t in project.transform_list()}
        records = [transform_record(project, t) for t in transforms.values()]
        chosen, total = mkio_query.select(records, query)
        items = [_dumps(transform_resource(project, transforms[str(r["id"])])) for r in chosen]
        return self._collection(request, project, query, mkio_query.TRANSFORMS, items, total)

    def _collection(
        self,
        request: Request,
        project: MkioProject,
        query: mkio_query.ListQuery,
        collection: mkio_query.Collection,
        items: list[bytes],
        total: int,
    ) -> Response:
        """The list envelope, items embedded as they are (raw jobs stay byte for byte)."""
        if query.filter is not None and total == 0 and self.empty_filter_404:
            return mkio_error(404, f"No {collection.kind.lower()} matches the filter.")
        start = min(query.skip, total)
        end = start + len(items)
        supplemental = {
            "count": len(items), "kind": collection.kind, "operation": "list",
            "pagination": {"start": start, "end": end, "records": len(items), "total": total},
            "subscription": project.supplemental_subscription(),
        }
        body = b'{"value":[' + b",".join(items) + b'],"supplemental":' + _dumps(supplemental)
        if end < total:
            link = mkio_query.next_link(request.path, query, end)
            body += b',"@odata.nextLink":' + _dumps(link)
        return Response(200, body + b"}", [("Content-Type", JSON)])

    # ------------------------------------------------------------ pipeline hooks

    @staticmethod
    def throttled(retry_after: float | None) -> Response:
        """An injected 429: MK.IO's body; Retry-After only when the fault sets one."""
        headers = [] if retry_after is None else [("Retry-After", _seconds(retry_after))]
        return mkio_error(429, "Rate limit exceeded (simulated).", headers)

    @staticmethod
    def headers(request: Request) -> list[tuple[str, str]]:
        return [("Cache-Control", "no-cache"), ("X-Request-Id", str(uuid.uuid4()))]


def _dumps(payload: object) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
