"""The calibration-relevant log as the running gateway writes it: time quality changes and clock steps.

Time comes from a real chronyd on loopback; the clock step is a shifted
system clock handed to the gateway (the machine's own clock is left alone).
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from smgwd.gateway.config import ControlConfig, GatewayConfig, StoreConfig, TimeConfig
from smgwd.gateway.core import Gateway
from smgwd.gateway.sdnotify import Notifier
from smgwd.gateway.store import StoreReader
from smgwd.gateway.timebase import STEP_LIMIT, NtpServer, Timebase
from tests.gateway.ntp_servers import chronyd
from tests.gateway.test_timebase import FakeClock, ScriptedQuery, answer, poll


class SteppedClock(FakeClock):
    """A FakeClock whose system time can also jump (monotonic time does not)."""

    def __init__(self) -> None:
        super().__init__()
        self.jump = 0.0

    def time(self) -> float:
        return super().time() + self.jump


@pytest.mark.parametrize("jump, handed_on", [(30.0, True), (-3600.0, True), (STEP_LIMIT * 0.9, False)])
def test_a_clock_step_beyond_the_limit_is_handed_on_once(jump: float, handed_on: bool) -> None:
    clock = SteppedClock()
    steps: list[tuple[float, datetime]] = []
    timebase = Timebase(["a"], clock=clock.time, monotonic=clock.monotonic, query=ScriptedQuery(a=answer()),
                        on_clock_step=lambda step, at: steps.append((step, at)))
    poll(timebase)
    clock.advance(64)
    poll(timebase)  # time went on as monotonic time did: no step
    clock.jump = jump
    clock.advance(64)
    poll(timebase)
    clock.advance(64)
    poll(timebase)  # the step is counted once, not at every poll after it
    if handed_on:
        assert [round(step, 6) for step, _ in steps] == [jump]
        assert steps[0][1] == datetime.fromtimestamp(clock.time() - 64, timezone.utc)
    else:
        assert steps == []


def test_the_gateway_writes_quality_changes_and_clock_steps_to_the_calibration_log(tmp_path: Path) -> None:
    shift = {"seconds": 0.0}
    with chronyd(tmp_path / "chrony", local_stratum=8) as port:
        config = GatewayConfig(
            store=StoreConfig(path=tmp_path / "gw.db", flush_interval=0.05),
            time=TimeConfig(servers=(NtpServer("127.0.0.1", port),), poll_interval=3600.0, timeout=2.0),
            control=ControlConfig(socket=tmp_path / "control.sock"))

        async def life() -> None:
            gateway = Gateway(config, notifier=Notifier.disabled(), clock=lambda: time.time() + shift["seconds"])
            await gateway.start()
            try:
                for _ in range(100):  # the first poll runs at start
                    if gateway.timebase.current.value == "synchronised":
                        break
                    await asyncio.sleep(0.05)
                shift["seconds"] = -90.0  # the system clock stepped back 90 s (as by an operator)
                await gateway.timebase.poll_once()
                assert gateway.store.flush(10)
            finally:
                await gateway.stop()

        asyncio.run(life())
    with StoreReader(tmp_path / "gw.db") as reader:
        calibration = reader.log("calibration")
        system = reader.log("system")
    quality = [e for e in calibration if e.event == "time_quality"]
    assert [(e.data["old"], e.data["new"]) for e in quality][:1] == [("unsynchronised", "synchronised")]
    (step,) = [e for e in calibration if e.event == "time_correction"]
    assert abs(step.data["step_seconds"] + 90.0) < 0.5 and "stepped by -9" in step.message
    assert {"time_quality", "time_correction"} <= {e.event for e in system}  # in the system log too
