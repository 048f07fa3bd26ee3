"""The gateway's SML pull client against the simulator's server (and against misbehaving fakes) on loopback."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Callable

import pytest

from smgwd.codec.sml import types as t
from smgwd.codec.sml.errors import SmlCrcError, SmlSyntaxError
from smgwd.codec.sml.transport import Frame, encode_frame
from smgwd.meters.sml.client import (
    SmlAttention,
    SmlClient,
    SmlConnectionError,
    SmlProtocolError,
    SmlTimeout,
)
from smgwd.meters.sml.readings import readings_from_messages
from smgwd.meters.sml.profiles import SmlProfile
from smgwd.meters.sml.session import REG_PERIOD, AttentionCode, SmlFile, decode_file, encode_file, frame_decoder, read_event
from smgwd.sim.sml_server import SmlServer
from tests.sim.test_sml_server import (
    ENERGY_IN,
    ENTRIES,
    METER_ID,
    OTHER_ID,
    POWER,
    PROFILE,
    SEC_INDEX,
    T0,
    UNKNOWN,
    FixedMeter,
    run,
)


@asynccontextmanager
async def server(*meters: FixedMeter, **options: Any) -> AsyncIterator[SmlServer]:
    async with SmlServer(list(meters) or [FixedMeter()], host="127.0.0.1", port=0, **options) as srv:
        yield srv


@asynccontextmanager
async def client(srv: SmlServer | int, **options: Any) -> AsyncIterator[SmlClient]:
    port = srv if isinstance(srv, int) else srv.port
    async with SmlClient("127.0.0.1", port, **{"timeout": 2.0, **options}) as c:
        yield c


# --- the jOSEF flow and the other requests ---------------------------------------------


def test_josef_discovery_flow() -> None:
    async def scenario() -> None:
        async with server() as srv, client(srv) as c:
            ids = await c.discover()  # steps 1+2
            assert ids == [e.obj_name for e in ENTRIES]
            entries = await c.read_objects(ids)  # steps 3+4, one file
            assert entries == list(ENTRIES) and c.skipped == {}
            assert srv.stats.requests == 2
            # what the driver will do with them: readings of the right meter
            response = t.GetListResponse(METER_ID, tuple(entries))
            result = readings_from_messages([t.SmlMessage(b"", response)], SmlProfile("test", "test double"))
            assert [r.raw for r in result.readings] == [23_051_550, 1_000_020, -355, b"SIM-0001"]

    run(scenario())


def test_read_objects_skips_and_reports_unknown() -> None:
    async def scenario() -> None:
        async with server() as srv, client(srv) as c:
            entries = await c.read_objects([POWER, UNKNOWN, ENERGY_IN])
            assert entries == [ENTRIES[2], ENTRIES[0]]
            assert list(c.skipped) == [UNKNOWN]
            err = c.skipped[UNKNOWN]
            assert isinstance(err, SmlAttention) and err.number == AttentionCode.NOT_EXECUTED.number
            assert "request not executed" in err.text
            assert await c.read_objects([]) == [] and c.skipped == {}

    run(scenario())


def test_read_objects_in_several_files() -> None:
    many = tuple(t.ListEntry(bytes((1, 0, 99, k, 0, 255)), k, value_type="u8") for k in range(200))

    async def scenario() -> None:
        async with server(FixedMeter(entries=many)) as srv, client(srv) as c:
            assert await c.read_objects(await c.discover()) == list(many)
            assert srv.stats.requests == 1 + 2  # discovery, then 128 + 72 detail requests

    run(scenario())


def test_get_list() -> None:
    async def scenario() -> None:
        async with server() as srv, client(srv) as c:
            answer = await c.get_list()
            assert answer.server_id == METER_ID and answer.entries == ENTRIES
            assert answer.act_sensor_time == t.SmlTime(t.TimeKind.SEC_INDEX, SEC_INDEX)

    run(scenario())


@pytest.mark.parametrize(
    "begin, end, rows",
    [
        (None, None, range(8)),
        (T0, T0, range(1)),
        (T0 + 900, T0 + 2700, range(1, 4)),
        (T0 + 950, T0 + 2699, range(2, 3)),
        (T0 + 6000, None, range(7, 8)),
        (None, T0 + 1000, range(0, 2)),
    ],
)
def test_profile_list_ranges(begin: int | None, end: int | None, rows: range) -> None:
    async def scenario() -> list[t.GetProfileListResponse]:
        async with server() as srv, client(srv) as c:
            return await c.get_profile_list(ENERGY_IN, begin, end)

    answers = run(scenario())
    expected = [PROFILE[ENERGY_IN][k] for k in rows]
    assert [a.val_time.value for a in answers] == [r.timestamp for r in expected]
    for answer, row in zip(answers, expected):
        assert answer.act_time == answer.val_time == t.SmlTime(t.TimeKind.TIMESTAMP, row.timestamp)
        assert answer.reg_period == REG_PERIOD and answer.status == row.status and answer.tree_path == (ENERGY_IN,)
        (period,) = answer.period_list
        assert (period.obj_name, period.value, period.scaler, period.unit) == (ENERGY_IN, row.raw, row.scaler, row.unit)


@pytest.mark.parametrize(
    "obis, begin, end, code",
    [
        (ENERGY_IN, T0 + 10_000, T0 + 20_000, AttentionCode.NO_ENTRIES),
        (UNKNOWN, None, None, AttentionCode.UNKNOWN_PROFILE_OBJECT),
        (ENERGY_IN, T0 + 900, T0, AttentionCode.END_BEFORE_START),
    ],
)
def test_profile_list_attentions(obis: bytes, begin: int | None, end: int | None, code: AttentionCode) -> None:
    async def scenario() -> None:
        async with server() as srv, client(srv) as c:
            with pytest.raises(SmlAttention) as caught:
                await c.get_profile_list(obis, begin, end)
            assert caught.value.number == code.number
            assert c.connected and len(await c.get_profile_list(ENERGY_IN, T0, T0)) == 1  # an attention keeps the connection

    run(scenario())


@pytest.mark.parametrize(
    "server_auth, client_auth, ok",
    [
        ({}, {}, True),
        ({}, {"username": "op", "password": "secret"}, True),  # an open server ignores credentials
        ({"username": "op", "password": "secret"}, {"username": "op", "password": "secret"}, True),
        ({"username": "op", "password": "secret"}, {"username": b"op", "password": b"secret"}, True),
        ({"username": "op", "password": "secret"}, {"username": "op", "password": "guess"}, False),
        ({"username": "op", "password": "secret"}, {"username": "root", "password": "secret"}, False),
        ({"username": "op", "password": "secret"}, {}, False),
    ],
)
def test_authentication(server_auth: dict, client_auth: dict, ok: bool) -> None:
    async def scenario() -> None:
        async with server(**server_auth) as srv, client(srv, **client_auth) as c:
            if ok:
                assert await c.discover() == [e.obj_name for e in ENTRIES]
                assert (await c.get_list()).entries == ENTRIES
            else:
                for call in (c.discover, c.get_list):
                    with pytest.raises(SmlAttention) as caught:
                        await call()
                    assert caught.value.number == AttentionCode.AUTHENTICATION.number
                assert srv.stats.errors == {"auth": 2}

    run(scenario())


def test_several_meters_on_one_listener() -> None:
    other = FixedMeter(OTHER_ID, ENTRIES[2:])

    async def scenario() -> None:
        async with server(FixedMeter(), other) as srv:
            for server_id, entries in ((METER_ID, ENTRIES), (OTHER_ID, ENTRIES[2:])):
                async with client(srv, server_id=server_id) as c:
                    assert await c.discover() == [e.obj_name for e in entries]
                    answer = await c.get_list()
                    assert answer.server_id == server_id and answer.entries == entries
            for wrong_id in (None, b"\x09" * 10):
                async with client(srv, server_id=wrong_id) as c:
                    with pytest.raises(SmlAttention) as caught:
                        await c.get_list()
                    assert caught.value.number == AttentionCode.SERVER_ID.number

    run(scenario())


def test_one_request_at_a_time_per_connection() -> None:
    async def scenario() -> None:
        async with server() as srv, client(srv) as c:
            answers = await asyncio.gather(c.get_list(), c.discover(), c.get_list(), c.read_objects([POWER]))
            assert answers[1] == [e.obj_name for e in ENTRIES] and answers[3] == [ENTRIES[2]]
            assert srv.stats.requests == 4

    run(scenario())


# --- failures ---------------------------------------------------------------------------


Reply = Callable[[SmlFile], bytes | None]


@asynccontextmanager
async def fake_meter(reply: Reply) -> AsyncIterator[int]:
    """A scripted server: reads request files and writes ``reply(request)`` (None: says nothing)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        decoder = frame_decoder(1 << 16)
        while (event := await read_event(reader, decoder)) is not None:
            if isinstance(event, Frame):
                data = reply(decode_file(event.payload, request=True))
                if data is None:
                    continue
                writer.write(data)
                if not data:
                    break  # b"": hang up
        writer.close()

    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield srv.sockets[0].getsockname()[1]
    finally:
        srv.close()


