"""The RS-485 bus over a real pty: smgwd as HDLC primary, smgw-sim's stations as secondaries.

One healthy meter, one slow, one dead, one that babbles line noise and restarts its link
every third answer: the healthy ones are read all along, the dead one is down with its
reason (logged once) and polled less and less, the restarting one is connected again
within the same poll and never goes down.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from smgwd.cosem.obis import Obis
from smgwd.gateway.config import parse_config
from smgwd.gateway.core import Gateway
from smgwd.gateway.sdnotify import Notifier
from smgwd.gateway.store.reader import StoreReader
from smgwd.meters.bus.master import bus_for
from smgwd.meters.driver import LinkState
from smgwd.sim.app import Simulator
from smgwd.sim.config import parse_config as parse_sim_config
from tests.waiting import until

ADDRESSES = {"healthy": 0x12, "slow": 0x13, "dead": 0x14, "babbler": 0x15}
SIM = ("""<simulator><time mode="accelerated" quarter-hour-seconds="2" resolution-ms="100"/>
<listeners><bus id="lmn" device="pty" seed="5">
  <station meter="healthy" address="0x12"/>
  <station meter="slow" address="0x13" behaviour="slow" delay-ms="60"/>
  <station meter="dead" address="0x14" behaviour="dead"/>
  <station meter="babbler" address="0x15" behaviour="babble" reset-every="3"/>
</bus></listeners><meters>"""
       + "".join(f'<meter id="{m}" serial="{n}" seed="{n}" initial-import-kwh="{n}00"><consumption annual-kwh="3500"/></meter>'
                 for n, m in enumerate(ADDRESSES, 1))
       + "</meters></simulator>")




def test_bus_of_four_meters_one_dead_one_slow_one_babbling(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    sim = Simulator(parse_sim_config(SIM.encode()))

    async def life() -> None:
        await sim.start()
        pty = sim.buses[0].port.path  # type: ignore[attr-defined]
        meters = "".join(f'[[meters]]\nid = "{m}"\nlink = "rs485://{pty}?address=0x{a:02X}&turnaround=1"\ninterval = 0.3\n'
                         for m, a in ADDRESSES.items())
        config = parse_config(f'[store]\npath = "{tmp_path / "gw.db"}"\nflush_interval = 0.05\n[time]\nservers = []\n'
                              f'[control]\nsocket = "{tmp_path / "control.sock"}"\n{meters}')
        gateway = Gateway(config, notifier=Notifier.disabled())
        await gateway.start()
        try:
            d = {m: gateway.meters[m].driver for m in ADDRESSES}
            await until(lambda: d["dead"].state is LinkState.DOWN and d["babbler"].stats.frames >= 4)
            bus = bus_for(d["healthy"].link)  # type: ignore[attr-defined]
            before = d["healthy"].stats.frames
            await until(lambda: d["healthy"].stats.frames >= before + 5)  # never stalled by the dead one
            assert d["slow"].stats.frames >= 2 and d["slow"].state is LinkState.UP
            assert d["babbler"].state is LinkState.UP and bus.stations["babbler"].stats.reconnects >= 1
            assert "no answer from address 0x14" in d["dead"].reason
            dead, healthy = bus.stations["dead"].stats, bus.stations["healthy"].stats
            assert dead.polls < healthy.polls / 2  # polled less and less
            assert bus.cycle_s is not None
            from smgwd.gateway.control import query

            live = await asyncio.to_thread(query, tmp_path / "control.sock")
            (shown,) = live["buses"]
            assert shown["port"] == pty and set(shown["meters"]) == set(ADDRESSES)
            assert shown["meters"]["dead"]["failures"] >= 1 and shown["meters"]["healthy"]["answers"] >= 5
            assert shown["meters"]["babbler"]["reconnects"] >= 1 and shown["meters"]["dead"]["address"] == "0x14"
            from smgwd.cli.main import main as smgwctl

            config_path = tmp_path / "smgwd.toml"
            config_path.write_text(f'[store]\npath = "{tmp_path / "gw.db"}"\n[control]\nsocket = "{tmp_path / "control.sock"}"\n')
            import contextlib
            import io

            text = io.StringIO()
            with contextlib.redirect_stdout(text):
                assert await asyncio.to_thread(smgwctl, ["--config", str(config_path), "status"]) == 0
            assert f"bus       {pty} up" in text.getvalue() and "0x14" in text.getvalue()
        finally:
            await gateway.stop()
            await sim.stop()

    with caplog.at_level("INFO"):
        asyncio.run(life())
    named = [r for r in caplog.records if "no answer from address 0x14" in r.getMessage()]
    assert len(named) == 1, [r.getMessage() for r in named]  # the dead meter, named once
    with StoreReader(tmp_path / "gw.db") as reader:
        links = {m.id: m.link for m in reader.meters()}
        assert all(link.startswith("rs485://") for link in links.values())
        for meter in ("healthy", "slow", "babbler"):
            imports = sorted(reader.readings(meter=meter, obis=Obis(1, 0, 1, 8, 0)), key=lambda r: r.gateway_time)
            assert imports and [r.raw for r in imports] == sorted(r.raw for r in imports)
            assert imports[-1].raw <= int(sim.meters[meter].import_wh * 10)  # 0.1 Wh units, scaler -1
        assert not list(reader.readings(meter="dead"))


def test_gpio_direction_pin_brackets_every_frame_sent(tmp_path: Path) -> None:
    from smgwd.links.gpio import FakeGpio, gpio_backend

    xml = ('<simulator><listeners><bus id="b" device="pty"><station meter="m" address="0x21"/></bus></listeners>'
           '<meters><meter id="m" serial="1"><consumption annual-kwh="3500"/></meter></meters></simulator>')
    sim = Simulator(parse_sim_config(xml.encode()))
    fake = gpio_backend("fake")
    assert isinstance(fake, FakeGpio)

    async def life() -> int:
        await sim.start()
        pty = sim.buses[0].port.path  # type: ignore[attr-defined]
        config = parse_config(f'[store]\npath = "{tmp_path / "gw.db"}"\n[time]\nservers = []\n'
                              f'[control]\nsocket = "{tmp_path / "c.sock"}"\n[[meters]]\nid = "m"\n'
                              f'link = "rs485://{pty}?baud=9600&address=0x21&direction=gpio:22&backend=fake"\ninterval = 0.2\n')
        gateway = Gateway(config, notifier=Notifier.disabled())
        await gateway.start()
        try:
            await until(lambda: gateway.meters["m"].driver.stats.frames >= 3)
        finally:
            await gateway.stop()
            frames = sim.buses[0].frames_in
            await sim.stop()
        return frames

    fake.changes.clear()
    frames = asyncio.run(life())
    levels = [level for pin, level in fake.changes if pin == 22]
    assert levels and levels == [True, False] * (len(levels) // 2)  # high to send, low again after each frame
    assert len(levels) // 2 >= frames - 1  # every frame the meter received was sent with the driver enabled
    assert 22 not in fake.levels  # the pin is released with the bus
