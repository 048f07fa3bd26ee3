"""rtl_wmbus line format against lines from wmbusmeters' simulations (tests/data/wmbus/dongles/rtlwmbus.json)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smgwd.codec.wmbus import MissingKeyError, decode_telegram
from smgwd.codec.wmbus.rtlwmbus import MAX_LINE, RtlWmbusDecoder, RtlWmbusError, RtlWmbusLine, format_line, parse_line

DATA = Path(__file__).parents[2] / "data" / "wmbus" / "dongles" / "rtlwmbus.json"
LINES = json.loads(DATA.read_text())["rtlwmbus"]
IDS = [f"{c['source']['path'].split('/')[-1]}:{c['source']['line']}" for c in LINES]
FIELDS = ("mode", "crc_ok", "three_of_six_ok", "timestamp", "packet_rssi", "current_rssi", "link_layer_id")


@pytest.mark.parametrize("case", LINES, ids=IDS)
def test_real_line(case: dict) -> None:
    event = parse_line(case["line"] + "\r\n")
    for name in FIELDS:
        if name in case["expect"]:
            assert getattr(event, name) == case["expect"][name], name
    assert event.telegram.hex() == case["line"].split(";0x")[1].lower()
    assert format_line(event).lower() == case["line"].lower()
    assert parse_line(case["line"].encode()) == event


@pytest.mark.parametrize("case", [c for c in LINES if "id" in c["expect"]], ids=lambda c: c["expect"]["id"])
def test_real_line_telegram_decodes(case: dict) -> None:
    exp = case["expect"]
    event = parse_line(case["line"])
    if exp.get("encrypted"):
        with pytest.raises(MissingKeyError) as info:
            decode_telegram(event.telegram, None, link_crc="absent")
        assert info.value.meter_id == exp["id"]
        return
    telegram = decode_telegram(event.telegram, None, link_crc="absent")
    assert telegram.dll.id == exp["id"]
    if "manufacturer" in exp:
        assert telegram.dll.manufacturer == exp["manufacturer"]
        assert telegram.dll.address.version == exp["version"] and telegram.dll.address.device_type == exp["device_type"]


def test_stream_with_comments_garbage_and_chunks() -> None:
    stream = b"#2019-04-03T19:10:42Z\n\n" + b"garbage;1;2\n" + b"".join(c["line"].encode() + b"\n" for c in LINES)
    for chunk in (1, 5, len(stream)):
        dec = RtlWmbusDecoder()
        for i in range(0, len(stream), chunk):
            dec.feed(stream[i : i + chunk])
        got = list(dec)
        assert [e.link_layer_id for e in got] == [c["expect"]["link_layer_id"] for c in LINES]
        assert dec.errors == 1 and isinstance(dec.last_error, RtlWmbusError) and dec.lines == len(LINES)


def test_overlong_line_is_dropped() -> None:
    dec = RtlWmbusDecoder()
    dec.feed(b"T1;" + b"1" * (3 * MAX_LINE))
    dec.feed(b"11\n" + LINES[0]["line"].encode() + b"\n")
    assert [e.link_layer_id for e in dec] == [LINES[0]["expect"]["link_layer_id"]] and dec.errors == 1


@pytest.mark.parametrize(
    ("line", "where"),
    [
        ("T1;1;1;2019;97;148;88888888", "8 ';'"),
        ("T1;2;1;2019;97;148;88888888;0x2e44", "CRC_OK"),
        ("T1;1;x;2019;97;148;88888888;0x2e44", "3OUTOF6OK"),
        ("T1;1;1;2019;9a;148;88888888;0x2e44", "PACKET_RSSI"),
        ("T1;1;1;2019;97;;88888888;0x2e44", "CURRENT_RSSI"),
        ("T1;1;1;2019;97;148;88888888;2e44", "0x"),
        ("T1;1;1;2019;97;148;88888888;0x2e4", "0x"),
        ("T1;1;1;2019;97;148;88888888;0x", "0x"),
        ("t1;1;1;2019;97;148;88888888;0x2e44", "link mode"),
        ("T1;1;1;;97;148;88888888;0x2e44", "timestamp"),
        ("T1;1;1;2019;97;148;;0x2e44", "ident"),
    ],
)
def test_malformed_line(line: str, where: str) -> None:
    with pytest.raises(RtlWmbusError, match=where):
        parse_line(line)


def test_non_ascii() -> None:
    with pytest.raises(RtlWmbusError, match="ASCII"):
        parse_line("T1;1;1;2019;97;148;8888\u00e9;0x2e44".encode("utf-8"))


_events = st.builds(
    RtlWmbusLine,
    mode=st.sampled_from(["T1", "C1", "S1"]),
    crc_ok=st.booleans(),
    three_of_six_ok=st.booleans(),
    timestamp=st.from_regex(r"\A20[0-9]{2}-[01][0-9]-[0-3][0-9] [0-2][0-9]:[0-5][0-9]:[0-5][0-9]\.[0-9]{3}\Z"),
    packet_rssi=st.integers(0, 255),
    current_rssi=st.integers(0, 255),
    link_layer_id=st.from_regex(r"\A[0-9a-f]{8}\Z"),
    telegram=st.binary(min_size=1, max_size=255),
)


@given(st.lists(_events, max_size=4), st.integers(1, 60))
@settings(max_examples=150, deadline=None)
def test_round_trip(items: list[RtlWmbusLine], chunk: int) -> None:
    stream = "".join(format_line(e) + "\n" for e in items).encode()
    dec = RtlWmbusDecoder()
    for i in range(0, len(stream), chunk):
        dec.feed(stream[i : i + chunk])
    assert list(dec) == items and dec.errors == 0


@given(st.lists(st.binary(max_size=120) | st.sampled_from([c["line"].encode() + b"\n" for c in LINES]), max_size=8))
@settings(max_examples=300, deadline=None)
def test_fuzz_stream(chunks: list[bytes]) -> None:
    dec = RtlWmbusDecoder()
    for chunk in chunks:
        dec.feed(chunk)
    for event in dec:
        assert event.telegram and event.mode[0].isupper()
        assert parse_line(format_line(event)) == event


@given(st.text(max_size=200) | st.binary(max_size=200))
@settings(max_examples=300, deadline=None)
def test_fuzz_parse_line(line: str | bytes) -> None:
    try:
        parse_line(line)
    except RtlWmbusError:
        pass
