"""The incremental HDLC decoder and the segment reassembler.

Frames are built with ``encode_frame`` (checked byte by byte against hand-built frames in
test_frame.py); what is under test here is how the decoder finds them in a byte stream:
shared, doubled and many flags, garbage, any chunking, corrupted frames, RFC 1662 stuffing.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smgwd.codec.hdlc import (
    HdlcAddress,
    HdlcCrcError,
    HdlcDecoder,
    HdlcFrame,
    HdlcMessage,
    Reassembler,
    Received,
    Rejected,
    decode_frame,
    encode_frame,
)

BOUND = 2 * (1 + 2047 + 1)  # the decoder holds at most about two frames

CLIENT = HdlcAddress(16, None, 1)
SERVER = HdlcAddress(1, 17, 2)


def frame_body(info: bytes = b"", control: int = 0x13, dest: HdlcAddress = CLIENT, src: HdlcAddress = SERVER,
               segmented: bool = False) -> bytes:
    return encode_frame(dest, src, control, info, segmented=segmented, flags=False)


def feed_all(data: bytes, chunk: int | None = None, **kwargs: bool) -> tuple[HdlcDecoder, list[Received | Rejected]]:
    dec = HdlcDecoder(**kwargs)
    events: list[Received | Rejected] = []
    step = chunk or max(1, len(data))
    for start in range(0, len(data), step):
        dec.feed(data[start : start + step])
        assert dec.buffered <= BOUND
        events.extend(dec)
    return dec, events


def received(events: list[Received | Rejected]) -> list[HdlcFrame]:
    return [e.frame for e in events if isinstance(e, Received)]


def rejected(events: list[Received | Rejected]) -> list[Rejected]:
    return [e for e in events if isinstance(e, Rejected)]


def stuff(body: bytes) -> bytes:
    """RFC 1662 octet stuffing of what goes between the flags."""
    out = bytearray()
    for b in body:
        if b in (0x7E, 0x7D):
            out += bytes((0x7D, b ^ 0x20))
        else:
            out.append(b)
    return bytes(out)


# --- streams of good frames --------------------------------------------------------------------

addresses = st.one_of(
    st.builds(HdlcAddress, st.integers(0, 0x7F), st.none(), st.just(1)),
    st.builds(HdlcAddress, st.integers(0, 0x7F), st.integers(0, 0x7F), st.just(2)),
    st.builds(HdlcAddress, st.integers(0, 0x3FFF), st.integers(0, 0x3FFF), st.just(4)),
)
frames = st.builds(
    HdlcFrame, addresses, addresses, st.integers(0, 255),
    st.one_of(st.binary(max_size=60), st.binary(max_size=600), st.binary(min_size=1000, max_size=2000)),
    st.booleans(),
)
garbage = st.binary(max_size=40).map(lambda b: b.replace(b"\x7e", b""))
separators = st.one_of(st.just("shared"), st.just("double"), st.integers(3, 6).map(str), garbage)


def encode(frame: HdlcFrame) -> bytes:
    return encode_frame(frame.dest, frame.src, frame.control, frame.info, segmented=frame.segmented, flags=False)


def join(bodies: list[bytes], seps: list[str | bytes]) -> bytes:
    out = bytearray()
    for index, body in enumerate(bodies):
        sep = seps[index % len(seps)] if index else None
        if sep == "shared":
            out += body + b"\x7e"
        elif sep is None:
            out += b"\x7e" + body + b"\x7e"
        elif sep == "double":
            out += b"\x7e" + body + b"\x7e"
        elif isinstance(sep, str):
            out += b"\x7e" * (int(sep) - 1) + b"\x7e" + body + b"\x7e"
        else:
            out += sep + b"\x7e" + body + b"\x7e"
    return bytes(out)


@settings(max_examples=200)
@given(st.lists(frames, min_size=1, max_size=6), st.lists(separators, min_size=1, max_size=4),
       st.one_of(st.none(), st.integers(1, 64)), st.booleans())
def test_stream_of_frames(items: list[HdlcFrame], seps: list[str | bytes], chunk: int | None, stuffing: bool) -> None:
    stream = join([encode(f) for f in items], seps)
    dec, events = feed_all(stream, chunk, stuffing=stuffing)
    garbage_used = sum(1 for k in range(1, len(items)) if isinstance(seps[k % len(seps)], bytes))
    if not garbage_used:
        assert received(events) == items
        assert rejected(events) == []
        assert dec.frames == len(items) and dec.rejected == 0
    else:
        # garbage may look like a frame start (one reject at most each); a start whose header has no HCS
        # to judge early (a short frame without information field) holds the frames after it until its
        # announced length is there, so the line goes on idling before the frames are counted
        dec.feed(bytes(2 * 2049))
        assert dec.buffered <= BOUND
        events.extend(dec)
        assert received(events) == items
        assert len(rejected(events)) <= garbage_used
    for event in (e for e in events if isinstance(e, Received)):
        assert event.raw == b"\x7e" + encode(event.frame) + b"\x7e"
        assert event.stuffed is False


def test_shared_double_and_many_flags() -> None:
    a, b, c = frame_body(b"\x01"), frame_body(b"\x02\x7e"), frame_body()
    stream = b"\x7e" + a + b"\x7e" + b + b"\x7e\x7e" + c + b"\x7e" * 5 + a + b"\x7e"
    _, events = feed_all(stream)
    assert [f.info for f in received(events)] == [b"\x01", b"\x02\x7e", b"", b"\x01"]
    assert rejected(events) == []


def test_next_event_and_counters() -> None:
    dec = HdlcDecoder()
    assert dec.next_event() is None
    dec.feed(b"\x00\x01" + b"\x7e" + frame_body(b"x") + b"\x7e")
    event = dec.next_event()
    assert isinstance(event, Received) and event.frame.info == b"x"
    assert dec.next_event() is None
    assert dec.frames == 1 and dec.skipped >= 2


def test_frame_waits_for_its_last_byte() -> None:
    wire = b"\x7e" + frame_body(b"\x7e" * 30) + b"\x7e"
    dec = HdlcDecoder()
    for byte in wire[:-1]:
        dec.feed(bytes((byte,)))
        assert list(dec) == []
    dec.feed(wire[-1:])
    assert [e.frame.info for e in dec] == [b"\x7e" * 30]


# --- arbitrary input ---------------------------------------------------------------------------


@settings(max_examples=200)
@given(st.binary(max_size=5000), st.one_of(st.none(), st.integers(1, 64)), st.booleans())
def test_arbitrary_bytes(data: bytes, chunk: int | None, stuffing: bool) -> None:
    dec, events = feed_all(data, chunk, stuffing=stuffing)
    for event in events:
        assert type(event) in (Received, Rejected)
        if isinstance(event, Received) and not event.stuffed:
            assert event.raw[0] == event.raw[-1] == 0x7E
            assert decode_frame(event.raw[1:-1]) == event.frame
    assert dec.frames == len(received(events))
    assert dec.rejected == len(rejected(events))


@settings(max_examples=100)
@given(st.lists(st.one_of(st.binary(max_size=300), st.sampled_from([b"\x7e", b"\x7e\xa0", b"\x7d", b"\x7e\xa7\xff"])),
                max_size=40), st.integers(1, 64))
def test_flag_heavy_bytes(parts: list[bytes], chunk: int) -> None:
    data = b"".join(parts)
    _, events = feed_all(data, chunk)
    assert all(type(e) in (Received, Rejected) for e in events)


# --- damaged frames ----------------------------------------------------------------------------

FIRST = frame_body(bytes.fromhex("E6E7000F000000010002020906010001080" "0FF0600001234"))
SECOND = frame_body(bytes.fromhex("E6E7000F0000000200"), control=0x03)
LAST = frame_body()
for _body in (FIRST, SECOND, LAST):
    assert 0x7E not in _body and 0x7D not in _body  # so a change can create no frame start but the flags


@pytest.mark.parametrize("bad", [FIRST, LAST], ids=["with-info", "without-info"])
@pytest.mark.parametrize("stuffing", [True, False])
def test_every_changed_byte_between_two_good_frames(bad: bytes, stuffing: bool) -> None:
    good = (SECOND, frame_body(b"\x55" * 20, control=0x10))
    wire = b"\x7e" + good[0] + b"\x7e" + b"\x7e" + bad + b"\x7e" + b"\x7e" + good[1] + b"\x7e"
    start = len(good[0]) + 3  # the first byte of the bad frame's body
    end = start + len(bad)  # its closing flag
    for index in range(start - 1, end + 1):
        for value in range(256):
            if value in (wire[index], 0x7E):
                continue
            data = bytearray(wire)
            data[index] = value
            dec, events = feed_all(bytes(data), stuffing=stuffing)
            if stuffing and value == 0x7D:
                # a 0x7D in a header that does not check may be an escape: judged when the announced
                # length is there (see test_escape_in_a_bad_header_holds_the_next_frame)
                dec.feed(bytes(2 * 2049))
                events.extend(dec)
            assert received(events) == [decode_frame(good[0]), decode_frame(good[1])], (index, value)
            count = len(rejected(events))
            assert count <= 1, (index, value)
            if start <= index < end:
                fmt = data[start] << 8 | data[start + 1]
                if fmt & 0xF000 == 0xA000 and fmt & 0x7FF >= 7:  # still looks like a frame start
                    assert count == 1, (index, value)


def test_corrupted_length_does_not_swallow_the_next_frame() -> None:
    """The HCS is checked as soon as the header is there, not after 2 KB that never come."""
    for fmt in (b"\xa7\xff", b"\xa2\x00", bytes((FIRST[0], FIRST[1] + 1))):
        bad = fmt + FIRST[2:]
        wire = b"\x7e" + bad + b"\x7e" + SECOND + b"\x7e"
        for chunk in (None, 1, 7):
            dec, events = feed_all(wire, chunk)
            assert received(events) == [decode_frame(SECOND)]
            (reject,) = rejected(events)
            assert isinstance(reject.error, HdlcCrcError)
            assert reject.raw == wire[:9]  # flag, format, addresses (1 + 2), control, HCS: no more was waited for
            assert dec.buffered <= 1


def test_truncated_frame_followed_by_a_good_one() -> None:
    wire = b"\x7e" + FIRST[:-10] + b"\x7e" + SECOND + b"\x7e" + LAST + b"\x7e"
    _, events = feed_all(wire)
    assert received(events) == [decode_frame(SECOND), decode_frame(LAST)]
    assert len(rejected(events)) == 1


def test_overlong_address_does_not_hold_the_next_frame() -> None:
    wire = b"\x7e" + bytes.fromhex("A7FF00000000000013") + b"\x7e" + SECOND + b"\x7e"
    _, events = feed_all(wire)
    assert received(events) == [decode_frame(SECOND)]


def test_noise_byte_before_a_frame_with_4_byte_address() -> None:
    # one noise byte A0 after a closing flag: "7E A0 7E" reads as a format field of length 126, and the
    # next frame's format and 4-byte address (A0 0D 00 02 ...) as an address without extension bit
    body = frame_body(b"", control=0x93, dest=HdlcAddress(1, 1, 4), src=CLIENT)
    wire = b"\x7e" + SECOND + b"\x7e" + b"\xa0" + b"\x7e" + body + b"\x7e"
    _, events = feed_all(wire)
    assert received(events) == [decode_frame(SECOND), decode_frame(body)]


def test_escape_in_a_bad_header_does_not_hold_the_next_frame() -> None:
    bad = FIRST[:1] + b"\x7d" + FIRST[2:]  # the length byte hit by noise: 125 announced, the HCS fails
    wire = b"\x7e" + bad + b"\x7e" + SECOND + b"\x7e"
    _, events = feed_all(wire, stuffing=True)
    assert received(events) == [decode_frame(SECOND)]


def test_escape_in_a_bad_header_without_stuffing() -> None:
    bad = FIRST[:1] + b"\x7d" + FIRST[2:]
    wire = b"\x7e" + bad + b"\x7e" + SECOND + b"\x7e"
    _, events = feed_all(wire, stuffing=False)
    assert received(events) == [decode_frame(SECOND)]
    assert len(rejected(events)) == 1


# --- RFC 1662 stuffing -------------------------------------------------------------------------


def test_stuffed_frame() -> None:
    info = bytes.fromhex("E6E7000F00000D7E7D0C7E7D7D7E")
    body = frame_body(info)
    wire = b"\x7e" + stuff(body) + b"\x7e"
    assert len(wire) > len(body) + 2 and wire.count(0x7E) == 2
    for chunk in (None, 1, 5):
        dec, events = feed_all(wire + b"\x7e" + SECOND + b"\x7e", chunk)
        assert len(events) == 2, events
        first, second = events
        assert isinstance(first, Received) and first.stuffed is True
        assert first.frame == decode_frame(body) and first.raw == wire
        assert isinstance(second, Received) and second.stuffed is False and second.frame == decode_frame(SECOND)

    _, events = feed_all(wire + b"\x7e" + SECOND + b"\x7e", stuffing=False)
    assert received(events) == [decode_frame(SECOND)]  # the stuffed one is not taken as sent


def test_unstuffed_frame_with_escape_bytes_is_not_unstuffed() -> None:
    # DLMS does not stuff: a 0x7D inside a frame that checks as sent is data
    body = frame_body(b"\x7d\x5e\x7d\x5d")
    _, events = feed_all(b"\x7e" + body + b"\x7e")
    (event,) = events
    assert isinstance(event, Received) and event.stuffed is False and event.frame.info == b"\x7d\x5e\x7d\x5d"


def _find(pred: object) -> bytes:
    for control in range(256):
        for upper in range(128):
            body = frame_body(b"\x01\x02", control=control, src=HdlcAddress(upper, 1, 2))
            if pred(body):  # type: ignore[operator]
                return body
    raise AssertionError("no such frame")


@pytest.mark.parametrize("where", ["hcs", "fcs", "address", "control"])
def test_stuffed_header_and_check_bytes(where: str) -> None:
    if where == "hcs":
        body = _find(lambda b: b[6] == 0x7E or b[7] == 0x7E)
    elif where == "fcs":  # after a header and its HCS the CRC register is constant: only the info moves the FCS
        body = next(b for b in (frame_body(k.to_bytes(2, "big")) for k in range(65536)) if 0x7E in b[-2:])
    elif where == "address":
        body = frame_body(b"\x01\x02", src=HdlcAddress(63, 62, 2))  # address bytes 7E 7D
        assert body[3:5] == b"\x7e\x7d"
    else:
        body = frame_body(b"\x01\x02", control=0x7E)
    wire = b"\x7e" + stuff(body) + b"\x7e"
    assert wire.count(0x7E) == 2
    for chunk in (None, 1):
        _, events = feed_all(wire + SECOND + b"\x7e", chunk)
        assert [(type(e), getattr(e, "stuffed", None)) for e in events] == [(Received, True), (Received, False)]
        assert events[0].frame == decode_frame(body)


@pytest.mark.parametrize("chunk", [None, 1, 64])
@pytest.mark.parametrize("length", [20, 124, 125, 126, 127, 200, 381, 382, 638, 2000])
def test_stuffed_frame_of_any_length(length: int, chunk: int | None) -> None:
    """Lengths 126, 382, 638 put 0x7E in the format field's low byte, which stuffing escapes (125: 0x7D)."""
    info = b"\x7e" + bytes(length - 10 - 1)  # header 6, HCS 2, FCS 2
    body = frame_body(info)
    assert len(body) == length
    _, events = feed_all(b"\x7e" + stuff(body) + b"\x7e", chunk)
    assert [(type(e), getattr(e, "stuffed", None)) for e in events] == [(Received, True)]
    assert events[0].frame == decode_frame(body)


