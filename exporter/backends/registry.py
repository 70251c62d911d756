"""The registered backends, and the account configuration union built from them.

Adding a backend: a folder under exporter/backends/ with its config model (a
subclass of AccountSettings with `api: Literal[...]`), its client and job source,
and a Backend subclass; then one line in BACKENDS below.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Union

from pydantic import Discriminator, Tag

from exporter.backends.ams_v2.backend import AmsV2Backend
from exporter.backends.ams_v3.backend import AmsV3Backend
from exporter.backends.base import Backend
from exporter.backends.mkio.backend import MkioBackend
from exporter.backends.settings import AccountSettings

BACKENDS: dict[str, Backend] = {backend.api: backend for backend in (
    AmsV2Backend(),
    AmsV3Backend(),
    MkioBackend(),
)}


def backend_for(account: AccountSettings) -> Backend:
    return BACKENDS[account.api]


def api_of(value: Any) -> str | None:
    """The discriminator of the account union: `api`, v2 when absent."""
    if isinstance(value, dict):
        api = value.get("api", "v2")
        return api if isinstance(api, str) else "?"
    return getattr(value, "api", None)


if TYPE_CHECKING:
    AccountConfig = AccountSettings
else:
    AccountConfig = Annotated[
        Union[tuple(Annotated[b.config_model, Tag(api)] for api, b in BACKENDS.items())],  # noqa: UP007
        Discriminator(api_of),
    ]
