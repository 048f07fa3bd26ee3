"""The simulator's SML pull server: the protocol answers (sans-I/O) and survival on loopback TCP.

:class:`FixedMeter` is a test double of ``smgwd.sim.model.SmlMeterModel`` with
fixed values; the client tests import it from here.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from typing import Any, Coroutine, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smgwd.codec.sml import types as t
from smgwd.codec.sml.encoder import encode_messages
from smgwd.codec.sml.transport import Frame, SmlTransportDecoder
from smgwd.meters.sml.client import SmlClient
from smgwd.meters.sml.session import (
    OBJECT_LIST,
    REG_PERIOD,
    AttentionCode,
    SmlFile,
    decode_file,
    encode_file,
    frame_decoder,
    read_event,
)
from smgwd.sim.model import ProfileRow, SmlMeterModel
from smgwd.sim.sml_server import SmlResponder, SmlServer
from tests.waiting import until

T = TypeVar("T")

METER_ID = bytes.fromhex("0a01454d480000bc614e")  # 1EMH0012345678
OTHER_ID = bytes.fromhex("0a01484c590000003039")  # 1HLY0000012345
ENERGY_IN = bytes.fromhex("0100010800ff")  # 1-0:1.8.0*255
ENERGY_OUT = bytes.fromhex("0100020800ff")  # 1-0:2.8.0*255
POWER = bytes.fromhex("0100100700ff")  # 1-0:16.7.0*255
SERIAL = bytes.fromhex("0000600100ff")  # 0-0:96.1.0*255
UNKNOWN = bytes.fromhex("0100630000ff")
SEC_INDEX = 86_400
T0 = 1_699_999_200  # a quarter-hour boundary, 2023-11-14 22:00 UTC

ENTRIES = (
    t.ListEntry(ENERGY_IN, 23_051_550, status=0x182, unit=30, scaler=-1, value_type="u64"),
    t.ListEntry(ENERGY_OUT, 1_000_020, status=0x182, unit=30, scaler=-1, value_type="u64"),
    t.ListEntry(POWER, -355, unit=27, scaler=0, value_type="i16"),
    t.ListEntry(SERIAL, b"SIM-0001", value_type="octets"),
)
PROFILE = {ENERGY_IN: [ProfileRow(T0 + 900 * k, SEC_INDEX - 900 * (8 - k), 0, 23_000_000 + 1_000 * k, -1, 30) for k in range(8)]}


class FixedMeter:
    """Test double of :class:`SmlMeterModel`: fixed list entries and a fixed load profile."""

    def __init__(self, server_id: bytes = METER_ID, entries: tuple[t.ListEntry, ...] = ENTRIES) -> None:
        self.server_id = server_id
        self.entries = entries

    def sec_index(self) -> int:
        return SEC_INDEX

    def list_entries(self) -> tuple[t.ListEntry, ...]:
        return self.entries

    def load_profile(self, obj_name: bytes, begin: int | None, end: int | None) -> list[ProfileRow]:
        rows = PROFILE.get(obj_name, [])
        return [r for r in rows if (begin is None or r.timestamp >= begin) and (end is None or r.timestamp <= end)]


_: SmlMeterModel = FixedMeter()  # the double satisfies the Protocol (checked by mypy when run on tests)


def run(coro: Coroutine[Any, Any, T], limit: float = 20.0) -> T:
    """Run a test coroutine on a fresh loop, never longer than ``limit`` seconds."""
    return asyncio.run(asyncio.wait_for(coro, limit))


def request(*bodies: t.MessageBody, **open_fields: Any) -> SmlFile:
    """A request file with transactionIds o, 1, 2, ..., c."""
    opening = t.OpenRequest(client_id=b"test", req_file_id=b"file-1", **open_fields)
    messages = tuple(t.SmlMessage(str(k + 1).encode(), body) for k, body in enumerate(bodies))
    return SmlFile(t.SmlMessage(b"o", opening), messages, t.SmlMessage(b"c", t.CloseRequest()))


def unframe(data: bytes) -> bytes:
    """The payload of the one good frame in ``data``."""
    decoder = SmlTransportDecoder()
    decoder.receive_data(data)
    (frame,) = [e for e in decoder.events() if isinstance(e, Frame)]
    return frame.payload


def ask(responder: SmlResponder, file: SmlFile) -> SmlFile:
    """The responder's reply to ``file``, sent and answered as frames."""
    return decode_file(unframe(responder.reply(unframe(encode_file(file)))), request=False)


def bodies(reply: SmlFile) -> list[t.MessageBody]:
    return [m.body for m in reply.messages]