@settings(max_examples=150)
@given(frames, st.lists(st.sampled_from([b"\x7e", b"\x7d"]), min_size=1, max_size=5), st.integers(0, 10**6),
       st.one_of(st.none(), st.integers(1, 64)))
def test_stuffed_frames_in_a_stream(frame: HdlcFrame, specials: list[bytes], at: int, chunk: int | None) -> None:
    info = bytearray(frame.info)
    for special in specials:
        pos = at % (len(info) + 1)
        info[pos:pos] = special
    body = encode(frame._replace(info=bytes(info)[: 2047 - 15]))
    stuffed = stuff(body)
    assert stuffed != body
    wire = b"\x7e" + SECOND + b"\x7e" + stuffed + b"\x7e" + SECOND + b"\x7e"
    _, events = feed_all(wire, chunk)
    assert [(type(e), getattr(e, "stuffed", None)) for e in events] == [(Received, False), (Received, True),
                                                                        (Received, False)]
    assert events[1].frame == decode_frame(body)


# --- reassembly --------------------------------------------------------------------------------


def frame(info: bytes, segmented: bool = False, src: HdlcAddress = SERVER, control: int = 0x13) -> HdlcFrame:
    return HdlcFrame(CLIENT, src, control, info, segmented)


def test_segments_joined() -> None:
    asm = Reassembler()
    assert asm.add(frame(b"\xe6\xe7\x00" + b"\x0f\x01\x02", segmented=True, control=0x03)) is None
    assert asm.add(frame(b"\xe6\xe7\x00\x03", segmented=True, control=0x03)) is None  # LLC only on the first
    assert asm.add(frame(b"\x04\x05")) == HdlcMessage(SERVER, CLIENT, b"\x0f\x01\x02\xe6\xe7\x00\x03\x04\x05", 3,
                                                     b"\xe6\xe7\x00")


