"""HDLC frame format type 3: the worked examples of the reference notes (dlms.md §2) byte-exact
both ways, every control kind, 1/2/4-byte addresses, every format error, and a round trip.

Expected bytes are built by hand here with a bit-by-bit CRC-16/X-25 written from its definition
(reflected polynomial 0x8408, init 0xFFFF, xorout 0xFFFF, low byte first), itself checked
against the reference's check value and examples, never with the code's own CRC or encoder.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smgwd.codec.crc import crc16_x25
from smgwd.codec.hdlc import (
    FrameKind,
    HdlcAddress,
    HdlcCrcError,
    HdlcError,
    HdlcFormatError,
    HdlcFrame,
    HdlcTruncatedError,
    control_byte,
    decode_frame,
    encode_frame,
    frame_kind,
)


def crc_register(data: bytes) -> int:
    """CRC-16/X-25 register before the final xor, bit by bit."""
    reg = 0xFFFF
    for byte in data:
        reg ^= byte
        for _ in range(8):
            reg = (reg >> 1) ^ 0x8408 if reg & 1 else reg >> 1
    return reg


def x25(data: bytes) -> bytes:
    """The CRC-16/X-25 of ``data`` as it goes on the wire (low byte first)."""
    return (crc_register(data) ^ 0xFFFF).to_bytes(2, "little")


def hand_frame(dest: bytes, src: bytes, control: int, info: bytes = b"", *, segmented: bool = False) -> bytes:
    """format..FCS (no flags), built from the reference's layout."""
    length = 2 + len(dest) + len(src) + 1 + (2 + len(info) if info else 0) + 2
    fmt = 0xA000 | (0x0800 if segmented else 0) | length
    head = fmt.to_bytes(2, "big") + dest + src + bytes((control,))
    if info:
        head += x25(head) + info
    return head + x25(head)


def flagged(body: bytes) -> bytes:
    return b"\x7e" + body + b"\x7e"


# --- the CRC the tests build frames with ------------------------------------------------------


def test_reference_crc_check_value() -> None:
    assert crc_register(b"123456789") ^ 0xFFFF == 0x906E
    assert crc16_x25(b"123456789") == 0x906E


def test_reference_crc_examples() -> None:
    # dlms.md: CRC over A0 08 02 23 21 93 = 0x64BD -> wire BD 64; CRC(03 3F) -> wire 5B EC
    assert x25(bytes.fromhex("A00802232193")) == bytes.fromhex("BD64")
    assert x25(bytes.fromhex("033F")) == bytes.fromhex("5BEC")
    # residue over data + FCS (register before xorout) = 0xF0B8
    data = bytes.fromhex("A00802232193")
    assert crc_register(data + x25(data)) == 0xF0B8


# --- worked examples ---------------------------------------------------------------------------

SNRM = bytes.fromhex("7EA00802232193BD647E")


def test_snrm_example_decodes() -> None:
    frame = decode_frame(SNRM[1:-1])
    assert frame.dest == HdlcAddress(1, 17, 2)
    assert frame.src == HdlcAddress(16, None, 1)
    assert frame.control == 0x93
    assert frame.kind is FrameKind.SNRM
    assert frame.poll_final is True
    assert frame.info == b""
    assert frame.segmented is False
    assert frame.send_sequence is None
    assert frame.receive_sequence is None


def test_snrm_example_encodes() -> None:
    assert encode_frame(HdlcAddress(1, 17), HdlcAddress(16), 0x93) == SNRM
    assert encode_frame(HdlcAddress(1, 17, 2), HdlcAddress(16, None, 1), 0x93, flags=False) == SNRM[1:-1]


UA_INFO = bytes.fromhex("81801205019A06019A0704000000010804" "00000001")


def test_ua_parameter_example() -> None:
    # the UA's negotiation parameters: 81 80, group length 0x12, then four TLVs
    assert UA_INFO[2] == len(UA_INFO) - 3
    body = hand_frame(b"\x21", b"\x02\x23", 0x73, UA_INFO)
    assert body[:2] == bytes.fromhex("A01F")  # 31 bytes from format to FCS
    frame = decode_frame(body)
    assert frame.kind is FrameKind.UA and frame.poll_final
    assert frame.dest == HdlcAddress(16, None, 1)
    assert frame.src == HdlcAddress(1, 17, 2)
    assert frame.info == UA_INFO
    assert encode_frame(HdlcAddress(16), HdlcAddress(1, 17), 0x73, UA_INFO) == flagged(body)


