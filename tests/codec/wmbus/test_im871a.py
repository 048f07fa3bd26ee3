"""iM871A HCI codec against real serial captures (tests/data/wmbus/dongles/frames.json)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smgwd.codec.errors import DecodeError
from smgwd.codec.wmbus import MissingKeyError, decode_telegram, manufacturer_code
from smgwd.codec.wmbus import im871a
from smgwd.codec.wmbus.im871a import (
    DeviceInfo,
    Endpoint,
    HciFrame,
    Im871aDecoder,
    Im871aError,
    LinkMode,
    RadioConfig,
)

DATA = Path(__file__).parents[2] / "data" / "wmbus" / "dongles" / "frames.json"
CAPTURES = json.loads(DATA.read_text())["im871a"]
IDS = [c["name"] for c in CAPTURES]


def _decode(data: bytes, chunk: int | None = None, **kw: bool) -> tuple[list[HciFrame], Im871aDecoder]:
    dec = Im871aDecoder(**kw)
    if chunk is None:
        dec.feed(data)
    else:
        for i in range(0, len(data), chunk):
            dec.feed(data[i : i + chunk])
    return list(dec), dec


def _check(frame: HciFrame, case: dict) -> None:
    exp = case["expect"]
    assert frame.endpoint == exp["endpoint"]
    assert frame.msg_id == exp["msg_id"]
    if "crc" in exp and exp["crc"] is None:
        assert frame.crc_ok is None
    elif "crc" in exp:
        assert frame.crc_ok is True
        assert bytes.fromhex(case["hex"])[-2:] == int(exp["crc"], 16).to_bytes(2, "little")
    if "payload" in exp:
        assert frame.payload.hex() == exp["payload"]
    if "rssi" in exp:
        assert frame.rssi == exp["rssi"]
        assert frame.rssi_dbm == exp["rssi_dbm"]
    if exp.get("has_rssi") is False:
        assert frame.rssi is None
    if exp.get("has_timestamp") is False:
        assert frame.timestamp is None


@pytest.mark.parametrize("case", CAPTURES, ids=IDS)
@pytest.mark.parametrize("chunk", [None, 1, 7])
def test_real_capture(case: dict, chunk: int | None) -> None:
    raw = bytes.fromhex(case["hex"])
    frames, dec = _decode(raw, chunk)
    assert len(frames) == 1 and dec.skipped == 0 and dec.crc_errors == 0 and dec.buffered == 0
    _check(frames[0], case)
    assert im871a.encode(frames[0]) == raw


@pytest.mark.parametrize("case", CAPTURES, ids=IDS)
def test_real_capture_with_garbage(case: dict) -> None:
    raw = bytes.fromhex(case["hex"])
    garbage = b"\x00\xa5\xff\x13\xa5\x0f"
    frames, dec = _decode(garbage + raw + garbage[:3] + raw, 5, require_crc=raw[1] >> 4 & 8 == 8)
    assert [f.payload for f in frames] == [frames[0].payload] * 2
    _check(frames[0], case)
    assert dec.skipped >= 3


def test_all_captures_in_one_stream() -> None:
    stream = b"".join(bytes.fromhex(c["hex"]) for c in CAPTURES)
    frames, dec = _decode(stream, 3)
    assert len(frames) == len(CAPTURES) and dec.skipped == 0
    for frame, case in zip(frames, CAPTURES):
        _check(frame, case)


@pytest.mark.parametrize("case", [c for c in CAPTURES if int(c["hex"][2], 16) & 8], ids=lambda c: c["name"])
def test_flipped_bit_is_caught(case: dict) -> None:
    raw = bytes.fromhex(case["hex"])
    for pos in range(1, len(raw)):
        for bit in (0x01, 0x80):
            bad = bytearray(raw)
            bad[pos] ^= bit
            frames, dec = _decode(bytes(bad), require_crc=True)
            assert not any(f.payload == raw[4:-2] or f.crc_ok is False for f in frames), (pos, bit)


def test_bad_crc_counted_and_kept_on_request() -> None:
    raw = bytearray(bytes.fromhex(CAPTURES[1]["hex"]))
    raw[6] ^= 0x10
    frames, dec = _decode(bytes(raw))
    assert frames == [] and dec.crc_errors == 1
    frames, dec = _decode(bytes(raw), keep_bad_crc=True)
    assert len(frames) == 1 and frames[0].crc_ok is False


def test_device_info_response() -> None:
    case = next(c for c in CAPTURES if c["name"] == "703_get_deviceinfo_rsp")
    frame = _decode(bytes.fromhex(case["hex"]))[0][0]
    info = im871a.parse_device_info(frame.payload)
    exp = case["expect"]["device_info"]
    assert info.module_name == exp["module"]
    assert info.device_mode == exp["device_mode"] and im871a.DEVICE_MODES[0] == "other"
    assert info.firmware == exp["firmware"] and info.hci_version == exp["hci_version"]
    assert info.uid_hex == exp["uid"]
    assert im871a.device_info_response(info) == bytes.fromhex(case["hex"])


def test_config_response_and_request() -> None:
    rsp = next(c for c in CAPTURES if c["name"] == "137_get_config_rsp")
    frame = _decode(bytes.fromhex(rsp["hex"]))[0][0]
    cfg = im871a.parse_config(frame.payload)
    assert cfg.link_mode == rsp["expect"]["link_mode"]
    assert cfg.auto_rssi == rsp["expect"]["auto_rssi"] and cfg.auto_timestamp == rsp["expect"]["auto_timestamp"]
    assert cfg.encode() == frame.payload
    assert im871a.get_config_response(cfg) == bytes.fromhex(rsp["hex"])
    req = next(c for c in CAPTURES if c["name"] == "137_set_config_req")
    assert im871a.set_config_request(LinkMode.T1, rssi=True, timestamp=True) == bytes.fromhex(req["hex"])
    parsed = im871a.parse_set_config(_decode(bytes.fromhex(req["hex"]))[0][0].payload)
    assert parsed.save is req["expect"]["save"] and parsed.config.link_mode == req["expect"]["link_mode"]


def test_request_builders_match_captures() -> None:
    by_name = {c["name"]: bytes.fromhex(c["hex"]) for c in CAPTURES}
    assert im871a.device_info_request() == by_name["703_get_deviceinfo_req"]
    assert im871a.get_config_request() == by_name["703_get_config_req"]
    assert im871a.set_config_response() == by_name["137_set_config_rsp"]
    # wmbusmeters' own SET_CONFIG for t1 / c1 / c1,t1 (timestamp off): 00 02 <mode> 30 01 00
    for mode, code in ((LinkMode.T1, 3), (LinkMode.C1B, 7), (LinkMode.C1_T1, 0x0A), (LinkMode.S1, 0)):
        assert im871a.set_config_request(mode) == bytes((0xA5, 0x01, 0x03, 0x06, 0x00, 0x02, code, 0x30, 0x01, 0x00))
    for build, msg in ((im871a.ping_request, 0x01), (im871a.reset_request, 0x07), (im871a.factory_reset_request, 0x09)):
        assert build() == bytes((0xA5, 0x01, msg, 0x00))
        frame = _decode(build(crc=True), require_crc=True)[0][0]
        assert frame.msg_id == msg and frame.crc_ok
    assert _decode(im871a.ping_response())[0][0].msg_id == 0x02
    assert _decode(im871a.reset_response())[0][0].msg_id == 0x08


@pytest.mark.parametrize("case", [c for c in CAPTURES if c["expect"].get("msg_id") == 3 and c["expect"]["endpoint"] == 2], ids=lambda c: c["name"])
def test_indication_telegram_decodes(case: dict) -> None:
    exp = case["expect"]
    frame = _decode(bytes.fromhex(case["hex"]))[0][0]
    assert frame.is_telegram
    telegram = frame.telegram()
    assert manufacturer_code(int.from_bytes(telegram[2:4], "little")) == exp["manufacturer"]
    assert telegram[8] == exp["version"] and telegram[9] == exp["device_type"]
    # The sources' meters are encrypted and their keys unpublished: the decoder must say so,
    # naming the meter the source names.
    with pytest.raises(MissingKeyError) as info:
        decode_telegram(telegram, None, link_crc="absent")
    assert info.value.meter_id == exp["id"]
    assert im871a.telegram_indication(telegram, rssi=exp["rssi"]) == bytes.fromhex(case["hex"])


def test_rssi_dbm_points() -> None:
    assert im871a.rssi_dbm(45) == -100 and im871a.rssi_dbm(205) == -20 and im871a.rssi_dbm(230) == 0


def test_errors() -> None:
    with pytest.raises(Im871aError):
        im871a.encode_frame(5, 1)
    with pytest.raises(Im871aError):
        im871a.encode_frame(Endpoint.RADIOLINK, 0x06)
    with pytest.raises(Im871aError):
        im871a.encode_frame(Endpoint.DEVMGMT, 1, bytes(256))
    with pytest.raises(Im871aError):
        im871a.parse_device_info(b"\x33\x00")
    with pytest.raises(Im871aError):
        im871a.parse_config(b"\x03\x00")
    with pytest.raises(Im871aError):
        HciFrame(1, 0x10, b"").telegram()
    with pytest.raises(Im871aError):
        im871a.telegram_indication(b"\x05\x44")


_endpoints = st.sampled_from([1, 2, 3, 4])


@st.composite
def frames(draw: st.DrawFn) -> HciFrame:
    ep = draw(_endpoints)
    msg = draw(st.integers(1, {1: 0x27, 2: 5, 3: 7, 4: 2}[ep]))
    return HciFrame(
        ep,
        msg,
        draw(st.binary(max_size=255)),
        draw(st.none() | st.integers(0, 0xFFFFFFFF)),
        draw(st.none() | st.integers(0, 255)),
        draw(st.sampled_from([None, True])),
    )


@given(st.lists(frames(), min_size=1, max_size=4), st.integers(1, 40))
@settings(max_examples=150, deadline=None)
def test_round_trip(items: list[HciFrame], chunk: int) -> None:
    stream = b"".join(im871a.encode(f) for f in items)
    got, dec = _decode(stream, chunk)
    assert got == items and dec.skipped == 0


@given(st.builds(RadioConfig, **{n: st.none() | st.integers(0, 255) for n in ("device_mode", "link_mode", "auto_rssi", "led_control")},
                 manufacturer=st.none() | st.integers(0, 0xFFFF), id=st.none() | st.integers(0, 0xFFFFFFFF)))
def test_config_round_trip(cfg: RadioConfig) -> None:
    assert im871a.parse_config(cfg.encode()) == cfg


@given(st.builds(DeviceInfo, st.integers(0, 255), st.integers(0, 255), st.integers(0, 255), st.integers(0, 255), st.integers(0, 0xFFFFFFFF)))
def test_device_info_round_trip(info: DeviceInfo) -> None:
    assert im871a.parse_device_info(info.encode()) == info


@given(st.lists(st.binary(max_size=80) | st.sampled_from([bytes.fromhex(c["hex"]) for c in CAPTURES]), max_size=8))
@settings(max_examples=300, deadline=None)
def test_fuzz_stream(chunks: list[bytes]) -> None:
    dec = Im871aDecoder()
    for chunk in chunks:
        dec.feed(chunk)
        assert dec.buffered <= im871a.MAX_FRAME
    for frame in dec:
        assert frame.endpoint in (1, 2, 3, 4) and 1 <= frame.msg_id <= 0x27 and len(frame.payload) <= 255
        assert frame.crc_ok in (None, True)
        assert im871a.encode(frame)[0] == 0xA5


@given(st.binary(max_size=300))
@settings(max_examples=300, deadline=None)
def test_fuzz_parsers(data: bytes) -> None:
    for parse in (im871a.parse_device_info, im871a.parse_config, im871a.parse_set_config):
        try:
            parse(data)
        except DecodeError:
            pass
