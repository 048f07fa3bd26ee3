"""The simulator's text console, after jOSEF's (menu, settings views), plus a live meter view.

How this works: the views are plain functions of the running simulator that
return lines, so the interactive console, the non-interactive status log
(under systemd) and the tests all use the same text. The interactive loop
reads one line at a time without blocking the event loop.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Callable, TextIO
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from smgwd.sim.app import Simulator

__all__ = ["MENU", "WELCOME", "meter_lines", "run_console", "server_lines", "simulator_lines"]

WELCOME = "Welcome to the Smart Meter Simulator user interface!"
MENU = (
    "Menu:\n"
    "[1] View server settings.\n"
    "[2] View simulator settings.\n"
    "[3] View meters (live).\n"
    "[0] Exit."
)
LOCAL = ZoneInfo("Europe/Berlin")


def server_lines(sim: Simulator) -> list[str]:
    """jOSEF's "View server settings", for every listener."""
    lines = []
    for server in sim.tcp_servers:
        listener = server.listener
        meters = ", ".join(listener.meters)
        lines.append(f"-> Server is listening on port [{server.port}] ({listener.host}, meters: {meters})")
        if listener.username is None:
            lines.append("-> Server is not using authentication for clients")
        else:
            lines.append(f"-> Server requires authentication (user [{listener.username}])")
    for pusher in sim.pushers:
        lines.append(
            f"-> Meter [{pusher.meter.spec.id}] pushes {pusher.protocol} every [{pusher.interval:g}] s to [{pusher.sink.description}]"
            f" (frames {pusher.stats.frames}, dropped {pusher.stats.dropped})"
        )
    for radio in sim.radios:
        emulator, stats = radio.emulator, radio.emulator.stats
        meters = ", ".join(f"{t.model.id} ({t.wmbus_id}, {t.settings.radio_mode.upper()}, mode {t.settings.security})"
                           for t in radio.transmitters)
        lines.append(f"-> {emulator.name} emulated on [{emulator.port.description}] hears [{meters}]"
                     f" (telegrams {stats.heard}, delivered {stats.delivered}, other link mode {stats.other_mode},"
                     f" while hung {stats.while_hung}, resets {stats.resets})")
    return lines or ["-> No listeners configured"]


def simulator_lines(sim: Simulator) -> list[str]:
    """jOSEF's "View simulator settings"."""
    lines = []
    for meter in sim.meters.values():
        spec = meter.spec
        lines.append(f"-> Meter [{spec.id}] profile [{spec.profile}{' dynamic' if spec.dynamic else ''}]")
        lines.append(f"-> Simulated annual power consumption in kWh [{spec.annual_kwh:.1f}]")
        lines.append(f"-> Simulated annual power infeed in kWh [{spec.pv.annual_kwh if spec.pv else 0.0:.1f}]")
    settings = sim.config.time
    if settings.mode == "accelerated":
        lines.append(f"-> Simulation-time of a 'realtime-quarter-hour' in seconds [{settings.quarter_hour_seconds:g}]")
        lines.append(f"-> Simulation resolution in milliseconds [{settings.resolution_ms}]")
    lines.append(f"-> Time: {sim.clock.describe()}")
    return lines


def meter_lines(sim: Simulator) -> list[str]:
    """A live view: each meter's clock, seconds index, registers and power."""
    lines = []
    for meter in sim.meters.values():
        meter.sync()
        clock = datetime.fromtimestamp(meter.now, timezone.utc).astimezone(LOCAL)
        kwh = meter.registers_kwh()
        lines.append(
            f"-> {meter.spec.id:12} clock {clock:%Y-%m-%d %H:%M:%S %Z}  secIndex {meter.sec_index():>9}"
            f"  1.8.0 {kwh['1.8.0']:>12.3f} kWh  2.8.0 {kwh['2.8.0']:>12.3f} kWh"
            f"  power {meter.net_power_w(meter.now):>8.0f} W"
        )
    for model_id, model in sim.radio_models.items():
        if model_id not in sim.meters:
            lines.append(f"-> {model_id:12} {model.describe()}")
    return lines


async def run_console(sim: Simulator, out: TextIO, read_line: Callable[[], str] = input) -> None:
    """The interactive menu; returns on [0], end of input, or Ctrl-D."""
    loop = asyncio.get_running_loop()
    views = {"1": ("View server settings:", server_lines), "2": ("View simulator settings:", simulator_lines),
             "3": ("View meters:", meter_lines)}
    print(WELCOME, file=out)
    while True:
        print(MENU, file=out, flush=True)
        try:
            choice = (await loop.run_in_executor(None, read_line)).strip()
        except EOFError:
            choice = "0"
        if choice == "0":
            print("Closing program...", file=out, flush=True)
            return
        view = views.get(choice)
        if view is None:
            print(f"Unknown choice {choice!r}.", file=out)
            continue
        title, lines = view
        print(title, file=out)
        for line in lines(sim):
            print(line, file=out)