def attention(reply: SmlFile, k: int = 0) -> bytes:
    body = reply.messages[k].body
    assert isinstance(body, t.AttentionResponse)
    return body.attention_no


def get_list() -> t.GetListRequest:
    return t.GetListRequest(client_id=b"test")


def details(obis: bytes, **fields: Any) -> t.GetProcParameterRequest:
    return t.GetProcParameterRequest((obis,), **fields)


def profile(obis: bytes, begin: t.SmlTime | None = None, end: t.SmlTime | None = None) -> t.GetProfileListRequest:
    return t.GetProfileListRequest((obis,), begin_time=begin, end_time=end)


def ts(value: int) -> t.SmlTime:
    return t.SmlTime(t.TimeKind.TIMESTAMP, value)


# --- the answers (sans-I/O) ------------------------------------------------------------


def test_reply_echoes_file_and_transaction_ids() -> None:
    reply = ask(SmlResponder([FixedMeter()]), request(get_list(), details(POWER)))
    assert reply.open.transaction_id == b"o" and reply.close.transaction_id == b"c"
    assert isinstance(reply.open.body, t.OpenResponse) and isinstance(reply.close.body, t.CloseResponse)
    assert reply.open.body.req_file_id == b"file-1" and reply.open.body.client_id == b"test"
    assert reply.open.body.server_id == METER_ID
    assert [m.transaction_id for m in reply.messages] == [b"1", b"2"]


def test_object_list_tree() -> None:
    (answer,) = bodies(ask(SmlResponder([FixedMeter()]), request(details(OBJECT_LIST))))
    assert isinstance(answer, t.GetProcParameterResponse)
    assert answer.server_id == METER_ID and answer.tree_path == (OBJECT_LIST,)
    assert answer.tree.parameter_name == OBJECT_LIST and answer.tree.value is None
    assert answer.tree.children == tuple(t.SmlTree(e.obj_name) for e in ENTRIES)


def test_details_in_one_file_unknown_object_gets_fe0a() -> None:
    reply = ask(SmlResponder([FixedMeter()]), request(details(ENERGY_IN), details(UNKNOWN), details(SERIAL)))
    first, _, last = bodies(reply)
    assert attention(reply, 1) == AttentionCode.NOT_EXECUTED.number
    for answer, entry in ((first, ENTRIES[0]), (last, ENTRIES[3])):
        assert isinstance(answer, t.GetProcParameterResponse)
        assert answer.tree == t.SmlTree(entry.obj_name, t.ProcParValue(t.ProcParKind.LIST_ENTRY, entry))


def test_get_list_answer() -> None:
    (answer,) = bodies(ask(SmlResponder([FixedMeter()]), request(get_list())))
    assert isinstance(answer, t.GetListResponse)
    assert answer.entries == ENTRIES and answer.client_id == b"test"
    assert answer.act_sensor_time == t.SmlTime(t.TimeKind.SEC_INDEX, SEC_INDEX)


def test_profile_rows() -> None:
    answers = bodies(ask(SmlResponder([FixedMeter()]), request(profile(ENERGY_IN, ts(T0 + 900), ts(T0 + 2700)))))
    assert len(answers) == 3
    for k, answer in enumerate(answers, start=1):
        row = PROFILE[ENERGY_IN][k]
        assert answer == t.GetProfileListResponse(
            METER_ID, ts(row.timestamp), REG_PERIOD, (ENERGY_IN,), ts(row.timestamp), row.status,
            (t.PeriodEntry(ENERGY_IN, 30, -1, row.raw, value_type="u32"),),
        )


@pytest.mark.parametrize(
    "body, code",
    [
        (profile(ENERGY_IN, ts(T0 + 100_000), None), AttentionCode.NO_ENTRIES),
        (profile(POWER), AttentionCode.NO_ENTRIES),  # a register without a stored profile
        (profile(UNKNOWN), AttentionCode.UNKNOWN_PROFILE_OBJECT),
        (profile(ENERGY_IN, ts(T0 + 900), ts(T0)), AttentionCode.END_BEFORE_START),
        (profile(ENERGY_IN, t.SmlTime(t.TimeKind.SEC_INDEX, 5)), AttentionCode.TYPE_NOT_SUPPORTED),
        (t.SetProcParameterRequest((POWER,), t.SmlTree(POWER)), AttentionCode.NOT_EXECUTED),
        (t.GetProfilePackRequest((ENERGY_IN,)), AttentionCode.NOT_EXECUTED),
        (t.GetListResponse(METER_ID, ()), AttentionCode.UNEXPECTED_MESSAGE),
        (t.OpenRequest(b"x", b"y"), AttentionCode.UNEXPECTED_MESSAGE),
    ],
)
def test_request_answered_with_attention(body: t.MessageBody, code: AttentionCode) -> None:
    reply = ask(SmlResponder([FixedMeter()]), request(body, get_list()))
    assert attention(reply) == code.number
    assert isinstance(reply.messages[1].body, t.GetListResponse)  # the next request is still answered


