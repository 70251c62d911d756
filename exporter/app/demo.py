"""`ams-job-exporter --demo`: the simulator and the exporter in one process."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client.registry import Collector

from exporter.app.config import Config, build_config
from exporter.app.lifecycle import Lifecycle, ServerFactory
from exporter.simulator import Simulator

log = logging.getLogger(__name__)

SIMULATOR_PORT = 10047


@dataclass(frozen=True)
class DemoAccount:
    """One account of the demo: how the simulator serves it, and its entry in the
    configuration, as a new user would write it."""

    name: str
    #: Adds the account to the simulator (before it starts).
    serve: Callable[[Simulator, str], object]
    #: The account's keys besides its name (once the simulator listens).
    settings: Callable[[Simulator, str], dict[str, Any]]
    #: Whether the simulator pushes its job events to the exporter.
    pushes_events: bool = True


def _arm_settings(simulator: Simulator, name: str) -> dict[str, Any]:
    arm = simulator.arm_account(name)
    return {"api": "v3", "subscription_id": arm.subscription_id,
            "resource_group": arm.resource_group, "account_name": arm.account_name}


#: One account of each kind the exporter watches: AMS v2, AMS v3, Ravnur RMS, MK.IO.
DEMO_ACCOUNTS = (
    DemoAccount(
        "demo", lambda sim, name: sim.add_v2_account(name),
        lambda sim, name: {"api": "v2", "endpoint": sim.v2_endpoint(name),
                           "auth": {"method": "none"}, "progress": True},
        pushes_events=False),
    DemoAccount(
        "demo-v3", lambda sim, name: sim.add_v3_account(
            name, account_name="demov3", transforms=("encode-720p", "thumbnails")),
        lambda sim, name: {**_arm_settings(sim, name), "arm_endpoint": sim.arm_endpoint,
                           "auth": {"method": "none"}}),
    DemoAccount(
        "demo-rms", lambda sim, name: sim.add_rms_account(
            name, account_name="demorms", transforms=("encode-1080p",)),
        lambda sim, name: {**_arm_settings(sim, name), "arm_endpoint": sim.rms_endpoint,
                           "auth": {"method": "rms_api_key",
                                    "api_key": sim.rms_api_key(name)}}),
    DemoAccount(
        "demo-mkio", lambda sim, name: sim.add_mkio_account(
            name, project="demo-project", transforms=("h264-ladder", "audio-only")),
        lambda sim, name: {"api": "mkio", "project": sim.mkio_project(name),
                           "endpoint": sim.mkio_endpoint,
                           "auth": {"method": "token", "token": sim.add_mkio_token(name)}}),
)


def demo_config(simulator: Simulator, events_secret: str) -> Config:
    """A config a new user could have written: one account of each kind, progress on,
    push events on (so changes show at once), polling as the safety net, and the
    simulated jobs' customers as the `tenant` label."""
    return build_config({
        "refresh": {"min_interval": "30s"},
        "metrics": {"correlation_labels": {"tenant": "customerId"}},
        "events": {"enabled": True, "secrets": [events_secret]},
        "accounts": [{"name": account.name, **account.settings(simulator, account.name)}
                     for account in DEMO_ACCOUNTS],
    })


def start_demo_simulator(host: str = "127.0.0.1", port: int = SIMULATOR_PORT) -> Simulator:
    """A simulator with two hours of history and new jobs arriving all the time, on
    each kind of account."""
    simulator = Simulator(seed=1, require_auth=False)
    now = time.time()
    for account in DEMO_ACCOUNTS:
        account.serve(simulator, account.name)
        simulator.generate_jobs(account.name, n=60, start=now - 7200, end=now)
        simulator.start_lively(account.name, rate_per_minute=12)
    try:
        return simulator.start(host=host, port=port)
    except OSError:
        return simulator.start(host=host, port=0)  # the usual port is taken: any port


def run_demo(server_factory: ServerFactory, collectors: Sequence[Collector] = ()) -> int:
    """Serve the demo until SIGINT or SIGTERM."""
    simulator = start_demo_simulator()
    try:
        events_secret = secrets.token_urlsafe(16)
        lifecycle = Lifecycle(demo_config(simulator, events_secret),
                              server_factory=server_factory, collectors=collectors)
        assert lifecycle.server is not None
        lifecycle.install_signal_handlers()
        lifecycle.start()
        url = lifecycle.server.url
        # The simulator as Event Grid and as MK.IO's webhooks: changes show at once.
        simulator.start_events(f"{url}/events", secret=events_secret,
                               accounts=[a.name for a in DEMO_ACCOUNTS if a.pushes_events],
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
