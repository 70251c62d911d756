"""The registered backends, the account configuration union built from them, and
the backend of each push event type.

Adding a backend: a folder under exporter/backends/ with its config model (a
subclass of AccountSettings with `api: Literal[...]`), its client and job source,
its event parsing if its services push events, and a Backend subclass; then one
line in BACKENDS below.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from exporter.backends.ams_v2.backend import AmsV2Backend
from exporter.backends.ams_v3.backend import AmsV3Backend
from exporter.backends.base import Backend
from exporter.backends.mkio.backend import MkioBackend
from exporter.backends.settings import AccountSettings
from exporter.backends.unions import tagged_union

BACKENDS: dict[str, Backend[Any]] = {backend.api: backend for backend in (
    AmsV2Backend(),
    AmsV3Backend(),
    MkioBackend(),
)}


def backend_for(account: AccountSettings) -> Backend[Any]:
    return BACKENDS[account.api]


def by_event_type(backends: Iterable[Backend[Any]]) -> dict[str, Backend[Any]]:
    """{event type: the backend that parses it}; a type claimed twice is an error."""
    table: dict[str, Backend[Any]] = {}
    for backend in backends:
        for event_type in backend.event_types:
            if event_type in table:
                raise ValueError(f"event type {event_type} is claimed by the "
                                 f"{table[event_type].api} and {backend.api} backends")
            table[event_type] = backend
    return table


_EVENT_BACKENDS = by_event_type(BACKENDS.values())


def backend_for_event(event_type: str) -> Backend[Any] | None:
    """The backend whose services send events of this type; None for other
    services' events."""
    return _EVENT_BACKENDS.get(event_type)


if TYPE_CHECKING:
    AccountConfig = AccountSettings
else:
    #: An account without `api` is an AMS v2 account, as in the seed document.
    AccountConfig = tagged_union({api: b.config_model for api, b in BACKENDS.items()}, "api",
                                 "v2")
