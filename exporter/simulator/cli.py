"""`ams-job-exporter simulate`: run the simulator as a standalone server."""

from __future__ import annotations

import argparse
import signal
import threading
import time

from exporter.simulator.simulator import Simulator

DEFAULT_LISTEN = "127.0.0.1:10047"
HISTORY_SECONDS = 48 * 3600


def _listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    return host.strip("[]"), int(port)


def _accounts(value: str) -> list[str]:
    names = [n.strip() for n in value.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError("at least one account name is needed")
    return names


def _rate(value: str) -> float:
    rate = float(value)
    if not 0.0 <= rate <= 1.0:
        raise argparse.ArgumentTypeError(f"a rate is between 0 and 1, got {value}")
    return rate


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--listen", type=_listen, default=DEFAULT_LISTEN, metavar="HOST:PORT",
                        help=f"address to serve on (default {DEFAULT_LISTEN})")
    parser.add_argument("--api", choices=("v2", "v3"), default="v2",
                        help="API to simulate (only v2 exists so far)")
    parser.add_argument("--jobs", type=int, default=200, metavar="N",
                        help="jobs to generate per account over the last 48 h (default 200)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--accounts", type=_accounts, default=["demo"], metavar="A,B",
                        help="comma-separated account names (default demo)")
    parser.add_argument("--lively", action="store_true",
                        help="keep creating short-lived jobs so metrics move")
    parser.add_argument("--no-auth", action="store_true",
                        help="do not require an Authorization: Bearer header")
    faults = parser.add_argument_group("fault injection")
    faults.add_argument("--error-rate", type=_rate, default=0.0,
                        help="share of requests answered 500")
    faults.add_argument("--latency", type=float, default=0.0, metavar="SECONDS",
                        help="delay before every answer")
    faults.add_argument("--throttle-rate", type=_rate, default=0.0,
                        help="share of requests answered 503 Server is busy")
    faults.add_argument("--retry-after", type=float, default=None, metavar="SECONDS",
                        help="Retry-After sent with throttling answers")
    faults.add_argument("--malformed-rate", type=_rate, default=0.0,
                        help="share of requests answered with truncated JSON")
    faults.add_argument("--reset-rate", type=_rate, default=0.0,
                        help="share of connections dropped without an answer")


def _wait_for_signal() -> None:
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    while not stop.wait(0.5):
        pass


def run(args: argparse.Namespace) -> int:
    if args.api != "v2":
        print("v3 not available yet")
        return 2
    host, port = args.listen
    sim = Simulator(seed=args.seed, require_auth=not args.no_auth)
    now = time.time()
    for account in args.accounts:
        sim.add_v2_account(account)
        sim.generate_jobs(account, n=args.jobs, start=now - HISTORY_SECONDS, end=now)
    sim.set_faults(
        error_rate=args.error_rate,
        latency=args.latency,
        throttle_rate=args.throttle_rate,
        retry_after=args.retry_after,
        malformed_rate=args.malformed_rate,
        reset_rate=args.reset_rate,
    )
    with sim.start(host, port):
        if args.lively:
            for account in args.accounts:
                sim.start_lively(account)
        print(f"AMS v2 simulator on {sim.url} (seed {args.seed})", flush=True)
        print(f"  legacy endpoint: {sim.legacy_endpoint} (301 to {args.accounts[0]})", flush=True)
        for account in args.accounts:
            print(f"  account {account}: {sim.v2_endpoint(account)}", flush=True)
        _wait_for_signal()
    return 0
