"""Every SML message type encodes and decodes to itself, alone, in frames, and in any chunking."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from smgwd.codec.crc import CrcKind, CrcPolicy
from smgwd.codec.sml import (
    Frame,
    SmlTransportDecoder,
    decode_message,
    decode_messages,
    encode_frame,
    encode_message,
    encode_messages,
)
from smgwd.codec.sml import types as t

from tests.sml.strategies import bodies, messages


@given(messages, st.sampled_from([CrcKind.X25, CrcKind.KERMIT]))
@settings(max_examples=400)
def test_message_roundtrip(message: t.SmlMessage, crc: CrcKind) -> None:
    data = encode_message(message, crc)
    decoded, end = decode_message(data)
    assert decoded == message
    assert decoded.crc_kind is crc
    assert end == len(data)


def test_every_body_type_is_generated() -> None:
    seen = set()

    @given(bodies)
    @settings(max_examples=500, derandomize=True, database=None)  # a fixed draw: a coverage check, not a search
    def collect(body: object) -> None:
        seen.add(type(body))

    collect()
    assert seen == set(t.BODY_TAGS)


@given(st.lists(messages, min_size=1, max_size=4), st.data())
@settings(max_examples=150)
def test_frame_roundtrip_any_chunking(msgs: list[t.SmlMessage], data: st.DataObject) -> None:
    wire = encode_frame(encode_messages(msgs))
    assert len(wire) % 4 == 0
    decoder = SmlTransportDecoder(CrcPolicy.X25)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(wire)), max_size=8)))
    events = []
    prev = 0
    for cut in [*cuts, len(wire)]:
        if cut == prev:
            continue  # an empty chunk would mean end of stream
        decoder.receive_data(wire[prev:cut])
        events += decoder.events()
        prev = cut
    assert len(events) == 1 and isinstance(events[0], Frame)
    assert decode_messages(events[0].payload) == msgs
    assert decoder.buffered == 0


@given(st.binary(max_size=64))
def test_escaped_payload_roundtrip(filler: bytes) -> None:
    # payloads full of escape bytes at every alignment
    payload = filler + b"\x1b" * 9 + filler + b"\x1b\x1b\x1b\x1b" + b"\x1b" * (len(filler) % 4)
    for crc in (CrcKind.X25, CrcKind.KERMIT):
        decoder = SmlTransportDecoder(CrcPolicy.AUTO)
        decoder.receive_data(encode_frame(payload, crc))
        (event,) = decoder.events()
        assert isinstance(event, Frame) and event.crc_kind is crc
        assert event.payload == payload
