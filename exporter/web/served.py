"""What the HTTP layer serves, as a protocol: the web layer sits below the
application that assembles an exporter (exporter.app.exporter.Exporter implements
this), so it names only what it uses."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from exporter.events.receiver import EventReceiver
from exporter.refresh.refresher import AccountRefresher
from exporter.web.rejections import HttpRejections


class Served(Protocol):
    #: The push receiver when events are enabled, else None.
    events: EventReceiver | None
    #: Requests refused before routing; kept across configuration reloads.
    http_rejections: HttpRejections

    @property
    def refreshers(self) -> Sequence[AccountRefresher]:
        """The accounts, for the landing page."""
        ...

    @property
    def scrape_timeout(self) -> float:
        """The longest a scrape waits for due refreshes (refresh.timeout)."""
        ...

    def refresh_due(self, timeout: float | None = None,
                    serve_stale: bool = False) -> bool: ...

    def exposition(self, accept: str = "", gzip_ok: bool = False,
                   serve_stale: bool = False) -> tuple[list[bytes], str, str | None]: ...

    def ready(self) -> bool: ...

    def begin_stop(self) -> None: ...
