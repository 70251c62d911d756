"""Wires a configuration into accounts, a private registry and refresh scheduling."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

import requests
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

from exporter.account import AccountRefresher
from exporter.api_stats import ApiStats
from exporter.auth import (
    V2_SCOPE,
    CredentialToken,
    NoToken,
    TokenFile,
    TokenProvider,
    default_credential,
)
from exporter.collector import AccountView, JobCollector
from exporter.config import AccountConfig, AuthConfig, Config
from exporter.ratelimit import RateLimiter
from exporter.transport import Transport
from exporter.v2_client import V2Client
from exporter.v2_source import V2Source

CredentialFactory = Callable[[AuthConfig], Any]


def azure_credential(auth: AuthConfig) -> Any:
    """The azure-identity credential for an auth section (method `default`)."""
    return default_credential(auth.options.get("client_id"), auth.options.get("authority_host"))


def make_token_provider(
    account: AccountConfig,
    clock: Callable[[], float],
    credential_factory: CredentialFactory = azure_credential,
) -> TokenProvider:
    method = account.auth.method
    if method == "none":
        return NoToken()
    if method == "token_file":
        return TokenFile(account.auth.options["path"])
    return CredentialToken(credential_factory(account.auth), V2_SCOPE, clock,
                           describe=f"auth method {method}")


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
        credential_factory: CredentialFactory = azure_credential,
    ) -> None:
        self.config = config
        self.clock = clock
        self.views: list[AccountView] = []
        for account in config.accounts:
            stats = ApiStats()
            transport = Transport(
                session_factory(),
                make_token_provider(account, clock, credential_factory),
                timeout=config.refresh.timeout,
                limiter=RateLimiter(account.max_requests_per_second),
                observe=stats.observe,
            )
            source = V2Source(account, V2Client(account.endpoint, transport,
                                                account.odata_format), config.lookback)
            self.views.append(AccountView(AccountRefresher(account, config, source, clock), stats))
        self.registry = CollectorRegistry()
        self.registry.register(JobCollector(self.views, clock))
        self._pool = ThreadPoolExecutor(max_workers=max(2, len(self.views)),
                                        thread_name_prefix="refresh")
        self._inflight: dict[str, Future[None]] = {}
        self._lock = threading.Lock()

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
        _, not_done = wait(pending, timeout=max(0.0, limit))
        return not not_done

    def _refresh_future(self, refresher: AccountRefresher) -> Future[None] | None:
        with self._lock:
            running = self._inflight.get(refresher.name)
            if running is not None and not running.done():
                return running  # single flight: join the refresh in progress
            if not refresher.is_due():
                return None
            future = self._pool.submit(refresher.ensure_fresh)
            self._inflight[refresher.name] = future
            return future

    def start_background_refresh(self) -> None:
        """The first refresh of every account, so /readyz turns ready without a scrape."""
        for refresher in self.refreshers:
            self._refresh_future(refresher)

    def ready(self) -> bool:
        return all(r.status.attempts > 0 for r in self.refreshers)

    def exposition(self, accept: str = "") -> tuple[bytes, str]:
        encoder, content_type = choose_encoder(accept)
        return encoder(self.registry), content_type

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
