"""SML transport v1 decoder: framing, escapes, padding, CRCs, resync and bounds."""

from __future__ import annotations

import pytest

from smgwd.codec.crc import CrcKind, CrcPolicy
from smgwd.codec.sml import (
    NEED_DATA,
    BytesDiscarded,
    Frame,
    FrameRejected,
    SmlCrcError,
    SmlTransportDecoder,
    SmlTransportError,
    encode_frame,
)

PAYLOAD = bytes.fromhex("7605010203046200620072630201710163") + b"\xaa\xbb\x00"  # any bytes will do here


def feed(decoder: SmlTransportDecoder, data: bytes, chunk: int | None = None, eof: bool = True) -> list:
    events = []
    step = chunk or max(1, len(data))
    for k in range(0, len(data), step):
        decoder.receive_data(data[k : k + step])
        events += decoder.events()
    if eof:
        decoder.receive_data(b"")
        events += decoder.events()
    return events


@pytest.mark.parametrize("chunk", [None, 1, 3, 7])
def test_garbage_then_frame(chunk: int | None) -> None:
    wire = b"\x00\x1b\x1b\x42" + encode_frame(PAYLOAD)
    events = feed(SmlTransportDecoder(), wire, chunk)
    discarded = [e for e in events if isinstance(e, BytesDiscarded)]
    frames = [e for e in events if isinstance(e, Frame)]
    assert sum(e.count for e in discarded) == 4
    assert [f.payload for f in frames] == [PAYLOAD]
    assert frames[0].offset == 4 and frames[0].size == len(wire) - 4


def test_bad_crc_rejected_and_next_frame_kept() -> None:
    bad = bytearray(encode_frame(PAYLOAD))
    bad[10] ^= 0x01
    events = feed(SmlTransportDecoder(CrcPolicy.X25), bytes(bad) + encode_frame(PAYLOAD))
    assert isinstance(events[0], FrameRejected) and isinstance(events[0].error, SmlCrcError)
    assert isinstance(events[1], Frame) and events[1].payload == PAYLOAD
    assert events[1].offset == len(bad)


def test_truncated_at_end_of_stream() -> None:
    wire = encode_frame(PAYLOAD)[:-5]
    (event,) = feed(SmlTransportDecoder(), wire)
    assert isinstance(event, FrameRejected) and "truncated" in str(event.error)
    assert event.size == len(wire)


def test_without_eof_a_partial_frame_waits() -> None:
    decoder = SmlTransportDecoder()
    decoder.receive_data(encode_frame(PAYLOAD)[:-1])
    assert decoder.next_event() is NEED_DATA


@pytest.mark.parametrize("lost", [1, 2, 3, 5])
def test_restart_after_lost_bytes(lost: int) -> None:
    first = encode_frame(PAYLOAD)
    damaged = first[: 12] + first[12 + lost :]
    events = feed(SmlTransportDecoder(), damaged + encode_frame(PAYLOAD), chunk=2)
    assert [type(e) for e in events] == [FrameRejected, Frame]
    assert events[1].payload == PAYLOAD


def test_start_sequence_inside_frame_restarts() -> None:
    head = encode_frame(PAYLOAD)[:16]
    events = feed(SmlTransportDecoder(), head + encode_frame(PAYLOAD))
    assert isinstance(events[0], FrameRejected) and "new start sequence" in str(events[0].error)
    assert isinstance(events[1], Frame)


def test_invalid_escape_rejected() -> None:
    wire = b"\x1b\x1b\x1b\x1b\x01\x01\x01\x01" + b"\x1b\x1b\x1b\x1b\x02\x02\x02\x02" + encode_frame(PAYLOAD)
    events = feed(SmlTransportDecoder(), wire)
    assert isinstance(events[0], FrameRejected) and "invalid escape" in str(events[0].error)
    assert [type(e) for e in events if not isinstance(e, BytesDiscarded)][-1] is Frame


def test_padding_count_above_three_rejected() -> None:
    body = b"\x1b\x1b\x1b\x1b\x01\x01\x01\x01" + b"\x76\x00\x00\x00" + b"\x1b\x1b\x1b\x1b\x1a\x04\x00\x00"
    (event,) = feed(SmlTransportDecoder(CrcPolicy.OFF), body)
    assert isinstance(event, FrameRejected) and "padding" in str(event.error)


def test_nonzero_padding_rejected() -> None:
    body = b"\x1b\x1b\x1b\x1b\x01\x01\x01\x01" + b"\x76\x00\x00\x05" + b"\x1b\x1b\x1b\x1b\x1a\x01\x00\x00"
    (event,) = feed(SmlTransportDecoder(CrcPolicy.OFF), body)
    assert isinstance(event, FrameRejected) and "not zero" in str(event.error)


def test_crc_policy() -> None:
    kermit = encode_frame(PAYLOAD, CrcKind.KERMIT)
    assert isinstance(feed(SmlTransportDecoder(CrcPolicy.X25), kermit)[0], FrameRejected)
    (frame,) = feed(SmlTransportDecoder(CrcPolicy.AUTO), kermit)
    assert isinstance(frame, Frame) and frame.crc_kind is CrcKind.KERMIT
    (frame,) = feed(SmlTransportDecoder(CrcPolicy.KERMIT), kermit)
    assert frame.crc_kind is CrcKind.KERMIT
    broken = kermit[:-1] + bytes([kermit[-1] ^ 0xFF])
    (frame,) = feed(SmlTransportDecoder(CrcPolicy.OFF), broken)
    assert isinstance(frame, Frame) and frame.crc_kind is CrcKind.UNCHECKED


def test_oversized_frame_rejected_and_buffer_bounded() -> None:
    decoder = SmlTransportDecoder(max_frame=1024)
    decoder.receive_data(b"\x1b\x1b\x1b\x1b\x01\x01\x01\x01")
    rejected = []
    for _ in range(100):
        decoder.receive_data(bytes(100))
        rejected += [e for e in decoder.events() if isinstance(e, FrameRejected)]
        assert decoder.buffered <= 1024 + 100
    assert rejected and "larger than 1024" in str(rejected[0].error)
    events = feed(decoder, encode_frame(PAYLOAD))
    assert isinstance(events[-1], Frame)


def test_escape_at_payload_end_and_encoder_alignment() -> None:
    payload = b"\x01\x1b\x1b\x1b"  # payload ends with escape bytes right before the end sequence
    wire = encode_frame(payload)
    assert wire.endswith(wire[-8:]) and wire[-8:-4] == b"\x1b" * 4
    (frame,) = feed(SmlTransportDecoder(CrcPolicy.X25), wire, chunk=1)
    assert isinstance(frame, Frame) and frame.payload == payload


def test_transport_errors_name_offsets() -> None:
    frame = encode_frame(PAYLOAD)
    wire = bytes(5) + frame[:-1] + bytes([frame[-1] ^ 0xFF])
    events = [e for e in feed(SmlTransportDecoder(CrcPolicy.X25), wire) if isinstance(e, FrameRejected)]
    assert events[0].offset == 5
    assert events[0].error.offset is not None and events[0].error.offset > 5
    assert isinstance(events[0].error, (SmlCrcError, SmlTransportError))


def test_oversized_frame_arriving_whole_is_rejected() -> None:
    big = encode_frame(bytes(2000))
    (event,) = feed(SmlTransportDecoder(max_frame=1024), big)
    assert isinstance(event, FrameRejected) and "larger than 1024" in str(event.error)
    (event,) = feed(SmlTransportDecoder(max_frame=4096), big)
    assert isinstance(event, Frame)
