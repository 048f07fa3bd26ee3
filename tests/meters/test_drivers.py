"""Meter drivers against smgw-sim on real ptys and loopback TCP: readings arrive stamped and
under the configured id; meters that vanish, babble garbage or stall are reported once,
counted, retried with back-off, and never block another meter."""

from __future__ import annotations

import asyncio
import os
import random
from datetime import datetime, timezone

from smgwd.cosem.obis import Obis
from smgwd.links.url import parse_link
from smgwd.meters.driver import Backoff, LinkState
from smgwd.meters.sml.profiles import get_profile
from smgwd.meters.sml.pull_driver import SmlPullDriver
from smgwd.meters.sml.push_driver import SmlPushDriver
from smgwd.reading import Reading, TimeQuality
from smgwd.sim.app import Simulator
from smgwd.sim.clock import SteppedClock
from smgwd.sim.config import SerialListener, SimConfig, TcpListener, TimeSettings
from smgwd.sim.meter import MeterSpec
from tests.waiting import until

START = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc).timestamp()
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)


class Recorder:
    """Sink and events of a driver under test."""

    def __init__(self) -> None:
        self.readings: list[Reading] = []
        self.states: list[tuple[LinkState, str]] = []
        self.errors: list[tuple[str, str]] = []

    def on_readings(self, readings: list[Reading]) -> None:
        self.readings.extend(readings)

    def on_state(self, meter_id: str, state: LinkState, reason: str) -> None:
        self.states.append((state, reason))

    def on_error(self, meter_id: str, kind: str, message: str) -> None:
        self.errors.append((kind, message))


def stamp() -> tuple[datetime, TimeQuality]:
    return NOW, TimeQuality.SYNCHRONISED


def fast_backoff() -> Backoff:
    return Backoff(initial=0.02, limit=0.1, rng=random.Random(1))


def simulator(push_interval: float = 0.05) -> Simulator:
    meters = (MeterSpec(id="house", serial=10000001, seed=1), MeterSpec(id="flat", serial=10000002, seed=2))
    config = SimConfig(
        TimeSettings(mode="stepped", start=START),
        (TcpListener("lan", "127.0.0.1", 0, ("house", "flat")),),
        (SerialListener("ir", "pty", "house", interval_seconds=push_interval),),
        meters,
    )
    return Simulator(config, clock=SteppedClock(START), port_override=0)


def test_push_driver_reads_a_pty_meter() -> None:
    async def run() -> None:
        sim = simulator()
        await sim.start()
        rec = Recorder()
        link = parse_link(f"serial://{sim.pushers[0].sink.path}?baud=9600")  # type: ignore[attr-defined]
        driver = SmlPushDriver("ir-meter", link, get_profile("generic"), rec, stamp, rec, interval=0.05,
                               backoff=fast_backoff())
        task = asyncio.create_task(driver.run())
        try:
            await until(lambda: len(rec.readings) >= 40)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await sim.stop()
        assert rec.states[0][0] is LinkState.UP
        reading = next(r for r in rec.readings if r.obis == Obis(1, 0, 1, 8, 0))
        assert reading.meter_id == "ir-meter" and reading.gateway_time == NOW
        assert reading.time_quality is TimeQuality.SYNCHRONISED and reading.unit == 30
        assert driver.stats.frames >= 2

    asyncio.run(run())


def test_push_driver_reports_a_vanished_meter_once_and_counts_retries() -> None:
    async def run() -> None:
        sim = simulator()
        await sim.start()
        rec = Recorder()
        path = sim.pushers[0].sink.path  # type: ignore[attr-defined]
        driver = SmlPushDriver("ir-meter", parse_link(f"serial://{path}"), get_profile("generic"), rec, stamp,
                               rec, interval=0.05, silence_intervals=4, backoff=fast_backoff())
        task = asyncio.create_task(driver.run())
        try:
            await until(lambda: rec.readings)
            await sim.stop()  # the meter is unplugged: its pty disappears
            await until(lambda: driver.stats.reconnects >= 4)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        downs = [s for s in rec.states if s[0] is LinkState.DOWN]
        assert len(downs) <= 2  # the loss, then the reason for retries failing: not one line per retry
        assert driver.stats.reconnects >= 4

    asyncio.run(run())


