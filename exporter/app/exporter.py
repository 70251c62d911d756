"""One configuration at work: its accounts, their refreshes and the exposition.

The clock, the HTTP session factory and the credential factory are injected so
tests drive everything with the simulator and a manual clock. A reload builds a
new Exporter that keeps the accounts whose settings did not change.
"""

from __future__ import annotations

import gzip
import os
import time
from collections.abc import Callable, Mapping, Sequence

import requests
from prometheus_client import ProcessCollector
from prometheus_client.registry import Collector

from exporter.app.accounts import build_account, can_keep
from exporter.app.config import Config
from exporter.backends.auth.credentials import CredentialBuilder, CredentialFactory
from exporter.common.sharding import Sharding
from exporter.events.auth import DeliveryAuth
from exporter.events.forward import Forwarder
from exporter.events.receiver import EventReceiver, EventStats
from exporter.metrics.aggregates import AccountView, ReloadStatus
from exporter.metrics.exposition import Exposition
from exporter.refresh.refresher import AccountRefresher
from exporter.refresh.scheduler import RefreshScheduler
from exporter.web.rejections import HttpRejections

#: The process metrics are the same for every Exporter of the process.
_PROCESS = ProcessCollector(registry=None)


class Exporter:
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
        collectors: Sequence[Collector] = (),
        event_stats: EventStats | None = None,
        http_rejections: HttpRejections | None = None,
        sharding: Sharding | None = None,
    ) -> None:
        self._environ = os.environ if environ is None else environ
        self._credentials = credential_factory or CredentialBuilder(self._environ)
        self._session_factory = session_factory
        self.config = config
        self.clock = clock
        self.collectors = collectors
        self.reload_status = reload_status or ReloadStatus()
        self.sharding = sharding or Sharding()
        self.views: list[AccountView] = []
        for account in config.accounts:
            if not self.sharding.owns(account.name):
                continue  # another shard refreshes and exports it
            kept = (reuse or {}).get(account.name)
            if kept is not None and can_keep(kept, account, config):
                kept.refresher.policy = config.refresh_policy()  # applies live
                self.views.append(kept)
                continue
            self.views.append(build_account(
                account, config, clock=clock, session_factory=session_factory,
                credentials=self._credentials, environ=self._environ))
        self.scheduler = RefreshScheduler(self.refreshers, after_refresh=self._prerender)
        self.event_stats = event_stats or EventStats()
        #: Requests the HTTP server refused before routing them (exporter.web.server).
        self.http_rejections = http_rejections or HttpRejections()
        collectors = (*collectors, self.http_rejections)
        self.events: EventReceiver | None = None
        if config.events.enabled:
            forwarder = None
            if self.sharding.enabled:
                forwarder = Forwarder(config.events, self.sharding, config.accounts,
                                      session_factory())
            self.events = EventReceiver(config.events, self.refreshers,
                                        DeliveryAuth(config.events, session_factory(), clock),
                                        self.event_stats, clock, forwarder)
            collectors = (*collectors, self.event_stats)
        if self.sharding.enabled:
            collectors = (*collectors, self.sharding)
        self.exposition_builder = Exposition(
            self.views, clock, self.reload_status, _PROCESS, frozenset(config.metrics.exclude),
            collectors, correlation_labels=config.metrics.correlation().names)

    def reconfigured(self, config: Config) -> Exporter:
        """An exporter for a new configuration that keeps the snapshots, counters and
        credentials of every account whose settings did not change."""
        return Exporter(config, clock=self.clock, session_factory=self._session_factory,
                        credential_factory=self._credentials, environ=self._environ,
                        reuse={v.refresher.name: v for v in self.views},
                        reload_status=self.reload_status, collectors=self.collectors,
                        event_stats=self.event_stats,
                        http_rejections=self.http_rejections, sharding=self.sharding)

    @property
    def scrape_timeout(self) -> float:
        return self.config.refresh.timeout

    @property
    def refreshers(self) -> list[AccountRefresher]:
        return [view.refresher for view in self.views]

    def refresh_due(self, timeout: float | None = None, serve_stale: bool = False) -> bool:
        """Refresh the accounts that are due, waiting at most `timeout` seconds
        (default: refresh.timeout); with `serve_stale` (a scrape), not for accounts
        whose snapshot is younger than refresh.max_staleness. True when all that were
        waited for are done."""
        return self.scheduler.refresh_due(
            self.config.refresh.timeout if timeout is None else timeout, serve_stale)

    def start_background_refresh(self) -> None:
        """The first refresh of every account, so /readyz turns ready without a scrape."""
        self.scheduler.start_all()

    def ready(self) -> bool:
        return all(r.status.attempts > 0 for r in self.refreshers)

    def _prerender(self) -> None:
        self.exposition_builder.prerender()

    def exposition(self, accept: str = "", gzip_ok: bool = False,
                   serve_stale: bool = False) -> tuple[list[bytes], str, str | None]:
        """(body parts, content type, content encoding) of a scrape: gzip members,
        one per part, with encoding "gzip" (send as they are) or IDENTITY (decode
        while writing); see Exposition.body."""
        return self.exposition_builder.body(accept, gzip_ok, serve_stale)

    def text(self) -> str:
        """The exposition in the text format (for `once` and tests)."""
        return gzip.decompress(b"".join(self.exposition()[0])).decode("utf-8")

    def begin_stop(self) -> None:
        """Release scrapes waiting for refreshes; running refreshes are abandoned."""
        self.scheduler.stop()

    def close(self) -> None:
        self.begin_stop()
