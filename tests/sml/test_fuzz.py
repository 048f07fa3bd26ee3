"""Any bytes: decoders yield results or raise their DecodeError subclasses, nothing else,
and the stream decoder's buffer stays bounded."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smgwd.codec.crc import CrcPolicy
from smgwd.codec.sml import SmlError, SmlTransportDecoder, decode_messages, encode_frame, encode_message
from smgwd.codec.sml.decoder import STRICT, TOLERANT

from tests.sml.strategies import messages

# Byte soup rich in the tokens that steer the decoders.
tokens = st.sampled_from(
    [b"\x1b\x1b\x1b\x1b", b"\x01\x01\x01\x01", b"\x1a", b"\x00", b"\x76", b"\x72", b"\x01", b"\xf1\x0f", b"\x8f"]
)
soup = st.lists(st.one_of(tokens, st.binary(max_size=8)), max_size=60).map(b"".join)
MAX_FRAME = 512


def _decode_any(data: bytes) -> None:
    for dialect in (TOLERANT, STRICT):
        try:
            decode_messages(data, dialect)
        except SmlError:
            pass


@given(st.binary(max_size=400))
@settings(max_examples=300)
def test_messages_arbitrary_bytes(data: bytes) -> None:
    _decode_any(data)


@given(messages, st.data())
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_messages_mutated(message, data: st.DataObject) -> None:
    wire = bytearray(encode_message(message))
    for _ in range(data.draw(st.integers(1, 4))):
        k = data.draw(st.integers(0, len(wire) - 1))
        wire[k] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(wire)))
    _decode_any(bytes(wire[:cut]))
    _decode_any(bytes(wire))


@given(st.lists(st.one_of(soup, st.builds(encode_frame, soup)), max_size=8), st.integers(1, 50))
@settings(max_examples=300)
def test_transport_arbitrary_stream(parts: list[bytes], chunk: int) -> None:
    stream = b"".join(parts)
    decoder = SmlTransportDecoder(CrcPolicy.AUTO, max_frame=MAX_FRAME)
    consumed = 0
    for k in range(0, len(stream), chunk):
        decoder.receive_data(stream[k : k + chunk])
        for event in decoder.events():
            consumed += getattr(event, "size", None) or getattr(event, "count", 0)
        assert decoder.buffered <= MAX_FRAME + chunk + 8
    decoder.receive_data(b"")
    for event in decoder.events():
        consumed += getattr(event, "size", None) or getattr(event, "count", 0)
    # every byte is accounted for: in a frame, a rejected frame, or discarded
    assert consumed == len(stream)
    assert decoder.buffered == 0


@pytest.mark.fuzz
@given(st.binary(max_size=4000))
@settings(max_examples=200_000, deadline=None)
def test_long_fuzz_messages(data: bytes) -> None:
    _decode_any(data)


@pytest.mark.fuzz
@given(st.lists(st.one_of(soup, st.builds(encode_frame, soup)), max_size=30), st.integers(1, 300))
@settings(max_examples=50_000, deadline=None)
def test_long_fuzz_transport(parts: list[bytes], chunk: int) -> None:
    test_transport_arbitrary_stream.hypothesis.inner_test(parts, chunk)
