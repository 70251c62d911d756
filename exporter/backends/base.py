"""The interface every backend implements, and the job source it hands the
refresh engine.

A backend is one API family (AMS v2, AMS v3/RMS, ...). It owns its account
configuration model, the token scope and token provider of its accounts, and the
job source that reads an account's jobs. Nothing outside `exporter.backends`
branches on the `api` of an account: it asks the account's backend.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

import requests

from exporter.backends.auth.credentials import CredentialFactory
from exporter.backends.auth.tokens import TokenProvider, token_provider_for
from exporter.backends.settings import AccountSettings
from exporter.backends.transport import Transport
from exporter.jobs.model import Job, JobKey, Listing


@dataclass(frozen=True)
class SignIn:
    """What token providers are built with: azure-identity credentials, the
    environment, and the account's HTTP session and request timeout (for sign-ins
    that are HTTP requests of their own, such as RMS's API key exchange)."""

    credentials: CredentialFactory
    environ: Mapping[str, str]
    session: requests.Session
    timeout: float
    #: The clock of tokens whose expiry the sign-in server sets (RMS): the
    #: exporter's clock, so a simulated server and the exporter agree on time.
    clock: Callable[[], float] = time.time


class JobSource(Protocol):
    """One API family's way of reading an account's jobs."""

    @property
    def known_transforms(self) -> tuple[str, ...]:
        """Transforms to report aggregates for, zeros included ("" when the API has none)."""
        ...

    def fetch_all(self, now: float) -> Listing:
        """Every selected job as the API has it now (a full listing)."""
        ...

    def fetch_changed(self, since: float) -> Listing | None:
        """Jobs modified after `since` plus every active job; None when the
        selection cannot be synced incrementally (then a full listing is made)."""
        ...

    def fetch_keys(self, keys: list[JobKey]) -> Listing:
        """These jobs, batched; jobs that no longer exist are absent."""
        ...

    def enrich(self, jobs: dict[JobKey, Job], previous: dict[JobKey, Job]) -> None:
        """Add details that need more requests (progress, error codes), in place."""
        ...


class Backend:
    """Base class of the backends: subclasses set `api` and `config_model` and
    implement `token_scope` and `job_source`; sign-in is shared unless overridden."""

    api: str
    config_model: type[AccountSettings]

    def token_scope(self, account: AccountSettings) -> str:
        raise NotImplementedError

    def token_provider(self, account: AccountSettings, sign_in: SignIn) -> TokenProvider:
        return token_provider_for(account.auth, self.token_scope(account), sign_in.credentials,
                                  sign_in.environ)

    def job_source(self, account: AccountSettings, transport: Transport, lookback: float,
                   max_jobs: int) -> JobSource:
        raise NotImplementedError

    def event_routes(self, account: AccountSettings) -> tuple[str, ...]:
        """The routing keys push events for this account carry (see
        exporter.events.parse): none when the API family sends no events."""
        return ()

    def endpoint(self, account: AccountSettings) -> str:
        """The base URL the account's requests go to (for the landing page)."""
        raise NotImplementedError
