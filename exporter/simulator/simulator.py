"""The public face of the simulator: accounts and jobs, the server's life, faults, the log.

One server plays five services: AMS v2 (OData, `/v2/<account>/api/`), AMS v3 through
Azure Resource Manager (`/subscriptions/...`), Azure AD's token endpoint
(`/<tenant>/oauth2/v2.0/token`), and two AMS successors (ams-successors.md):
Ravnur Media Services (the v3 ARM paths, signed in with an API key at `/auth/token`)
and MediaKind MK.IO (`/api/v1/projects/<project>/media/...`, personal API tokens).
Accounts of every kind share one name space and the same lifecycle engine (SimJob
timelines, stores, generator, lively feeds, faults, request log). The same timelines
drive the push side: start_events() posts Event Grid / MK.IO webhook events of the
v3, RMS and MK.IO accounts to a receiver (event_sender.py), and
issue_event_grid_token() signs the Entra tokens Event Grid would send (signing.py).
"""

from __future__ import annotations

import base64
import contextlib
import json
import random
import re
import secrets
import threading
from dataclasses import dataclass, replace
from types import TracebackType

from exporter.jobs.states import JobState
from exporter.simulator.aad import AadService
from exporter.simulator.clock import Clock, SystemClock
from exporter.simulator.event_sender import (
    DEFAULT_PROGRESS_INTERVAL,
    DEFAULT_TIMEOUT,
    DEFAULT_TTL,
    EVENTGRID,
    MAX_ATTEMPTS,
    MAX_BATCH_BYTES,
    AuthHeader,
    EventFeed,
    EventSource,
)
from exporter.simulator.faults import FaultInjector, FaultSettings
from exporter.simulator.fidelity import Fidelity
from exporter.simulator.generator import V3, generate
from exporter.simulator.http_server import SimulatorHTTPServer
from exporter.simulator.jobs import JobView, SimJob, scripted, view_job
from exporter.simulator.lively import MAX_JOBS_V3, LivelyFeed
from exporter.simulator.mkio_entities import MkioProject, derived_id, raw_job
from exporter.simulator.mkio_entities import job_resource as mkio_job_resource
from exporter.simulator.mkio_service import (
    DEFAULT_CAPABILITIES,
    DEFAULT_GET_PER_MINUTE,
    MkioService,
)
from exporter.simulator.pipeline import Pipeline
from exporter.simulator.request_log import RequestLog, SimRequest
from exporter.simulator.rms import RmsService
from exporter.simulator.signing import (
    EVENT_GRID_APP_ID,
    PUBLISHED,
    SigningKeys,
    event_grid_claims,
    sign,
)
from exporter.simulator.store import JobStore
from exporter.simulator.tls import DEFAULT_HOSTS, TlsFiles, make_tls_files
from exporter.simulator.token_bucket import (
    DEFAULT_CAPACITY,
    DEFAULT_REFILL_PER_SECOND,
    ReadLimiter,
)
from exporter.simulator.tokens import TokenRegistry, Verdict
from exporter.simulator.v2_service import TokenValidator, V2Service
from exporter.simulator.v3_entities import V3Transform
from exporter.simulator.v3_entities import job_resource as v3_job_resource
from exporter.simulator.v3_service import (
    DEFAULT_RESOURCE_GROUP,
    DEFAULT_SUBSCRIPTION,
    MAX_TRANSFORMS,
    V3Account,
    V3Service,
    check_resource_name,
)
from exporter.simulator.v3_service import add_job as add_v3_job

TRANSFORM_AGE_SECONDS = 30 * 86400  # a transform's default age when added
# RMS accounts live in their own (made-up) subscription by default, so an AMS v3 and an
# RMS account of the same name can share the server.
DEFAULT_RMS_SUBSCRIPTION = "52a1f0c4-8d3e-4b7a-9c6f-0e5d2b1a7c30"
DEFAULT_RMS_RESOURCE_GROUP = "rms-rg"
DEFAULT_RMS_API_KEY = "rms-simulator-api-key"
_MKIO_PROJECT = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")

_Holder = V3Account | MkioProject


