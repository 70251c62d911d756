"""`ams-job-exporter --demo`: the simulator and the exporter in one process."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Sequence

from exporter.app.config import Config, build_config
from exporter.app.lifecycle import Lifecycle, ServerFactory
from exporter.metrics.exposition import Collector
from exporter.simulator import Simulator

log = logging.getLogger(__name__)

DEMO_ACCOUNT = "demo"
SIMULATOR_PORT = 10047
#: One account of each kind the exporter watches: AMS v2, AMS v3, Ravnur RMS, MK.IO.
V3_ACCOUNT, RMS_ACCOUNT, MKIO_ACCOUNT = "demo-v3", "demo-rms", "demo-mkio"
MKIO_PROJECT = "demo-project"


def demo_config(simulator: Simulator, mkio_token: str, events_secret: str) -> Config:
    """A config a new user could have written: one account of each kind, progress on,
    push events on (so changes show at once), polling as the safety net."""
    v3 = simulator.arm_account(V3_ACCOUNT)
    rms = simulator.arm_account(RMS_ACCOUNT)
    return build_config({
        "refresh": {"min_interval": "30s"},
        "events": {"enabled": True, "secrets": [events_secret]},
        "accounts": [
            {"name": DEMO_ACCOUNT, "api": "v2", "endpoint": simulator.v2_endpoint(DEMO_ACCOUNT),
             "auth": {"method": "none"}, "progress": True},
            {"name": V3_ACCOUNT, "api": "v3", "subscription_id": v3.subscription_id,
             "resource_group": v3.resource_group, "account_name": v3.account_name,
             "arm_endpoint": simulator.arm_endpoint, "auth": {"method": "none"}},
            {"name": RMS_ACCOUNT, "api": "v3", "subscription_id": rms.subscription_id,
             "resource_group": rms.resource_group, "account_name": rms.account_name,
             "arm_endpoint": simulator.rms_endpoint,
             "auth": {"method": "rms_api_key", "api_key": simulator.rms_api_key(RMS_ACCOUNT)}},
            {"name": MKIO_ACCOUNT, "api": "mkio", "project": MKIO_PROJECT,
             "endpoint": simulator.mkio_endpoint,
             "auth": {"method": "token", "token": mkio_token}},
        ],
    })


def start_demo_simulator(host: str = "127.0.0.1", port: int = SIMULATOR_PORT) -> Simulator:
    """A simulator with two hours of history and new jobs arriving all the time, on
    each kind of account."""
    simulator = Simulator(seed=1, require_auth=False)
    simulator.add_v2_account(DEMO_ACCOUNT)
    simulator.add_v3_account(V3_ACCOUNT, account_name="demov3",
                             transforms=("encode-720p", "thumbnails"))
    simulator.add_rms_account(RMS_ACCOUNT, account_name="demorms", transforms=("encode-1080p",))
    simulator.add_mkio_account(MKIO_ACCOUNT, project=MKIO_PROJECT,
                               transforms=("h264-ladder", "audio-only"))
    now = time.time()
    for account in (DEMO_ACCOUNT, V3_ACCOUNT, RMS_ACCOUNT, MKIO_ACCOUNT):
        simulator.generate_jobs(account, n=60, start=now - 7200, end=now)
        simulator.start_lively(account, rate_per_minute=12)
    try:
        return simulator.start(host=host, port=port)
    except OSError:
        return simulator.start(host=host, port=0)  # the usual port is taken: any port


def run_demo(server_factory: ServerFactory, collectors: Sequence[Collector] = ()) -> int:
    """Serve the demo until SIGINT or SIGTERM."""
    simulator = start_demo_simulator()
    try:
        token = simulator.add_mkio_token(MKIO_ACCOUNT)
        events_secret = secrets.token_urlsafe(16)
        lifecycle = Lifecycle(demo_config(simulator, token, events_secret),
                              server_factory=server_factory, collectors=collectors)
        assert lifecycle.server is not None
        lifecycle.install_signal_handlers()
        lifecycle.start()
        url = lifecycle.server.url
        # The simulator as Event Grid and as MK.IO's webhooks: changes show at once.
        simulator.start_events(f"{url}/events", secret=events_secret,
                               accounts=[V3_ACCOUNT, RMS_ACCOUNT, MKIO_ACCOUNT],
                               verify=False)
        print(f"AMS simulator:           {simulator.url} (AMS v2 and v3, Ravnur RMS, "
              "MediaKind MK.IO)", flush=True)
        print(f"Exporter metrics:        {url}/metrics", flush=True)
        print(f"Exporter landing page:   {url}/", flush=True)
        print("Jobs queue, process, finish, fail and get canceled every few seconds; the v3, "
              "RMS and MK.IO accounts push their changes to /events. Press Ctrl-C to stop.",
              flush=True)
        lifecycle.run()
    finally:
        simulator.stop()
    return 0
