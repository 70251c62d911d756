"""The interface every backend implements, and the job source it hands the
refresh engine.

A backend is one API family (AMS v2, AMS v3/RMS, ...). It owns its account
configuration model, the token scope and token provider of its accounts, the job
source that reads an account's jobs, and the push events its services send (their
types, how one is parsed, and the routing keys that lead it to its account).
Nothing outside `exporter.backends` branches on the `api` of an account or on an
event type: it asks the account's backend, or the registry.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import ClassVar, Generic, Protocol, TypeVar

import requests

from exporter.backends.auth.credentials import CredentialFactory
from exporter.backends.auth.tokens import TokenProvider
from exporter.backends.event_items import EventItem
from exporter.backends.settings import AccountSettings
from exporter.backends.transport import Transport
from exporter.jobs.events import JobEvent
from exporter.jobs.model import Job, JobKey, Listing

#: The account configuration model of a backend.
C = TypeVar("C", bound=AccountSettings)


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


class Backend(Generic[C]):
    """Base class of the backends, typed on the account configuration model: a
    subclass sets `api` and `config_model` and implements `token_scope` and
    `job_source`; sign-in is shared unless overridden. A backend whose services push
    job events lists their types in `event_types` and parses them in `parse_event`."""

    api: ClassVar[str]
    config_model: type[C]
    #: The push event types this API family's services send (see exporter.events.parse).
    event_types: ClassVar[frozenset[str]] = frozenset()

    def token_scope(self, account: C) -> str:
        raise NotImplementedError

    def token_provider(self, account: C, sign_in: SignIn) -> TokenProvider:
        return account.auth.token_provider(self.token_scope(account), sign_in.credentials,
                                           sign_in.environ)

    def job_source(self, account: C, transport: Transport, lookback: float,
                   max_jobs: int, correlation_keys: tuple[str, ...] = ()) -> JobSource:
        """The account's job source; its jobs carry the values of `correlation_keys`
        (metrics.correlation_labels) where the API has correlationData."""
        raise NotImplementedError

    def event_routes(self, account: C) -> tuple[str, ...]:
        """The routing keys push events for this account carry (JobEvent.routes):
        none when the API family sends no events."""
        return ()

    def parse_event(self, item: EventItem) -> JobEvent:
        """One delivered event of a type in `event_types`; raises ValueError
        (MalformedEvent) when it does not say which job, when or what."""
        raise NotImplementedError