@pytest.mark.parametrize(
    "open_fields, body_fields, file_code, body_code",
    [
        ({"username": b"op", "password": b"secret"}, {}, None, None),
        ({"username": b"op", "password": b"wrong"}, {}, AttentionCode.AUTHENTICATION, None),
        ({}, {}, AttentionCode.AUTHENTICATION, None),
        ({"username": b"op", "password": b"secret"}, {"username": b"op", "password": b"x"}, None, AttentionCode.AUTHENTICATION),
    ],
)
def test_authentication(open_fields: dict, body_fields: dict, file_code: AttentionCode | None, body_code: AttentionCode | None) -> None:
    responder = SmlResponder([FixedMeter()], username="op", password="secret")
    reply = ask(responder, request(details(POWER, **body_fields), **open_fields))
    (message,) = reply.messages
    if file_code is not None:  # the file is refused: one attention with OpenRequest's transactionId
        assert message.transaction_id == b"o" and attention(reply) == file_code.number
    elif body_code is not None:
        assert message.transaction_id == b"1" and attention(reply) == body_code.number
    else:
        assert isinstance(message.body, t.GetProcParameterResponse)
    assert responder.stats.errors.get("auth", 0) == (0 if file_code is body_code is None else 1)


def test_several_meters_selected_by_server_id() -> None:
    other = FixedMeter(OTHER_ID, ENTRIES[:1])
    responder = SmlResponder([FixedMeter(), other])
    (answer,) = bodies(ask(responder, request(get_list(), server_id=OTHER_ID)))
    assert isinstance(answer, t.GetListResponse) and answer.server_id == OTHER_ID and answer.entries == ENTRIES[:1]
    # a request's own serverId wins over OpenRequest's
    (answer,) = bodies(ask(responder, request(t.GetListRequest(b"test", server_id=METER_ID), server_id=OTHER_ID)))
    assert isinstance(answer, t.GetListResponse) and answer.server_id == METER_ID
    # no serverId with two meters: the request cannot be served
    reply = ask(responder, request(get_list()))
    assert attention(reply) == AttentionCode.SERVER_ID.number and reply.messages[0].transaction_id == b"1"
    # an unknown serverId in OpenRequest refuses the file
    reply = ask(responder, request(get_list(), server_id=b"\x01" * 10))
    assert attention(reply) == AttentionCode.SERVER_ID.number and reply.messages[0].transaction_id == b"o"
    assert responder.stats.errors["server_id"] == 2


def test_meters_must_differ() -> None:
    with pytest.raises(ValueError):
        SmlResponder([FixedMeter(), FixedMeter()])
    with pytest.raises(ValueError):
        SmlResponder([])


@pytest.mark.parametrize(
    "payload, code",
    [
        (b"\x76\x05", AttentionCode.UNINTERPRETABLE),  # truncated message
        (b"", AttentionCode.UNEXPECTED_MESSAGE),  # a frame without messages
        (encode_messages(request(get_list()).messages[:1]), AttentionCode.UNEXPECTED_MESSAGE),  # no Open
        (encode_messages([request().open, *request(get_list()).messages]), AttentionCode.NO_CLOSE),
    ],
)
def test_undecodable_file_answered(payload: bytes, code: AttentionCode) -> None:
    responder = SmlResponder([FixedMeter()])
    reply = decode_file(unframe(responder.reply(payload)), request=False)
    assert attention(reply) == code.number
    assert isinstance(reply.open.body, t.OpenResponse) and reply.open.body.req_file_id == b""


def test_model_failure_answered_fe00() -> None:
    class Broken(FixedMeter):
        def list_entries(self) -> tuple[t.ListEntry, ...]:
            raise RuntimeError("simulated meter bug")

    responder = SmlResponder([Broken()])
    reply = ask(responder, request(get_list()))
    assert attention(reply) == AttentionCode.UNKNOWN_ERROR.number and reply.open.body.req_file_id == b"file-1"  # type: ignore[union-attr]
    assert responder.stats.errors == {"internal": 1}


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_any_payload_gets_a_valid_reply(payload: bytes) -> None:
    reply = decode_file(unframe(SmlResponder([FixedMeter()]).reply(payload)), request=False)
    assert reply.messages and isinstance(reply.close.body, t.CloseResponse)