def test_single_frames() -> None:
    asm = Reassembler()
    assert asm.add(frame(b"\xe6\xe6\x00\x60\x01")) == HdlcMessage(SERVER, CLIENT, b"\x60\x01", 1, b"\xe6\xe6\x00")
    assert asm.add(frame(b"\x0f\x01")) == HdlcMessage(SERVER, CLIENT, b"\x0f\x01", 1, None)
    assert asm.add(frame(b"\xe6\xe7")) == HdlcMessage(SERVER, CLIENT, b"\xe6\xe7", 1, None)  # no whole LLC
    assert asm.add(frame(b"\xe6\xe7\x00")) == HdlcMessage(SERVER, CLIENT, b"", 1, b"\xe6\xe7\x00")


def test_frames_without_info_do_not_disturb() -> None:
    asm = Reassembler()
    assert asm.add(frame(b"\xe6\xe7\x00\x01", segmented=True)) is None
    assert asm.add(frame(b"", control=0x31)) is None  # an RR in between
    assert asm.add(frame(b"", segmented=True)) is None
    message = asm.add(frame(b"\x02"))
    assert message is not None and (message.apdu, message.frames) == (b"\x01\x02", 2)


def test_sources_kept_apart() -> None:
    a, b = HdlcAddress(1, 17, 2), HdlcAddress(1, 18, 2)
    asm = Reassembler()
    assert asm.add(frame(b"\xe6\xe7\x00A1", True, a)) is None
    assert asm.add(frame(b"\xe6\xe7\x00B1", True, b)) is None
    assert asm.add(frame(b"A2", True, a)) is None
    got_b = asm.add(frame(b"B2", False, b))
    got_a = asm.add(frame(b"A3", False, a))
    assert got_b == HdlcMessage(b, CLIENT, b"B1B2", 2, b"\xe6\xe7\x00")
    assert got_a == HdlcMessage(a, CLIENT, b"A1A2A3", 3, b"\xe6\xe7\x00")


