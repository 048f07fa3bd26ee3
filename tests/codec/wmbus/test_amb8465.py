"""AMB8465 command-mode codec against real serial captures (tests/data/wmbus/dongles/frames.json)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smgwd.codec.errors import DecodeError
from smgwd.codec.wmbus import MissingKeyError, decode_telegram, manufacturer_code
from smgwd.codec.wmbus import amb8465
from smgwd.codec.wmbus.amb8465 import (
    AmberFrame,
    Amb8465Decoder,
    Amb8465Error,
    Command,
    Parameter,
    ReceiveMode,
    TransparentTelegram,
)

DATA = Path(__file__).parents[2] / "data" / "wmbus" / "dongles" / "frames.json"
CAPTURES = json.loads(DATA.read_text())["amb8465"]
IDS = [c["name"] for c in CAPTURES]
DATA_INDS = [c for c in CAPTURES if c["expect"]["command"] == 0x03]


def _decode(data: bytes, chunk: int | None = None, **kw: bool) -> tuple[list, Amb8465Decoder]:
    dec = Amb8465Decoder(**kw)
    if chunk is None:
        dec.feed(data)
    else:
        for i in range(0, len(data), chunk):
            dec.feed(data[i : i + chunk])
    return list(dec), dec


def _frame_bytes(case: dict) -> bytes:
    raw = bytes.fromhex(case["hex"])
    return raw[case["expect"].get("skipped", 0) :]


def _check(frame: AmberFrame, case: dict) -> None:
    exp = case["expect"]
    raw = _frame_bytes(case)
    assert frame.command == exp["command"]
    if "payload" in exp:
        assert frame.payload.hex() == exp["payload"]
    if "length" in exp:
        assert raw[2] == exp["length"] == len(frame.payload) + 1
    if "checksum" in exp:
        assert raw[-1] == int(exp["checksum"], 16) == amb8465.checksum(raw[:-1])
    if "rssi" in exp:
        assert frame.rssi == exp["rssi"] and frame.rssi_dbm == exp["rssi_dbm"]


@pytest.mark.parametrize("case", CAPTURES, ids=IDS)
@pytest.mark.parametrize("chunk", [None, 1, 13])
def test_real_capture(case: dict, chunk: int | None) -> None:
    raw = bytes.fromhex(case["hex"])
    frames, dec = _decode(raw, chunk)
    assert len(frames) == 1 and dec.checksum_errors == 0 and dec.buffered == 0
    assert dec.skipped == case["expect"].get("skipped", 0)
    _check(frames[0], case)
    assert amb8465.encode(frames[0]) == _frame_bytes(case)


def test_real_chunks_as_received() -> None:
    case = next(c for c in CAPTURES if "chunks" in c)
    dec = Amb8465Decoder()
    dec.feed(bytes.fromhex(case["chunks"][0]))
    assert list(dec) == [] and dec.skipped == 1
    dec.feed(bytes.fromhex(case["chunks"][1]))
    (frame,) = list(dec)
    params = amb8465.parse_parameters(frame.payload)
    assert params.address == case["expect"]["address"] and len(params.values) == case["expect"]["count"]
    assert params.get(Parameter.UART_CMD_OUT_ENABLE) == case["expect"]["uart_cmd_out_enable"]
    assert params.get(0x200) is None
    assert amb8465.parameters_response(params.address, params.values) == _frame_bytes(case)


@pytest.mark.parametrize("case", CAPTURES, ids=IDS)
def test_real_capture_with_garbage(case: dict) -> None:
    raw = _frame_bytes(case)
    garbage = b"\x00\xff\x03\x05\x12\xff"
    frames, dec = _decode(garbage + raw + b"\x44\x55" + raw, 4)
    assert len(frames) == 2 and frames[0] == frames[1]
    _check(frames[0], case)
    assert dec.skipped >= 6


def test_all_captures_in_one_stream() -> None:
    stream = b"".join(bytes.fromhex(c["hex"]) for c in CAPTURES)
    frames, dec = _decode(stream, 17)
    assert len(frames) == len(CAPTURES)
    for frame, case in zip(frames, CAPTURES):
        _check(frame, case)


@pytest.mark.parametrize("case", CAPTURES, ids=IDS)
def test_flipped_bit_is_caught(case: dict) -> None:
    raw = _frame_bytes(case)
    good = _decode(raw)[0][0]
    for pos in range(1, len(raw)):
        bad = bytearray(raw)
        bad[pos] ^= 1 << (pos % 8)
        frames, _ = _decode(bytes(bad))
        assert good not in frames and not any(f.command == good.command and len(f.payload) == len(good.payload) for f in frames), pos


@pytest.mark.parametrize("case", DATA_INDS, ids=lambda c: c["name"])
def test_data_ind_telegram_decodes(case: dict) -> None:
    exp = case["expect"]
    frame = _decode(bytes.fromhex(case["hex"]))[0][0]
    telegram = frame.telegram()
    assert telegram[0] == exp["length"] - 1
    assert manufacturer_code(int.from_bytes(telegram[2:4], "little")) == exp["manufacturer"]
    if "device_type" in exp:
        assert telegram[9] == exp["device_type"]
    # The sources name no key: the telegram decoder must get as far as asking for one.
    with pytest.raises(MissingKeyError) as info:
        decode_telegram(telegram, None, link_crc="absent")
    assert info.value.meter_id == telegram[4:8][::-1].hex()
    assert amb8465.data_indication(telegram, rssi=frame.rssi) == bytes.fromhex(case["hex"])


def test_rssi_setting_off() -> None:
    case = DATA_INDS[0]
    (frame,) = _decode(bytes.fromhex(case["hex"]), rssi=False)[0]
    assert frame.rssi is None and len(frame.payload) == case["expect"]["length"]


def test_transparent_mode() -> None:
    telegram = _decode(bytes.fromhex(DATA_INDS[0]["hex"]))[0][0].telegram()
    stream = b"\x00\x03" + amb8465.transparent_telegram(telegram, rssi=0xF4) + amb8465.response(Command.SET_MODE_REQ, b"\x00")
    for chunk in (None, 1):
        events, dec = _decode(stream, chunk, transparent=True)
        assert events == [TransparentTelegram(telegram, 0xF4), AmberFrame(0x84, b"\x00")]
        assert events[0].rssi_dbm == -80 and dec.skipped == 2
        assert amb8465.encode(events[0]) == stream[2 : 2 + len(telegram) + 1]
    events, _ = _decode(amb8465.transparent_telegram(telegram), transparent=True, rssi=False)
    assert events == [TransparentTelegram(telegram, None)]


def test_request_builders() -> None:
    by_name = {c["name"]: bytes.fromhex(c["hex"]) for c in CAPTURES}
    assert amb8465.get_request(0x00, 0x80) == by_name["933_get_req"]
    assert amb8465.factory_reset_request() == by_name["131_factory_reset_req"]
    # wmbusmeters (issue #933 debug log / reference/wmbus.md): SERIALNO request FF 0B 00 F4.
    assert amb8465.serial_number_request() == bytes.fromhex("FF0B00F4")
    assert amb8465.set_mode_request(ReceiveMode.C1) == bytes((0xFF, 0x04, 0x01, 0x0E, 0xFF ^ 0x04 ^ 0x01 ^ 0x0E))
    assert amb8465.reset_request() == bytes((0xFF, 0x05, 0x00, 0xFA))
    assert amb8465.firmware_version_request() == bytes((0xFF, 0x0C, 0x00, 0xF3))
    assert amb8465.set_request(Parameter.RSSI_ENABLE, b"\x01") == bytes((0xFF, 0x09, 0x03, 0x45, 0x01, 0x01, 0xFF ^ 0x09 ^ 0x03 ^ 0x45))
    for mode, code in ((ReceiveMode.T1, 8), (ReceiveMode.C1_T1, 9), (ReceiveMode.S1, 3)):
        assert amb8465.set_mode_request(mode)[3] == code


def test_serial_number_response() -> None:
    # reference/wmbus.md section 2.2: FF 0B 00 F4 -> FF 8B 04 27 01 D9 49 C6
    (frame,) = _decode(bytes.fromhex("FF8B042701D949C6"))[0]
    assert frame.is_response and frame.command == Command.SERIALNO_REQ | 0x80
    assert amb8465.parse_serial_number(frame.payload) == 0x2701D949


def test_rssi_dbm() -> None:
    assert amb8465.rssi_dbm(0xF4) == -80 and amb8465.rssi_dbm(0) == -74 and amb8465.rssi_dbm(0x80) == -138


def test_errors() -> None:
    for call in (
        lambda: amb8465.encode_frame(0x7F),
        lambda: amb8465.encode_frame(Command.DATA_REQ, rssi=3),
        lambda: amb8465.encode_frame(Command.DATA_IND, bytes(255), rssi=3),
        lambda: amb8465.parse_serial_number(b"\x01"),
        lambda: amb8465.parse_parameters(b"\x00\x05\x01"),
        lambda: amb8465.data_indication(b"\x03\x44"),
        lambda: AmberFrame(0x8B).telegram(),
        lambda: amb8465.get_request(300, 1),
    ):
        with pytest.raises(Amb8465Error):
            call()


_commands = st.sampled_from(sorted(int(c) for c in Command)).flatmap(lambda c: st.sampled_from([c, c | 0x80]))


@st.composite
def events(draw: st.DrawFn) -> AmberFrame:
    command = draw(_commands)
    if command == Command.DATA_IND:
        return AmberFrame(command, draw(st.binary(max_size=254)), draw(st.integers(0, 255)))
    return AmberFrame(command, draw(st.binary(max_size=255)))


@given(st.lists(events(), min_size=1, max_size=4), st.integers(1, 50))
@settings(max_examples=150, deadline=None)
def test_round_trip(items: list[AmberFrame], chunk: int) -> None:
    stream = b"".join(amb8465.encode(e) for e in items)
    got, dec = _decode(stream, chunk)
    assert got == items and dec.skipped == 0


@given(st.lists(st.binary(max_size=80) | st.sampled_from([bytes.fromhex(c["hex"]) for c in CAPTURES]), max_size=8), st.booleans(), st.booleans())
@settings(max_examples=300, deadline=None)
def test_fuzz_stream(chunks: list[bytes], rssi: bool, transparent: bool) -> None:
    dec = Amb8465Decoder(rssi=rssi, transparent=transparent)
    for chunk in chunks:
        dec.feed(chunk)
        assert dec.buffered <= amb8465.MAX_FRAME
    for event in dec:
        if isinstance(event, TransparentTelegram):
            assert transparent and event.telegram[0] == len(event.telegram) - 1 >= 10
        else:
            assert event.command & 0x7F in {int(c) for c in Command}
            assert amb8465.encode(event)[0] == 0xFF


@given(st.binary(max_size=300))
@settings(max_examples=200, deadline=None)
def test_fuzz_parsers(data: bytes) -> None:
    for parse in (amb8465.parse_serial_number, amb8465.parse_parameters):
        try:
            parse(data)
        except DecodeError:
            pass
