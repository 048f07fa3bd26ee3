"""Issue 9: typed SML integer fields are range-checked by value; TL fields are bounded."""

from __future__ import annotations

import pytest

from smgwd.codec.sml.decoder import decode_messages
from smgwd.codec.sml.errors import SmlError, SmlRangeError, SmlSyntaxError, SmlTransportError
from smgwd.codec.sml.transport import Frame, FrameRejected, SmlTransportDecoder, encode_frame
from tests.sml.hostile import FIELD_IN_ERROR, HOSTILE, list_message


def test_the_well_formed_entry_decodes() -> None:
    (message,) = decode_messages(list_message())
    entry = message.body.entries[0]
    assert (entry.unit, entry.scaler, entry.value) == (30, -1, 100)


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_out_of_range_field_is_a_range_error_naming_field_and_offset(case: str) -> None:
    field, part = HOSTILE[case]
    data = list_message(**{field: part})
    with pytest.raises(SmlRangeError) as caught:
        decode_messages(data)
    assert caught.value.what.startswith(FIELD_IN_ERROR[case] + ":")
    assert caught.value.offset is not None and 30 < caught.value.offset < len(data)


@pytest.mark.parametrize(
    ("field", "part", "expected"),
    [
        ("unit", b"\x63\x00\x1e", 30),  # Unsigned16 on the wire, value fits Unsigned8
        ("scaler", b"\x53\xff\xfd", -3),  # Integer16 on the wire, value fits Integer8
        ("status", b"\x65\x00\x01\x01\x04", 0x10104),
    ],
)
def test_wider_encoding_with_a_value_in_range_is_accepted(field: str, part: bytes, expected: int) -> None:
    (message,) = decode_messages(list_message(**{field: part}))
    assert getattr(message.body.entries[0], field) == expected


def test_local_offset_of_one_day_is_accepted() -> None:
    part = b"\x72\x62\x03\x73\x65\x60\x00\x00\x00\x53\x05\xa0\x53\xfa\x60"  # +1440, -1440 minutes
    (message,) = decode_messages(list_message(valTime=part))
    time = message.body.entries[0].val_time
    assert (time.local_offset, time.season_offset) == (1440, -1440)


def test_offsets_that_add_up_to_a_day_or_more_are_a_range_error_not_a_crash_downstream() -> None:
    part = b"\x72\x62\x03\x73\x65\x60\x00\x00\x00\x53\x05\xa0\x53\x00\x3c"  # +1440 + 60 minutes
    with pytest.raises(SmlRangeError, match="localOffset 1440 \\+ seasonTimeOffset 60 minutes is not a UTC offset"):
        decode_messages(list_message(valTime=part))


class _Probe(bytes):
    """bytes that remember the highest index read one by one."""

    top = -1

    def __getitem__(self, key):  # type: ignore[no-untyped-def,override]
        if isinstance(key, int):
            self.top = max(self.top, key)
        return super().__getitem__(key)


def test_long_tl_field_stops_after_the_tl_bound() -> None:
    data = _Probe(b"\x76\x01\xf0" + b"\x8f" * 20_000 + b"\x0f")
    with pytest.raises(SmlSyntaxError, match="TL field longer than 4 bytes"):
        decode_messages(data)
    assert data.top < 16


def test_one_megabyte_tl_field_is_rejected_at_its_start() -> None:
    with pytest.raises(SmlError) as caught:
        decode_messages(b"\x76\x01\xf0" + b"\x8f" * 1_000_000 + b"\x0f")
    assert caught.value.offset is not None and caught.value.offset < 8


def test_four_byte_tl_is_still_read() -> None:
    # octet string of 3 data bytes with a 4-byte TL (80 80 80 07): legal, if unusual
    data = list_message()
    entry_name = b"\x07\x01\x00\x01\x08\x00\xff"
    assert entry_name in data
    wide = list_message().replace(b"\x0b" + bytes(range(10)), b"\x80\x80\x80\x0e" + bytes(range(10)))
    (message,) = decode_messages(_reseal(wide))
    assert message.body.server_id == bytes(range(10))


def _reseal(message: bytes) -> bytes:
    from tests.sml.hostile import _seal

    return _seal(message[:-4])


def _frame_with_padding(count: int) -> bytes:
    payload = list_message()
    payload += bytes(-len(payload) % 4)
    body = b"\x1b\x1b\x1b\x1b\x01\x01\x01\x01" + payload + bytes(count) + b"\x1b\x1b\x1b\x1b\x1a" + bytes((count,))
    from smgwd.codec.crc import crc16_x25

    crc = crc16_x25(body)
    return body + bytes((crc & 0xFF, crc >> 8))


def test_padding_count_4_is_a_named_tolerated_deviation() -> None:
    good = encode_frame(list_message())
    decoder = SmlTransportDecoder()
    decoder.receive_data(_frame_with_padding(4))
    event = decoder.next_event()
    assert isinstance(event, Frame), event
    assert event.quirks == frozenset({"padding_4"})
    assert decode_messages(event.payload)  # the zero padding reads as fill bytes
    plain = SmlTransportDecoder()
    plain.receive_data(good)
    first = plain.next_event()
    assert isinstance(first, Frame) and first.quirks == frozenset()


@pytest.mark.parametrize("count", [5, 7])
def test_padding_count_above_4_is_still_refused(count: int) -> None:
    decoder = SmlTransportDecoder()
    decoder.receive_data(_frame_with_padding(count))
    decoder.receive_data(b"")
    events = decoder.events()
    assert not any(isinstance(event, Frame) for event in events)
    assert any(isinstance(event, FrameRejected) and isinstance(event.error, SmlTransportError) for event in events)


def test_padding_count_4_refused_when_not_tolerated() -> None:
    decoder = SmlTransportDecoder(tolerate_padding_4=False)
    decoder.receive_data(_frame_with_padding(4))
    assert isinstance(decoder.next_event(), FrameRejected)
