"""Data-Notification (dlms.md §3: ``0F | long-invoke-id-and-priority (4) | date-time | body``), with the
date-time absent (00), standard (0C + 12) or tagged (09 0C + 12, old Kaifa and Kamstrup firmware),
and the APDUs a push reader is not for."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smgwd.codec.dlms import (
    Data,
    DataNotification,
    DataType,
    DlmsError,
    DlmsFormatError,
    DlmsTruncatedError,
    DlmsUnsupportedError,
    decode_date_time,
    decode_notification,
    encode_data,
    encode_notification,
)

STAMP = bytes.fromhex("07E50713010F2E2300FF8880")
BODY_HEX = "0202" "09060100010800FF" "0600000010"
BODY = Data(DataType.STRUCTURE, (Data(DataType.OCTET_STRING, bytes.fromhex("0100010800FF")),
                                 Data(DataType.DOUBLE_LONG_UNSIGNED, 16)))


def test_without_date_time() -> None:
    raw = bytes.fromhex("0F40000001" "00" + BODY_HEX)
    assert decode_notification(raw) == DataNotification(0x40000001, None, BODY, (), None, None, False)
    assert encode_notification(bytes.fromhex(BODY_HEX), 0x40000001) == raw


def test_with_date_time() -> None:
    raw = bytes.fromhex("0F00000002" "0C" + STAMP.hex() + BODY_HEX)
    note = decode_notification(raw)
    assert note.invoke_id == 2 and note.body == BODY and note.quirks == ()
    assert note.date_time is not None and note.date_time.data == STAMP
    assert note.date_time.to_datetime() == dt.datetime(2021, 7, 19, 13, 46, 35, tzinfo=dt.timezone.utc)
    assert encode_notification(bytes.fromhex(BODY_HEX), 2, STAMP) == raw


def test_tagged_date_time_quirk() -> None:
    raw = bytes.fromhex("0F00000003" "090C" + STAMP.hex() + BODY_HEX)
    note = decode_notification(raw)
    assert note.quirks == ("datetime_tagged",)
    assert note.date_time == decode_date_time(STAMP)
    assert note.body == BODY


@pytest.mark.parametrize("stamp", ["05" "07E5071301", "01FF", "0D" + STAMP.hex() + "00", "0B" + STAMP.hex()[:-2],
                                   "0905" "07E5071301", "FF"])
def test_date_time_of_another_length(stamp: str) -> None:
    with pytest.raises(DlmsFormatError) as exc:
        decode_notification(bytes.fromhex("0F00000001" + stamp + BODY_HEX))
    assert not isinstance(exc.value, DlmsTruncatedError)
    assert exc.value.offset == 5
    with pytest.raises(ValueError):
        encode_notification(b"\x00", 1, STAMP[:11])


@pytest.mark.parametrize("raw", ["", "0F", "0F000000", "0F00000001", "0F000000010C07E5", "0F00000001090C07E5",
                                 "0F0000000100", "0F000000010012", "0F0000000100" + BODY_HEX[:-2]])
def test_truncated(raw: str) -> None:
    with pytest.raises(DlmsTruncatedError):
        decode_notification(bytes.fromhex(raw))


@pytest.mark.parametrize("extra", ["00", "0F", "00000000"])
def test_trailing_bytes(extra: str) -> None:
    with pytest.raises(DlmsFormatError) as exc:
        decode_notification(bytes.fromhex("0F00000001" "00" + BODY_HEX + extra))
    assert not isinstance(exc.value, DlmsTruncatedError)
    assert exc.value.offset == 6 + len(BODY_HEX) // 2


@pytest.mark.parametrize("tag", [0xC4, 0x61, 0xE0, 0xC2, 0xD8, 0x0E])
def test_other_apdus(tag: int) -> None:
    with pytest.raises(DlmsUnsupportedError):
        decode_notification(bytes((tag,)) + bytes.fromhex("0100000001" + BODY_HEX))


@pytest.mark.parametrize("tag", [0x00, 0x01, 0x42, 0x10, 0xFF])
def test_unknown_tag(tag: int) -> None:
    with pytest.raises(DlmsFormatError) as exc:
        decode_notification(bytes((tag,)) + bytes.fromhex("00000001" "00" + BODY_HEX))
    assert not isinstance(exc.value, DlmsTruncatedError)
    assert exc.value.offset == 0


def test_body_is_any_data() -> None:
    for body in ("00", "1203E8", "0100", "0A0141"):
        note = decode_notification(bytes.fromhex("0F00000001" "00" + body))
        assert encode_data(note.body) == bytes.fromhex(body)


bodies = st.one_of(
    st.builds(Data, st.just(DataType.DOUBLE_LONG_UNSIGNED), st.integers(0, 2**32 - 1)),
    st.builds(Data, st.just(DataType.OCTET_STRING), st.binary(max_size=300)),
    st.builds(Data, st.just(DataType.STRUCTURE), st.lists(
        st.builds(Data, st.just(DataType.LONG), st.integers(-(2**15), 2**15 - 1)), max_size=20).map(tuple)),
)


@settings(max_examples=200)
@given(bodies, st.integers(0, 2**32 - 1), st.one_of(st.none(), st.binary(min_size=12, max_size=12)))
def test_round_trip(body: Data, invoke: int, stamp: bytes | None) -> None:
    raw = encode_notification(encode_data(body), invoke, stamp)
    assert raw[0] == 0x0F and raw[1:5] == invoke.to_bytes(4, "big")
    assert raw[5:6] == (b"\x00" if stamp is None else b"\x0c")
    note = decode_notification(raw)
    assert (note.invoke_id, note.body, note.quirks, note.security) == (invoke, body, (), None)
    assert (note.date_time.data if note.date_time else None) == stamp


@settings(max_examples=300)
@given(st.binary(max_size=200))
def test_arbitrary_bytes(data: bytes) -> None:
    for raw in (data, b"\x0f" + data):
        try:
            decode_notification(raw)
        except DlmsError:
            pass
