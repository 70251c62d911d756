"""The public face of the simulator: accounts and jobs, the server's life, faults, the log."""

from __future__ import annotations

import random
import threading
from types import TracebackType

from exporter.simulator.clock import Clock, SystemClock
from exporter.simulator.faults import FaultInjector, FaultSettings
from exporter.simulator.generator import generate
from exporter.simulator.http_server import SimulatorHTTPServer
from exporter.simulator.jobs import SimJob, scripted
from exporter.simulator.lively import LivelyFeed
from exporter.simulator.pipeline import Pipeline
from exporter.simulator.request_log import RequestLog, SimRequest
from exporter.simulator.store import JobStore
from exporter.simulator.v2_service import TokenValidator, V2Service
from exporter.states import JobState


class Simulator:
    """Azure Media Services v2, served over real HTTP from simulated accounts and jobs.

    Where AMS behaviour is unconfirmed, the choice made is noted in the module concerned.
    """

    def __init__(
        self,
        clock: Clock | None = None,
        seed: int = 1,
        require_auth: bool = True,
        token_validator: TokenValidator | None = None,
        request_log_limit: int = 100_000,
    ) -> None:
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.seed = seed
        self._service = V2Service(self.clock, require_auth, token_validator)
        self._faults = FaultInjector(seed)
        self._log = RequestLog(request_log_limit)
        self._batches: dict[str, int] = {}  # account -> number of seeded batches drawn
        self._feeds: list[LivelyFeed] = []
        self._server: SimulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ accounts and jobs

    def add_v2_account(self, name: str, metadata_base: str | None = None) -> None:
        """Serve an account under /v2/<name>/api/; `metadata_base` replaces that URL in
        "odata.metadata" and "__metadata" (e.g. "https://media.windows.net/api/")."""
        self._service.add_account(name, metadata_base)

    def _store(self, account: str) -> JobStore:
        return self._service.account(account).store

    def add_job(self, account: str, job: SimJob) -> None:
        self._store(account).add(job)

    def get_job(self, account: str, job_id: str) -> SimJob | None:
        return self._store(account).get(job_id)

    def script_state(self, account: str, job_id: str, state: JobState, at: float) -> None:
        """Make the job change to `state` at time `at`; later planned events are dropped."""
        self._store(account).update(job_id, lambda job: scripted(job, state, at))

    def remove_job(self, account: str, job_id: str) -> None:
        """The job disappears, as if deleted upstream."""
        self._store(account).remove(job_id)

    def _rng(self, account: str, purpose: str) -> random.Random:
        """A Random that depends only on the seed, the account and how many came before."""
        batch = self._batches.get(account, 0)
        self._batches[account] = batch + 1
        return random.Random(f"{self.seed}/{account}/{purpose}/{batch}")

    def generate_jobs(self, account: str, n: int, start: float, end: float) -> list[str]:
        """Add `n` realistic jobs created over [start, end); returns their ids."""
        store = self._store(account)
        jobs = generate(self._rng(account, "jobs"), n, start, end)
        for job in jobs:
            store.add(job)
        return [job.id for job in jobs]

    def start_lively(self, account: str, rate_per_minute: float = 20.0) -> LivelyFeed:
        """Keep creating short-lived jobs on `account` until stop()."""
        feed = LivelyFeed(
            self._store(account), self.clock, self._rng(account, "lively"), rate_per_minute
        )
        self._feeds.append(feed)
        return feed.start()

    @property
    def legacy_target(self) -> str | None:
        """Account the legacy /api/ endpoint redirects to (default: the first one added)."""
        return self._service.legacy_target

    @legacy_target.setter
    def legacy_target(self, account: str | None) -> None:
        self._service.legacy_target = account

    @property
    def token_validator(self) -> TokenValidator | None:
        return self._service.token_validator

    @token_validator.setter
    def token_validator(self, validator: TokenValidator | None) -> None:
        self._service.token_validator = validator

    # ------------------------------------------------------------ server life

    def start(self, host: str = "127.0.0.1", port: int = 0) -> Simulator:
        if self._server is not None:
            raise RuntimeError("simulator already started")
        pipeline = Pipeline(self._service, self._faults, self._log, self.clock)
        self._server = SimulatorHTTPServer(
            (host, port), pipeline, lambda: self._faults.refuse_connections
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # also bounds how long stop() waits
            name="ams-sim-http",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        for feed in self._feeds:
            feed.stop()
        self._feeds.clear()
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.close_connections()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Simulator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("simulator not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def v2_endpoint(self, account: str) -> str:
        return V2Service.endpoint(self.url, account)

    @property
    def legacy_endpoint(self) -> str:
        return f"{self.url}/api/"

    # ------------------------------------------------------------ observation

    def request_count(self, account: str | None = None, kind: str | None = None) -> int:
        """Requests served (any status, dropped connections too) matching both filters."""
        return self._log.count(account, kind)

    @property
    def requests(self) -> list[SimRequest]:
        return self._log.entries()

    def reset_counters(self) -> None:
        self._log.reset()

    # ------------------------------------------------------------ faults

    def set_faults(
        self,
        account: str | None = None,
        *,
        error_rate: float = 0.0,
        error_status: int = 500,
        latency: float = 0.0,
        throttle_rate: float = 0.0,
        retry_after: float | None = None,
        malformed_rate: float = 0.0,
        reset_rate: float = 0.0,
    ) -> None:
        """Replace the fault settings of `account` (or the global ones, account=None).

        An account with its own settings ignores the global ones; clear_faults() undoes.
        """
        settings = FaultSettings(
            error_rate=error_rate,
            error_status=error_status,
            latency=latency,
            throttle_rate=throttle_rate,
            retry_after=retry_after,
            malformed_rate=malformed_rate,
            reset_rate=reset_rate,
        )
        self._faults.configure(account, settings)

    def clear_faults(self, account: str | None = None) -> None:
        """Forget one account's own fault settings, or (account=None) every setting."""
        self._faults.clear(account)

    def set_down(self, down: bool = True, *, refuse_connections: bool = False) -> None:
        """Down: every request gets 500. With refuse_connections, connections are closed
        before any answer (a reset). set_down(False) ends both."""
        self._faults.down = down and not refuse_connections
        self._faults.refuse_connections = down and refuse_connections
