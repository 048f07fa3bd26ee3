"""The gateway's dongle hosts and receivers against smgw-sim's emulated sticks, over real ptys.

The emulators answer with the sticks' own protocols (the codecs are proven on real
dongle captures in tests/codec/wmbus); here the host side of setup, reset, RSSI and
transparent mode, and the whole way emulated stick -> receiver -> meter -> store with
the faults the emulator injects: duplicates, corrupted frames, a hung stick.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Callable

import pytest

from smgwd.codec.wmbus import decode_telegram
from smgwd.cosem.obis import Obis
from smgwd.gateway.config import parse_config
from smgwd.gateway.core import Gateway
from smgwd.gateway.sdnotify import Notifier
from smgwd.gateway.store.reader import StoreReader
from smgwd.links.stream import open_stream
from smgwd.links.url import parse_link
from smgwd.meters.driver import LinkState
from smgwd.meters.wmbus.dongles import DongleError, Heard, host_for
from smgwd.meters.wmbus.receiver import receiver_for
from smgwd.sim.app import Simulator
from smgwd.sim.clock import SteppedClock
from smgwd.sim.config import parse_config as parse_sim_config
from smgwd.sim.meter import MeterSpec, SimMeter
from smgwd.sim.sml_push import PtySink
from smgwd.sim.wmbus.dongles import Amb8465Emulator, DongleEmulator, Im871aEmulator
from smgwd.sim.wmbus.models import ElectricityModel
from smgwd.sim.wmbus.transmitter import RadioSettings, Transmitter
from tests.waiting import until

KEY = bytes(range(16))


def _telegram(radio_mode: str = "t1") -> bytes:
    meter = SimMeter(MeterSpec("m", 12345678, annual_kwh=3500), SteppedClock(1_750_000_000.0))
    return Transmitter(ElectricityModel(meter), RadioSettings("m", 5, KEY, radio_mode=radio_mode), "SIM", 12345678).telegram()


async def _heard(host_feed: Callable[[bytes], list[Heard]], stream: object, count: int) -> list[Heard]:
    heard: list[Heard] = []
    while len(heard) < count:
        data = await asyncio.wait_for(stream.read(), 5.0)  # type: ignore[attr-defined]
        heard += host_feed(data)
    return heard


@pytest.mark.parametrize("dongle", ["im871a", "amb8465"])
def test_host_sets_the_stick_up_and_takes_its_telegrams(dongle: str) -> None:
    async def run() -> None:
        port = PtySink()
        emulator: DongleEmulator = Im871aEmulator(port) if dongle == "im871a" else Amb8465Emulator(port)
        emulator.start()
        link = parse_link(f"{dongle}://{port.path}?mode=c1,t1")
        stream = await open_stream(link)
        try:
            host = host_for(link, answer_timeout=2.0)
            assert emulator.hears == ("t1",)  # power-on mode
            await host.setup(stream)
            assert emulator.hears == ("c1", "t1")
            assert "mode c1,t1" in host.description
            if dongle == "im871a":
                assert host.description.startswith("iM871A firmware 0x15 uid 53494d31")
            else:
                assert "RSSI on" in host.description
            t1, c1 = _telegram("t1"), _telegram("c1")
            emulator.hear(t1, -71.5, "t1")
            emulator.hear(c1, -88.0, "c1")
            emulator.hear(_telegram("s1"), -60.0, "s1")  # a mode the stick is not set to
            heard = await _heard(host.feed, stream, 2)
            assert [h.telegram for h in heard] == [t1, c1]
            assert heard[0].rssi_dbm == pytest.approx(-71.5, abs=0.5)
            assert heard[1].rssi_dbm == pytest.approx(-88.0, abs=0.5)
            assert emulator.stats.other_mode == 1
            assert decode_telegram(heard[0].telegram, {"12345678": KEY}).payload.startswith(b"\x04\x6d")
            await host.reset(stream)
            assert emulator.stats.resets == 1 and emulator.hears == ("c1", "t1") and host.resets == 1
        finally:
            stream.close()
            emulator.close()

    asyncio.run(run())


def test_host_switches_a_transparent_amb8465_to_command_mode() -> None:
    async def run() -> None:
        port = PtySink()
        emulator = Amb8465Emulator(port, transparent=True)
        emulator.start()
        link = parse_link(f"amb8465://{port.path}?mode=t1")
        stream = await open_stream(link)
        try:
            host = host_for(link)
            await host.setup(stream)
            assert emulator.parameters[0x05] == 1 and emulator.stats.resets == 1
            telegram = _telegram()
            emulator.hear(telegram, -70.0, "t1")
            heard = await _heard(host.feed, stream, 1)
            assert heard[0].telegram == telegram
        finally:
            stream.close()
            emulator.close()

    asyncio.run(run())


def test_wrong_stick_on_the_port_is_named() -> None:
    async def run() -> None:
        port = PtySink()
        emulator = Amb8465Emulator(port)
        emulator.start()
        link = parse_link(f"im871a://{port.path}")
        stream = await open_stream(link)
        try:
            with pytest.raises(DongleError, match=r"iM871A on .*: no answer to PING within 0.5 s \(is it a iM871A"):
                await host_for(link, answer_timeout=0.5).setup(stream)
        finally:
            stream.close()
            emulator.close()

    asyncio.run(run())


def _sim_xml(dongle: str, listener_attrs: str, interval: float) -> str:
    return f"""<simulator><time mode="accelerated" quarter-hour-seconds="2" resolution-ms="100"/>
