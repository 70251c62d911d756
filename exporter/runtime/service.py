"""The long-running `serve` command: signals, configuration reloads, graceful stop.

SIGTERM/SIGINT: stop accepting, answer scrapes in progress, exit (within 5 s).
SIGHUP, or a change of the config file: load it again; if it is valid, accounts
whose settings did not change keep their jobs, counters and credentials; if not,
the running configuration stays and ams_config_last_reload_successful drops to 0.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable

from exporter.config.errors import ConfigError
from exporter.config.model import Config, load_config
from exporter.runtime.exporter import Exporter
from exporter.web.server import MetricsServer

log = logging.getLogger(__name__)

#: How often the config file's modification time is checked.
WATCH_INTERVAL_SECONDS = 2.0


def _file_signature(path: str) -> tuple[float, int] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (stat.st_mtime, stat.st_size)


class Service:
    """An exporter and its HTTP server, reloadable while running."""

    def __init__(self, config_path: str, config: Config, server_factory:
                 Callable[[Exporter], MetricsServer],
                 exporter_factory: Callable[[Config], Exporter] = Exporter) -> None:
        self.config_path = config_path
        self.exporter = exporter_factory(config)
        self.server = server_factory(self.exporter)
        self._signature = _file_signature(config_path)
        self._reload = threading.Event()
        self._stop = threading.Event()

    def start(self) -> Service:
        self.server.start()
        self.exporter.start_background_refresh()
        return self

    def request_reload(self) -> None:
        self._reload.set()

    def request_stop(self) -> None:
        self._stop.set()

    def reload(self) -> bool:
        """Load the config file again; True when the new configuration is in use."""
        self._signature = _file_signature(self.config_path)
        status = self.exporter.reload_status
        try:
            config = load_config(self.config_path)
        except ConfigError as error:
            status.successful = False
            log.error("configuration reload failed, keeping the running one: %s", error)
            return False
        old, self.exporter = self.exporter, self.exporter.reconfigured(config)
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
            if self._reload.wait(WATCH_INTERVAL_SECONDS) or (
                    _file_signature(self.config_path) != self._signature):
                self._reload.clear()
                if not self._stop.is_set():
                    self.reload()
        self.server.stop()
        self.exporter.close()

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, lambda *_: self.request_stop())
        signal.signal(signal.SIGINT, lambda *_: self.request_stop())
        signal.signal(signal.SIGHUP, lambda *_: self.request_reload())
