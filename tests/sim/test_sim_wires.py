"""The simulator on its wires, with real meters: SML push over a pty read by an independent
parser (smllib), and the gateway's SML client running jOSEF's discovery flow over TCP."""

from __future__ import annotations

import asyncio
import os
import select
from datetime import datetime, timezone

import pytest
from smllib import SmlStreamReader

from smgwd.codec.crc import CrcKind
from smgwd.cosem.obis import Obis
from smgwd.meters.sml.client import SmlAttention, SmlClient
from smgwd.sim.app import Simulator
from smgwd.sim.clock import SteppedClock
from smgwd.sim.config import SimConfig, SerialListener, TcpListener, TimeSettings
from smgwd.sim.meter import MeterSpec, PvSpec

START = datetime(2025, 6, 21, 8, 0, tzinfo=timezone.utc).timestamp()


def config(*, crc: CrcKind = CrcKind.X25, bare: bool = False, username: str | None = None) -> SimConfig:
    meters = (
        MeterSpec(id="house", serial=10000001, seed=1, pv=PvSpec(6000.0), crc=crc, bare_valtime=bare),
        MeterSpec(id="shop", serial=10000002, profile="g0", annual_kwh=20000.0, seed=2),
    )
    tcp = (TcpListener("lan", "127.0.0.1", 0, ("house", "shop"), username, "pw" if username else None),)
    serial = (SerialListener("ir", "pty", "house", interval_seconds=0.05),)
    return SimConfig(TimeSettings(mode="stepped", start=START), tcp, serial, meters)


def read_pty(path: str, want: int, timeout: float = 5.0) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK)
    data = b""
    try:
        while len(data) < want:
            ready, _, _ = select.select([fd], [], [], timeout)
            if not ready:
                break
            data += os.read(fd, 4096)
    finally:
        os.close(fd)
    return data


async def pushed_bytes(sim: Simulator, want: int) -> bytes:
    await sim.start()
    try:
        (pusher,) = sim.pushers
        return await asyncio.to_thread(read_pty, pusher.sink.path, want)  # type: ignore[attr-defined]
    finally:
        await sim.stop()


@pytest.mark.parametrize(("crc", "bare"), [(CrcKind.X25, False), (CrcKind.KERMIT, True)])
def test_push_over_pty_decodes_in_smllib(crc: CrcKind, bare: bool) -> None:
    clock = SteppedClock(START)
    sim = Simulator(config(crc=crc, bare=bare), clock=clock, port_override=0)
    data = asyncio.run(pushed_bytes(sim, 3000))
    reader = SmlStreamReader(crc="kermit" if crc is CrcKind.KERMIT else "x25")
    reader.add(data[data.index(b"\x1b\x1b\x1b\x1b\x01\x01\x01\x01"):])
    frames = []
    while (frame := reader.get_frame()) is not None:  # get_frame raises CrcError on a bad frame CRC
        frames.append(frame)
    assert len(frames) >= 2
    values = {entry.obis.obis_short: entry for entry in frames[0].get_obis()}
    house = sim.meters["house"]
    assert values["1.8.0"].value == int(house.import_wh * 10) and values["1.8.0"].scaler == -1
    assert values["1.8.0"].unit == 30
    assert values["96.1.0"].value == house.server_id.hex()


def test_jOSEF_discovery_flow_and_profiles_over_tcp() -> None:
    async def run() -> None:
        clock = SteppedClock(START)
        sim = Simulator(config(), clock=clock, port_override=0)
        await sim.start()
        try:
            port = sim.tcp_servers[0].port
            house = sim.meters["house"]
            async with SmlClient("127.0.0.1", port, server_id=house.server_id, timeout=5) as client:
                ids = await client.discover()  # steps 1 + 2
                assert ids == [o.to_bytes() for o in house.spec.objects]
                clock.step(3600.0)
                details = await client.read_objects(ids)  # steps 3 + 4
                assert [e.obj_name for e in details] == ids
                by_obis = {Obis.from_bytes(e.obj_name): e for e in details}
                assert by_obis[Obis(1, 0, 1, 8, 0)].value == int(house.import_wh * 10)
                assert by_obis[Obis(1, 0, 2, 8, 0)].value == int(house.export_wh * 10)
                listing = await client.get_list()
                assert listing.server_id == house.server_id and listing.act_sensor_time.value == 3600
                rows = await client.get_profile_list(Obis(1, 0, 1, 8, 0).to_bytes(), int(START), int(START) + 3600)
                assert len(rows) == 4 and rows[-1].period_list[0].value == int(house.import_wh * 10)
            shop = sim.meters["shop"]
            async with SmlClient("127.0.0.1", port, server_id=shop.server_id, timeout=5) as client:
                listing = await client.get_list()
                assert listing.server_id == shop.server_id
            async with SmlClient("127.0.0.1", port, timeout=5) as client:  # two meters, no serverId
                with pytest.raises(SmlAttention) as caught:
                    await client.get_list()
                assert caught.value.number.hex() == "8181c7c7fe03"
        finally:
            await sim.stop()

    asyncio.run(run())


def test_authentication_and_bad_clients() -> None:
    async def run() -> None:
        sim = Simulator(config(username="gw"), clock=SteppedClock(START), port_override=0)
        await sim.start()
        try:
            port = sim.tcp_servers[0].port
            house_id = sim.meters["house"].server_id
            for junk in (os.urandom(3000), b"\x1b\x1b\x1b\x1b\x01\x01\x01\x01\x76\x05", b""):
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(junk)
                await writer.drain()
                writer.transport.abort()  # vanish without a goodbye
            async with SmlClient("127.0.0.1", port, server_id=house_id, username="gw", password="wrong", timeout=5) as c:
                with pytest.raises(SmlAttention) as caught:
                    await c.get_list()
                assert caught.value.number.hex() == "8181c7c7fe02"
            async with SmlClient("127.0.0.1", port, server_id=house_id, username="gw", password="pw", timeout=5) as c:
                assert (await c.get_list()).entries
            stats = sim.tcp_servers[0].server.stats
            assert stats.connections >= 5 and stats.errors
        finally:
            await sim.stop()

    asyncio.run(run())