class _UnknownJob(KeyError):
    """No transform of a v3 account has the job."""


@dataclass(frozen=True)
class ArmAccount:
    """Where a v3 account lives in ARM."""

    subscription_id: str
    resource_group: str
    account_name: str
    resource_id: str  # /subscriptions/.../providers/Microsoft.Media/mediaservices/<name>


class Simulator:
    """Azure Media Services v2 and v3 and Azure AD, served over real HTTP(S).

    Where AMS behaviour is unconfirmed, the choice made is noted in the module concerned.
    """

    def __init__(
        self,
        clock: Clock | None = None,
        seed: int = 1,
        require_auth: bool = True,
        token_validator: TokenValidator | None = None,
        request_log_limit: int = 100_000,
        fidelity: bool = False,
        correlation_values: int | None = None,
    ) -> None:
        """`fidelity` turns on the variety real answers showed (see fidelity.py); off, the
        bodies are exactly what earlier versions served for the same seed.
        `correlation_values`: generated v3, RMS and MK.IO jobs carry that many distinct
        `customerId` and `workflow` values in their correlationData (default: five named
        customers and three workflows; generator.correlation_data)."""
        if correlation_values is not None and correlation_values < 1:
            raise ValueError("correlation_values must be at least 1")
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.seed = seed
        #: How generated v3, RMS and MK.IO jobs are made.
        self._v3_flavor = replace(V3, correlation_values=correlation_values)
        # Off by default so tests with made-up tokens keep working; when on, the v2
        # routes accept only unexpired tokens issued here for https://rest.media.azure.net
        # and the v3 routes only those for https://management.azure.com.
        self.require_issued_tokens = False
        self._token_validator = token_validator
        self._tokens = TokenRegistry()
        self._limiter = ReadLimiter()
        self._fidelity = Fidelity(seed, fidelity)
        self._service = V2Service(self.clock, require_auth, self._v2_accepts,
                                  fidelity=self._fidelity)
        self._rms = RmsService(self.clock, lambda: list(self._v3.accounts.values()))
        self._v3 = V3Service(self.clock, require_auth, self._check_token, self._limiter,
                             fidelity=self._fidelity, rms_check=self._rms.check)
        self._mkio = MkioService(self.clock, require_auth)
        self._signing = SigningKeys()
        self._aad = AadService(self.clock, self._tokens, self._signing)
        self._faults = FaultInjector(seed)
        self._log = RequestLog(request_log_limit)
        self._batches: dict[str, int] = {}  # account -> number of seeded batches drawn
        self._feeds: list[LivelyFeed] = []
        self._event_feeds: list[EventFeed] = []
        self._server: SimulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._tls: TlsFiles | None = None

    # ------------------------------------------------------------ accounts and jobs

    def add_v2_account(self, name: str, metadata_base: str | None = None) -> None:
        """Serve an account under /v2/<name>/api/; `metadata_base` replaces that URL in
        "odata.metadata" and "__metadata" (e.g. "https://media.windows.net/api/")."""
        self._check_new(name)
        self._service.add_account(name, metadata_base)

    def add_v3_account(
        self,
        name: str,
        subscription_id: str = DEFAULT_SUBSCRIPTION,
        resource_group: str = DEFAULT_RESOURCE_GROUP,
        account_name: str | None = None,
        transforms: tuple[str, ...] | list[str] = ("encode-720p",),
    ) -> None:
        """Serve an account through ARM at /subscriptions/<subscription_id>/resourceGroups/
        <resource_group>/providers/Microsoft.Media/mediaServices/<account_name>.

        `name` is what the other methods call it; `account_name` (default: `name`) must
        be a valid AMS name: 3-24 lower-case letters and digits.
        """
        self._check_new(name)
        self._v3.add_account(name, subscription_id, resource_group, account_name or name)
        for transform in transforms:
            self.add_transform(name, transform)

    def _check_new(self, name: str) -> None:
        if name in self._service.accounts or name in self._v3.accounts \
                or name in self._mkio.projects:
            raise ValueError(f"account {name!r} already exists")

    def add_rms_account(
        self,
        name: str,
        subscription_id: str = DEFAULT_RMS_SUBSCRIPTION,
        resource_group: str = DEFAULT_RMS_RESOURCE_GROUP,
        account_name: str | None = None,
        transforms: tuple[str, ...] | list[str] = ("encode-720p",),
        api_key: str = DEFAULT_RMS_API_KEY,
    ) -> None:
        """A Ravnur Media Services account: the v3 ARM paths on this server (base URL
        `rms_endpoint`), signed in by POSTing {"subscriptionId", "apiKey"} to
        `rms_token_url`. With auth required (the default) its routes accept only
        unexpired tokens from that endpoint, issued for its subscription and key."""
        if not api_key:
            raise ValueError("api_key must not be empty")
        self._check_new(name)
        self._v3.add_account(name, subscription_id, resource_group, account_name or name,
                             rms_key=api_key)
        for transform in transforms:
            self.add_transform(name, transform)

    def add_mkio_account(
        self,
        name: str,
        project: str | None = None,
        transforms: tuple[str, ...] | list[str] = ("encode-720p",),
        subscription_id: str | None = None,
    ) -> None:
        """An MK.IO project served under /api/v1/projects/<project>/media/ (`project`
        defaults to `name`: lower-case letters, digits and '-'). `subscription_id` is
        what job ids carry (default: a GUID derived from the project name). Requests need
        a token from add_mkio_token() unless the simulator was made with
        require_auth=False; 2,000 GET per minute are allowed (set_mkio_rate_limit)."""
        project = project or name
        if _MKIO_PROJECT.fullmatch(project) is None:
            raise ValueError(f"invalid MK.IO project name {project!r}")
        self._check_new(name)
        self._mkio.add_project(MkioProject(
            key=name, project=project,
            subscription_id=subscription_id or derived_id("subscription", project),
            project_id=derived_id("project", project),
        ))
        for transform in transforms:
            self.add_transform(name, transform)

    def add_transform(
        self,
        account: str,
        transform: str,
        *,
        description: str = "",
        preset: str = "AdaptiveStreaming",
        created: float | None = None,
    ) -> None:
        """Add a transform (at most 100 per account); by default it was created 30 days
        before now, so generated job history comes after it."""
        if created is None:
            created = self.clock() - TRANSFORM_AGE_SECONDS
        if account not in self._mkio.projects:
            self._v3.add_transform(account, transform, created, description, preset)
            return
        check_resource_name(transform, "transform")
        project = self._mkio.projects[account]
        with project.lock:
            if transform in project.transforms:
                raise ValueError(f"transform {transform!r} already exists in {account!r}")
            if len(project.transforms) >= MAX_TRANSFORMS:
                raise ValueError(f"a project holds at most {MAX_TRANSFORMS} transforms")
            project.transforms[transform] = V3Transform(transform, created, description, preset)

    def transforms(self, account: str) -> list[str]:
        """A v3, RMS or MK.IO account's transform names, in the order they were added."""
        holder = self._holder(account)
        if holder is None:
            raise KeyError(f"{account!r} is a v2 account: it has no transforms")
        return [t.name for t in holder.transform_list()]

    def arm_account(self, account: str) -> ArmAccount:
        v3 = self._v3.account(account)
        return ArmAccount(v3.subscription_id, v3.resource_group, v3.account_name,
                          v3.resource_id)

    def _holder(self, account: str) -> _Holder | None:
        """The v3/RMS account or MK.IO project holding transforms; None for v2."""
        if account in self._v3.accounts:
            return self._v3.accounts[account]
        if account in self._mkio.projects:
            return self._mkio.projects[account]
        if account in self._service.accounts:
            return None
        raise KeyError(f"unknown account {account!r}")

    def _store(self, account: str, job_id: str | None = None,
               transform: str | None = None) -> JobStore:
        """The store holding (or to hold) a job: the v2 account's, or a v3 transform's.

        On v3, `transform=None` means the transform that has `job_id`, or (adding,
        job_id=None) the account's first transform.
        """
        v3 = self._holder(account)
        if v3 is None:
            if transform is not None:
                raise ValueError(f"{account!r} is a v2 account: it has no transforms")
            return self._service.account(account).store
        stores = {t.name: t.store for t in v3.transform_list()}
        if transform is not None:
            if transform not in stores:
                raise KeyError(f"unknown transform {transform!r} in {account!r}")
            return stores[transform]
        if job_id is None:
            if not stores:
                raise KeyError(f"{account!r} has no transform")
            return next(iter(stores.values()))
        holding = [store for store in stores.values() if store.get(job_id) is not None]
        if len(holding) > 1:
            raise ValueError(f"job {job_id!r} is in several transforms; name the transform")
        if not holding:
            raise _UnknownJob(f"unknown job {job_id!r} in {account!r}")
        return holding[0]

    def add_job(self, account: str, job: SimJob, transform: str | None = None) -> None:
        """Add a job; on a v3, RMS or MK.IO account `job.id` is its name and it goes to
        `transform` (default: the account's first transform, "encode-720p" unless
        changed)."""
        v3 = self._holder(account)
        if v3 is None:
            self._store(account, transform=transform).add(job)
            return
        name = transform if transform is not None else next(iter(v3.transforms), None)
        target = v3.transforms.get(name or "")
        if target is None:
            raise KeyError(f"unknown transform {transform!r} in {account!r}")
        add_v3_job(target, job)

    def get_job(
        self, account: str, job_id: str, transform: str | None = None
    ) -> SimJob | None:
        try:
            return self._store(account, job_id, transform).get(job_id)
        except _UnknownJob:  # unknown accounts and transforms still raise KeyError
            return None

    def job_state(
        self, account: str, job_id: str, transform: str | None = None
    ) -> JobState | None:
        """The job's state now (None when it is unknown or not created yet)."""
        job = self.get_job(account, job_id, transform)
        view = None if job is None else view_job(job, self.clock())
        return None if view is None else view.state

    def script_state(
        self,
        account: str,
        job_id: str,
        state: JobState,
        at: float,
        transform: str | None = None,
    ) -> None:
        """Make the job change to `state` at time `at`; later planned events are dropped."""
        self._store(account, job_id, transform).update(
            job_id, lambda job: scripted(job, state, at)
        )

    def set_correlation(self, account: str, job_id: str, data: dict[str, object] | None,
                        transform: str | None = None) -> None:
        """Give the job this correlationData from now on (None: none at all)."""
        self._store(account, job_id, transform).update(
            job_id, lambda job: replace(job, correlation=data))

    def remove_job(self, account: str, job_id: str, transform: str | None = None) -> None:
        """The job disappears, as if deleted upstream."""
        self._store(account, job_id, transform).remove(job_id)

    def _rng(self, account: str, purpose: str) -> random.Random:
        """A Random that depends only on the seed, the account and how many came before."""
        batch = self._batches.get(account, 0)
        self._batches[account] = batch + 1
        return random.Random(f"{self.seed}/{account}/{purpose}/{batch}")

    def generate_jobs(
        self, account: str, n: int, start: float, end: float, transform: str | None = None
    ) -> list[str]:
        """Add `n` realistic jobs created over [start, end); returns their ids (v3: names
        like job-3f2a9c0d5e7b1a46, spread at random over the transforms unless one is
        named)."""
        v3 = self._holder(account)
        if v3 is None:
            store = self._store(account, transform=transform)
            jobs = generate(self._rng(account, "jobs"), n, start, end)
            for job in jobs:
                store.add(job)
            return [job.id for job in jobs]
        targets = v3.transform_list()
        if transform is not None:
            targets = [t for t in targets if t.name == transform]
        if not targets:
            raise KeyError(f"no transform {transform or ''!r} in {account!r}")
        rng = self._rng(account, "jobs")
        jobs = generate(rng, n, start, end, self._v3_flavor)
        for job in jobs:
            add_v3_job(targets[0] if len(targets) == 1 else rng.choice(targets), job)
        return [job.id for job in jobs]

    def start_lively(self, account: str, rate_per_minute: float = 20.0) -> LivelyFeed:
        """Keep creating short-lived jobs on `account` (v3: over its transforms) until stop()."""
        v3 = self._holder(account)
        rng = self._rng(account, "lively")
        if v3 is None:
            feed = LivelyFeed(self._store(account), self.clock, rng, rate_per_minute)
        else:
            feed = LivelyFeed(v3.stores(), self.clock, rng, rate_per_minute,
                              flavor=self._v3_flavor, max_jobs=MAX_JOBS_V3)
        self._feeds.append(feed)
        return feed.start()

    def start_events(
        self,
        url: str,
        *,
        schema: str = EVENTGRID,
        accounts: list[str] | tuple[str, ...] | None = None,
        batch: int = 1,
        duplicate_rate: float = 0.0,
        reorder_rate: float = 0.0,
        retry_scale: float = 1.0,
        max_attempts: int = MAX_ATTEMPTS,
        secret: str | None = None,
        auth_header: AuthHeader | None = None,
        handshake: bool = True,
        topics: dict[str, str] | None = None,
        progress_interval: float | None = DEFAULT_PROGRESS_INTERVAL,
        output_events: bool = False,
        timeout: float = DEFAULT_TIMEOUT,
        ttl: float = DEFAULT_TTL,
        max_batch_bytes: int = MAX_BATCH_BYTES,
        verify: bool | str = True,
    ) -> EventFeed:
        """Post the job events of `accounts` (default: every v3, RMS and MK.IO account
        now) to `url`, as an Event Grid subscription (v3, RMS; `schema` "eventgrid" or
        "cloudevents") or an MK.IO webhook rule (always CloudEvents) would; see
        event_sender.py and docs/simulator.md. `batch`: events per POST (1-5000, not
        MK.IO); `retry_scale` multiplies Event Grid's retry delays and time-to-live;
        `secret` rides as query `secret=`; `auth_header` is an Authorization value or a
        callable giving one per request (a bare token gets "Bearer "); `topics` maps a
        v3/RMS account to the topic its events name (e.g. an RMS custom topic id);
        `progress_interval` None sends no JobOutputProgress. The feed stops with the
        simulator."""
        names = list(accounts) if accounts is not None else [
            *self._v3.accounts, *self._mkio.projects]
        if not names:
            raise ValueError("no v3, RMS or MK.IO account to send events of")
        topics = dict(topics or {})
        unknown = set(topics) - {n for n in names if n in self._v3.accounts}
        if unknown:
            raise ValueError(f"topics names no v3 or RMS account of the feed: "
                             f"{', '.join(sorted(unknown))}")
        sources = [self._event_source(name, topics.get(name)) for name in dict.fromkeys(names)]
        feed = EventFeed(
            url, sources, self.clock, f"{self.seed}/events/{len(self._event_feeds)}",
            schema=schema, batch=batch, duplicate_rate=duplicate_rate,
            reorder_rate=reorder_rate, retry_scale=retry_scale, max_attempts=max_attempts,
            secret=secret, auth_header=auth_header, handshake=handshake,
            progress_interval=progress_interval, output_events=output_events,
            timeout=timeout, ttl=ttl, max_batch_bytes=max_batch_bytes, verify=verify)
        self._event_feeds.append(feed)
        return feed.start()

    def _event_source(self, account: str, topic: str | None) -> EventSource:
        holder = self._holder(account)
        if isinstance(holder, V3Account):
            v3 = holder

            def arm(transform: V3Transform, view: JobView) -> dict[str, object]:
                return v3_job_resource(v3.resource_id, transform.name, view,
                                       preset=transform.preset,
                                       traits=self._fidelity.traits(view.job.id))

            return EventSource(account, False, topic or v3.resource_id, v3.transform_list, arm)
        if isinstance(holder, MkioProject):
            project = holder

            def mkio(transform: V3Transform, view: JobView) -> dict[str, object]:
                if view.job.raw is not None:
                    body: dict[str, object] = json.loads(view.job.raw)
                    return body
                return mkio_job_resource(project, transform.name, view) | {"supplemental": {
                    "operation": "get", "subscription": project.supplemental_subscription()}}

            return EventSource(account, True, project.project, project.transform_list, mkio)
        raise ValueError(f"{account!r} is a v2 account: AMS v2 sends no Event Grid events")

    @property
    def legacy_target(self) -> str | None:
        """Account the legacy /api/ endpoint redirects to (default: the first one added)."""
        return self._service.legacy_target

    @legacy_target.setter
    def legacy_target(self, account: str | None) -> None:
        self._service.legacy_target = account

    # ------------------------------------------------------------ RMS and MK.IO

    @property
    def rms_endpoint(self) -> str:
        """The RMS base URL, as Ravnur's console shows one (with a trailing slash)."""
        return self.url + "/"

    @property
    def rms_token_url(self) -> str:
        return self.url + "/auth/token"

    @property
    def rms_token_lifetime(self) -> float:
        """Seconds (simulator clock) an RMS token lives, its `exp` - `iat`; default 3600."""
        return self._rms.token_lifetime

    @rms_token_lifetime.setter
    def rms_token_lifetime(self, seconds: float) -> None:
        if seconds <= 0:
            raise ValueError("rms_token_lifetime must be positive")
        self._rms.token_lifetime = seconds

    def rms_api_key(self, account: str) -> str:
        key = self._v3.account(account).rms_key
        if key is None:
            raise KeyError(f"{account!r} is not an RMS account")
        return key

    def issue_rms_token(self, account: str) -> str:
        """A token as /auth/token would issue it for the account (tests that skip sign-in)."""
        v3 = self._v3.account(account)
        return self._rms.issue(v3.subscription_id, self.rms_api_key(account))

    @property
    def mkio_endpoint(self) -> str:
        """The MK.IO base URL (paths start /api/v1/projects/...)."""
        return self.url

    def mkio_project(self, account: str) -> str:
        """The MK.IO project name of an account added with add_mkio_account()."""
        return self._mkio.project(account).project

    def add_mkio_token(
        self,
        project: str,
        token: str | None = None,
        expires: float | None = None,
        capabilities: tuple[str, ...] | list[str] = DEFAULT_CAPABILITIES,
    ) -> str:
        """Grant a personal API token `capabilities` on `project` (account key or project
        name) until `expires` (simulator clock; None: no expiry); returns the token, a new
        unsigned JWT when `token` is None. Granting the same token on another project
        adds to it. Reading jobs needs ams.job.get, listing transforms ams.transform.get."""
        if token is None:
            name = self.mkio_project(project)
            claims: dict[str, object] = {"sub": "simulator-user", "type": "restricted",
                                         "project": name, "jti": secrets.token_urlsafe(16)}
            if expires is not None:
                claims["exp"] = int(expires)
            token = _unsigned_jwt(claims)
        if not token or any(c.isspace() for c in token):
            raise ValueError("a token is a non-empty string without spaces")
        self._mkio.add_token(project, token, expires, capabilities)
        return token

    def set_mkio_rate_limit(
        self,
        project: str,
        per_minute: int | None = DEFAULT_GET_PER_MINUTE,
        retry_after: bool = False,
    ) -> None:
        """GET requests allowed per minute (sliding window, simulator clock) on `project`;
        None turns the limit off. Excess gets 429 with MK.IO's error body, and a
        Retry-After header only with `retry_after` (MK.IO documents none)."""
        self._mkio.set_rate_limit(project, per_minute, retry_after)

    def add_mkio_raw_job(self, project: str, transform: str, raw_json: str) -> str:
        """Serve `raw_json` verbatim (byte for byte, in lists too) as a job of `transform`;
        its name, created, lastModified and state are read from it for $filter/$orderby.
        Returns the job's name."""
        account = self._mkio.project(project).key
        job = raw_job(raw_json)
        self.add_job(account, job, transform)
        return job.id

    @property
    def mkio_empty_filter_404(self) -> bool:
        """A filtered MK.IO list that matches nothing answers 404 (default True)."""
        return self._mkio.empty_filter_404

    @mkio_empty_filter_404.setter
    def mkio_empty_filter_404(self, value: bool) -> None:
        self._mkio.empty_filter_404 = value

    @property
    def fidelity(self) -> bool:
        """Serve the variety of real answers (fidelity.py); can change while serving."""
        return self._fidelity.enabled

    @fidelity.setter
    def fidelity(self, enabled: bool) -> None:
        self._fidelity.enabled = enabled

    # ------------------------------------------------------------ Azure AD and tokens

    def add_client(self, tenant_id: str, client_id: str, client_secret: str) -> None:
        """Register an app that may sign in with the client-credentials grant."""
        self._aad.add_client(tenant_id, client_id, client_secret)

    @property
    def token_lifetime(self) -> float:
        """Seconds (simulator clock) a new token lives: its expires_in; default 3599."""
        return self._aad.token_lifetime

    @token_lifetime.setter
    def token_lifetime(self, seconds: float) -> None:
        if seconds <= 0:
            raise ValueError("token_lifetime must be positive")
        self._aad.token_lifetime = seconds

    def issue_token(
        self, resource: str, client_id: str = "test-client", tenant_id: str = "test-tenant"
    ) -> str:
        """A token as the token endpoint would issue it (for tests that skip sign-in)."""
        issued = self._tokens.issue(tenant_id, client_id, resource.rstrip("/"), self.clock(),
                                    self._aad.token_lifetime)
        return issued.value

    def issue_event_grid_token(
        self,
        tenant_id: str,
        audience: str,
        *,
        lifetime: float = 3600,
        app_id: str = EVENT_GRID_APP_ID,
        version: int = 1,
        signing_key: str = PUBLISHED,
    ) -> str:
        """An RS256 token as Entra issues Event Grid for a webhook secured with Entra ID:
        `aud` = `audience`, v1 (`iss` https://sts.windows.net/<tenant>/, `appid`) or v2
        (`iss` <aad_authority>/<tenant>/v2.0, `azp`; the server must be started), `iat`/
        `nbf` now and `exp` now + `lifetime` by the simulator clock, `kid` of the key
        published at the tenant's jwks_uri, or with signing_key="unpublished" of a key
        no JWKS lists. The tenant becomes known to the discovery and keys routes."""
        self._aad.add_tenant(tenant_id)
        authority = self.url if version == 2 else None
        claims = event_grid_claims(tenant_id, audience, self.clock(), lifetime, app_id,
                                   version, authority)
        return sign(claims, self._signing.get(signing_key), version)

    @property
    def token_validator(self) -> TokenValidator | None:
        return self._token_validator

    @token_validator.setter
    def token_validator(self, validator: TokenValidator | None) -> None:
        self._token_validator = validator

    def _check_token(self, token: str, audience: str) -> Verdict:
        if self.require_issued_tokens:
            verdict, _ = self._tokens.check(token, audience, self.clock())
            if verdict is not Verdict.VALID:
                return verdict
        validator = self._token_validator
        if validator is not None and not validator(token, audience):
            return Verdict.UNKNOWN
        return Verdict.VALID

    def _v2_accepts(self, token: str, audience: str) -> bool:
        return self._check_token(token, audience) is Verdict.VALID

    def set_arm_rate_limit(
        self,
        capacity: int | None = DEFAULT_CAPACITY,
        refill_per_second: float = DEFAULT_REFILL_PER_SECOND,
    ) -> None:
        """Limit v3 reads per subscription with a token bucket (by the simulator clock);
        capacity=None turns it off (the default)."""
        self._limiter.configure(capacity, refill_per_second)

    # ------------------------------------------------------------ server life

    def start(self, host: str = "127.0.0.1", port: int = 0, tls: bool = False) -> Simulator:
        """Serve on host:port (0: any free port); with `tls`, HTTPS with a certificate made
        now for 127.0.0.1, localhost, ::1 and `host`, trusted through ca_cert_path."""
        if self._server is not None:
            raise RuntimeError("simulator already started")
        files = make_tls_files((*DEFAULT_HOSTS, host)) if tls else None
        try:
            pipeline = Pipeline(self._service, self._faults, self._log, self.clock,
                                self._v3, self._aad, self._rms, self._mkio)
            self._server = SimulatorHTTPServer(
                (host, port), pipeline, lambda: self._faults.refuse_connections,
                tls=files.server_context() if files is not None else None,
            )
        except BaseException:
            if files is not None:
                files.remove()
            raise
        self._tls = files
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # also bounds how long stop() waits
            name="ams-sim-http",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop feeds (lively and events) and server; the TLS files (ca_cert_path) are
        deleted."""
        for events in self._event_feeds:
            events.stop()
        self._event_feeds.clear()
        for feed in self._feeds:
            feed.stop()
        self._feeds.clear()
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.close_connections()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        files, self._tls = self._tls, None
        if files is not None:
            with contextlib.suppress(OSError):
                files.remove()

    def __enter__(self) -> Simulator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """http://host:port, or https://host:port when started with tls=True."""
        if self._server is None:
            raise RuntimeError("simulator not started")
        host, port = self._server.server_address[:2]
        shown = host.decode() if isinstance(host, bytes) else host
        return f"{self._server.scheme}://{shown}:{port}"

    def v2_endpoint(self, account: str) -> str:
        return V2Service.endpoint(self.url, account)

    @property
    def legacy_endpoint(self) -> str:
        return f"{self.url}/api/"

    @property
    def arm_endpoint(self) -> str:
        """The ARM base URL (the server's root), e.g. for AzureMediaServices(base_url=...)."""
        return self.url

    @property
    def aad_authority(self) -> str:
        """The Azure AD authority host, e.g. for ClientSecretCredential(authority=...)."""
        return self.url

    @property
    def ca_cert_path(self) -> str | None:
        """PEM file of the CA that signed the server certificate (None without TLS)."""
        return None if self._tls is None else str(self._tls.ca_cert)

    # ------------------------------------------------------------ observation

    def request_count(
        self, account: str | None = None, kind: str | None = None, api: str | None = None
    ) -> int:
        """Requests served (any status, dropped connections too) matching all filters.

        kind: v2 jobs/job/tasks/metadata/legacy, v3 and RMS transforms/transform/jobs/job,
        aad discovery/token/keys, RMS token (/auth/token), MK.IO project_jobs/transforms/
        transform/jobs/job/job_state, or unknown; api: "v2", "v3", "aad", "rms" (sign-in
        and the ARM paths of RMS accounts) or "mkio".
        """
        return self._log.count(account, kind, api)

    @property
    def requests(self) -> list[SimRequest]:
        return self._log.entries()

    def reset_counters(self) -> None:
        self._log.reset()

    # ------------------------------------------------------------ faults

    def set_faults(
        self,
        account: str | None = None,
        *,
        error_rate: float = 0.0,
        error_status: int = 500,
        latency: float = 0.0,
        throttle_rate: float = 0.0,
        retry_after: float | None = None,
        malformed_rate: float = 0.0,
        reset_rate: float = 0.0,
    ) -> None:
        """Replace the fault settings of `account` (or the global ones, account=None).

        An account with its own settings ignores the global ones; clear_faults() undoes.
        Throttling answers 503 on v2 and 429 on v3 and RMS (there always with Retry-After:
        1 s unless `retry_after` says otherwise) and 429 on MK.IO (Retry-After only when
        `retry_after` is set). Sign-in routes (Azure AD, RMS /auth/token) get no injected
        faults.
        """
        settings = FaultSettings(
            error_rate=error_rate,
            error_status=error_status,
            latency=latency,
            throttle_rate=throttle_rate,
            retry_after=retry_after,
            malformed_rate=malformed_rate,
            reset_rate=reset_rate,
        )
        self._faults.configure(account, settings)

    def clear_faults(self, account: str | None = None) -> None:
        """Forget one account's own fault settings, or (account=None) every setting."""
        self._faults.clear(account)

    def set_down(self, down: bool = True, *, refuse_connections: bool = False) -> None:
        """Down: every request gets 500. With refuse_connections, connections are closed
        before any answer (a reset). set_down(False) ends both."""
        self._faults.down = down and not refuse_connections
        self._faults.refuse_connections = down and refuse_connections


def _unsigned_jwt(claims: dict[str, object]) -> str:
    def segment(payload: dict[str, object]) -> str:
        raw = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")

    return f"{segment({'typ': 'JWT', 'alg': 'none'})}.{segment(claims)}."
