"""DLMS push meters end to end over real ptys: smgw-sim's customer ports -> smgwd -> store.

The simulator's pushes are built with our own encoder (proven against real captures in
tests/codec/dlms and tests/data/dlms); here the way through the gateway: segments, blocks,
ciphering with the tag checked, a wrong key named once, values equal to the simulated
meter's registers.
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
from smgwd.meters.driver import LinkState
from smgwd.sim.app import Simulator
from smgwd.sim.config import parse_config as parse_sim_config
from tests.waiting import until

EK, AK = bytes(range(16)), bytes(range(16, 32))
IMPORT = Obis(1, 0, 1, 8, 0, 255)




SIM_XML = f"""<simulator><time mode="accelerated" quarter-hour-seconds="2" resolution-ms="100"/>
<listeners>
  <dlms id="a" device="pty" meter="plain" layout="registers" max-info="64" interval-seconds="0.2"/>
  <dlms id="b" device="pty" meter="secure" layout="idis" key="{EK.hex()}" auth-key="{AK.hex()}" block-size="50"
        interval-seconds="0.2"/>
</listeners>
<meters>
  <meter id="plain" manufacturer="KFM" serial="1001" seed="1" initial-import-kwh="100"><consumption annual-kwh="3500"/></meter>
  <meter id="secure" manufacturer="LGZ" serial="1002" seed="2" initial-import-kwh="200"><consumption annual-kwh="9000"/></meter>
</meters></simulator>"""


def _key(tmp_path: Path, name: str, key: bytes) -> Path:
    path = tmp_path / name
    path.write_text(key.hex() + "\n")
    path.chmod(0o600)
    return path


def _toml(tmp_path: Path, sim: Simulator, ek: bytes = EK) -> str:
    a, b = (p.sink.path for p in sim.pushers)  # type: ignore[attr-defined]
    return (f'[store]\npath = "{tmp_path / "gw.db"}"\nflush_interval = 0.05\n[time]\nservers = []\n'
            f'[control]\nsocket = "{tmp_path / "control.sock"}"\n'
            f'[[meters]]\nid = "plain"\nlink = "serial://{a}?baud=2400&parity=E"\nprotocol = "dlms"\ninterval = 0.2\n'
            f'silence_intervals = 50\n'
            f'[[meters]]\nid = "secure"\nlink = "serial://{b}?baud=2400&parity=E"\nprotocol = "dlms"\ninterval = 0.2\n'
            f'silence_intervals = 50\nkey_file = "{_key(tmp_path, "s.ek", ek)}"\nauth_key_file = "{_key(tmp_path, "s.ak", AK)}"\n'
            f'layout = "smgw-sim-idis"\n')


def test_plain_segmented_and_encrypted_block_pushes_into_the_store(tmp_path: Path) -> None:
    sim = Simulator(parse_sim_config(SIM_XML.encode()))

    async def life() -> None:
        await sim.start()
        gateway = Gateway(parse_config(_toml(tmp_path, sim)), notifier=Notifier.disabled())
        await gateway.start()
        try:
            drivers = [gateway.meters[m].driver for m in ("plain", "secure")]
            await until(lambda: all(d.stats.frames >= 5 for d in drivers))
            assert all(d.state is LinkState.UP for d in drivers)
            assert all(d.stats.errors <= 1 for d in drivers)  # at most the message the port was opened inside
        finally:
            await gateway.stop()
            await sim.stop()

    asyncio.run(life())
    with StoreReader(tmp_path / "gw.db") as reader:
        assert {m.id: m.protocol for m in reader.meters()} == {"plain": "dlms", "secure": "dlms"}
        for meter in ("plain", "secure"):
            imports = sorted(reader.readings(meter=meter, obis=IMPORT), key=lambda r: r.gateway_time)
            assert imports, meter
            values = [r.raw for r in imports]
            assert values == sorted(values)
            assert values[-1] <= int(sim.meters[meter].import_wh) and values[0] >= int(sim.meters[meter].spec.initial_import_wh)
            assert imports[-1].scaler == 0 and imports[-1].unit == 30  # Wh, from the push or from the layout
            assert imports[-1].meter_time is not None  # the notification's date-time with its deviation
            assert not imports[-1].quirks
        voltages = list(reader.readings(meter="secure", obis=Obis(1, 0, 32, 7, 0, 255)))
        assert voltages and voltages[-1].scaler == -1 and 2200 < voltages[-1].raw < 2400


def test_a_wrong_key_is_named_once_and_the_meter_is_down(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    sim = Simulator(parse_sim_config(SIM_XML.encode()))

    async def life() -> None:
        await sim.start()
        gateway = Gateway(parse_config(_toml(tmp_path, sim, ek=bytes(16))), notifier=Notifier.disabled())
        await gateway.start()
        try:
            secure, plain = gateway.meters["secure"].driver, gateway.meters["plain"].driver
            await until(lambda: secure.stats.errors >= 5 and plain.stats.frames >= 5)
            assert secure.state is LinkState.DOWN and "TagMismatchError" in secure.reason
            assert secure.stats.frames == 0
        finally:
            await gateway.stop()
            await sim.stop()

    with caplog.at_level("INFO"):
        asyncio.run(life())
    named = [r.getMessage() for r in caplog.records if "does not verify" in r.getMessage()]
    assert len(named) == 1, named
    assert EK.hex() not in caplog.text and "00" * 16 not in caplog.text
