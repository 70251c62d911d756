"""AMS v2 REST semantics: header checks, routing to accounts, queries, payloads."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import islice
from typing import TypeVar

from exporter.simulator import metadata, routes
from exporter.simulator.clock import Clock
from exporter.simulator.fidelity import Fidelity
from exporter.simulator.jobs import SimJob, view_job
from exporter.simulator.match_cache import MatchCache
from exporter.simulator.negotiation import Format, choose_format
from exporter.simulator.odata_format import LIGHT, VERBOSE, render
from exporter.simulator.odata_query import QueryError, QueryOptions, decode_query, parse_options
from exporter.simulator.responses import Request, Response, error_response
from exporter.simulator.store import JobStore
from exporter.simulator.v2_entities import JOBS, TASKS, Record, job_record, task_records

AUDIENCE = "https://rest.media.azure.net"
SUPPORTED_VERSIONS = ("2.17", "2.18", "2.19")

TokenValidator = Callable[[str, str], bool]
"""(token, audience) -> accepted?"""

_T = TypeVar("_T")
_ACCOUNT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")  # lands in URL paths as is


@dataclass
class V2Account:
    name: str
    metadata_base: str | None = None  # overrides the base URL written into payloads
    store: JobStore = field(default_factory=JobStore)


#: `Id eq '...'` alone, as the seed document polls one job at a time. The real
#: service surely answers it from an index; a scan here would make the benchmark's
#: comparison with that method measure the simulator instead.
_SINGLE_ID = re.compile(r"\s*Id eq '((?:[^']|'')*)'\s*")


def _page(items: Iterable[_T], options: QueryOptions) -> list[_T]:
    return list(islice(items, options.skip, options.skip + options.top))


def _record(job: SimJob, now: float, fidelity: Fidelity | None = None) -> Record:
    view = view_job(job, now)
    assert view is not None, "store.visible() returns only jobs that exist at now"
    return job_record(view, None if fidelity is None else fidelity.traits(job.id))


class V2Service:
    def __init__(
        self,
        clock: Clock,
        require_auth: bool = True,
        token_validator: TokenValidator | None = None,
        fidelity: Fidelity | None = None,
    ) -> None:
        self.clock = clock
        self.require_auth = require_auth
        self.token_validator = token_validator
        self.fidelity = fidelity if fidelity is not None else Fidelity(0)
        self.accounts: dict[str, V2Account] = {}
        self.legacy_target: str | None = None  # account the legacy endpoint redirects to
        # The jobs matching a filter (value: True), kept between the pages of a listing.
        self._matching_cache: MatchCache[SimJob, bool] = MatchCache()

    def add_account(self, name: str, metadata_base: str | None = None) -> None:
        if _ACCOUNT_NAME.fullmatch(name) is None:
            raise ValueError(f"invalid account name {name!r}")
        if name in self.accounts:
            raise ValueError(f"account {name!r} already exists")
        self.accounts[name] = V2Account(name, metadata_base)

    def account(self, name: str) -> V2Account:
        try:
            return self.accounts[name]
        except KeyError:
            raise KeyError(f"unknown v2 account {name!r}") from None

    @staticmethod
    def endpoint(origin: str, account: str) -> str:
        return f"{origin}/v2/{account}/api/"

    def handle(self, request: Request, route: routes.Route) -> Response:
        if route.kind == routes.LEGACY:
            # The global endpoint found the account from the token alone, so only auth
            # is checked here; the account endpoint then checks x-ms-version too.
            return self._authenticate(request) or self._redirect(request, route)
        # Version is checked before auth: a request in an unsupported version is refused
        # whatever its credentials, and auth itself is part of the versioned API.
        problem = self._check_version(request) or self._authenticate(request)
        if problem is not None:
            return problem
        account = self.accounts.get(route.account or "")
        if account is None or route.kind == routes.UNKNOWN:
            return error_response(404, f"Resource not found for the segment '{request.path}'.")
        if request.method != "GET":
            return error_response(
                405, f"Method {request.method} is not allowed here.", [("Allow", "GET")]
            )
        if route.kind == routes.METADATA:
            return Response(
                200, metadata.metadata_document(), [("Content-Type", metadata.CONTENT_TYPE)]
            )
        return self._entities(request, route, account)

    def _check_version(self, request: Request) -> Response | None:
        version = (request.header("x-ms-version") or "").strip()
        if not version:
            return error_response(400, "The x-ms-version header is required.")
        if version not in SUPPORTED_VERSIONS:
            supported = ", ".join(SUPPORTED_VERSIONS)
            return error_response(
                400, f"Unsupported x-ms-version '{version}'; supported: {supported}."
            )
        return None

    def _authenticate(self, request: Request) -> Response | None:
        if not self.require_auth:
            return None
        scheme, _, token = (request.header("Authorization") or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return error_response(
                401, "A bearer token is required.", [("WWW-Authenticate", "Bearer")]
            )
        if self.token_validator is not None and not self.token_validator(token, AUDIENCE):
            return error_response(
                401,
                "The access token is invalid or expired.",
                [("WWW-Authenticate", 'Bearer error="invalid_token"')],
            )
        return None

    def _redirect(self, request: Request, route: routes.Route) -> Response:
        target = self.legacy_target or next(iter(self.accounts), None)
        if target is None:
            return error_response(404, "No Media Services account to redirect to.")
        location = self.endpoint(request.origin, target) + route.rest
        if request.query:
            location += "?" + request.query
        return Response(
            301,
            b"Moved Permanently",
            [("Location", location), ("Content-Type", "text/plain;charset=utf-8")],
        )

    def _entities(self, request: Request, route: routes.Route, account: V2Account) -> Response:
        style = choose_format(request.header("Accept"))
        if style is None:
            return error_response(415, "Unsupported media type requested; use application/json.")
        entity_set = TASKS if route.kind == routes.TASKS else JOBS
        try:
            pairs = decode_query(request.query)
            options = parse_options(pairs, entity_set, single=route.kind == routes.JOB)
        except UnicodeDecodeError:
            return error_response(400, "The query string is not valid percent-encoded UTF-8.")
        except QueryError as exc:
            return error_response(400, str(exc))
        records = self._records(route, account, options)
        if records is None:
            return error_response(404, f"Resource not found for the segment '{request.path}'.")
        base = account.metadata_base or self.endpoint(request.origin, account.name)
        verbose = style is Format.VERBOSE
        body = render(
            base, entity_set, records,
            verbose=verbose, single=route.kind == routes.JOB, select=options.select,
        )
        return Response(200, body, [("Content-Type", VERBOSE if verbose else LIGHT)])

    def _matching(self, account: V2Account, options: QueryOptions, now: float) -> list[SimJob]:
        """The page asked for of the jobs matching the filter now. A client paging
        through a listing asks the same question page after page, so the answer is kept
        until the jobs, the filter or (as the clock moves) one job's view change; without
        this, paging is quadratic in the jobs."""
        assert options.filter is not None
        single = _SINGLE_ID.fullmatch(options.filter.text)
        if single is not None:  # the seed document's query: answered from the index
            found = account.store.get(single.group(1).replace("''", "'"))
            if found is None or view_job(found, now) is None:
                return []
            return _page([found], options)
        version, visible, arrival = account.store.snapshot(now)
        key = (id(account), version, options.filter.text, self.fidelity.enabled)
        test, fidelity = options.filter.matches, self.fidelity

        def evaluate(job: SimJob, at: float) -> bool | None:
            return True if test(_record(job, at, fidelity)) else None

        listed = self._matching_cache.listing(key, lambda: visible, arrival, now, evaluate)
        return [job for _, job in _page(listed, options)]

    def _records(
        self, route: routes.Route, account: V2Account, options: QueryOptions
    ) -> list[Record] | None:
        """The records the route asks for, filtered and paged; None for an unknown job."""
        now, fidelity = self.clock(), self.fidelity
        records: Iterable[Record]
        if route.kind == routes.JOBS:
            if options.filter is None:  # page first: only the page's jobs get rendered
                return [_record(j, now, fidelity)
                        for j in _page(account.store.visible(now), options)]
            return [_record(j, now, fidelity) for j in self._matching(account, options, now)]
        else:
            job = account.store.get(route.job_id or "")
            view = None if job is None else view_job(job, now)
            if view is None:
                return None
            traits = fidelity.traits(job.id) if job is not None else None
            if route.kind == routes.JOB:
                return [job_record(view, traits)]
            records = task_records(view, traits, now)
        if options.filter is not None:
            records = filter(options.filter.matches, records)
        return _page(records, options)