def test_push_driver_survives_garbage_and_declares_silence() -> None:
    async def run() -> None:
        master, peer = os.openpty()
        import tty

        tty.setraw(peer)
        rec = Recorder()
        driver = SmlPushDriver("babbler", parse_link(f"serial://{os.ttyname(peer)}"), get_profile("generic"), rec,
                               stamp, rec, interval=0.05, silence_intervals=3, backoff=fast_backoff())
        task = asyncio.create_task(driver.run())
        try:
            for _ in range(20):
                os.write(master, b"\x1b\x1b\x1b\x1b\x01\x01\x01\x01" + os.urandom(100) + b"\x1b\x1b\x1b\x1b\x1a\x00\x00\x00")
                await asyncio.sleep(0.01)
            await until(lambda: driver.stats.reconnects >= 1)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            os.close(master)
            os.close(peer)
        assert not rec.readings
        assert rec.errors and rec.errors[0][0] == "frame"
        assert any("no SML frame" in reason for state, reason in rec.states if state is LinkState.DOWN)

    asyncio.run(run())


def test_pull_driver_discovers_once_and_reads_on_schedule() -> None:
    async def run() -> None:
        sim = simulator()
        await sim.start()
        rec = Recorder()
        port = sim.tcp_servers[0].port
        house = sim.meters["house"]
        driver = SmlPullDriver("house", parse_link(f"tcp://127.0.0.1:{port}"), get_profile("generic"), rec, stamp,
                               rec, interval=0.05, server_id=house.server_id, backoff=fast_backoff())
        task = asyncio.create_task(driver.run())
        try:
            await until(lambda: driver.stats.frames >= 3)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await sim.stop()
        assert [o.to_bytes() for o in house.spec.objects] == driver.objects
        e180 = [r for r in rec.readings if r.obis == Obis(1, 0, 1, 8, 0)]
        assert len(e180) >= 3 and e180[-1].raw == int(house.import_wh * 10)
        assert rec.states == [(LinkState.UP, "connected")]

    asyncio.run(run())


def test_a_stalled_meter_times_out_without_blocking_another() -> None:
    async def run() -> None:
        async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while await reader.read(100_000):
                    pass  # swallow requests, answer nothing
            finally:
                writer.close()

        silent = await asyncio.start_server(never_answer, "127.0.0.1", 0)
        silent_port = silent.sockets[0].getsockname()[1]
        sim = simulator()
        await sim.start()
        stalled, healthy = Recorder(), Recorder()
        house = sim.meters["house"]
        drivers = [
            SmlPullDriver("stalled", parse_link(f"tcp://127.0.0.1:{silent_port}"), get_profile("generic"), stalled,
                          stamp, stalled, interval=0.05, timeout=0.2, backoff=fast_backoff()),
            SmlPullDriver("house", parse_link(f"tcp://127.0.0.1:{sim.tcp_servers[0].port}"), get_profile("generic"),
                          healthy, stamp, healthy, interval=0.05, server_id=house.server_id, backoff=fast_backoff()),
        ]
        tasks = [asyncio.create_task(d.run()) for d in drivers]
        try:
            await until(lambda: drivers[0].stats.reconnects >= 2 and drivers[1].stats.frames >= 5)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            silent.close()
            await silent.wait_closed()
            await sim.stop()
        assert stalled.states[0][0] is LinkState.DOWN and "did not answer within 0.2 s" in stalled.states[0][1]
        assert healthy.readings

    asyncio.run(run())


def test_backoff_doubles_with_jitter_up_to_the_limit() -> None:
    backoff = Backoff(initial=1.0, limit=8.0, jitter=0.25, rng=random.Random(3))
    delays = [backoff.next_delay() for _ in range(6)]
    for delay, base in zip(delays, [1, 2, 4, 8, 8, 8]):
        assert base * 0.75 <= delay <= base * 1.25
    assert len(set(delays)) == 6  # jitter: never the same twice
    backoff.reset()
    assert backoff.next_delay() <= 1.25