# (dest bytes, src bytes, control, dest, src) of the reference's real pushes
PUSH_ADDRESSES = {
    "kaifa": ("01", "0201", 0x10, HdlcAddress(0, None, 1), HdlcAddress(1, 0, 2)),
    "kamstrup": ("2B", "21", 0x13, HdlcAddress(21, None, 1), HdlcAddress(16, None, 1)),
    "aidon": ("41", "0883", 0x13, HdlcAddress(32, None, 1), HdlcAddress(4, 65, 2)),
    "e450": ("CEFF", "03", 0x13, HdlcAddress(103, 127, 2), HdlcAddress(1, None, 1)),
    "iskra": ("CF", "0223", 0x13, HdlcAddress(103, None, 1), HdlcAddress(1, 17, 2)),
}


@pytest.mark.parametrize("meter", sorted(PUSH_ADDRESSES))
def test_push_addresses(meter: str) -> None:
    dest_hex, src_hex, control, dest, src = PUSH_ADDRESSES[meter]
    info = bytes.fromhex("E6E7000F4000000000020209060100010800FF060000002A")
    body = hand_frame(bytes.fromhex(dest_hex), bytes.fromhex(src_hex), control, info)
    frame = decode_frame(body)
    assert frame == HdlcFrame(dest, src, control, info, False)
    assert dest.wire() == bytes.fromhex(dest_hex)
    assert src.wire() == bytes.fromhex(src_hex)
    assert encode_frame(dest, src, control, info) == flagged(body)
    # size 0 (the smallest that holds the values) writes the same bytes here
    assert encode_frame(dest._replace(size=0), src._replace(size=0), control, info) == flagged(body)


def test_kaifa_pushes_are_i_frames() -> None:
    assert frame_kind(0x10) is FrameKind.I
    frame = HdlcFrame(HdlcAddress(0), HdlcAddress(1, 0), 0x10, b"x")
    assert frame.poll_final and frame.send_sequence == 0 and frame.receive_sequence == 0


def test_info_with_flag_byte_round_trips() -> None:
    # Iskra: invoke id 00 00 0D 7E; amshan: value 06 00 00 15 7E right before the FCS
    info = bytes.fromhex("E6E7000F00000D7E0C07E50101050A0000FF800000" "0600 00157E".replace(" ", ""))
    body = hand_frame(b"\xcf", b"\x02\x23", 0x13, info)
    assert body.count(0x7E) >= 2
    assert decode_frame(body).info == info
    assert encode_frame(HdlcAddress(103), HdlcAddress(1, 17), 0x13, info) == flagged(body)


def test_long_and_segmented_format_fields() -> None:
    # A1 8A -> 394 bytes; A8 A4 -> segmented 164 bytes
    info = bytes(range(256)) + bytes(385 - 256)
    body = hand_frame(b"\x03", b"\x21", 0x13, info)
    assert body[:2] == bytes.fromhex("A18A") and len(body) == 394
    frame = decode_frame(body)
    assert frame.info == info and not frame.segmented
    assert encode_frame(HdlcAddress(1), HdlcAddress(16), 0x13, info, flags=False) == body

    info = bytes(164 - 9)
    body = hand_frame(b"\x03", b"\x21", 0x03, info, segmented=True)
    assert body[:2] == bytes.fromhex("A8A4")
    assert decode_frame(body).segmented is True
    assert encode_frame(HdlcAddress(1), HdlcAddress(16), 0x03, info, segmented=True, flags=False) == body


def test_largest_frame() -> None:
    info = bytes(2047 - 9)
    body = encode_frame(HdlcAddress(1), HdlcAddress(16), 0x13, info, flags=False)
    assert body[:2] == bytes.fromhex("A7FF") and body == hand_frame(b"\x03", b"\x21", 0x13, info)
    assert decode_frame(body).info == info
    with pytest.raises(ValueError):
        encode_frame(HdlcAddress(1), HdlcAddress(16), 0x13, info + b"\x00")


