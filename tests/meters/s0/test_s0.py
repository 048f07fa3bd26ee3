"""S0 pulse inputs: exact counts under contact bounce, power from the pulse rate, a register that survives restarts."""

from __future__ import annotations

import asyncio
import random
import threading
from decimal import Decimal
from pathlib import Path

import pytest

from smgwd.cosem.obis import Obis
from smgwd.gateway.config import ConfigError, parse_config
from smgwd.gateway.core import Gateway
from smgwd.gateway.sdnotify import Notifier
from smgwd.gateway.store.reader import StoreReader
from smgwd.links.gpio import FakeGpio, gpio_backend
from smgwd.meters.driver import LinkState
from smgwd.meters.s0.counter import S0Counter, pulse_step


def test_pulse_steps_are_exact() -> None:
    assert pulse_step(1000, 1000)[:2] == (1, 0)  # 1000 imp/kWh: 1 Wh
    assert pulse_step(800, 1000)[:2] == (125, -2)  # 1.25 Wh
    assert pulse_step(2000, 1000)[:2] == (5, -1)
    assert pulse_step(100, 1)[:2] == (1, -2)  # 100 imp/m³: 0.01 m³
    with pytest.raises(ValueError, match="no exact decimal form"):
        pulse_step(3, 1000)


def test_100k_pulses_with_bounce_count_exactly() -> None:
    rng = random.Random(7)
    counter = S0Counter(pulse_step(800, 1000), debounce=0.02)
    t, bounces = 1000.0, 0
    for _ in range(100_000):
        t += rng.uniform(0.05, 2.0)  # pulses at least 50 ms apart
        counter.edge(t)
        for _ in range(rng.randrange(4)):  # contact bounce within 15 ms
            bounces += 1
            counter.edge(t + rng.uniform(0.0005, 0.015))
    assert counter.count == 100_000 and counter.bounces == bounces
    value = Decimal(counter.register_raw).scaleb(counter.step.scaler)
    assert value == Decimal(100_000) * Decimal("1.25")  # Wh, exact


def test_power_from_the_pulse_rate_and_its_decay() -> None:
    counter = S0Counter(pulse_step(1000, 1000))
    for k in range(5):
        counter.edge(10.0 + 3.6 * k)  # one Wh every 3.6 s: 1000 W
    assert counter.rate_per_hour(10.0 + 3.6 * 4) == pytest.approx(Decimal(1000), rel=Decimal("1e-9"))
    assert counter.rate_per_hour(10.0 + 3.6 * 4 + 36.0) == pytest.approx(Decimal(100), rel=Decimal("1e-9"))  # no pulse for 36 s


def _config(tmp_path: Path, pin: int, extra: str = "") -> str:
    return (f'[store]\npath = "{tmp_path / "gw.db"}"\nflush_interval = 0.05\n[time]\nservers = []\n'
            f'[control]\nsocket = "{tmp_path / "control.sock"}"\n'
            f'[[meters]]\nid = "heatpump"\nlink = "gpio://{pin}?backend=fake&debounce=5"\nprotocol = "s0"\n'
            f'pulses_per_unit = 1000\ninterval = 0.1\n{extra}')


def _run(tmp_path: Path, pin: int, pulses: int) -> None:
    """``pulses`` bouncing pulses 25 ms apart (debounce 20 ms: a busy machine may delay an edge by a few ms)."""
    async def life() -> None:
        config = _config(tmp_path, pin).replace("debounce=5", "debounce=20")
        gateway = Gateway(parse_config(config), notifier=Notifier.disabled())
        await gateway.start()
        try:
            driver = gateway.meters["heatpump"].driver
            fake = gpio_backend("fake")
            assert isinstance(fake, FakeGpio)
            await asyncio.sleep(0.05)
            start = driver.counter.count  # type: ignore[attr-defined]

            def train() -> None:  # the GPIO library calls back from its own thread
                for _ in range(pulses):
                    fake.pulse(pin, bounces=2)
                    threading.Event().wait(0.025)

            await asyncio.to_thread(train)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 5
            while driver.counter.count < start + pulses:  # type: ignore[attr-defined]
                assert loop.time() < deadline
                await asyncio.sleep(0.01)
            assert driver.state is LinkState.UP
        finally:
            await gateway.stop()  # the driver records the count it stops with

    asyncio.run(life())


def test_register_survives_a_restart(tmp_path: Path) -> None:
    _run(tmp_path, 17, 40)
    _run(tmp_path, 17, 25)  # the second run goes on from the stored register
    with StoreReader(tmp_path / "gw.db") as reader:
        last = {r.obis: r for r in reader.last_readings("heatpump")}
    register = last[Obis(1, 0, 1, 8, 0)]
    assert (register.raw, register.scaler, register.unit) == (65, 0, 30)  # 65 Wh: nothing lost, nothing twice
    assert last[Obis(1, 0, 1, 7, 0)].unit == 27


def test_s0_config_is_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="pulses_per_unit: missing"):
        parse_config(_config(tmp_path, 4).replace("pulses_per_unit = 1000\n", ""))
    with pytest.raises(ConfigError, match="no exact decimal form"):
        parse_config(_config(tmp_path, 4).replace("pulses_per_unit = 1000", "pulses_per_unit = 3"))
    with pytest.raises(ConfigError, match="an S0 input is a GPIO pin"):
        parse_config(_config(tmp_path, 4).replace("gpio://4?backend=fake&debounce=5", "serial:///dev/ttyS0"))
    with pytest.raises(ConfigError, match="GPIO pin '99' is not a BCM pin number"):
        parse_config(_config(tmp_path, 99))


def test_the_simulator_drives_a_fake_pin(tmp_path: Path) -> None:
    """smgw-sim's <s0> output pulses as its meter's register grows; the gateway counts every pulse."""
    from smgwd.sim.app import Simulator
    from smgwd.sim.config import parse_config as parse_sim_config

    xml = ('<simulator><time mode="accelerated" quarter-hour-seconds="0.5" resolution-ms="10"/>'
           '<listeners><s0 id="o" meter="pump" pin="23" pulses-per-kwh="1000"/></listeners>'
           '<meters><meter id="pump" serial="9"><consumption profile="g0" annual-kwh="20000"/></meter></meters></simulator>')
    sim = Simulator(parse_sim_config(xml.encode()))

    async def life() -> None:
        gateway = Gateway(parse_config(_config(tmp_path, 23).replace("debounce=5", "debounce=0")), notifier=Notifier.disabled())
        await gateway.start()
        await sim.start()
        try:
            driver = gateway.meters["heatpump"].driver
            pulser = sim.s0_outputs[0]
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 10
            while pulser.pulses < 20:
                assert loop.time() < deadline
                await asyncio.sleep(0.05)
            await sim.stop()
            await asyncio.sleep(0.05)
            assert driver.counter.count == pulser.pulses  # type: ignore[attr-defined]
        finally:
            await gateway.stop()

    asyncio.run(life())
