"""A meter driver stops when it is cancelled, also while its line keeps delivering bytes.

Python 3.11's ``asyncio.wait_for`` (Debian 12) swallows a cancellation that arrives in the
same loop turn as the awaited read completes (CPython gh-86296): a driver on a babbling line
then outlives ``Gateway.stop`` and a dongle receiver keeps its port locked. The drivers wait
with ``asyncio.timeout`` instead; these tests cancel them while a loopback TCP peer floods them.
"""

from __future__ import annotations

import ast
import asyncio
from pathlib import Path

import pytest

import smgwd
from smgwd.codec.dlms.ciphering import DlmsKeys
from smgwd.links.url import parse_link
from smgwd.meters.dlms.push_driver import DlmsPushDriver
from smgwd.meters.driver import MeterDriver
from smgwd.meters.sml.profiles import get_profile
from smgwd.meters.sml.push_driver import SmlPushDriver
from tests.meters.test_drivers import Recorder, fast_backoff, stamp

ROUNDS = 40


_PEERS: set[asyncio.StreamWriter] = set()


async def _flood(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    _PEERS.add(writer)
    try:
        while True:
            writer.write(bytes(range(256)) * 4)  # garbage to both decoders: read, counted, read again
            await writer.drain()
            await asyncio.sleep(0)
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        _PEERS.discard(writer)
        writer.close()


def _driver(kind: str, port: int) -> MeterDriver:
    link, rec = parse_link(f"tcp://127.0.0.1:{port}"), Recorder()
    if kind == "sml":
        return SmlPushDriver("m", link, get_profile("generic"), rec, stamp, rec, backoff=fast_backoff())
    return DlmsPushDriver("m", link, DlmsKeys(), rec, stamp, rec, backoff=fast_backoff())


async def _kill(task: asyncio.Task[None]) -> None:
    """End a driver that swallowed its cancellation: hang up on it, then cancel it in its back-off."""
    for writer in list(_PEERS):
        writer.transport.abort()
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=0.01)


@pytest.mark.parametrize("kind", ["sml", "dlms"])
def test_a_driver_on_a_flooding_line_stops_when_cancelled(kind: str) -> None:
    async def run() -> int:
        server = await asyncio.start_server(_flood, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        survivors = 0
        try:
            for turn in range(ROUNDS):
                driver = _driver(kind, port)
                task = asyncio.create_task(driver.run())
                while driver.stats.sessions == 0:
                    await asyncio.sleep(0.001)
                await asyncio.sleep(0.001 * (turn % 5))  # somewhere in the reading
                task.cancel()
                done, _ = await asyncio.wait({task}, timeout=1.0)
                if not done:
                    survivors += 1
                    await _kill(task)  # or the loop would never close
        finally:
            server.close()
        return survivors

    assert asyncio.run(run()) == 0


def test_no_wait_for_in_the_daemon() -> None:
    """The same bug anywhere else: smgwd awaits with ``asyncio.timeout``, never ``asyncio.wait_for``."""
    root = Path(smgwd.__file__).parent
    uses = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Attribute) and node.attr == "wait_for" and \
                    isinstance(node.value, ast.Name) and node.value.id == "asyncio":
                uses.append(f"{path.relative_to(root)}:{node.lineno}")
    assert uses == []