def answer(request: SmlFile, *bodies: t.MessageBody, req_file_id: bytes | None = None) -> bytes:
    """A reply file answering the first request with ``bodies``."""
    opening = request.open.body
    assert isinstance(opening, t.OpenRequest)
    tid = request.messages[0].transaction_id
    open_response = t.OpenResponse(req_file_id if req_file_id is not None else opening.req_file_id, METER_ID)
    return encode_file(
        SmlFile(
            t.SmlMessage(request.open.transaction_id, open_response),
            tuple(t.SmlMessage(tid, body) for body in bodies),
            t.SmlMessage(request.close.transaction_id, t.CloseResponse()),
        )
    )


GOOD_LIST = t.GetListResponse(METER_ID, ENTRIES)


def flip_last(wire: bytes) -> bytes:
    """The frame with its last CRC byte changed, whatever that byte was."""
    return wire[:-1] + bytes([wire[-1] ^ 0xFF])


def test_silent_meter_times_out() -> None:
    async def scenario() -> None:
        async with fake_meter(lambda request: None) as port, client(port, timeout=0.2) as c:
            loop = asyncio.get_running_loop()
            started = loop.time()
            with pytest.raises(SmlTimeout, match="did not answer within 0.2 s"):
                await c.get_list()
            assert loop.time() - started < 1.0
            assert not c.connected  # the connection's state is unknown: closed
            with pytest.raises(SmlConnectionError, match="not connected"):
                await c.get_list()

    run(scenario())


