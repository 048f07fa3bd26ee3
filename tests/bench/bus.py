"""RS-485 bus cycle: the time to read K meters at 9600 baud over the physical limit of the bytes sent.

Setup: smgw-sim's bus stations (answering at once) on one pty, smgwd's bus master on
another, and between them a line emulator that passes each chunk on only after the time
its bytes take on a 9600 baud line (10 bits a byte), one sender at a time (half duplex),
so the gateway sees the timing of a real wire. Every meter is due at once, so the master
polls back to back (SNRM/UA once, then GetList in I-frames, answers in segments with RR).

Figure: for K = 1, 4 and 8 meters, (time per cycle) / (bytes on the wire per cycle × 10 /
9600). 1.0 is the line itself; the rest is the gateway's and the simulator's processing,
the turnaround pause before each frame, and the RR round trips of segmented answers.
Target: <= 1.25 with turnaround 0. The same with the default turnaround of 2 ms shows what
that pause costs.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
import tty
from pathlib import Path

BAUD = 9600
CYCLES = 3  # measured cycles, after every meter answered once


class Line:
    """Two pty ends joined by a half-duplex line that takes its time."""

    def __init__(self, sim_path: str, baud: int) -> None:
        self.baud = baud
        self.bytes = 0
        self._sim = os.open(sim_path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        tty.setraw(self._sim)
        self._master, peer = os.openpty()
        tty.setraw(peer)
        os.set_blocking(self._master, False)
        self._peer = peer
        self.gateway_path = os.ttyname(peer)
        self._free_at = 0.0

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_reader(self._master, self._forward, self._master, self._sim)
        loop.add_reader(self._sim, self._forward, self._sim, self._master)

    def _forward(self, source: int, target: int) -> None:
        try:
            data = os.read(source, 4096)
        except OSError:
            return
        if not data:
            return
        self.bytes += len(data)
        loop = asyncio.get_running_loop()
        start = max(loop.time(), self._free_at)
        self._free_at = start + len(data) * 10 / self.baud
        loop.call_at(self._free_at, os.write, target, data)

    def close(self) -> None:
        loop = asyncio.get_running_loop()
        for fd in (self._master, self._sim):
            loop.remove_reader(fd)
        for fd in (self._master, self._peer, self._sim):
            os.close(fd)


async def _cycle_ratio(meters: int, turnaround_ms: int) -> tuple[float, float, int]:
    from smgwd.gateway.config import parse_config
    from smgwd.gateway.core import Gateway
    from smgwd.gateway.sdnotify import Notifier
    from smgwd.meters.bus.master import bus_for
    from smgwd.sim.app import Simulator
    from smgwd.sim.config import parse_config as parse_sim_config

    stations = "".join(f'<station meter="m{k}" address="0x{0x10 + k:02X}"/>' for k in range(meters))
    defs = "".join(f'<meter id="m{k}" serial="{k + 1}"><consumption annual-kwh="3500"/></meter>' for k in range(meters))
    sim = Simulator(parse_sim_config(f'<simulator><listeners><bus id="b" device="pty" baud="{BAUD}">{stations}</bus>'
                                     f'</listeners><meters>{defs}</meters></simulator>'.encode()))
    await sim.start()
    line = Line(sim.buses[0].port.path, BAUD)  # type: ignore[attr-defined]
    line.start()
    with tempfile.TemporaryDirectory() as tmp:
        rows = "".join(f'[[meters]]\nid = "m{k}"\nlink = "rs485://{line.gateway_path}?baud={BAUD}&address=0x{0x10 + k:02X}'
                       f'&turnaround={turnaround_ms}"\ninterval = 0.001\n' for k in range(meters))
        config = parse_config(f'[store]\npath = "{Path(tmp) / "gw.db"}"\n[time]\nservers = []\n'
                              f'[control]\nsocket = "{Path(tmp) / "c.sock"}"\n[logging]\nlevel = "error"\n{rows}')
        gateway = Gateway(config, notifier=Notifier.disabled())
        await gateway.start()
        try:
            bus = bus_for(gateway.meters["m0"].driver.link)  # type: ignore[attr-defined]
            def answered() -> int:
                return sum(s.stats.answers for s in bus.stations.values())

            async def boundary(count: int) -> tuple[float, int]:
                """The moment the ``count``-th answer is in, and the bytes on the wire then."""
                while answered() < count:
                    await asyncio.sleep(0.0005)
                return time.monotonic(), line.bytes

            t0, bytes0 = await boundary(meters)  # every meter connected and answered once
            answers = CYCLES * meters
            t1, bytes1 = await boundary(meters + answers)
            wire_bytes, elapsed = bytes1 - bytes0, t1 - t0
        finally:
            await gateway.stop()
            line.close()
            await sim.stop()
    cycles = answers / meters
    limit = wire_bytes * 10 / BAUD / cycles
    return (elapsed / cycles) / limit, elapsed / cycles, wire_bytes // max(answers, 1)


def main() -> None:
    print(f"RS-485 bus cycle at {BAUD} baud (line emulated between two ptys), time per cycle / bytes on the wire x 10 / baud")
    for turnaround in (0, 2):
        for meters in (1, 4, 8):
            ratio, per_cycle, per_poll = asyncio.run(_cycle_ratio(meters, turnaround))
            target = "   (target <= 1.25)" if turnaround == 0 else ""
            print(f"  turnaround {turnaround} ms, {meters} meter(s): {per_cycle * 1000:7.1f} ms per cycle, "
                  f"{per_poll} bytes per poll, ratio {ratio:.3f}{target}")


if __name__ == "__main__":
    main()
