"""Wires a configuration into accounts, a private registry and refresh scheduling."""

from __future__ import annotations

import gzip
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, wait

import requests
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import Metric

from exporter.account import AccountRefresher, JobSource, Snapshot
from exporter.api_stats import ApiStats
from exporter.auth import CredentialToken, NoToken, TokenFile, TokenProvider, scope_for
from exporter.collector import AccountView, ReloadStatus, SummaryCollector
from exporter.config import AccountConfig, Config
from exporter.credentials import CredentialBuilder, CredentialFactory, failure_hint
from exporter.exposition import gzip_member, per_job_members
from exporter.ratelimit import RateLimiter
from exporter.render_cache import RenderCache
from exporter.transport import Transport
from exporter.v2_client import V2Client
from exporter.v2_source import V2Source
from exporter.v3_client import V3Client
from exporter.v3_source import V3Source


def make_token_provider(
    account: AccountConfig,
    credential_factory: CredentialFactory,
    environ: Mapping[str, str],
) -> TokenProvider:
    method = account.auth.method
    if method == "none":
        return NoToken()
    if method == "token_file":
        return TokenFile(account.auth.options["path"])
    # Token lifetimes are real time (azure-identity reports expiry as Unix time),
    # whatever clock drives the job ages.
    return CredentialToken(
        lambda: credential_factory(account.auth),
        scope_for(account.api, account.endpoint),
        time.time,
        describe=f"auth method {method}",
        hint=failure_hint(account.auth, environ),
    )


def make_source(account: AccountConfig, config: Config, transport: Transport) -> JobSource:
    if account.api == "v3":
        client = V3Client(account.endpoint, account.subscription_id, account.resource_group,
                          account.account_name, transport)
        return V3Source(account, client, config.lookback)
    return V2Source(account, V2Client(account.endpoint, transport, account.odata_format),
                    config.lookback)


def _can_keep(refresher: AccountRefresher, account: AccountConfig, config: Config) -> bool:
    """An account survives a reload with its jobs and counters when nothing its
    client or listing was built from has changed (the request timeout and the
    lookback are baked into those; retention and intervals are read live)."""
    old = refresher.config
    return (refresher.account == account and old.refresh.timeout == config.refresh.timeout
            and old.lookback == config.lookback)


def _in_daemon_thread(work: Callable[[], None], name: str) -> Future[None]:
    """Run `work` in a daemon thread. Refreshes are single-flight per account, so
    there is at most one per account; being daemons, a refresh stuck on a slow API
    never holds up the process when it is told to stop (a thread pool's workers
    would be joined at exit)."""
    future: Future[None] = Future()

    def run() -> None:
        if future.set_running_or_notify_cancel():
            try:
                future.set_result(work())
            except BaseException as exc:  # handed to whoever waits on the future
                future.set_exception(exc)

    threading.Thread(target=run, name=name, daemon=True).start()
    return future


