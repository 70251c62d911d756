"""Command line: serve (default), --demo, check-config, once, simulate.

Every flag can also come from an environment variable (AMS_EXPORTER_<FLAG>, e.g.
AMS_EXPORTER_CONFIG_FILE). Exit codes: 0 ok, 2 usage or config error, 1 failure.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from exporter import __version__
from exporter.app.config import load_config
from exporter.common.logs import LEVELS, setup_logging
from exporter.common.malloc import limit_malloc_arenas
from exporter.common.sharding import Sharding, ordinal_from_hostname, shard_of
from exporter.common.threads import shorten_gil_switch_interval
from exporter.config.errors import ConfigError

if TYPE_CHECKING:
    from exporter.app.exporter import Exporter

log = logging.getLogger("exporter")

DEFAULT_LISTEN = ":10046"
COMMANDS = ("serve", "check-config", "once", "simulate")


def _env(flag: str, default: str | None = None) -> str | None:
    name = "AMS_EXPORTER_" + flag.upper().replace(".", "_").replace("-", "_")
    return os.environ.get(name, default)


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--log.level", dest="log_level", choices=sorted(LEVELS),
                        default=_env("log.level", "info"),
                        help="log level (env AMS_EXPORTER_LOG_LEVEL)")
    parser.add_argument("--log.format", dest="log_format", choices=["text", "json"],
                        default=_env("log.format", "text"),
                        help="log format (env AMS_EXPORTER_LOG_FORMAT)")


def _add_config(parser: argparse.ArgumentParser, required: bool) -> None:
    parser.add_argument("--config.file", dest="config_file",
                        default=_env("config.file"), required=required and not _env("config.file"),
                        help="YAML configuration file (env AMS_EXPORTER_CONFIG_FILE)")


def _add_sharding(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--shard", dest="shard", default=_env("shard", "0"),
                        help="this process's shard number, or 'auto' to take it from the "
                             "StatefulSet pod name's ordinal suffix (env AMS_EXPORTER_SHARD)")
    parser.add_argument("--total-shards", dest="total_shards", type=int,
                        default=int(_env("total-shards", "1") or 1),
                        help="how many shards the accounts are spread over (default 1; env "
                             "AMS_EXPORTER_TOTAL_SHARDS)")
    parser.add_argument("--shard.peer-url-template", dest="peer_url_template",
                        default=_env("shard.peer-url-template"),
                        help="URL of shard {shard}, for forwarding push events to the shard "
                             "that owns their account (env "
                             "AMS_EXPORTER_SHARD_PEER_URL_TEMPLATE)")


def _sharding(args: argparse.Namespace) -> Sharding:
    """Raises ValueError with a message for the user."""
    shard = str(args.shard).strip()
    if shard == "auto":
        ordinal = ordinal_from_hostname(os.environ.get("HOSTNAME") or socket.gethostname())
    elif shard.isdigit():
        ordinal = int(shard)
    else:
        raise ValueError(f"--shard: expected a number or auto, got {shard[:40]!r}")
    return Sharding(ordinal, args.total_shards, args.peer_url_template)


def _serve_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ams-job-exporter",
        description="Prometheus exporter for media encoding jobs (MK.IO, RMS, AMS v2/v3). "
                    f"Commands: {', '.join(COMMANDS)} (serve is the default).")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _add_config(parser, required=False)
    parser.add_argument("--web.listen-address", dest="listen_address",
                        default=_env("web.listen-address", DEFAULT_LISTEN),
                        help="address to serve on (default :10046; env "
                             "AMS_EXPORTER_WEB_LISTEN_ADDRESS)")
    parser.add_argument("--web.config.file", dest="web_config_file",
                        default=_env("web.config.file"),
                        help="exporter-toolkit web config: TLS and basic auth, re-read when "
                             "it changes (env AMS_EXPORTER_WEB_CONFIG_FILE)")
    parser.add_argument("--web.max-requests", dest="max_requests", type=_max_requests,
                        default=_env("web.max-requests", "40"),
                        help="most /metrics requests answered at once; more get 503 "
                             "(default 40, 0 = no cap; env AMS_EXPORTER_WEB_MAX_REQUESTS)")
    _add_sharding(parser)
    parser.add_argument("--demo", action="store_true",
                        default=_env("demo", "") in ("1", "true", "yes"),
                        help="run the built-in AMS simulator and the exporter against it "
                             "(no Azure needed; env AMS_EXPORTER_DEMO)")
    _add_common(parser)
    return parser


def _max_requests(value: str) -> int:
    if not value.strip().isdigit():
        raise argparse.ArgumentTypeError(f"expected a count (0 = no cap), got {value!r}")
    return int(value)


def main(argv: Sequence[str] | None = None) -> int:
    limit_malloc_arenas()  # before any thread starts
    shorten_gil_switch_interval()
    args_list = list(sys.argv[1:] if argv is None else argv)
    command = args_list.pop(0) if args_list and args_list[0] in COMMANDS else "serve"
    try:
        if command == "simulate":
            return _simulate(args_list)
        if command == "check-config":
            return _check_config(args_list)
        if command == "once":
            return _once(args_list)
        return _serve(args_list)
    except KeyboardInterrupt:
        return 0
    except Exception:  # exit 1 with the cause, not a bare traceback for users
        logging.getLogger("exporter").exception("unexpected failure")
        return 1


def _fail_config(error: ConfigError) -> int:
    print(f"error: {error}", file=sys.stderr)
    return 2


def _check_config(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="ams-job-exporter check-config",
                                     description="Validate a configuration file; with "
                                                 "--total-shards, print each account's shard.")
    _add_config(parser, required=True)
    parser.add_argument("--total-shards", dest="total_shards", type=int, default=None,
                        help="print which of this many shards owns each account")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config_file)
    except ConfigError as error:
        return _fail_config(error)
    print(f"ok: {len(config.accounts)} account(s): "
          + ", ".join(a.name for a in config.accounts))
    if args.total_shards is not None:
        if args.total_shards < 1:
            print("error: --total-shards: must be at least 1", file=sys.stderr)
            return 2
        for account in config.accounts:
            print(f"shard {shard_of(account.name, args.total_shards)}: {account.name}")
    return 0


def _once(argv: list[str]) -> int:
    from exporter.app.lifecycle import Lifecycle

    parser = argparse.ArgumentParser(prog="ams-job-exporter once",
                                     description="Collect once; print the exposition.")
    _add_config(parser, required=True)
    _add_common(parser)
    args = parser.parse_args(argv)
    setup_logging(args.log_level, args.log_format)
    try:
        lifecycle = Lifecycle.from_file(args.config_file)
    except ConfigError as error:
        return _fail_config(error)
    try:
        sys.stdout.write(lifecycle.collect_once())
    finally:
        lifecycle.stop()
    return 0 if all(r.status.up for r in lifecycle.exporter.refreshers) else 1


def _serve(argv: list[str]) -> int:
    from exporter.app.lifecycle import Lifecycle
    from exporter.web.limits import raise_open_files_limit
    from exporter.web.server import MetricsServer, parse_listen_address

    parser = _serve_parser()
    args = parser.parse_args(argv)
    setup_logging(args.log_level, args.log_format)
    try:
        sharding = _sharding(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    raise_open_files_limit()  # connections are not refused for want of descriptors
    try:
        host, port = parse_listen_address(args.listen_address)
    except ValueError as exc:
        print(f"error: web.listen-address: {exc}", file=sys.stderr)
        return 2
    web_config = None
    if args.web_config_file:
        from exporter.web.config_file import WebConfigFile

        try:
            web_config = WebConfigFile(args.web_config_file)
        except ConfigError as error:
            return _fail_config(error)

    collectors = (web_config,) if web_config is not None else ()

    def server_factory(exporter: Exporter) -> MetricsServer:
        return MetricsServer(exporter, host, port, web_config,
                             max_requests=args.max_requests)

    if not args.demo and not args.config_file:
        parser.error("--config.file is required (or use --demo)")
    try:
        if args.demo:
            from exporter.app.demo import run_demo

            return run_demo(server_factory, collectors)
        lifecycle = Lifecycle.from_file(args.config_file, server_factory=server_factory,
                                        collectors=collectors, sharding=sharding)
    except ConfigError as error:
        return _fail_config(error)
    except OSError as exc:
        print(f"error: web.listen-address: cannot listen on {args.listen_address}: "
              f"{exc.strerror}", file=sys.stderr)
        return 2
    lifecycle.install_signal_handlers()
    lifecycle.start()
    assert lifecycle.server is not None
    shard = (f" (shard {sharding.ordinal} of {sharding.total})" if sharding.enabled else "")
    log.info("ams-job-exporter %s serving %d account(s)%s on %s/metrics", __version__,
             len(lifecycle.exporter.views), shard, lifecycle.server.url)
    lifecycle.run()
    log.info("stopped")
    return 0


def _simulate(argv: list[str]) -> int:
    from exporter.simulator import cli as simulator_cli

    parser = argparse.ArgumentParser(prog="ams-job-exporter simulate",
                                     description="Run the AMS API simulator.")
    simulator_cli.add_arguments(parser)
    _add_common(parser)
    args = parser.parse_args(argv)
    setup_logging(args.log_level, args.log_format)
    return simulator_cli.run(args)


if __name__ == "__main__":
    sys.exit(main())
