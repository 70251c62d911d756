"""`ams-job-exporter simulate`: run the simulator as a standalone server."""

from __future__ import annotations

import argparse
import re
import signal
import threading
import time
from collections.abc import Callable

from exporter.simulator.event_sender import MAX_BATCH, SCHEMAS
from exporter.simulator.simulator import DEFAULT_RMS_API_KEY, Simulator

DEFAULT_LISTEN = "127.0.0.1:10047"
DEFAULT_TENANT = "simulator-tenant"
HISTORY_SECONDS = 48 * 3600
_TRANSFORM_NAMES = ("encode-720p", "encode-1080p", "thumbnails", "audio-only",
                    "adaptive-streaming")
_AMS_ACCOUNT = re.compile(r"[a-z0-9]{3,24}")
_MKIO_PROJECT = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
#: The flavours each --api value serves.
FLAVOURS = {
    "v2": ("v2",), "v3": ("v3",), "both": ("v2", "v3"), "rms": ("rms",), "mkio": ("mkio",),
    "all": ("v2", "v3", "rms", "mkio"),
}


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


def _batch(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= MAX_BATCH:
        raise argparse.ArgumentTypeError(f"between 1 and {MAX_BATCH} events, got {value!r}")
    return int(value)


def _events_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError(f"expected an http(s) URL, got {value!r}")
    return value


def _correlation_values(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= 100_000:
        raise argparse.ArgumentTypeError(f"between 1 and 100000 values, got {value!r}")
    return int(value)


def _transform_count(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= 100:
        raise argparse.ArgumentTypeError(f"between 1 and 100 transforms, got {value!r}")
    return int(value)


def transform_names(count: int) -> tuple[str, ...]:
    """encode-720p, encode-1080p, ... then transform-6, transform-7, ..."""
    extra = (f"transform-{i + 1}" for i in range(len(_TRANSFORM_NAMES), count))
    return (*_TRANSFORM_NAMES[:count], *extra)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--listen", type=_listen, default=DEFAULT_LISTEN, metavar="HOST:PORT",
                        help=f"address to serve on (default {DEFAULT_LISTEN})")
    parser.add_argument("--api", choices=tuple(FLAVOURS), default="v2",
                        help="API to simulate: v2 (OData), v3 (ARM), both (v2 and v3), rms "
                             "(Ravnur Media Services), mkio (MediaKind MK.IO) or all "
                             "(default v2)")
    parser.add_argument("--tls", action="store_true",
                        help="serve HTTPS with a certificate made at start-up (needed by "
                             "Azure AD clients and the azure-mgmt-media SDK)")
    parser.add_argument("--transforms", type=_transform_count, default=1, metavar="N",
                        help="transforms per v3 account (default 1)")
    parser.add_argument("--arm-rate-limit", action="store_true",
                        help="throttle v3 reads like ARM: 250 per subscription, 25/s refill")
    parser.add_argument("--jobs", type=int, default=200, metavar="N",
                        help="jobs to generate per account over the last 48 h (default 200)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--accounts", type=_accounts, default=["demo"], metavar="A,B",
                        help="comma-separated account names (default demo); v3 names are "
                             "3-24 lower-case letters and digits")
    parser.add_argument("--lively", action="store_true",
                        help="keep creating short-lived jobs so metrics move")
    parser.add_argument("--no-auth", action="store_true",
                        help="do not require an Authorization: Bearer header")
    parser.add_argument("--fidelity", action="store_true",
                        help="serve the variety real AMS answers showed (date forms, 2018-era "
                             "bodies, ...), by seed")
    parser.add_argument("--correlation-values", type=_correlation_values, default=None,
                        metavar="N",
                        help="distinct customerId and workflow values in the correlationData "
                             "of v3, RMS and MK.IO jobs (default: 5 named customers and 3 "
                             "workflows)")
    successors = parser.add_argument_group("RMS and MK.IO")
    successors.add_argument("--rms-api-key", default=None, metavar="KEY",
                            help=f"API key of the RMS accounts (default {DEFAULT_RMS_API_KEY})")
    successors.add_argument("--mkio-token", default=None, metavar="TOKEN",
                            help="personal API token for the MK.IO projects (default: one "
                                 "made at start-up and printed)")
    successors.add_argument("--mkio-rate-limit", type=int, default=2000, metavar="N",
                            help="MK.IO GET requests per minute per project (default 2000; "
                                 "0: no limit)")
    successors.add_argument("--mkio-retry-after", action="store_true",
                            help="send Retry-After with MK.IO's 429 answers")
    events = parser.add_argument_group(
        "push events (Event Grid for v3 and RMS accounts, webhooks for MK.IO; implies "
        "--lively)")
    events.add_argument("--events-to", type=_events_url, default=None, metavar="URL",
                        help="POST the job events of the v3, RMS and MK.IO accounts to URL, "
                             "after Event Grid's subscription handshake")
    events.add_argument("--events-schema", choices=SCHEMAS, default="eventgrid",
                        help="Event Grid schema or CloudEvents 1.0 (default eventgrid; "
                             "MK.IO always sends CloudEvents)")
    events.add_argument("--events-batch", type=_batch, default=1, metavar="N",
                        help="events per delivery, 1-5000 (default 1)")
    events.add_argument("--events-duplicates", type=_rate, default=0.0, metavar="RATE",
                        help="share of events delivered twice")
    events.add_argument("--events-reorder", type=_rate, default=0.0, metavar="RATE",
                        help="share of events swapped with the next one")
    events.add_argument("--events-secret", default=None, metavar="S",
                        help="send S as query secret= with every delivery")
    events.add_argument("--events-retry-scale", type=float, default=1.0, metavar="X",
                        help="multiply Event Grid's retry delays (10 s, 30 s, 1 min, ...) by "
                             "X (default 1)")
    aad = parser.add_argument_group("Azure AD (token endpoint on the same server)")
    aad.add_argument("--tenant", default=DEFAULT_TENANT,
                     help=f"tenant of the demo client (default {DEFAULT_TENANT})")
    aad.add_argument("--client-id", default=None, help="register a demo client with this id")
    aad.add_argument("--client-secret", default=None, help="the demo client's secret")
    aad.add_argument("--require-issued-tokens", action="store_true",
                     help="accept only unexpired tokens issued by this simulator (RMS and "
                          "MK.IO always check their own tokens)")
    faults = parser.add_argument_group("fault injection")
    faults.add_argument("--error-rate", type=_rate, default=0.0,
                        help="share of requests answered 500")
    faults.add_argument("--latency", type=float, default=0.0, metavar="SECONDS",
                        help="delay before every answer")
    faults.add_argument("--throttle-rate", type=_rate, default=0.0,
                        help="share of requests throttled (v2: 503 Server is busy, v3: 429)")
    faults.add_argument("--retry-after", type=float, default=None, metavar="SECONDS",
                        help="Retry-After sent with throttling answers")
    faults.add_argument("--malformed-rate", type=_rate, default=0.0,
                        help="share of requests answered with truncated JSON")
    faults.add_argument("--reset-rate", type=_rate, default=0.0,
                        help="share of connections dropped without an answer")


def v3_account_key(name: str, api: str) -> str:
    """With --api both or all the v3 account is "<name>-v3" in the simulator (same ARM
    name)."""
    return account_key(name, "v3", api)


def account_key(name: str, flavour: str, api: str) -> str:
    """The simulator's name for `name` in `flavour`: the name itself when --api serves one
    flavour (or for v2), else "<name>-<flavour>" (the API-side names stay `name`)."""
    return name if flavour == "v2" or len(FLAVOURS[api]) == 1 else f"{name}-{flavour}"


def build(args: argparse.Namespace) -> Simulator:
    """The simulator the arguments describe, not started yet; ValueError for bad ones."""
    if (args.client_id is None) != (args.client_secret is None):
        raise ValueError("--client-id and --client-secret go together")
    if args.mkio_rate_limit < 0:
        raise ValueError("--mkio-rate-limit is a number of requests (0: no limit)")
    if args.events_to is not None:
        if not event_accounts(args):
            raise ValueError("--events-to needs v3, RMS or MK.IO accounts (AMS v2 sends no "
                             "Event Grid events)")
        if not args.events_retry_scale >= 0:
            raise ValueError("--events-retry-scale must not be negative")
    sim = Simulator(seed=args.seed, require_auth=not args.no_auth,
                    fidelity=args.fidelity, correlation_values=args.correlation_values)
    sim.require_issued_tokens = args.require_issued_tokens
    if args.arm_rate_limit:
        sim.set_arm_rate_limit()
    now = time.time()
    flavours = FLAVOURS[args.api]
    transforms = transform_names(args.transforms)
    for account in args.accounts:
        if "v2" in flavours:
            sim.add_v2_account(account)
            sim.generate_jobs(account, n=args.jobs, start=now - HISTORY_SECONDS, end=now)
        if ("v3" in flavours or "rms" in flavours) and _AMS_ACCOUNT.fullmatch(account) is None:
            raise ValueError(f"v3 and RMS account names are 3-24 lower-case letters and "
                             f"digits: {account!r}")
        if "v3" in flavours:
            key = account_key(account, "v3", args.api)
            sim.add_v3_account(key, account_name=account, transforms=transforms)
            sim.generate_jobs(key, n=args.jobs, start=now - HISTORY_SECONDS, end=now)
        if "rms" in flavours:
            key = account_key(account, "rms", args.api)
            sim.add_rms_account(key, account_name=account, transforms=transforms,
                                api_key=args.rms_api_key or DEFAULT_RMS_API_KEY)
            sim.generate_jobs(key, n=args.jobs, start=now - HISTORY_SECONDS, end=now)
        if "mkio" in flavours:
            if _MKIO_PROJECT.fullmatch(account) is None:
                raise ValueError(f"MK.IO project names are lower-case letters, digits and "
                                 f"'-': {account!r}")
            key = account_key(account, "mkio", args.api)
            sim.add_mkio_account(key, project=account, transforms=transforms)
            sim.generate_jobs(key, n=args.jobs, start=now - HISTORY_SECONDS, end=now)
            sim.set_mkio_rate_limit(key, args.mkio_rate_limit or None,
                                    retry_after=args.mkio_retry_after)
    if "mkio" in flavours:
        # One token for every project: as given, or made for the first and reused.
        token = args.mkio_token
        for account in args.accounts:
            token = sim.add_mkio_token(account_key(account, "mkio", args.api), token)
        # describe() prints a token made here (the user cannot know it), never one given.
        args.generated_mkio_token = token if args.mkio_token is None else None
    if args.client_id is not None:
        sim.add_client(args.tenant, args.client_id, args.client_secret)
    sim.set_faults(
        error_rate=args.error_rate,
        latency=args.latency,
        throttle_rate=args.throttle_rate,
        retry_after=args.retry_after,
        malformed_rate=args.malformed_rate,
        reset_rate=args.reset_rate,
    )
    return sim


def event_accounts(args: argparse.Namespace) -> list[str]:
    """The simulator's names of the accounts whose events --events-to sends."""
    return [account_key(account, flavour, args.api) for account in args.accounts
            for flavour in FLAVOURS[args.api] if flavour != "v2"]


def describe(sim: Simulator, args: argparse.Namespace) -> list[str]:
    """What a user needs to point a client at the running simulator (never the secret)."""
    flavours = FLAVOURS[args.api]
    apis = "+".join({"v2": "v2", "v3": "v3", "rms": "RMS", "mkio": "MK.IO"}[f]
                    for f in flavours)
    lines = [f"AMS {apis} simulator on {sim.url} (seed {args.seed})"]
    if "v2" in flavours:
        lines.append(f"  legacy endpoint: {sim.legacy_endpoint} (301 to {args.accounts[0]})")
        lines += [f"  account {a}: {sim.v2_endpoint(a)}" for a in args.accounts]
    if "v3" in flavours:
        lines.append(f"  ARM endpoint: {sim.arm_endpoint} (api-version 2022-07-01)")
        for account in args.accounts:
            key = account_key(account, "v3", args.api)
            arm = sim.arm_account(key)
            lines.append(f"  v3 account {key}: subscription {arm.subscription_id}, "
                         f"resource group {arm.resource_group}, account {arm.account_name}, "
                         f"transforms {', '.join(sim.transforms(key))}")
    if "rms" in flavours:
        lines.append(f"  RMS endpoint: {sim.rms_endpoint} (token: POST {sim.rms_token_url} "
                     '{"subscriptionId", "apiKey"})')
        key_text = "as given" if args.rms_api_key is not None else DEFAULT_RMS_API_KEY
        for account in args.accounts:
            key = account_key(account, "rms", args.api)
            arm = sim.arm_account(key)
            lines.append(f"  RMS account {key}: subscription {arm.subscription_id}, "
                         f"resource group {arm.resource_group}, account {arm.account_name}, "
                         f"transforms {', '.join(sim.transforms(key))}, API key {key_text}")
    if ("v3" in flavours or "rms" in flavours) and not args.tls:
        lines.append("  note: without --tls, Azure SDK clients will not send bearer tokens")
    if "mkio" in flavours:
        limit = (f"{args.mkio_rate_limit} GET per minute per project" if args.mkio_rate_limit
                 else "no rate limit")
        lines.append(f"  MK.IO endpoint: {sim.mkio_endpoint} ({limit})")
        for account in args.accounts:
            key = account_key(account, "mkio", args.api)
            lines.append(f"  MK.IO project {sim.mkio_project(key)} (account {key}): "
                         f"transforms {', '.join(sim.transforms(key))}")
        generated = getattr(args, "generated_mkio_token", None)
        lines.append("  MK.IO token: " + ("as given" if generated is None else generated)
                     + " (capabilities ams.job.get, ams.transform.get)")
    if "v2" in flavours or "v3" in flavours or args.client_id is not None:
        lines.append(f"  AAD authority: {sim.aad_authority}" + (
            "" if args.tls else " (MSAL needs https: add --tls)"))
    if args.client_id is not None:
        lines.append(f"  AAD client: tenant {args.tenant}, client id {args.client_id} "
                     "(secret as given)")
    if args.events_to is not None:
        secret = " with query secret= as given" if args.events_secret is not None else ""
        lines.append(f"  events: {args.events_schema} to {args.events_to}{secret} (batch "
                     f"{args.events_batch}, duplicates {args.events_duplicates}, reorder "
                     f"{args.events_reorder}; accounts {', '.join(event_accounts(args))})")
    if sim.ca_cert_path is not None:
        lines.append(f"  CA certificate: {sim.ca_cert_path} "
                     f"(trust it, e.g. REQUESTS_CA_BUNDLE={sim.ca_cert_path})")
    return lines


def _signal_waiter() -> Callable[[], None]:
    """Installs the SIGINT/SIGTERM handlers now and returns the wait for one: done
    before the URLs are printed, so a SIGTERM sent as soon as they are read ends
    the simulator cleanly instead of by the default action."""
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())

    def wait() -> None:
        while not stop.wait(0.5):
            pass

    return wait


def run(args: argparse.Namespace, wait: Callable[[], None] | None = None) -> int:
    wait = wait or _signal_waiter()
    host, port = args.listen
    try:
        sim = build(args)
    except ValueError as exc:
        print(f"error: {exc}", flush=True)
        return 2
    events_to = args.events_to
    with sim.start(host, port, tls=args.tls):
        if args.lively or events_to is not None:
            for account in args.accounts:
                for flavour in FLAVOURS[args.api]:
                    sim.start_lively(account_key(account, flavour, args.api))
        if events_to is not None:
            sim.start_events(events_to, schema=args.events_schema,
                             accounts=event_accounts(args), batch=args.events_batch,
                             duplicate_rate=args.events_duplicates,
                             reorder_rate=args.events_reorder,
                             retry_scale=args.events_retry_scale,
                             secret=args.events_secret)
        for line in describe(sim, args):
            print(line, flush=True)
        wait()
    return 0