class _Families:
    """Adapts already-built families to the `collect()` that encoders call."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = list(families)

    def collect(self) -> list[Metric]:
        return self._families


class Exporter:
    """The running exporter minus its HTTP server: accounts, registry, refreshes.

    The clock, the HTTP session factory and the credential factory are injected so
    tests drive everything with the simulator and a manual clock.
    """

    def __init__(
        self,
        config: Config,
        *,
        clock: Callable[[], float] = time.time,
        session_factory: Callable[[], requests.Session] = requests.Session,
        credential_factory: CredentialFactory | None = None,
        environ: Mapping[str, str] | None = None,
        reuse: Mapping[str, AccountView] | None = None,
        reload_status: ReloadStatus | None = None,
    ) -> None:
        environ = os.environ if environ is None else environ
        credential_factory = credential_factory or CredentialBuilder(environ)
        self._session_factory = session_factory
        self._credential_factory = credential_factory
        self._environ = environ
        self.config = config
        self.clock = clock
        self.views: list[AccountView] = []
        self.reload_status = reload_status or ReloadStatus()
        for account in config.accounts:
            kept = (reuse or {}).get(account.name)
            if kept is not None and _can_keep(kept.refresher, account, config):
                kept.refresher.config = config  # new retention/refresh settings apply
                self.views.append(kept)
                continue
            stats = ApiStats()
            transport = Transport(
                session_factory(),
                make_token_provider(account, credential_factory, environ),
                timeout=config.refresh.timeout,
                limiter=RateLimiter(account.max_requests_per_second),
                observe=stats.observe,
                clock=clock,
            )
            refresher = AccountRefresher(account, config, make_source(account, config, transport),
                                         clock)
            self.views.append(AccountView(refresher, stats))
        self.summary = SummaryCollector(self.views, clock, self.reload_status)
        self._inflight: dict[str, Future[None]] = {}
        self._renders = RenderCache(self._render_per_job)
        self._stopping = threading.Event()
        self._lock = threading.Lock()

    def reconfigured(self, config: Config) -> Exporter:
        """An exporter for a new configuration that keeps the snapshots, counters and
        credentials of every account whose settings did not change."""
        return Exporter(config, clock=self.clock, session_factory=self._session_factory,
                        credential_factory=self._credential_factory, environ=self._environ,
                        reuse={v.refresher.name: v for v in self.views},
                        reload_status=self.reload_status)

    @property
    def refreshers(self) -> list[AccountRefresher]:
        return [view.refresher for view in self.views]

    def refresh_due(self, timeout: float | None = None) -> bool:
        """Refresh every account whose data is older than min_interval, concurrently.

        Waits at most `timeout` seconds (default: refresh.timeout); a refresh that is
        still running then finishes in the background. True when all are done.
        """
        futures = [self._refresh_future(r) for r in self.refreshers]
        pending = [f for f in futures if f is not None]
        if not pending:
            return True
        limit = self.config.refresh.timeout if timeout is None else timeout
        deadline = time.monotonic() + max(0.0, limit)
        # Wait in slices, so a shutdown releases waiting scrapes at once (they then
        # answer from the snapshot).
        while not self._stopping.is_set():
            left = deadline - time.monotonic()
            _, not_done = wait(pending, timeout=max(0.0, min(left, 0.1)))
            if not not_done or left <= 0:
                return not not_done
        return False

    def _refresh_future(self, refresher: AccountRefresher) -> Future[None] | None:
        with self._lock:
            running = self._inflight.get(refresher.name)
            if running is not None and not running.done():
                return running  # single flight: join the refresh in progress
            if not refresher.is_due():
                return None
            future = _in_daemon_thread(refresher.ensure_fresh, f"refresh-{refresher.name}")
            self._inflight[refresher.name] = future
            return future

    def start_background_refresh(self) -> None:
        """The first refresh of every account, so /readyz turns ready without a scrape."""
        for refresher in self.refreshers:
            self._refresh_future(refresher)

    def ready(self) -> bool:
        return all(r.status.attempts > 0 for r in self.refreshers)

    def exposition(self, accept: str = "",
                   gzip_ok: bool = False) -> tuple[list[bytes], str, str | None]:
        """(body parts, content type, content encoding) of a scrape, from one
        consistent set of snapshots: the per-job families from the cached gzip
        members, the summary families through prometheus_client's encoder (text or
        OpenMetrics). The parts are written one after the other, never joined, so a
        scrape of a large account copies nothing."""
        now = self.clock()
        snapshots = [view.refresher.snapshot for view in self.views]
        encoder, content_type = choose_encoder(accept)
        summary = encoder(_Families(self.summary.families(snapshots, now)))
        parts = [*self._per_job_body(snapshots, now), gzip_member([summary.decode("utf-8")])]
        if gzip_ok:
            return parts, content_type, "gzip"
        return [gzip.decompress(part) for part in parts], content_type, None

    def _per_job_body(self, snapshots: list[Snapshot], now: float) -> list[bytes]:
        return self._renders.get(snapshots, tuple(s.generation for s in snapshots), now)

    @staticmethod
    def _render_per_job(snapshots: Sequence[Snapshot], now: float) -> list[bytes]:
        """The members, not joined: the cached blocks are shared, not copied."""
        return list(per_job_members([s.rendered for s in snapshots], now))

    def text(self) -> str:
        """The exposition in the text format (for `once` and tests)."""
        return b"".join(self.exposition()[0]).decode("utf-8")

    def begin_stop(self) -> None:
        """Release scrapes waiting for refreshes; running refreshes are abandoned."""
        self._stopping.set()

    def close(self) -> None:
        self.begin_stop()