def test_frame_without_info_has_no_hcs() -> None:
    body = encode_frame(HdlcAddress(16), HdlcAddress(1, 17), 0x73, flags=False)
    head = bytes.fromhex("A008210223" "73")
    assert body == head + x25(head)  # FCS right after the control field
    with_info = encode_frame(HdlcAddress(16), HdlcAddress(1, 17), 0x73, b"\x01", flags=False)
    head = bytes.fromhex("A00B210223" "73")
    assert with_info == head + x25(head) + b"\x01" + x25(head + x25(head) + b"\x01")


def test_encode_rejects_control_outside_a_byte() -> None:
    with pytest.raises(ValueError):
        encode_frame(HdlcAddress(1), HdlcAddress(16), 0x100)
    with pytest.raises(ValueError):
        encode_frame(HdlcAddress(1), HdlcAddress(16), -1)


# --- control field -----------------------------------------------------------------------------

UNNUMBERED = {FrameKind.SNRM: 0x83, FrameKind.DISC: 0x43, FrameKind.UA: 0x63, FrameKind.DM: 0x0F,
              FrameKind.FRMR: 0x87, FrameKind.UI: 0x03}


@pytest.mark.parametrize("kind", sorted(UNNUMBERED, key=lambda k: k.value))
@pytest.mark.parametrize("pf", [False, True])
def test_unnumbered_control(kind: FrameKind, pf: bool) -> None:
    byte = UNNUMBERED[kind] | (0x10 if pf else 0)
    assert control_byte(kind, poll_final=pf) == byte
    assert frame_kind(byte) is kind
    frame = HdlcFrame(HdlcAddress(1), HdlcAddress(16), byte)
    assert frame.poll_final is pf
    assert frame.send_sequence is None and frame.receive_sequence is None


def test_unnumbered_bytes_with_pf() -> None:
    # the reference's list: SNRM 0x93, DISC 0x53, UA 0x73, DM 0x1F, FRMR 0x97, UI 0x13
    assert [control_byte(k, poll_final=True) for k in UNNUMBERED] == [0x93, 0x53, 0x73, 0x1F, 0x97, 0x13]


@pytest.mark.parametrize("pf", [0, 1])
@pytest.mark.parametrize("receive", range(8))
@pytest.mark.parametrize("send", range(8))
def test_i_frame_control(send: int, receive: int, pf: int) -> None:
    byte = int(f"{receive:03b}{pf}{send:03b}0", 2)  # RRRP SSS0
    assert control_byte(FrameKind.I, poll_final=bool(pf), send=send, receive=receive) == byte
    assert frame_kind(byte) is FrameKind.I
    frame = HdlcFrame(HdlcAddress(1), HdlcAddress(16), byte, b"x")
    assert (frame.send_sequence, frame.receive_sequence, frame.poll_final) == (send, receive, bool(pf))


@pytest.mark.parametrize("pf", [0, 1])
@pytest.mark.parametrize("receive", range(8))
@pytest.mark.parametrize(("kind", "low"), [(FrameKind.RR, "0001"), (FrameKind.RNR, "0101")])
def test_supervisory_control(kind: FrameKind, low: str, receive: int, pf: int) -> None:
    byte = int(f"{receive:03b}{pf}{low}", 2)  # RRRP 0001 / RRRP 0101
    assert control_byte(kind, poll_final=bool(pf), receive=receive) == byte
    assert frame_kind(byte) is kind
    frame = HdlcFrame(HdlcAddress(1), HdlcAddress(16), byte)
    assert (frame.send_sequence, frame.receive_sequence, frame.poll_final) == (None, receive, bool(pf))


def test_undefined_control_bytes() -> None:
    assert frame_kind(0x09) is None and frame_kind(0x0D) is None  # REJ, SREJ
    assert frame_kind(0x2F) is None and frame_kind(0xFF) is None
    defined = set(UNNUMBERED.values())
    for byte in range(256):
        kind = frame_kind(byte)
        if byte & 1 == 0:
            assert kind is FrameKind.I
        elif byte & 3 == 1:
            assert kind is {0x1: FrameKind.RR, 0x5: FrameKind.RNR}.get(byte & 0x0F)
        else:
            assert (kind is not None) == (byte & ~0x10 in defined)


