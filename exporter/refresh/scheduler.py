"""When refreshes run: at most one per account at a time, each in a daemon thread,
with callers waiting for them at most until a deadline."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, wait

from exporter.refresh.refresher import AccountRefresher

_log = logging.getLogger(__name__)


def in_daemon_thread(work: Callable[[], None], name: str) -> Future[None]:
    """Run `work` in a daemon thread. Refreshes are single-flight per account, so
    there is at most one per account; being daemons, a refresh stuck on a slow API
    never holds up the process when it is told to stop (a thread pool's workers
    would be joined at exit)."""
    future: Future[None] = Future()

    def run() -> None:
        if future.set_running_or_notify_cancel():
            try:
                work()
                future.set_result(None)
            except BaseException as exc:  # handed to whoever waits on the future
                future.set_exception(exc)

    threading.Thread(target=run, name=name, daemon=True).start()
    return future


class RefreshScheduler:
    """Starts the refreshes that are due and lets scrapes wait for them."""

    def __init__(self, refreshers: Sequence[AccountRefresher],
                 after_refresh: Callable[[], None] | None = None) -> None:
        self.refreshers = refreshers
        #: Runs in a refresh's thread after the refresh and before those waiting for
        #: it are released (the exposition renders the new snapshot there).
        self.after_refresh = after_refresh
        self._inflight: dict[str, Future[None]] = {}
        self._stopping = threading.Event()
        self._lock = threading.Lock()

    def refresh_due(self, timeout: float, serve_stale: bool = False) -> bool:
        """Refresh every account whose data is older than min_interval, concurrently.

        Waits at most `timeout` seconds; a refresh still running then finishes in
        the background. With `serve_stale` (a scrape), an account whose snapshot is
        younger than its max_staleness is not waited for: its refresh runs in the
        background and the scrape is answered from the snapshot at once. True when
        all that were waited for are done.
        """
        pending = []
        for refresher in self.refreshers:
            future = self._refresh_future(refresher)
            if future is not None and not (serve_stale and refresher.servable()):
                pending.append(future)
        if not pending:
            return True
        deadline = time.monotonic() + max(0.0, timeout)
        # Wait in slices, so a shutdown releases waiting scrapes at once (they then
        # answer from the snapshot).
        while not self._stopping.is_set():
            left = deadline - time.monotonic()
            _, not_done = wait(pending, timeout=max(0.0, min(left, 0.1)))
            if not not_done or left <= 0:
                return not not_done
        return False

    def start_all(self) -> None:
        """Start every refresh that is due, without waiting."""
        for refresher in self.refreshers:
            self._refresh_future(refresher)

    def _refresh_future(self, refresher: AccountRefresher) -> Future[None] | None:
        with self._lock:
            running = self._inflight.get(refresher.name)
            if running is not None and not running.done():
                return running  # single flight: join the refresh in progress
            if not refresher.is_due():
                return None
            future = in_daemon_thread(lambda: self._refresh(refresher),
                                      f"refresh-{refresher.name}")
            self._inflight[refresher.name] = future
            return future

    def _refresh(self, refresher: AccountRefresher) -> None:
        refresher.ensure_fresh()
        if self.after_refresh is not None:
            try:
                self.after_refresh()
            except Exception:  # a failed render is the next scrape's to report
                _log.warning("rendering after the refresh of %s failed", refresher.name,
                             exc_info=True)

    def stop(self) -> None:
        """Release callers waiting for refreshes; running refreshes are abandoned."""
        self._stopping.set()
