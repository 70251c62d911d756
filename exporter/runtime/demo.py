"""`ams-job-exporter --demo`: the simulator and the exporter in one process."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from exporter.config.model import Config, build_config
from exporter.metrics.exposition import Collector
from exporter.runtime.lifecycle import Lifecycle, ServerFactory
from exporter.simulator import Simulator

log = logging.getLogger(__name__)

DEMO_ACCOUNT = "demo"
SIMULATOR_PORT = 10047


def demo_config(endpoint: str) -> Config:
    """A config a new user could have written: one v2 account, progress on, quick refresh."""
    return build_config({
        "refresh": {"min_interval": "5s"},
        "accounts": [{"name": DEMO_ACCOUNT, "api": "v2", "endpoint": endpoint,
                      "auth": {"method": "none"}, "progress": True}],
    })


def start_demo_simulator(host: str = "127.0.0.1", port: int = SIMULATOR_PORT) -> Simulator:
    """A simulator with two hours of history and new jobs arriving all the time."""
    simulator = Simulator(seed=1, require_auth=False)
    simulator.add_v2_account(DEMO_ACCOUNT)
    now = time.time()
    simulator.generate_jobs(DEMO_ACCOUNT, n=60, start=now - 7200, end=now)
    simulator.start_lively(DEMO_ACCOUNT, rate_per_minute=12)
    try:
        return simulator.start(host=host, port=port)
    except OSError:
        return simulator.start(host=host, port=0)  # the usual port is taken: any port


def run_demo(server_factory: ServerFactory, collectors: Sequence[Collector] = ()) -> int:
    """Serve the demo until SIGINT or SIGTERM."""
    simulator = start_demo_simulator()
    try:
        lifecycle = Lifecycle(demo_config(simulator.v2_endpoint(DEMO_ACCOUNT)),
                              server_factory=server_factory, collectors=collectors)
        assert lifecycle.server is not None
        lifecycle.install_signal_handlers()
        lifecycle.start()
        url = lifecycle.server.url
        print(f"AMS simulator (v2 API):  {simulator.v2_endpoint(DEMO_ACCOUNT)}", flush=True)
        print(f"Exporter metrics:        {url}/metrics", flush=True)
        print(f"Exporter landing page:   {url}/", flush=True)
        print("Jobs queue, process, finish, fail and get canceled every few seconds; "
              "press Ctrl-C to stop.", flush=True)
        lifecycle.run()
    finally:
        simulator.stop()
    return 0
