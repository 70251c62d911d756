"""The public face of the simulator: accounts and jobs, the server's life, faults, the log.

One server plays three services: AMS v2 (OData, `/v2/<account>/api/`), AMS v3 through
Azure Resource Manager (`/subscriptions/...`) and Azure AD's token endpoint
(`/<tenant>/oauth2/v2.0/token`). Accounts of both generations share one name space and
the same lifecycle engine (SimJob timelines, stores, generator, lively feeds, faults,
request log).
"""

from __future__ import annotations

import contextlib
import random
import threading
from dataclasses import dataclass
from types import TracebackType

from exporter.jobs.states import JobState
from exporter.simulator.aad import AadService
from exporter.simulator.clock import Clock, SystemClock
from exporter.simulator.faults import FaultInjector, FaultSettings
from exporter.simulator.generator import V3, generate
from exporter.simulator.http_server import SimulatorHTTPServer
from exporter.simulator.jobs import SimJob, scripted, view_job
from exporter.simulator.lively import MAX_JOBS_V3, LivelyFeed
from exporter.simulator.pipeline import Pipeline
from exporter.simulator.request_log import RequestLog, SimRequest
from exporter.simulator.store import JobStore
from exporter.simulator.tls import DEFAULT_HOSTS, TlsFiles, make_tls_files
from exporter.simulator.token_bucket import (
    DEFAULT_CAPACITY,
    DEFAULT_REFILL_PER_SECOND,
    ReadLimiter,
)
from exporter.simulator.tokens import TokenRegistry, Verdict
from exporter.simulator.v2_service import TokenValidator, V2Service
from exporter.simulator.v3_service import (
    DEFAULT_RESOURCE_GROUP,
    DEFAULT_SUBSCRIPTION,
    V3Account,
    V3Service,
)
from exporter.simulator.v3_service import add_job as add_v3_job

TRANSFORM_AGE_SECONDS = 30 * 86400  # a transform's default age when added


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
    ) -> None:
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.seed = seed
        # Off by default so tests with made-up tokens keep working; when on, the v2
        # routes accept only unexpired tokens issued here for https://rest.media.azure.net
        # and the v3 routes only those for https://management.azure.com.
        self.require_issued_tokens = False
        self._token_validator = token_validator
        self._tokens = TokenRegistry()
        self._limiter = ReadLimiter()
        self._service = V2Service(self.clock, require_auth, self._v2_accepts)
        self._v3 = V3Service(self.clock, require_auth, self._check_token, self._limiter)
        self._aad = AadService(self.clock, self._tokens)
        self._faults = FaultInjector(seed)
        self._log = RequestLog(request_log_limit)
        self._batches: dict[str, int] = {}  # account -> number of seeded batches drawn
        self._feeds: list[LivelyFeed] = []
        self._server: SimulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._tls: TlsFiles | None = None

    # ------------------------------------------------------------ accounts and jobs

    def add_v2_account(self, name: str, metadata_base: str | None = None) -> None:
        """Serve an account under /v2/<name>/api/; `metadata_base` replaces that URL in
        "odata.metadata" and "__metadata" (e.g. "https://media.windows.net/api/")."""
        if name in self._v3.accounts:
            raise ValueError(f"account {name!r} already exists")
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
        if name in self._service.accounts:
            raise ValueError(f"account {name!r} already exists")
        self._v3.add_account(name, subscription_id, resource_group, account_name or name)
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
        self._v3.add_transform(account, transform, created, description, preset)

    def transforms(self, account: str) -> list[str]:
        """A v3 account's transform names, in the order they were added."""
        return [t.name for t in self._v3.account(account).transform_list()]

    def arm_account(self, account: str) -> ArmAccount:
        v3 = self._v3.account(account)
        return ArmAccount(v3.subscription_id, v3.resource_group, v3.account_name,
                          v3.resource_id)

    def _v3_account(self, account: str) -> V3Account | None:
        if account in self._v3.accounts:
            return self._v3.accounts[account]
        if account in self._service.accounts:
            return None
        raise KeyError(f"unknown account {account!r}")

    def _store(self, account: str, job_id: str | None = None,
               transform: str | None = None) -> JobStore:
        """The store holding (or to hold) a job: the v2 account's, or a v3 transform's.

        On v3, `transform=None` means the transform that has `job_id`, or (adding,
        job_id=None) the account's first transform.
        """
        v3 = self._v3_account(account)
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
        """Add a job; on a v3 account `job.id` is its name and it goes to `transform`
        (default: the account's first transform, "encode-720p" unless changed)."""
        v3 = self._v3_account(account)
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
        v3 = self._v3_account(account)
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
        jobs = generate(rng, n, start, end, V3)
        for job in jobs:
            add_v3_job(targets[0] if len(targets) == 1 else rng.choice(targets), job)
        return [job.id for job in jobs]

    def start_lively(self, account: str, rate_per_minute: float = 20.0) -> LivelyFeed:
        """Keep creating short-lived jobs on `account` (v3: over its transforms) until stop()."""
        v3 = self._v3_account(account)
        rng = self._rng(account, "lively")
        if v3 is None:
            feed = LivelyFeed(self._store(account), self.clock, rng, rate_per_minute)
        else:
            feed = LivelyFeed(v3.stores(), self.clock, rng, rate_per_minute,
                              flavor=V3, max_jobs=MAX_JOBS_V3)
        self._feeds.append(feed)
        return feed.start()

    @property
    def legacy_target(self) -> str | None:
        """Account the legacy /api/ endpoint redirects to (default: the first one added)."""
        return self._service.legacy_target

    @legacy_target.setter
    def legacy_target(self, account: str | None) -> None:
        self._service.legacy_target = account

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
                                self._v3, self._aad)
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
        """Stop feeds and server; the TLS files (ca_cert_path) are deleted."""
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

        kind: v2 jobs/job/tasks/metadata/legacy, v3 transforms/transform/jobs/job,
        aad discovery/token/keys, or unknown; api: "v2", "v3" or "aad".
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
        Throttling answers 503 on v2 and 429 on v3 (there always with Retry-After: 1 s
        unless `retry_after` says otherwise). Azure AD routes get no injected faults.
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