def test_max_size() -> None:
    asm = Reassembler(max_size=10)
    assert asm.add(frame(b"\xe6\xe7\x00" + b"x" * 6, True)) is None
    assert asm.add(frame(b"y" * 4)) == HdlcMessage(SERVER, CLIENT, b"x" * 6 + b"y" * 4, 2, b"\xe6\xe7\x00")
    assert asm.dropped == 0

    assert asm.add(frame(b"\xe6\xe7\x00" + b"x" * 6, True)) is None
    assert asm.add(frame(b"y" * 5, True)) is None  # 11 bytes: dropped
    assert asm.dropped == 1
    assert asm.add(frame(b"w" * 3, True)) is None  # the rest of the dropped message is dropped with it,
    assert asm.add(frame(b"zz")) is None  # never a message of its own
    assert asm.dropped == 1
    assert asm.add(frame(b"\xe6\xe7\x00" + b"z" * 11)) is None
    assert asm.dropped == 2
    # the next whole message from that source is assembled
    other = HdlcAddress(5, 5, 2)
    assert asm.add(frame(b"\xe6\xe7\x00ok", src=other)) == HdlcMessage(other, CLIENT, b"ok", 1, b"\xe6\xe7\x00")
    asm.clear()
    assert asm.add(frame(b"\xe6\xe7\x00ok")) == HdlcMessage(SERVER, CLIENT, b"ok", 1, b"\xe6\xe7\x00")


