"""The simulator's SML server under a flood of idle connections (issue 9, section 5).

The flood comes from 127.0.0.2 (client sockets bound to that source address),
the real client from 127.0.0.1: both are loopback, but the server sees two
peers. The helpers (a test meter, a real SML client doing the discovery flow)
are those of ``test_sml_server``.
"""

from __future__ import annotations

import asyncio

import pytest

from smgwd.codec.sml import types as t
from smgwd.sim.sml_server import MIN_PER_PEER, SmlServer
from tests.sim.test_sml_server import (
    FixedMeter,
    closed_by_server,
    get_list_file,
    read_reply,
    run,
    serve,
    still_serves,
    until,
)

FLOODER = "127.0.0.2"

Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def flood(port: int, count: int, source: str = FLOODER) -> list[Connection]:
    """``count`` connections from ``source`` that never send a byte."""
    return [await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0)) for _ in range(count)]


def close_all(connections: list[Connection]) -> None:
    for _, writer in connections:
        writer.close()


def test_idle_flood_does_not_keep_a_real_client_out() -> None:
    """Old code: the idle connections fill max_clients and the real client is reset for the idle timeout (60 s)."""

    async def scenario() -> None:
        async with serve(first_request_timeout=0.3, max_clients=6, max_per_peer=4) as server:
            conns = await flood(server.port, 20)
            await until(lambda: server.stats.active + server.stats.refused == 20)
            assert server.stats.active == 4  # the per-peer cap
            assert server.stats.refused == server.stats.refused_per_peer == 16
            await still_serves(server)  # from 127.0.0.1, while the four idle ones are still held
            assert server.stats.requests >= 1 and server.stats.errors == {}
            close_all(conns)

    run(scenario())


def test_idle_connections_closed_after_first_request_timeout() -> None:
    async def scenario() -> None:
        async with serve(first_request_timeout=0.3, idle_timeout=30.0, max_per_peer=4) as server:
            conns = await flood(server.port, 4)
            await until(lambda: server.stats.active == 4)
            loop = asyncio.get_running_loop()
            start = loop.time()
            for reader, _ in conns:
                assert await closed_by_server(reader)
            assert 0.25 <= loop.time() - start < 5.0  # the short timeout, not the 30 s idle one
            await until(lambda: server.stats.active == 0)
            assert server.stats.errors == {"first_request_timeout": 4}
            # the flooder's slots are free again: it may connect anew, and is capped anew
            again = await flood(server.port, 5)
            await until(lambda: server.stats.active + server.stats.refused == 5)
            assert server.stats.active == 4 and server.stats.refused_per_peer == 1
            close_all(conns + again)

    run(scenario())


def test_client_that_has_spoken_gets_the_idle_timeout() -> None:
    """After one complete request the long idle timeout applies: a silent neighbour is cut off, the client is not."""

    async def scenario() -> None:
        async with serve(first_request_timeout=0.3, idle_timeout=30.0) as server:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(get_list_file())
            assert await read_reply(reader) is not None
            (silent,) = await flood(server.port, 1)
            assert await closed_by_server(silent[0])  # the first-request timeout has passed since we spoke
            writer.write(get_list_file())
            reply = await read_reply(reader)
            assert reply is not None and isinstance(reply.messages[0].body, t.GetListResponse)
            assert server.stats.errors == {"first_request_timeout": 1} and server.stats.requests == 2
            writer.close()
            silent[1].close()

    run(scenario())


def test_dribbling_client_cut_off_by_first_request_timeout() -> None:
    """Bytes that never complete a request do not renew the deadline."""

    async def scenario() -> None:
        async with serve(first_request_timeout=0.3, idle_timeout=30.0) as server:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port, local_addr=(FLOODER, 0))
            data = get_list_file()
            closed = asyncio.ensure_future(closed_by_server(reader))
            for k in range(len(data) - 1):  # one byte every 50 ms, the last one never
                writer.write(data[k : k + 1])
                done, _ = await asyncio.wait([closed], timeout=0.05)
                if done:
                    break
            else:
                pytest.fail("the server let a dribbling client hold its connection")
            assert closed.result()
            await until(lambda: server.stats.errors == {"first_request_timeout": 1})
            writer.close()

    run(scenario())


def test_global_cap_kept_across_peers() -> None:
    async def scenario() -> None:
        async with serve(first_request_timeout=5.0, max_clients=5, max_per_peer=3) as server:
            conns = await flood(server.port, 3) + await flood(server.port, 3, source="127.0.0.3")
            await until(lambda: server.stats.active + server.stats.refused == 6)
            assert server.stats.active == 5 and server.stats.refused == 1 and server.stats.refused_per_peer == 0
            close_all(conns)
            await until(lambda: server.stats.active == 0)
            await still_serves(server)

    run(scenario())


@pytest.mark.parametrize("option", [{"first_request_timeout": 0}, {"max_per_peer": 0}, {"max_clients": 0}])
def test_nonsense_limits_refused(option: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        serve(**option)


def test_default_per_peer_cap_fits_a_gateway_polling_every_meter() -> None:
    """One gateway holds one connection per meter of a listener: the default cap must not lock meters out."""
    meters = [FixedMeter(bytes([0x0A, 1]) + k.to_bytes(8, "big")) for k in range(20)]
    assert SmlServer(meters, port=0).max_per_peer == 40
    assert serve().max_per_peer == MIN_PER_PEER