# --- the server on loopback ------------------------------------------------------------


def get_list_file() -> bytes:
    return encode_file(request(get_list()))


async def read_reply(reader: asyncio.StreamReader, decoder: SmlTransportDecoder | None = None) -> SmlFile | None:
    """The next reply file on a raw connection; None if the server closed it."""
    decoder = decoder or frame_decoder(1 << 20)
    while (event := await read_event(reader, decoder)) is not None:
        if isinstance(event, Frame):
            return decode_file(event.payload, request=False)
    return None


async def closed_by_server(reader: asyncio.StreamReader) -> bool:
    """True once the server has closed (or reset) the connection without sending anything."""
    try:
        return await reader.read() == b""
    except ConnectionResetError:
        return True


async def still_serves(server: SmlServer) -> None:
    """A normal client gets the full discovery flow answered."""
    async with SmlClient("127.0.0.1", server.port, timeout=2.0) as client:
        ids = await client.discover()
        assert await client.read_objects(ids) == list(ENTRIES)


def serve(**options: Any) -> SmlServer:
    return SmlServer([FixedMeter()], host="127.0.0.1", port=0, **options)


def test_get_list_reply_is_valid_for_smllib() -> None:
    """Independent check: smllib 1.7 verifies the frame CRC and reads the values; its CRC routine checks each message's."""
    smllib = pytest.importorskip("smllib")
    from smllib.crc import x25

    stream = smllib.SmlStreamReader()

    async def scenario() -> Any:
        async with serve() as server:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(get_list_file())
            frame = None
            while frame is None:  # smllib finds the frame's end and checks its CRC (CrcError if bad)
                stream.add(await reader.read(4096))
                frame = stream.get_frame()
            writer.close()
            return frame

    frame = run(scenario())
    messages = frame.parse_frame()
    assert [type(m.message_body).__name__ for m in messages] == ["SmlOpenResponse", "SmlGetListResponse", "SmlCloseResponse"]
    assert [m.transaction_id for m in messages] == [b"o".hex(), b"1".hex(), b"c".hex()]
    assert messages[0].message_body.server_id == METER_ID.hex()
    body = messages[1].message_body
    assert body.server_id == METER_ID.hex() and body.act_sensor_time == SEC_INDEX
    got = [(e.obis, e.status, e.unit, e.scaler, e.value) for e in body.val_list]
    assert got == [
        (ENERGY_IN.hex(), 0x182, 30, -1, 23_051_550),
        (ENERGY_OUT.hex(), 0x182, 30, -1, 1_000_020),
        (POWER.hex(), None, 27, 0, -355),
        (SERIAL.hex(), None, None, None, b"SIM-0001".hex()),
    ]
    # message CRCs, computed by smllib's own X-25 routine over each message
    pos = 0
    for message in messages:
        snippet = frame.get_value(pos)
        frame._parse_msg(snippet)
        raw = frame.bytes[pos : frame.next_pos]
        assert raw[-4] == 0x63 and raw[-1] == 0x00
        assert x25.get_crc(raw[:-4]) == struct.unpack(">H", raw[-3:-1])[0] == message.crc16
        pos = frame.next_pos
    assert pos == len(frame.bytes)


def test_bad_crc_gets_fe0b_and_connection_stays() -> None:
    async def scenario() -> None:
        async with serve() as server:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            bad = bytearray(get_list_file())
            bad[-1] ^= 0xFF
            writer.write(bytes(bad))
            reply = await read_reply(reader)
            assert reply is not None and attention(reply) == AttentionCode.CHECKSUM.number
            writer.write(get_list_file())
            reply = await read_reply(reader)
            assert reply is not None and isinstance(reply.messages[0].body, t.GetListResponse)
            writer.close()
            assert server.stats.errors == {"crc": 1} and server.stats.requests == 1

    run(scenario())


def test_half_frame_then_disconnect() -> None:
    async def scenario() -> None:
        async with serve() as server:
            _, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(get_list_file()[:30])
            await writer.drain()
            writer.close()
            await until(lambda: server.stats.errors.get("frame") == 1 and server.stats.active == 0)
            await still_serves(server)

    run(scenario())


def test_half_frame_then_silence_hits_idle_timeout() -> None:
    async def scenario() -> None:
        async with serve(idle_timeout=0.2) as server:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(get_list_file())  # a client that has spoken: the idle timeout applies, not the first-request one
            assert await read_reply(reader) is not None
            writer.write(get_list_file()[:30])
            assert await reader.read() == b""  # the server closed the connection
            assert server.stats.errors == {"idle_timeout": 1}
            writer.close()
            await still_serves(server)

    run(scenario())