def test_control_byte_sequence_range() -> None:
    for bad in ({"send": 8}, {"receive": 8}, {"send": -1}, {"receive": -1}):
        with pytest.raises(ValueError):
            control_byte(FrameKind.I, **bad)


# --- addresses ---------------------------------------------------------------------------------


def test_four_byte_address_wire() -> None:
    upper, lower = 0x1234, 0x0ABC
    expected = bytes(((upper >> 7) << 1, (upper & 0x7F) << 1, (lower >> 7) << 1, (lower & 0x7F) << 1 | 1))
    assert HdlcAddress(upper, lower, 4).wire() == expected == bytes.fromhex("48682A79")
    assert HdlcAddress(0x3FFF, 0x3FFF, 4).wire() == bytes.fromhex("FEFEFEFF")
    assert HdlcAddress(200).wire() == bytes.fromhex("02900001")  # too big for 1 byte: 4 bytes
    assert HdlcAddress(5).wire() == b"\x0b"
    assert HdlcAddress(5, 6).wire() == b"\x0a\x0d"


@pytest.mark.parametrize(
    ("dest_hex", "src_hex", "dest", "src"),
    [
        ("48682A79", "21", HdlcAddress(0x1234, 0x0ABC, 4), HdlcAddress(16, None, 1)),
        ("03", "0223", HdlcAddress(1, None, 1), HdlcAddress(1, 17, 2)),
        ("0223", "FEFEFEFF", HdlcAddress(1, 17, 2), HdlcAddress(0x3FFF, 0x3FFF, 4)),
        ("00020003", "00000001", HdlcAddress(1, 1, 4), HdlcAddress(0, 0, 4)),
    ],
)
def test_mixed_address_sizes(dest_hex: str, src_hex: str, dest: HdlcAddress, src: HdlcAddress) -> None:
    for info in (b"", b"\xe6\xe6\x00\x01"):
        body = hand_frame(bytes.fromhex(dest_hex), bytes.fromhex(src_hex), 0x10, info)
        frame = decode_frame(body)
        assert (frame.dest, frame.src, frame.info) == (dest, src, info)
        assert encode_frame(dest, src, 0x10, info, flags=False) == body


@pytest.mark.parametrize("address", ["020405", "0002000405", "0000000000", "02040608"])
def test_address_of_bad_size_rejected(address: str) -> None:
    # 3 bytes and 5 bytes are undefined sizes; an address without its extension bit runs on
    body = hand_frame(bytes.fromhex(address), b"\x21", 0x13, b"\x01\x02\x03")
    with pytest.raises(HdlcFormatError):
        decode_frame(body)


@pytest.mark.parametrize("address", ["020405", "0002000405"])
def test_address_of_3_or_5_bytes_is_a_format_error(address: str) -> None:
    for info in (b"", b"\x01\x02\x03"):
        with pytest.raises(HdlcFormatError) as exc:
            decode_frame(hand_frame(b"\x21", bytes.fromhex(address), 0x13, info))
        assert not isinstance(exc.value, HdlcTruncatedError)


@pytest.mark.parametrize("address", [HdlcAddress(1, 2, 1), HdlcAddress(1, 2, 3), HdlcAddress(128, None, 1),
                                     HdlcAddress(1, 128, 2), HdlcAddress(0x4000, 0, 4), HdlcAddress(-1),
                                     HdlcAddress(0, 0x4000, 4)])
def test_address_that_does_not_fit(address: HdlcAddress) -> None:
    with pytest.raises(ValueError):
        address.wire()


# --- format errors -----------------------------------------------------------------------------

GOOD = hand_frame(b"\x21", b"\x02\x23", 0x10, bytes.fromhex("E6E7000F0000000100"))  # HCS at 6..7


def test_good_frame_decodes() -> None:
    assert decode_frame(GOOD).info == bytes.fromhex("E6E7000F0000000100")


@pytest.mark.parametrize("index", range(2, len(GOOD)))
def test_every_changed_byte_after_the_format_is_caught(index: int) -> None:
    for mask in (0x01, 0x80, 0xFF):
        bad = bytearray(GOOD)
        bad[index] ^= mask
        with pytest.raises(HdlcError):
            decode_frame(bytes(bad))


