"""A hostile pull meter on loopback answers every request with a 1 MB frame (good CRC, garbage
inside): the driver records the failure and the event loop keeps running meanwhile, measured by a
concurrent ticking task (a functional bound, not a benchmark)."""

from __future__ import annotations

import asyncio
import os
import re
import time
from typing import Any

import pytest

from smgwd.codec.sml.transport import encode_frame
from smgwd.links.url import parse_link
from smgwd.meters.driver import LinkState
from smgwd.meters.sml import client as client_module
from smgwd.meters.sml.profiles import get_profile
from smgwd.meters.sml.pull_driver import SmlPullDriver
from tests.meters.test_drivers import Recorder, fast_backoff, stamp

MAX_GAP = 1.0  # seconds the loop may go without running the ticker


def garbage_frame() -> bytes:
    payload = os.urandom(1_000_000).replace(b"\x1b", b"\x1c")
    return encode_frame(b"\x76\x05" + payload)  # starts like an SML message, then noise


async def hostile_meter(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    frame = garbage_frame()
    try:
        while await reader.read(65536):
            writer.write(frame)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def max_gap_while(condition: Any, timeout: float = 20.0) -> float:
    """Tick every 10 ms until ``condition()``; the longest gap between two ticks."""
    loop = asyncio.get_running_loop()
    last = loop.time()
    worst = 0.0
    deadline = last + timeout
    while not condition():
        await asyncio.sleep(0.01)
        now = loop.time()
        worst = max(worst, now - last)
        last = now
        assert now < deadline, "the driver never reported the bad reply"
    return worst


def run_against_hostile_meter() -> tuple[Recorder, float]:
    async def scenario() -> tuple[Recorder, float]:
        server = await asyncio.start_server(hostile_meter, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        rec = Recorder()
        driver = SmlPullDriver("hostile", parse_link(f"tcp://127.0.0.1:{port}"), get_profile("generic"), rec, stamp,
                               rec, interval=0.05, timeout=10.0, backoff=fast_backoff())
        task = asyncio.create_task(driver.run())
        try:
            gap = await max_gap_while(lambda: len([s for s in rec.states if s[0] is LinkState.DOWN]) >= 2)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            server.close()
            await server.wait_closed()
        return rec, gap

    return asyncio.run(scenario())


def test_a_1mb_garbage_reply_is_a_decode_error_and_the_loop_stays_responsive() -> None:
    rec, gap = run_against_hostile_meter()
    down = [reason for state, reason in rec.states if state is LinkState.DOWN]
    # random garbage fails as some SML syntax error (a bad type, an out-of-range field, ...)
    assert down and all(re.match(r"Sml\w*Error: ", reason) for reason in down), down
    assert gap < MAX_GAP, f"event loop blocked for {gap:.2f} s"


def test_a_decode_slower_than_the_budget_does_not_hold_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever a decode of the largest accepted reply costs, it runs off the loop (here it is made
    to take 1.5 s; on the loop that would be a 1.5 s gap)."""
    real = client_module.decode_file

    def slow_decode(payload: bytes, *, request: bool) -> Any:
        time.sleep(1.5)
        return real(payload, request=request)

    monkeypatch.setattr(client_module, "decode_file", slow_decode)
    rec, gap = run_against_hostile_meter()
    assert all(re.match(r"Sml\w*Error: ", reason) for state, reason in rec.states if state is LinkState.DOWN)
    assert gap < MAX_GAP, f"event loop blocked for {gap:.2f} s"
