"""The one lifecycle of a running exporter: start, reload, stop.

`serve`, `--demo` and `once` all go through it. It owns the Exporter of the current
configuration and, when serving, the HTTP server; it calls down into them and
nothing calls back up into it except through `request_reload`/`request_stop`.

SIGTERM/SIGINT: stop accepting, answer scrapes in progress, exit (within 5 s).
SIGHUP, or a change of the config file: load it again; if it is valid, accounts
whose settings did not change keep their jobs, counters and credentials; if not,
the running configuration stays and ams_config_last_reload_successful drops to 0.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Sequence

from prometheus_client.registry import Collector

from exporter.app.config import Config, load_config
from exporter.app.exporter import Exporter
from exporter.common.files import WatchedFile
from exporter.common.sharding import Sharding
from exporter.config.errors import ConfigError
from exporter.web.server import MetricsServer

log = logging.getLogger(__name__)

#: How often the config file is checked for changes.
WATCH_INTERVAL_SECONDS = 2.0

ServerFactory = Callable[[Exporter], MetricsServer]


class Lifecycle:
    """A configuration (from a file, reloadable, or given), the Exporter built from
    it, and optionally the HTTP server that serves it."""

    def __init__(self, config: Config, *, config_path: str | None = None,
                 server_factory: ServerFactory | None = None,
                 collectors: Sequence[Collector] = (),
                 sharding: Sharding | None = None) -> None:
        self.exporter = Exporter(config, collectors=collectors, sharding=sharding)
        self.server = server_factory(self.exporter) if server_factory is not None else None
        self._watched = WatchedFile(config_path) if config_path else None
        self._reload = threading.Event()
        self._stop = threading.Event()

    @classmethod
    def from_file(cls, path: str, *, server_factory: ServerFactory | None = None,
                  collectors: Sequence[Collector] = (),
                  sharding: Sharding | None = None) -> Lifecycle:
        """Raises ConfigError for an invalid file (the caller exits 2)."""
        return cls(load_config(path), config_path=path, server_factory=server_factory,
                   collectors=collectors, sharding=sharding)

    def start(self) -> Lifecycle:
        if self.server is not None:
            self.server.start()
        self.exporter.start_background_refresh()
        return self

    def collect_once(self) -> str:
        """One collection: refresh every account (within refresh.timeout), then the
        exposition as text."""
        self.exporter.refresh_due()
        return self.exporter.text()

    def request_reload(self) -> None:
        self._reload.set()

    def request_stop(self) -> None:
        self._stop.set()

    def reload(self) -> bool:
        """Load the config file again; True when the new configuration is in use."""
        if self._watched is None:
            return False
        self._watched.mark()
        status = self.exporter.reload_status
        try:
            config = load_config(self._watched.path)
        except ConfigError as error:
            status.successful = False
            log.error("configuration reload failed, keeping the running one: %s", error)
            return False
        old, self.exporter = self.exporter, self.exporter.reconfigured(config)
        if self.server is not None:
            self.server.set_exporter(self.exporter)
        self.exporter.start_background_refresh()
        old.close()
        status.successful = True
        status.last_success = time.time()
        log.info("configuration reloaded: %d account(s)", len(config.accounts))
        return True

    def run(self) -> None:
        """Serve until asked to stop; reload on request or when the file changes."""
        while not self._stop.is_set():
            requested = self._reload.wait(WATCH_INTERVAL_SECONDS)
            if requested or (self._watched is not None and self._watched.changed()):
                self._reload.clear()
                if not self._stop.is_set():
                    self.reload()
        self.stop()

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
        self.exporter.close()

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, lambda *_: self.request_stop())
        signal.signal(signal.SIGINT, lambda *_: self.request_stop())
        signal.signal(signal.SIGHUP, lambda *_: self.request_reload())