<listeners><wmbus id="radio" device="pty" dongle="{dongle}" seed="11" {listener_attrs}>
  <meter ref="house" security="5" key="{KEY.hex()}" interval-seconds="{interval}"/>
  <meter ref="tap" security="7" key="{KEY[::-1].hex()}" interval-seconds="{interval}" radio-mode="c1"/>
</wmbus></listeners>
<meters>
  <meter id="house" serial="10000001" seed="1"><consumption profile="h0" annual-kwh="3500"/></meter>
  <water id="tap" serial="20000002" manufacturer="KAM" annual-m3="60"/>
</meters></simulator>"""


def _gateway_toml(tmp_path: Path, dongle: str, pty: str, interval: float, silence_intervals: int) -> str:
    for name, key in (("house", KEY), ("tap", KEY[::-1])):
        path = tmp_path / f"{name}.key"
        path.write_text(key.hex() + "\n")
        path.chmod(0o600)
    meters = "".join(
        f'[[meters]]\nid = "{name}"\nlink = "{dongle}://{pty}?mode=c1,t1"\nprotocol = "wmbus"\n'
        f'wmbus_id = "{wmbus_id}"\nkey_file = "{tmp_path / (name + ".key")}"\ninterval = {interval}\n'
        f"silence_intervals = {silence_intervals}\n"
        for name, wmbus_id in (("house", "10000001"), ("tap", "20000002"))
    )
    return (f'[store]\npath = "{tmp_path / "gw.db"}"\nflush_interval = 0.05\n[time]\nservers = []\n'
            f'[control]\nsocket = "{tmp_path / "control.sock"}"\n{meters}')


@pytest.mark.parametrize("dongle", ["im871a", "amb8465"])
def test_duplicates_and_corrupted_frames_never_reach_the_store(tmp_path: Path, dongle: str) -> None:
    sim = Simulator(parse_sim_config(_sim_xml(dongle, 'duplicate-rate="0.5" corrupt-rate="0.2"', 0.1).encode()))

    async def life() -> dict[str, int]:
        await sim.start()
        radio = sim.radios[0]
        gateway = Gateway(parse_config(_gateway_toml(tmp_path, dongle, radio.emulator.port.path, 0.1, 50)),  # type: ignore[attr-defined]
                          notifier=Notifier.disabled())
        await gateway.start()
        try:
            drivers = {m: gateway.meters[m].driver for m in ("house", "tap")}
            await until(lambda: all(d.stats.frames >= 15 for d in drivers.values()))
            stats = radio.emulator.stats
            assert stats.duplicates > 0 and stats.corrupted > 0
            receiver = receiver_for(drivers["house"].link)  # type: ignore[attr-defined]
            assert receiver.stats.bad_frames > 0  # the host's CRC / checksum caught them
            sent = {t.model.id: t.sent for t in radio.transmitters}
            for name, driver in drivers.items():
                assert driver.state is LinkState.UP
                assert driver.stats.frames <= sent[name]  # no telegram counted twice
            return {name: driver.stats.frames for name, driver in drivers.items()}
        finally:
            await gateway.stop()
            await sim.stop()

    frames = asyncio.run(life())
    with StoreReader(tmp_path / "gw.db") as reader:
        imports = [r for r in reader.readings(meter="house", obis=Obis(1, 0, 1, 8, 0))]
        volumes = [r for r in reader.readings(meter="tap", obis=Obis(8, 0, 1, 0, 0))]
    assert len(imports) >= frames["house"] - 1 and len(volumes) >= frames["tap"] - 1
    for series in (imports, volumes):
        values = [r.raw for r in sorted(series, key=lambda r: r.gateway_time)]
        assert values == sorted(values)  # registers never run backwards: no garbage value got through
    assert imports[-1].raw <= int(sim.meters["house"].import_wh)
    assert volumes[-1].raw <= int(sim.radio_models["tap"].litres)  # type: ignore[attr-defined]


def test_a_hung_stick_is_reset_and_heard_again(tmp_path: Path) -> None:
    sim = Simulator(parse_sim_config(_sim_xml("im871a", 'silent-after-seconds="1.5"', 0.1).encode()))

    async def life() -> None:
        await sim.start()
        emulator = sim.radios[0].emulator
        gateway = Gateway(parse_config(_gateway_toml(tmp_path, "im871a", emulator.port.path, 0.1, 10)),  # type: ignore[attr-defined]
                          notifier=Notifier.disabled())
        await gateway.start()
        try:
            house = gateway.meters["house"].driver
            await until(lambda: house.stats.frames >= 3)
            await until(lambda: emulator.hung)
            before = house.stats.frames
            await until(lambda: emulator.stats.resets >= 1)
            assert emulator.stats.while_hung > 0
            await until(lambda: house.stats.frames > before + 3 and house.state is LinkState.UP)
        finally:
            await gateway.stop()
            await sim.stop()

    asyncio.run(life())


def test_a_wrong_key_is_named_once_in_the_log_and_in_status(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    from smgwd.cli.main import main as smgwctl

    sim = Simulator(parse_sim_config(_sim_xml("im871a", "", 0.1).encode()))
    config_path = tmp_path / "smgwd.toml"

    async def life() -> None:
        await sim.start()
        emulator = sim.radios[0].emulator
        config_path.write_text(_gateway_toml(tmp_path, "im871a", emulator.port.path, 0.1, 50))  # type: ignore[attr-defined]
        (tmp_path / "house.key").write_text("ff" * 16 + "\n")  # not the meter's key
        gateway = Gateway(parse_config(config_path.read_text(), str(config_path)), notifier=Notifier.disabled())
        await gateway.start()
        try:
            house, tap = gateway.meters["house"].driver, gateway.meters["tap"].driver
            await until(lambda: house.stats.errors >= 5 and tap.stats.frames >= 5)
            assert house.state is LinkState.DOWN and "wrong key for meter 10000001" in house.reason
            assert tap.state is LinkState.UP
        finally:
            await gateway.stop()
            await sim.stop()

    with caplog.at_level("INFO"):
        asyncio.run(life())
    named = [r.getMessage() for r in caplog.records if "wrong key" in r.getMessage()]
    assert len(named) == 1, named
    assert "ff" * 16 not in caplog.text
    capsys.readouterr()
    assert smgwctl(["--config", str(config_path), "status"]) == 0
    status = capsys.readouterr().out
    assert "wrong key for meter 10000001" in status
    assert smgwctl(["--config", str(config_path), "meters", "--format", "json"]) == 0
    out = capsys.readouterr().out
    import json

    listed = json.loads(out) if out.lstrip().startswith("[") else [json.loads(line) for line in out.splitlines() if line]
    assert {m["id"]: m["protocol"] for m in listed} == {"house": "wmbus", "tap": "wmbus"}


def test_an_unplugged_stick_comes_back_by_itself(tmp_path: Path) -> None:
    """A /dev/serial/by-id name is a symlink: unplugged, it vanishes; plugged in, it points anew."""
    by_id = tmp_path / "usb-IMST_iM871A-if00-port0"
    xml = _sim_xml("im871a", "", 0.1).encode()

    def plug(sim: Simulator) -> None:
        new = tmp_path / "new-link"
        new.symlink_to(sim.radios[0].emulator.port.path)  # type: ignore[attr-defined]
        new.replace(by_id)

    async def life() -> None:
        first = Simulator(parse_sim_config(xml))
        await first.start()
        plug(first)
        gateway = Gateway(parse_config(_gateway_toml(tmp_path, "im871a", str(by_id), 0.1, 50)),
                          notifier=Notifier.disabled())
        await gateway.start()
        second = Simulator(parse_sim_config(xml))
        try:
            house = gateway.meters["house"].driver
            await until(lambda: house.stats.frames >= 3)
            await first.stop()  # unplugged: the port is gone
            by_id.unlink()
            await until(lambda: house.state is LinkState.DOWN)
            assert "dongle down" in house.reason
            before = house.stats.frames
            await second.start()
            plug(second)  # plugged in again, on another tty
            await until(lambda: house.state is LinkState.UP and house.stats.frames >= before + 3)
            assert receiver_for(house.link).up  # type: ignore[attr-defined]
        finally:
            await gateway.stop()
            await second.stop()

    asyncio.run(life())
