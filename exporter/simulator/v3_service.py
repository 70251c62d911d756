"""AMS v3 over Azure Resource Manager: auth, throttling, api-version, resources, paging.

Checks run in ARM's order: bearer token (401), read throttling (429), api-version (400),
then the resource path: unknown subscription, resource group or account get ARM's own
404 codes (SubscriptionNotFound, ResourceGroupNotFound, ParentResourceNotFound), unknown
transforms and jobs the Media Services 404 `NotFound`. Only GET is served (405 otherwise).

api-version: a malformed value is `InvalidApiVersionParameter`; a well-formed one that
Microsoft.Media does not publish for transforms/jobs is `NoRegisteredProviderFound`,
which is what ARM answers for a resource provider's unsupported version.

Names: fixed segments, subscription, resource group and account match without regard to
case, as in ARM; transform and job names match exactly (unconfirmed for AMS).

Ravnur Media Services accounts (`rms_key` set) are served on the same paths; only the
token check differs: they take tokens from RMS's /auth/token (see rms.py), not Azure AD's.
"""

from __future__ import annotations

import math
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import quote

from exporter.simulator import arm_routes, v3_query
from exporter.simulator.arm_routes import ArmPath
from exporter.simulator.clock import Clock
from exporter.simulator.fidelity import Fidelity
from exporter.simulator.jobs import JobView, SimJob, view_job
from exporter.simulator.match_cache import MatchCache
from exporter.simulator.odata_query import decode_query
from exporter.simulator.responses import Request, Response, json_response
from exporter.simulator.store import JobStore
from exporter.simulator.token_bucket import ReadLimiter
from exporter.simulator.tokens import Verdict
from exporter.simulator.v3_entities import (
    V3Transform,
    job_record,
    job_resource,
    job_stub_record,
    transform_record,
    transform_resource,
)

AUDIENCE = "https://management.azure.com"
DEFAULT_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
DEFAULT_RESOURCE_GROUP = "media-rg"
LATEST_API_VERSION = "2022-07-01"
# Every version of the Microsoft.Media "Encoding" API (transforms and jobs) that was
# published in azure-rest-api-specs.
API_VERSIONS = (
    "2018-03-30-preview", "2018-06-01-preview", "2018-07-01", "2019-05-01-preview",
    "2020-05-01", "2021-06-01", "2021-11-01", "2022-05-01-preview", "2022-07-01",
)
MAX_TRANSFORMS = 100  # per account, as AMS allowed

TokenCheck = Callable[[str, str], Verdict]
"""(token, audience) -> verdict"""

