"""smgw-sim: the smart meter simulator for the second board (entry point).

Commands: ``run`` (serve the configured meters; the jOSEF console when on a
terminal, a periodic status log otherwise, as under systemd), ``check`` (load
a configuration and report), ``example`` (print a bundled configuration) and
``profile`` (print a load profile's quarter-hour series). Argument parsing
only; the work lives in the library modules.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from importlib import resources
from typing import TYPE_CHECKING, Any, Callable

from smgwd.arguments import ArgumentParser

if TYPE_CHECKING:
    from smgwd.sim.app import Simulator
    from smgwd.sim.config import SimConfig

__all__ = ["main", "build_parser"]

EXAMPLES = ("household", "prosumer", "commercial", "wmbus")
EX_CONFIG = 78
STATUS_EVERY = 60.0  # seconds between status lines in non-interactive mode

log = logging.getLogger("smgw-sim")



def build_parser() -> argparse.ArgumentParser:
    """The smgw-sim argument parser."""
    from smgwd.sim.loadprofile.cli import add_profile_arguments

    parser = ArgumentParser(prog="smgw-sim", description="Smart meter simulator: SML meters on TCP and serial lines, wM-Bus meters through emulated USB sticks.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    run = commands.add_parser("run", help="run the configured meters")
    run.add_argument("--config", metavar="FILE", help="XML configuration (default: the household example)")
    mode = run.add_mutually_exclusive_group()
    mode.add_argument("--console", dest="console", action="store_true", default=None,
                      help="interactive text console (default on a terminal)")
    mode.add_argument("--no-console", dest="console", action="store_false",
                      help="no console: log a status line every minute (for systemd)")
    run.add_argument("--duration", type=float, metavar="SECONDS", help="stop after this many real seconds")
    run.add_argument("--port", type=int, metavar="PORT", help="listen on this port instead of the configured ones")
    check = commands.add_parser("check", help="check a configuration file and summarise it")
    check.add_argument("config", metavar="FILE")
    example = commands.add_parser("example", help="print a bundled example configuration")
    example.add_argument("name", choices=EXAMPLES)
    profile = commands.add_parser("profile", help="print a load profile's quarter-hour series")
    add_profile_arguments(profile)
    return parser


def _example(name: str) -> bytes:
    return resources.files("smgwd.sim").joinpath(f"examples/{name}.xml").read_bytes()


def _load(path: str | None) -> SimConfig:
    from smgwd.sim.config import load_config, parse_config

    return parse_config(_example("household"), "household example") if path is None else load_config(path)


def _check(path: str) -> int:
    from smgwd.sim.config import SimConfigError

    try:
        config = _load(path)
    except SimConfigError as error:
        print(f"smgw-sim: {error}", file=sys.stderr)
        return EX_CONFIG
    print(f"{path}: ok — {len(config.meters) + len(config.radio_meters)} meter(s), {len(config.tcp)} TCP listener(s), "
          f"{len(config.serial)} serial push line(s), {len(config.wmbus)} wM-Bus stick(s), time {config.time.mode}")
    for meter in config.meters:
        infeed = f", infeed {meter.pv.annual_kwh:g} kWh/a" if meter.pv else ""
        print(f"  meter {meter.id}: server id {meter.server_id.hex()}, {meter.profile} {meter.annual_kwh:g} kWh/a{infeed}")
    for listener in config.wmbus:
        refs = ", ".join(f"{r.ref} (mode {r.security}, {r.radio_mode.upper()})" for r in listener.meters)
        print(f"  wM-Bus stick {listener.id}: {listener.dongle} on {listener.device}, hears {refs}")
    return 0


async def _run(args: argparse.Namespace) -> int:
    from smgwd.sim.app import Simulator
    from smgwd.sim.config import SimConfigError
    from smgwd.sim.console import meter_lines, run_console, server_lines

    try:
        config = _load(args.config)
    except SimConfigError as error:
        print(f"smgw-sim: {error}", file=sys.stderr)
        return EX_CONFIG
    sim = Simulator(config, port_override=args.port)
    try:
        await sim.start()
    except OSError as error:
        print(f"smgw-sim: cannot open a listener or line: {error}", file=sys.stderr)
        await sim.stop()
        return 1
    for line in server_lines(sim):
        print(line, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    console = sys.stdin.isatty() if args.console is None else args.console
    waiters: list[asyncio.Task[Any]] = [asyncio.create_task(stop.wait())]
    if console:
        waiters.append(asyncio.create_task(run_console(sim, sys.stdout)))
    else:
        waiters.append(asyncio.create_task(_status_log(sim, meter_lines)))
    if args.duration is not None:
        waiters.append(asyncio.create_task(asyncio.sleep(args.duration)))
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in waiters:
            task.cancel()
        await sim.stop()
    return 0


async def _status_log(sim: Simulator, lines: Callable[[Simulator], list[str]]) -> None:
    while True:
        await asyncio.sleep(STATUS_EVERY)
        for line in lines(sim):
            log.info("%s", line.lstrip("-> "))


def main(argv: list[str] | None = None) -> int:
    """Run smgw-sim; returns the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.command == "example":
        sys.stdout.buffer.write(_example(args.name))
        sys.stdout.flush()
        return 0
    if args.command == "check":
        return _check(args.config)
    if args.command == "profile":
        from smgwd.cli.pipes import quiet_on_broken_pipe
        from smgwd.sim.loadprofile.cli import run

        return quiet_on_broken_pipe(lambda: run(args, build_parser()))
    return asyncio.run(_run(args))


if __name__ == "__main__":
    sys.exit(main())