def test_hcs_mismatch() -> None:
    for index in (6, 7):  # the HCS itself
        bad = bytearray(GOOD)
        bad[index] ^= 0x01
        with pytest.raises(HdlcCrcError) as exc:
            decode_frame(bytes(bad))
        assert exc.value.offset == 6
    bad = bytearray(GOOD)
    bad[5] = 0x30  # another I-frame control: the header no longer checks
    with pytest.raises(HdlcCrcError, match="header"):
        decode_frame(bytes(bad))


def test_fcs_mismatch() -> None:
    for index in (8, len(GOOD) - 3, len(GOOD) - 2, len(GOOD) - 1):  # info, FCS
        bad = bytearray(GOOD)
        bad[index] ^= 0x40
        with pytest.raises(HdlcCrcError) as exc:
            decode_frame(bytes(bad))
        assert exc.value.offset == len(GOOD) - 2
    bad = bytearray(SNRM[1:-1])
    bad[-1] ^= 0x01  # no info: only the FCS guards the header
    with pytest.raises(HdlcCrcError):
        decode_frame(bytes(bad))


@pytest.mark.parametrize("first", [0x00, 0x80, 0x90, 0xB0, 0xF0, 0x20])
def test_wrong_format_type(first: int) -> None:
    bad = bytes((first | (GOOD[0] & 0x0F),)) + GOOD[1:]
    with pytest.raises(HdlcFormatError) as exc:
        decode_frame(bad)
    assert not isinstance(exc.value, HdlcTruncatedError)


@pytest.mark.parametrize("length", range(7))
def test_length_below_the_smallest_frame(length: int) -> None:
    data = (0xA000 | length).to_bytes(2, "big") + bytes.fromhex("0321130000")[: max(0, length - 2)]
    with pytest.raises(HdlcFormatError):
        decode_frame(data)


def test_trailing_bytes() -> None:
    with pytest.raises(HdlcFormatError) as exc:
        decode_frame(GOOD + b"\x7e")
    assert not isinstance(exc.value, HdlcTruncatedError)


@pytest.mark.parametrize("cut", range(len(GOOD)))
def test_truncated(cut: int) -> None:
    with pytest.raises(HdlcTruncatedError):
        decode_frame(GOOD[:cut])


def test_frame_ends_inside_the_header() -> None:
    def body(rest: bytes) -> bytes:
        head = (0xA000 | (2 + len(rest) + 2)).to_bytes(2, "big") + rest
        return head + x25(head)

    with pytest.raises(HdlcTruncatedError, match="control"):
        decode_frame(body(bytes.fromhex("022321")))  # no control byte
    with pytest.raises(HdlcTruncatedError, match="header check"):
        decode_frame(body(bytes.fromhex("03211000")))  # one byte where the HCS should be
    with pytest.raises(HdlcTruncatedError, match="source"):
        decode_frame(body(bytes.fromhex("030204")))  # source address runs into the FCS


def test_decode_accepts_bytearray_and_memoryview() -> None:
    assert decode_frame(bytearray(GOOD)) == decode_frame(memoryview(GOOD)) == decode_frame(GOOD)


# --- round trip --------------------------------------------------------------------------------

addresses = st.one_of(
    st.builds(HdlcAddress, st.integers(0, 0x7F), st.none(), st.just(1)),
    st.builds(HdlcAddress, st.integers(0, 0x7F), st.integers(0, 0x7F), st.just(2)),
    st.builds(HdlcAddress, st.integers(0, 0x3FFF), st.integers(0, 0x3FFF), st.just(4)),
)


@settings(max_examples=200)
@given(dest=addresses, src=addresses, control=st.integers(0, 255), info=st.binary(max_size=2000),
       segmented=st.booleans())
def test_round_trip(dest: HdlcAddress, src: HdlcAddress, control: int, info: bytes, segmented: bool) -> None:
    wire = encode_frame(dest, src, control, info, segmented=segmented)
    assert wire[0] == wire[-1] == 0x7E
    body = wire[1:-1]
    assert body == hand_frame(dest.wire(), src.wire(), control, info, segmented=segmented)
    assert (body[0] << 8 | body[1]) & 0x7FF == len(body)
    assert crc_register(body) == 0xF0B8  # the FCS covers everything before it
    assert decode_frame(body) == HdlcFrame(dest, src, control, info, segmented)