def test_meter_that_hangs_up() -> None:
    async def scenario() -> None:
        async with fake_meter(lambda request: b"") as port, client(port) as c:
            with pytest.raises(SmlConnectionError, match="closed the connection"):
                await c.get_list()

    run(scenario())


def test_connection_refused() -> None:
    async def scenario() -> None:
        async with fake_meter(lambda request: None) as port:
            pass  # closed again: nobody listens on port now
        with pytest.raises(SmlConnectionError, match="cannot connect"):
            await SmlClient("127.0.0.1", port, timeout=0.5).connect()

    run(scenario())


@pytest.mark.parametrize(
    "reply, error, match, closes",
    [
        (lambda r: answer(r, GOOD_LIST, req_file_id=b"other"), SmlProtocolError, "reply to request file", True),
        (lambda r: answer(r), SmlProtocolError, "no answer to request", True),
        (lambda r: flip_last(answer(r, GOOD_LIST)), SmlCrcError, "frame CRC", True),
        (lambda r: encode_frame(b"\x76\x01\x02\x03"), SmlSyntaxError, "SML_Message", True),
        # a reply in step with the request, but not the answer wanted: the connection stays usable
        (lambda r: answer(r, GOOD_LIST, GOOD_LIST), SmlProtocolError, "expected one GetListResponse", False),
        (
            lambda r: answer(r, t.GetProcParameterResponse(METER_ID, (POWER,), t.SmlTree(POWER))),
            SmlProtocolError, "expected GetListResponse", False,
        ),
    ],
)
def test_bad_replies_raise(reply: Reply, error: type[Exception], match: str, closes: bool) -> None:
    async def scenario() -> None:
        async with fake_meter(reply) as port, client(port) as c:
            with pytest.raises(error, match=match):
                await c.get_list()
            assert c.connected is not closes

    run(scenario())


def test_noise_before_the_reply_is_ignored() -> None:
    async def scenario() -> None:
        async with fake_meter(lambda r: b"\x00\xff noise \x1b\x1b" + answer(r, GOOD_LIST)) as port, client(port) as c:
            assert await c.get_list() == GOOD_LIST

    run(scenario())


def test_file_level_attention_raises() -> None:
    def refuse(request: SmlFile) -> bytes:
        body = t.AttentionResponse(METER_ID, AttentionCode.AUTHENTICATION.number, b"go away")
        return encode_file(
            SmlFile(
                t.SmlMessage(request.open.transaction_id, t.OpenResponse(b"", METER_ID)),
                (t.SmlMessage(request.open.transaction_id, body),),
                t.SmlMessage(request.close.transaction_id, t.CloseResponse()),
            )
        )

    async def scenario() -> None:
        async with fake_meter(refuse) as port, client(port) as c:
            with pytest.raises(SmlAttention) as caught:
                await c.discover()
            assert caught.value.detail == b"go away" and "insufficient authentication" in str(caught.value)
            assert c.connected

    run(scenario())
