"""smgwd, the gateway daemon: the program systemd starts (and ``smgwd demo``).

How this works: argument parsing, configuration loading (a bad file stops the
start with one line and exit status 78, EX_CONFIG), logging set-up, then the
store is opened (a store it must refuse: a directory, unreadable, not SQLite,
corrupt, foreign, of a newer schema or locked by another process, is one
logged line and exit status 78 too, the file left as it was), then the
:class:`~smgwd.gateway.core.Gateway` on an asyncio loop with signal handlers:
SIGHUP reloads the configuration (a bad new one is logged and the running
one kept), SIGTERM and SIGINT stop it gracefully within 5 seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from typing import TYPE_CHECKING

from smgwd.arguments import ArgumentParser

if TYPE_CHECKING:
    from smgwd.gateway.config import GatewayConfig
    from smgwd.gateway.logsetup import RateLimitFilter

__all__ = ["main"]

EX_CONFIG = 78
DEFAULT_CONFIG = "/etc/smgwd/smgwd.toml"
STOP_TIMEOUT = 4.0  # seconds for the store to commit; systemd's default TimeoutStopSec is longer

log = logging.getLogger("smgwd")


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="smgwd", description="The smgwd smart meter gateway daemon.")
    parser.add_argument("--config", default=DEFAULT_CONFIG, metavar="PATH",
                        help=f"configuration file (default {DEFAULT_CONFIG})")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser("demo", help="simulator + gateway on loopback, with a live view")
    demo.add_argument("--dir", metavar="DIR", help="keep configs and database here (default: a temporary directory)")
    demo.add_argument("--duration", type=float, metavar="SECONDS", help="stop after this many seconds")
    return parser


async def serve(config: GatewayConfig, config_path: str, log_limiter: RateLimitFilter | None = None) -> int:
    """Run the daemon until SIGTERM/SIGINT; SIGHUP reloads ``config_path``."""
    from smgwd.gateway.config import ConfigError, load_config
    from smgwd.gateway.core import Gateway
    from smgwd.gateway.logsetup import fields
    from smgwd.gateway.store import StoreError
    from smgwd.wan.admin_server import AdminServer
    from smgwd.wan.deliveries import Deliveries

    gateway = Gateway(config, log_limiter=log_limiter, listeners=[Deliveries(), AdminServer()])
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def reload() -> None:
        try:
            config = load_config(config_path)
        except ConfigError as error:
            log.error("reload refused, keeping the running configuration: %s", error)
            gateway.store.log("system", "reload_refused", str(error))
            return
        loop.create_task(gateway.reload(config))

    loop.add_signal_handler(signal.SIGHUP, reload)
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await gateway.start()
    except StoreError as error:  # nothing runs yet: the store opens first
        log.error("store refused, not starting: %s", error, extra=fields(event="store_refused"))
        return EX_CONFIG
    try:
        await gateway.run(stop)
    finally:
        await gateway.stop(STOP_TIMEOUT)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run smgwd; returns the exit status."""
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        from smgwd.demo import run_demo

        return run_demo(args.dir, args.duration)
    from smgwd.gateway.config import ConfigError, load_config
    from smgwd.gateway.logsetup import rate_limiter, setup_logging
    from smgwd.gateway.memory import limit_arenas

    try:
        config = load_config(args.config)
    except ConfigError as error:
        print(f"smgwd: {error}", file=sys.stderr)
        return EX_CONFIG
    handler = setup_logging(config.logging.level, config.logging.journal, rate_interval=config.logging.repeat_interval)
    limit_arenas()  # before the first thread
    return asyncio.run(serve(config, args.config, rate_limiter(handler)))


if __name__ == "__main__":
    sys.exit(main())