def test_oversized_frame_dropped_connection_kept() -> None:
    async def scenario() -> None:
        async with serve(max_frame=200) as server:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(encode_file(request(t.GetListRequest(client_id=b"x" * 400))) + get_list_file())
            reply = await read_reply(reader)
            assert reply is not None and isinstance(reply.messages[0].body, t.GetListResponse)
            assert reply.messages[0].body.client_id == b"test"  # the answer to the second request
            writer.close()
            assert server.stats.errors == {"frame": 1} and server.stats.requests == 1

    run(scenario())


def test_client_that_vanishes() -> None:
    async def scenario() -> None:
        async with serve() as server:
            for _ in range(3):
                sock = socket.create_connection(("127.0.0.1", server.port))
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.sendall(get_list_file()[:11])
                sock.close()  # RST: no goodbye
            await until(lambda: server.stats.connections == 3 and server.stats.active == 0)
            await still_serves(server)

    run(scenario())


def test_client_that_never_reads_is_dropped() -> None:
    big = FixedMeter(entries=tuple(t.ListEntry(bytes((1, 0, 99, k, 0, 255)), 10**12 + k) for k in range(250)))

    async def scenario() -> None:
        async with SmlServer([big], port=0, write_timeout=0.3) as server:
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.setblocking(False)
            loop = asyncio.get_running_loop()
            await loop.sock_connect(sock, ("127.0.0.1", server.port))
            burst = get_list_file() * 20
            while not server.stats.errors.get("write_timeout"):
                try:
                    await asyncio.wait_for(loop.sock_sendall(sock, burst), 0.05)
                except TimeoutError:
                    pass  # our send buffer is full too: the server has stopped reading us
                except OSError:
                    break  # dropped
            # meanwhile, and afterwards, other clients are served
            async with SmlClient("127.0.0.1", server.port, timeout=2.0) as client:
                assert len((await client.get_list()).entries) == 250
            await until(lambda: server.stats.errors.get("write_timeout") == 1)
            sock.close()

    run(scenario())


def test_max_clients_refuses_extra_connections() -> None:
    async def scenario() -> None:
        async with serve(max_clients=2) as server:
            held = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(2)]
            await until(lambda: server.stats.active == 2)
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            assert await closed_by_server(reader)
            writer.close()
            assert server.stats.refused == 1
            for _, w in held:
                w.close()
            await until(lambda: server.stats.active == 0)
            await still_serves(server)

    run(scenario())


def test_fifty_concurrent_clients() -> None:
    async def one(port: int) -> None:
        async with SmlClient("127.0.0.1", port, timeout=5.0) as client:
            ids = await client.discover()
            assert await client.read_objects(ids) == list(ENTRIES)
            assert (await client.get_list()).entries == ENTRIES

    async def scenario() -> None:
        async with serve(max_per_peer=50) as server:  # all from 127.0.0.1
            await asyncio.gather(*(one(server.port) for _ in range(50)))
            assert server.stats.connections == 50 and server.stats.requests == 150 and not server.stats.errors

    run(scenario())


def test_close_drops_live_connections() -> None:
    async def scenario() -> None:
        server = serve()
        await server.start()
        conns = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(5)]
        await until(lambda: server.stats.active == 5)
        await asyncio.wait_for(server.close(), 1.0)
        for reader, writer in conns:
            assert await closed_by_server(reader)
            writer.close()

    run(scenario())


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(garbage=st.binary(min_size=1, max_size=400), split=st.integers(0, 400))
def test_survives_random_garbage(garbage: bytes, split: int) -> None:
    """Garbage (in two writes) before a request: the request is still answered, the bytes counted."""

    async def scenario() -> None:
        async with serve() as server:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(garbage[:split])
            await writer.drain()
            writer.write(garbage[split:] + get_list_file())
            decoder = frame_decoder(1 << 20)
            reply = await read_reply(reader, decoder)
            while reply is not None and reply.open.body.req_file_id != b"file-1":  # type: ignore[union-attr]
                reply = await read_reply(reader, decoder)  # a garbage "frame" answered FE 0B first
            assert reply is not None and isinstance(reply.messages[0].body, t.GetListResponse)
            writer.close()
            if b"\x1b\x1b\x1b\x1b" not in garbage:
                assert server.stats.garbage_bytes == len(garbage)
            await still_serves(server)

    run(scenario())