def test_clear_drops_pending() -> None:
    asm = Reassembler()
    asm.add(frame(b"\xe6\xe7\x00old", True))
    asm.clear()
    assert asm.add(frame(b"\xe6\xe7\x00new")) == HdlcMessage(SERVER, CLIENT, b"new", 1, b"\xe6\xe7\x00")


@settings(max_examples=200)
@given(st.binary(max_size=3000), st.lists(st.integers(1, 300), min_size=1, max_size=20))
def test_split_message_joined(apdu: bytes, sizes: list[int]) -> None:
    data = b"\xe6\xe7\x00" + apdu
    parts, pos, k = [], 0, 0
    while pos < len(data):
        size = sizes[k % len(sizes)] if k else max(3, sizes[0])  # meters never split the LLC
        parts.append(data[pos : pos + size])
        pos += size
        k += 1
    asm = Reassembler()
    dec = HdlcDecoder()
    wire = b"".join(b"\x7e" + frame_body(p, control=0x13 if i == len(parts) - 1 else 0x03,
                                          segmented=i < len(parts) - 1) + b"\x7e" for i, p in enumerate(parts))
    dec.feed(wire)
    results = [asm.add(e.frame) for e in dec if isinstance(e, Received)]
    assert results[:-1] == [None] * (len(parts) - 1)
    assert results[-1] == HdlcMessage(SERVER, CLIENT, apdu, len(parts), b"\xe6\xe7\x00")


@pytest.mark.parametrize("special", [0x7E, 0x7D])
@pytest.mark.parametrize("chunk", [None, 1, 7])
def test_a_stuffed_frame_whose_format_field_is_escaped(special: int, chunk: int | None) -> None:
    """A length of 0x.7E or 0x.7D puts the escape into the format field itself (found by hypothesis, with
    these addresses: read unstuffed, the header's first byte 0x5E is an address byte that does not end)."""
    for size in range(1, 2047):
        body = encode(HdlcFrame(HdlcAddress(0, 0, 4), HdlcAddress(0, None, 1), 0, bytes(size), False))
        if body[1] == special:
            break
    stuffed = stuff(body)
    assert stuffed[1] == 0x7D  # the format field's second byte is escaped on the wire
    wire = b"\x7e" + SECOND + b"\x7e" + stuffed + b"\x7e" + SECOND + b"\x7e"
    _, events = feed_all(wire, chunk)
    assert [(type(e), getattr(e, "stuffed", None)) for e in events] == [(Received, False), (Received, True),
                                                                        (Received, False)]
    assert events[1].frame == decode_frame(body)
