"""Builds a running account from its configuration through its backend: the
transport (session, token provider, budget, request statistics), the job source,
and the refresher that renders its series for the metrics."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import requests

from exporter.app.config import Config
from exporter.backends.auth.credentials import CredentialFactory
from exporter.backends.base import SignIn
from exporter.backends.ratelimit import RateLimiter
from exporter.backends.registry import backend_for
from exporter.backends.settings import AccountSettings
from exporter.backends.transport import Transport
from exporter.metrics.aggregates import AccountView
from exporter.metrics.api_stats import ApiStats
from exporter.metrics.per_job import AccountRenderer
from exporter.refresh.refresher import AccountRefresher


def build_account(
    account: AccountSettings,
    config: Config,
    *,
    clock: Callable[[], float],
    session_factory: Callable[[], requests.Session],
    credentials: CredentialFactory,
    environ: Mapping[str, str],
) -> AccountView:
    backend = backend_for(account)
    stats = ApiStats()
    session = session_factory()
    sign_in = SignIn(credentials, environ, session, config.refresh.timeout, clock)
    transport = Transport(
        session,
        backend.token_provider(account, sign_in),
        timeout=config.refresh.timeout,
        max_response_bytes=config.max_response_bytes,
        limiter=RateLimiter(account.max_requests_per_second),
        observe=stats.observe,
        clock=clock,
    )
    correlation = config.metrics.correlation()
    source = backend.job_source(account, transport, config.lookback,
                                config.max_jobs_per_account, correlation_keys=correlation.keys)
    renderer = AccountRenderer(account.name, frozenset(config.metrics.exclude),
                               correlation.names)
    refresher = AccountRefresher(account, config.refresh_policy(), source, clock,
                                 render=renderer, correlation=correlation)
    return AccountView(refresher, stats, built_from(account, config))


def built_from(account: AccountSettings, config: Config) -> tuple[object, ...]:
    """What an account's client, listing and renderer are built from: the request
    timeout, the lookback, the body cap and the metrics settings (retention and
    intervals are read live from the refresher's policy)."""
    return (account, config.refresh.timeout, config.lookback, config.max_response_bytes,
            config.metrics)


def can_keep(view: AccountView, account: AccountSettings, config: Config) -> bool:
    """An account survives a reload with its jobs and counters when nothing its
    client or listing was built from has changed (the request timeout and the
    lookback are baked into those; retention and intervals are read live)."""
    return view.built_from == built_from(account, config)
