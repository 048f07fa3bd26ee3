"""The gateway hears wM-Bus meters through rtl_wmbus lines in a FIFO: real lines, real store.

The lines are real rtl_wmbus output from wmbusmeters' simulations (tests/data/wmbus/dongles,
rtlwmbus.json); the expected values are those wmbusmeters' tests/test_stdin_and_file.sh prints.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

from smgwd.cosem.obis import Obis
from smgwd.gateway.config import parse_config
from smgwd.gateway.core import Gateway
from smgwd.gateway.sdnotify import Notifier
from smgwd.gateway.store.reader import StoreReader
from smgwd.meters.driver import LinkState
from tests.waiting import until

LINES = [item["line"] for item in json.loads(
    (Path(__file__).resolve().parents[2] / "data" / "wmbus" / "dongles" / "rtlwmbus.json").read_text())["rtlwmbus"]]


def _config(tmp_path: Path, fifo: Path) -> str:
    meters = "".join(
        f'[[meters]]\nid = "{name}"\nlink = "rtlwmbus://{fifo}"\nprotocol = "wmbus"\nwmbus_id = "{wmbus_id}"\n'
        "interval = 2.0\nsilence_intervals = 30\n"
        for name, wmbus_id in (("room1", "00010203"), ("room2", "11772288"), ("locked", "88888888"))
    )
    return (f'[store]\npath = "{tmp_path / "gw.db"}"\nflush_interval = 0.05\n[time]\nservers = []\n'
            f'[control]\nsocket = "{tmp_path / "control.sock"}"\n{meters}')




def test_rtl_wmbus_fifo_into_the_store(tmp_path: Path) -> None:
    fifo = tmp_path / "rtlwmbus"
    os.mkfifo(fifo, 0o600)
    config = parse_config(_config(tmp_path, fifo))

    async def life() -> Gateway:
        gateway = Gateway(config, notifier=Notifier.disabled())
        await gateway.start()
        writer = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
        try:
            # LAS room sensor twice (a second reception), rfmamb, the encrypted one, a bad-CRC line, garbage
            text = "\n".join([LINES[0], LINES[0], LINES[1], LINES[3], LINES[4], "not an rtl_wmbus line"]) + "\n"
            os.write(writer, text.encode())
            drivers = {m: gateway.meters[m].driver for m in ("room1", "room2", "locked")}
            await until(lambda: drivers["room1"].stats.frames and drivers["room2"].stats.frames
                         and drivers["locked"].state is LinkState.DOWN)
            assert drivers["room1"].stats.frames == 1  # the duplicate was dropped
            assert drivers["room1"].state is LinkState.UP
            assert "no key for meter 88888888" in drivers["locked"].reason
        finally:
            os.close(writer)
            await gateway.stop()
        return gateway

    asyncio.run(life())
    with StoreReader(tmp_path / "gw.db") as reader:
        room1 = {r.obis: r for r in reader.readings() if r.meter_id == "room1"}
        meters = {m.id: m for m in reader.meters()}
    temperature = room1[Obis(0, 0, 137, 0, 0, 255)]  # external temperature, current
    assert (temperature.raw, temperature.scaler) == (2180, -2)  # 21.8 °C
    assert room1[Obis(0, 0, 155, 0, 0, 2)].raw == 425  # relative humidity, storage 2: 42.5 %
    assert temperature.gateway_time is not None and temperature.meter_time is None
    assert {m.protocol for m in meters.values()} == {"wmbus"}
    assert meters["locked"].errors >= 1


def _exec_config(tmp_path: Path, program: Path) -> str:
    return (f'[store]\npath = "{tmp_path / "gw.db"}"\nflush_interval = 0.05\n[time]\nservers = []\n'
            f'[control]\nsocket = "{tmp_path / "control.sock"}"\n'
            f'[[meters]]\nid = "room1"\nlink = "rtlwmbus+exec://{program}"\nprotocol = "wmbus"\n'
            'wmbus_id = "00010203"\ninterval = 2.0\nsilence_intervals = 30\n')


def test_rtl_wmbus_program_started_by_the_gateway(tmp_path: Path) -> None:
    lines = tmp_path / "lines.txt"
    lines.write_text(LINES[0] + "\n")
    pid_file = tmp_path / "pid"
    program = tmp_path / "sdr-receiver"
    # a pipeline in a script, as rtl_sdr | rtl_wmbus would be: its children must end with it
    program.write_text(f"#!/bin/sh\ncat {lines} | cat\nsleep 600 &\necho $$ $! > {pid_file}\nwait\n")
    program.chmod(0o755)
    config = parse_config(_exec_config(tmp_path, program))

    async def life() -> list[int]:
        gateway = Gateway(config, notifier=Notifier.disabled())
        await gateway.start()
        try:
            driver = gateway.meters["room1"].driver
            await until(lambda: driver.stats.frames >= 1)
            assert driver.state is LinkState.UP
            await until(lambda: pid_file.exists() and len(pid_file.read_text().split()) == 2)
            return [int(p) for p in pid_file.read_text().split()]
        finally:
            await gateway.stop()
            await asyncio.sleep(0.3)  # the SIGTERM'd group is reaped

    for pid in asyncio.run(life()):  # the script and its child
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        with open(f"/proc/{pid}/stat") as stat:
            assert stat.read().split(") ")[1].startswith("Z"), f"process {pid} still runs after the gateway stopped"
    with StoreReader(tmp_path / "gw.db") as reader:
        temperature = [r for r in reader.readings(meter="room1") if r.obis == Obis(0, 0, 137, 0, 0, 255)]
    assert temperature and (temperature[0].raw, temperature[0].scaler) == (2180, -2)


def test_rtl_wmbus_program_that_cannot_run_is_named(tmp_path: Path) -> None:
    program = tmp_path / "not-executable"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o644)
    config = parse_config(_exec_config(tmp_path, program))

    async def life() -> None:
        gateway = Gateway(config, notifier=Notifier.disabled())
        await gateway.start()
        try:
            driver = gateway.meters["room1"].driver
            await until(lambda: "is not an executable file" in driver.reason)
            assert driver.state is not LinkState.UP
        finally:
            await gateway.stop()

    asyncio.run(life())