ARM_ERROR_CODES = {
    400: "BadRequest",
    401: "AuthenticationFailed",
    404: "NotFound",
    405: "MethodNotAllowed",
    429: "TooManyRequests",
    500: "InternalServerError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}

_ACCOUNT_NAME = re.compile(r"[a-z0-9]{3,24}")  # AMS: lower-case letters and digits
_GROUP_NAME = re.compile(r"[-\w.()]{0,89}[-\w()]")
_GUID = re.compile(r"[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_WELL_FORMED_VERSION = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(-[A-Za-z]+)?")
_FORBIDDEN_IN_NAMES = set("<>%&:\\?/*+.'")  # AMS resource names, plus control characters


def check_resource_name(name: str, what: str) -> None:
    """AMS names: 1-260 characters, none of < > % & : \\ ? / * + . ' or control characters."""
    if not 1 <= len(name) <= 260 or any(c in _FORBIDDEN_IN_NAMES or ord(c) < 32 for c in name):
        raise ValueError(f"invalid {what} name {name!r}")


def arm_error(
    status: int,
    message: str,
    code: str | None = None,
    headers: Iterable[tuple[str, str]] = (),
    target: str | None = None,
) -> Response:
    """ARM's error body: {"error": {"code", "message", "target"?}}."""
    error: dict[str, object] = {"code": code or ARM_ERROR_CODES.get(status, "Error"),
                                "message": message}
    if target is not None:
        error["target"] = target
    return json_response(status, {"error": error}, headers)


@dataclass
class V3Account:
    key: str  # the simulator's name for it
    subscription_id: str
    resource_group: str
    account_name: str
    transforms: dict[str, V3Transform] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    # Ravnur Media Services: the API key that signs in at /auth/token; None for AMS.
    rms_key: str | None = field(default=None, repr=False)

    @property
    def resource_id(self) -> str:
        return (f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
                f"/providers/Microsoft.Media/mediaservices/{self.account_name}")

    def transform_list(self) -> list[V3Transform]:
        with self.lock:
            return list(self.transforms.values())

    def stores(self) -> list[JobStore]:
        return [t.store for t in self.transform_list()]


class V3Service:
    def __init__(
        self,
        clock: Clock,
        require_auth: bool,
        check_token: TokenCheck,
        limiter: ReadLimiter,
        fidelity: Fidelity | None = None,
        rms_check: Callable[[str, V3Account], Verdict] | None = None,
    ) -> None:
        self.clock = clock
        self.require_auth = require_auth
        self.check_token = check_token
        self.limiter = limiter
        self.fidelity = fidelity if fidelity is not None else Fidelity(0)
        # (token, RMS account) -> verdict: RMS accounts take only tokens of its /auth/token.
        self.rms_check = rms_check
        self.accounts: dict[str, V3Account] = {}
        self._index: dict[tuple[str, str, str], V3Account] = {}
        self._groups: set[tuple[str, str]] = set()
        self._subscriptions: set[str] = set()
        # Filtered, ordered job listings kept between the pages a client asks for.
        self._listings: MatchCache[SimJob, v3_query.Key] = MatchCache()

    # ------------------------------------------------------------ set-up

    def add_account(
        self,
        key: str,
        subscription_id: str,
        resource_group: str,
        account_name: str,
        rms_key: str | None = None,
    ) -> V3Account:
        if key in self.accounts:
            raise ValueError(f"account {key!r} already exists")
        if _GUID.fullmatch(subscription_id) is None:
            raise ValueError(f"subscription id {subscription_id!r} is not a GUID")
        if _GROUP_NAME.fullmatch(resource_group) is None:
            raise ValueError(f"invalid resource group name {resource_group!r}")
        if _ACCOUNT_NAME.fullmatch(account_name) is None:
            raise ValueError(f"invalid Media Services account name {account_name!r} "
                             "(3-24 lower-case letters and digits)")
        index = (subscription_id.lower(), resource_group.lower(), account_name.lower())
        if index in self._index:
            raise ValueError(f"{account_name!r} already exists in {resource_group!r}")
        account = V3Account(key, subscription_id, resource_group, account_name,
                            rms_key=rms_key)
        self.accounts[key] = account
        self._index[index] = account
        self._groups.add(index[:2])
        self._subscriptions.add(index[0])
        return account

    def add_transform(
        self, key: str, name: str, created: float, description: str, preset: str
    ) -> V3Transform:
        check_resource_name(name, "transform")
        account = self.account(key)
        with account.lock:
            if name in account.transforms:
                raise ValueError(f"transform {name!r} already exists in {key!r}")
            if len(account.transforms) >= MAX_TRANSFORMS:
                raise ValueError(f"an account holds at most {MAX_TRANSFORMS} transforms")
            transform = V3Transform(name, created, description, preset)
            account.transforms[name] = transform
        return transform

    def account(self, key: str) -> V3Account:
        try:
            return self.accounts[key]
        except KeyError:
            raise KeyError(f"unknown v3 account {key!r}") from None

    def find(self, path: ArmPath) -> V3Account | None:
        """The account a path names, if it exists."""
        if path.resource_group is None or path.account is None:
            return None
        return self._index.get(
            (path.subscription.lower(), path.resource_group.lower(), path.account.lower())
        )

    # ------------------------------------------------------------ answers

    def handle(self, request: Request, path: ArmPath) -> Response:
        problem = self._authenticate(request, self.find(path))
        if problem is not None:
            return problem
        quota = self.limiter.take(path.subscription.lower(), self.clock())
        if not quota.allowed:
            return arm_error(
                429,
                f"Number of 'read' requests for subscription '{path.subscription}' exceeded. "
                f"Please try again after '{quota.retry_after}' seconds.",
                "SubscriptionRequestsThrottled",
                [("Retry-After", str(quota.retry_after))],
            )
        try:
            pairs = decode_query(request.query)
        except UnicodeDecodeError:
            return arm_error(400, "The query string is not valid percent-encoded UTF-8.")
        problem = self._check_api_version(pairs, path)
        if problem is not None:
            return problem
        account, problem = self._resolve(path)
        if problem is not None:
            return problem
        assert account is not None
        if request.method not in ("GET", "HEAD"):
            return arm_error(405, f"The HTTP method '{request.method}' is not supported here.",
                             headers=[("Allow", "GET")])
        return self._resource(request, path, account, pairs)

    def _authenticate(self, request: Request, account: V3Account | None) -> Response | None:
        if not self.require_auth:
            return None
        header = request.header("Authorization")
        scheme, _, token = (header or "").partition(" ")
        token = token.strip()
        if header is None or not header.strip():
            return self._unauthorized(request, "AuthenticationFailed",
                                      "Authentication failed. The 'Authorization' header is "
                                      "missing.")
        if scheme.lower() != "bearer" or not token:
            return self._unauthorized(request, "AuthenticationFailed",
                                      "Authentication failed. The 'Authorization' header is "
                                      "provided in an invalid format.")
        rms = account is not None and account.rms_key is not None
        if rms:
            assert account is not None
            verdict = (self.rms_check(token, account) if self.rms_check is not None
                       else Verdict.UNKNOWN)
        else:
            verdict = self.check_token(token, AUDIENCE)
        if verdict is Verdict.VALID:
            return None
        if rms and verdict is Verdict.WRONG_AUDIENCE:
            return self._unauthorized(request, "InvalidAuthenticationTokenAudience",
                                      "The access token was issued for another subscription "
                                      "or API key.")
        if verdict is Verdict.EXPIRED:
            now = datetime.fromtimestamp(self.clock(), timezone.utc).isoformat()
            return self._unauthorized(request, "ExpiredAuthenticationToken",
                                      "The access token expiry UTC time is earlier than "
                                      f"current UTC time '{now}'.")
        if verdict is Verdict.WRONG_AUDIENCE:
            return self._unauthorized(request, "InvalidAuthenticationTokenAudience",
                                      "The access token has been obtained for wrong audience "
                                      "or resource. It should exactly match one of the "
                                      f"allowed audiences '{AUDIENCE}', '{AUDIENCE}/'.")
        return self._unauthorized(request, "InvalidAuthenticationToken",
                                  "The access token is invalid.")

    @staticmethod
    def _unauthorized(request: Request, code: str, message: str) -> Response:
        challenge = (f'Bearer authorization_uri="{request.origin}/common", '
                     f'error="invalid_token", error_description="{message}"')
        return arm_error(401, message, code, [("WWW-Authenticate", challenge)])

    @staticmethod
    def _check_api_version(pairs: Sequence[tuple[str, str]], path: ArmPath) -> Response | None:
        versions = {value for name, value in pairs if name.lower() == "api-version"}
        supported = ",".join(API_VERSIONS)
        if not versions:
            return arm_error(400, "The api-version query parameter (?api-version=) is required "
                                  "for all requests.", "MissingApiVersionParameter")
        version = versions.pop()
        if versions or _WELL_FORMED_VERSION.fullmatch(version) is None:
            return arm_error(400, f"The api-version '{version}' is invalid. The supported "
                                  f"versions are '{supported}'.", "InvalidApiVersionParameter")
        if version.lower() not in API_VERSIONS:
            kind = "mediaservices/transforms/jobs" if path.kind in (
                arm_routes.JOBS, arm_routes.JOB) else "mediaservices/transforms"
            return arm_error(400, f"No registered resource provider found for API version "
                                  f"'{version}' and type '{kind}'. The supported api-versions "
                                  f"are '{supported}'.", "NoRegisteredProviderFound")
        return None

    def _resolve(self, path: ArmPath) -> tuple[V3Account | None, Response | None]:
        if path.subscription.lower() not in self._subscriptions:
            return None, arm_error(404, f"The subscription '{path.subscription}' could not be "
                                        "found.", "SubscriptionNotFound")
        group = (path.subscription.lower(), (path.resource_group or "").lower())
        if path.resource_group is not None and group not in self._groups:
            return None, arm_error(404, f"Resource group '{path.resource_group}' could not be "
                                        "found.", "ResourceGroupNotFound")
        if path.kind == arm_routes.UNKNOWN:
            return None, arm_error(404, "The simulator serves only Microsoft.Media transforms "
                                        "and jobs; nothing is at this path.", "NotFound")
        account = self.find(path)
        if account is None:
            return None, arm_error(404, "Can not perform requested operation on nested "
                                        f"resource. Parent resource '{path.account}' not found.",
                                   "ParentResourceNotFound")
        return account, None

    def _resource(
        self, request: Request, path: ArmPath, account: V3Account, pairs: list[tuple[str, str]]
    ) -> Response:
        if path.kind in (arm_routes.TRANSFORM, arm_routes.JOB):
            option = next((name for name, _ in pairs if name.startswith("$")), None)
            if option is not None:
                return arm_error(400, f"The query parameter '{option}' is not supported here.")
        try:
            if path.kind == arm_routes.TRANSFORMS:
                return self._list_transforms(request, account, pairs)
            with account.lock:
                transform = account.transforms.get(path.transform or "")
            if transform is None:
                return arm_error(404, f"Transform '{path.transform}' was not found.",
                                 "NotFound")
            if path.kind == arm_routes.TRANSFORM:
                return json_response(200, transform_resource(account.resource_id, transform))
            if path.kind == arm_routes.JOBS:
                return self._list_jobs(request, account, transform, pairs)
        except v3_query.QueryError as exc:
            return arm_error(400, str(exc))
        job = transform.store.get(path.job or "")
        view = None if job is None else view_job(job, self.clock())
        if view is None:
            return arm_error(404, f"Job '{path.job}' was not found in transform "
                                  f"'{transform.name}'.", "NotFound")
        return json_response(200, self._job_body(account, transform, view))

    def _job_body(
        self, account: V3Account, transform: V3Transform, view: JobView
    ) -> dict[str, object]:
        return job_resource(account.resource_id, transform.name, view, preset=transform.preset,
                            traits=self.fidelity.traits(view.job.id))

    def _list_transforms(
        self, request: Request, account: V3Account, pairs: list[tuple[str, str]]
    ) -> Response:
        query = v3_query.parse_list_query(pairs, v3_query.TRANSFORMS)
        transforms = {t.name: t for t in account.transform_list()}
        records = [transform_record(t) for t in transforms.values()]
        chosen, more = v3_query.page(records, query, v3_query.TRANSFORM_PAGE)
        value = [transform_resource(account.resource_id, transforms[str(r["name"])])
                 for r in chosen]
        return self._collection(request, pairs, query, value, more)

    def _list_jobs(
        self,
        request: Request,
        account: V3Account,
        transform: V3Transform,
        pairs: list[tuple[str, str]],
    ) -> Response:
        query = v3_query.parse_list_query(pairs, v3_query.JOBS)
        now = self.clock()
        chosen, more = v3_query.page_of(self._job_listing(transform, query, now), query,
                                        v3_query.JOB_PAGE)
        value = []
        for job in chosen:
            view = view_job(job, now)
            assert view is not None, "store.snapshot() returns only jobs that exist at now"
            value.append(self._job_body(account, transform, view))
        return self._collection(request, pairs, query, value, more)

    def _job_listing(
        self, transform: V3Transform, query: v3_query.ListQuery, now: float
    ) -> list[tuple[v3_query.Key, SimJob]]:
        """The transform's jobs that match the filter now, with their sort keys, in the
        query's order. A client paging through a listing asks this page after page, so
        it is kept (match_cache) until the jobs or the query change, and follows the
        clock; without this, paging is quadratic in the jobs."""
        version, visible, arrival = transform.store.snapshot(now)
        key = (transform.store, version, query.filter_text, query.order)
        sort_key, test = v3_query.key_function(query.order), query.filter
        # Name and created never change: queries on them alone need no view of each job
        # (this keeps listing a 500,000-job account cheap).
        changing = v3_query.reads_changing_values(query)

        def derive(job: SimJob, at: float) -> v3_query.Key | None:
            if changing:
                view = view_job(job, at)
                assert view is not None, "store.snapshot() returns only jobs that exist at now"
                record = job_record(view)
            else:
                record = job_stub_record(job)
            if test is not None and not test.matches(record):
                return None
            return sort_key(record)

        def order(keyed: list[tuple[v3_query.Key, SimJob]]) -> None:
            v3_query.arrange(keyed, query.order)

        return self._listings.listing(key, lambda: visible, arrival, now, derive, order)

    @staticmethod
    def _collection(
        request: Request,
        pairs: list[tuple[str, str]],
        query: v3_query.ListQuery,
        value: list[dict[str, object]],
        more: tuple[object, ...] | None,
    ) -> Response:
        body: dict[str, object] = {"value": value}
        if more is not None:
            body["@odata.nextLink"] = next_link(request, pairs, query, more)
        return json_response(200, body)

    def headers(self, request: Request, path: ArmPath) -> list[tuple[str, str]]:
        """What every ARM answer carries, errors included."""
        request_id = str(uuid.uuid4())
        correlation = request.header("x-ms-correlation-request-id") or request_id
        stamp = datetime.fromtimestamp(self.clock(), timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        remaining = self.limiter.remaining(path.subscription.lower(), self.clock())
        headers = [
            ("Cache-Control", "no-cache"),
            ("x-ms-ratelimit-remaining-subscription-reads", str(remaining)),
            ("x-ms-request-id", request_id),
            ("x-ms-correlation-request-id", correlation),
            ("x-ms-routing-request-id", f"SIMULATOR:{stamp}:{request_id}"),
        ]
        client_id = request.header("x-ms-client-request-id")
        if client_id is not None:
            headers.append(("x-ms-client-request-id", client_id))
        return headers

    @staticmethod
    def throttled(retry_after: float | None) -> Response:
        """An injected throttling answer: 429 with Retry-After (1 s unless configured)."""
        seconds = 1 if retry_after is None else max(0, math.ceil(retry_after))
        return arm_error(429, "The request is being throttled (simulated). Retry after "
                              f"{seconds} seconds.", "TooManyRequests",
                         [("Retry-After", str(seconds))])


def next_link(
    request: Request,
    pairs: list[tuple[str, str]],
    query: v3_query.ListQuery,
    key: tuple[object, ...],
) -> str:
    """Absolute, carrying api-version, the whole $filter and $orderby, and the cursor:
    the official SDK follows it verbatim and re-sends nothing."""
    version = next(value for name, value in pairs if name.lower() == "api-version")
    parts = [("api-version", version)]
    if query.filter_text is not None:
        parts.append(("$filter", query.filter_text))
    if query.orderby_text is not None:
        parts.append(("$orderby", query.orderby_text))
    parts.append(("$skiptoken", v3_query.encode_skiptoken(key, query.order)))
    encoded = "&".join(f"{name}={quote(value, safe='')}" for name, value in parts)
    return f"{request.origin}{request.path}?{encoded}"


def add_job(transform: V3Transform, job: SimJob) -> None:
    check_resource_name(job.id, "job")
    transform.store.add(job)
