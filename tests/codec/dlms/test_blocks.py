"""general-block-transfer: hand-built blocks (dlms.md §2: ``E0 <ctrl> <block#:2> <ack#:2> <len> data``,
0x80 last, 0x40 streaming), reassembly in order or not at all, recovery at the next block 1."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smgwd.codec.dlms import (
    Block,
    BlockAssembler,
    DlmsBlockError,
    DlmsError,
    DlmsFormatError,
    DlmsTruncatedError,
    encode_blocks,
    parse_block,
)


def block(number: int, data: bytes, last: bool = False, control: int = 0) -> Block:
    return Block(control | (0x80 if last else 0), number, 0, data)


def test_parse_hand_built_blocks() -> None:
    assert parse_block(bytes.fromhex("E08000010000 03 AABBCC".replace(" ", ""))) == Block(0x80, 1, 0, b"\xaa\xbb\xcc")
    got = parse_block(bytes.fromhex("E0410102 0007 00".replace(" ", "")))  # streaming, window 1, no data
    assert got == Block(0x41, 0x0102, 7, b"") and not got.last
    data = bytes(range(200))
    got = parse_block(bytes.fromhex("E00000020001 81C8".replace(" ", "")) + data)
    assert got == Block(0, 2, 1, data)
    data = bytes(300)
    assert parse_block(bytes.fromhex("E08000030000 82012C".replace(" ", "")) + data).data == data


def test_encode_hand_checked() -> None:
    apdu = bytes(range(25))
    assert encode_blocks(apdu, 10) == [
        bytes.fromhex("E000000100000A") + apdu[:10],
        bytes.fromhex("E000000200000A") + apdu[10:20],
        bytes.fromhex("E0800003000005") + apdu[20:],
    ]
    assert encode_blocks(b"", 10) == [bytes.fromhex("E08000010000 00".replace(" ", ""))]
    assert encode_blocks(bytes(200), 500) == [bytes.fromhex("E08000010000 81C8".replace(" ", "")) + bytes(200)]
    with pytest.raises(ValueError):
        encode_blocks(b"x", 0)


@settings(max_examples=200)
@given(st.lists(st.binary(max_size=2000), min_size=1, max_size=3), st.integers(1, 400))
def test_round_trip(apdus: list[bytes], size: int) -> None:
    asm = BlockAssembler()
    for apdu in apdus:
        blocks = [parse_block(raw) for raw in encode_blocks(apdu, size)]
        assert [b.number for b in blocks] == list(range(1, len(blocks) + 1))
        assert [b.last for b in blocks] == [False] * (len(blocks) - 1) + [True]
        assert all(len(b.data) <= size for b in blocks)
        results = [asm.add(b) for b in blocks]
        assert results == [None] * (len(blocks) - 1) + [apdu]


def test_streaming_and_window_bits_do_not_matter() -> None:
    asm = BlockAssembler()
    assert asm.add(block(1, b"ab", control=0x41)) is None
    assert asm.pending
    assert asm.add(block(2, b"cd", last=True, control=0x43)) == b"abcd"
    assert not asm.pending


def test_out_of_order() -> None:
    asm = BlockAssembler()
    asm.add(block(1, b"a"))
    with pytest.raises(DlmsBlockError, match="block 3"):
        asm.add(block(3, b"c"))
    assert not asm.pending
    with pytest.raises(DlmsBlockError):
        asm.add(block(2, b"b", last=True))  # the rest of the dropped transfer is no transfer
    assert asm.add(block(1, b"x")) is None
    assert asm.add(block(2, b"y", last=True)) == b"xy"


def test_repeated_block() -> None:
    asm = BlockAssembler()
    asm.add(block(1, b"a"))
    asm.add(block(2, b"b"))
    with pytest.raises(DlmsBlockError):
        asm.add(block(2, b"b"))
    with pytest.raises(DlmsBlockError):
        asm.add(block(3, b"c", last=True))
    assert asm.add(block(1, b"new", last=True)) == b"new"


def test_missing_block() -> None:
    asm = BlockAssembler()
    for n in (1, 2):
        asm.add(block(n, bytes((n,))))
    with pytest.raises(DlmsBlockError, match="block 3 was due"):
        asm.add(block(4, b"\x04", last=True))
    assert asm.add(block(1, b"\x01")) is None
    assert asm.add(block(2, b"\x02", last=True)) == b"\x01\x02"


def test_transfer_seen_from_its_middle() -> None:
    """The first captured E450 message starts mid-sequence (dlms.md §2)."""
    asm = BlockAssembler()
    with pytest.raises(DlmsBlockError, match="block 1"):
        asm.add(block(3, b"c"))
    with pytest.raises(DlmsBlockError, match="block 1"):
        asm.add(block(4, b"d", last=True))
    assert asm.add(block(1, b"a")) is None
    assert asm.add(block(2, b"b", last=True)) == b"ab"


def test_block_1_in_the_middle_begins_a_new_transfer() -> None:
    asm = BlockAssembler()
    asm.add(block(1, b"old"))
    asm.add(block(2, b"old"))  # ... and its last block is lost on the line
    assert asm.add(block(1, b"new")) is None
    assert asm.dropped == 1  # the unfinished transfer is counted
    assert asm.add(block(2, b"!", last=True)) == b"new!"


def test_max_size() -> None:
    asm = BlockAssembler(max_size=20)
    assert asm.add(block(1, bytes(10))) is None
    assert asm.add(block(2, bytes(10), last=True)) == bytes(20)  # exactly the limit
    asm.add(block(1, bytes(10)))
    asm.add(block(2, bytes(10)))
    with pytest.raises(DlmsBlockError, match="20"):
        asm.add(block(3, b"\x00", last=True))
    assert not asm.pending
    with pytest.raises(DlmsBlockError):
        BlockAssembler(max_size=5).add(block(1, bytes(6), last=True))
    assert asm.add(block(1, b"ok", last=True)) == b"ok"


GOOD = bytes.fromhex("E0800001000005") + b"hello"


@pytest.mark.parametrize("cut", range(1, len(GOOD)))
def test_parse_truncated(cut: int) -> None:
    with pytest.raises(DlmsTruncatedError):
        parse_block(GOOD[:cut])


def test_parse_errors() -> None:
    with pytest.raises(DlmsFormatError) as exc:
        parse_block(GOOD + b"!")
    assert not isinstance(exc.value, DlmsTruncatedError)
    for bad in (b"", b"\x0f" + GOOD[1:], b"\xdb" + GOOD[1:]):
        with pytest.raises(DlmsFormatError):
            parse_block(bad)
    with pytest.raises(DlmsFormatError):
        parse_block(bytes.fromhex("E080000100008500000000"))  # a 5-byte length
    with pytest.raises(DlmsTruncatedError):
        parse_block(bytes.fromhex("E0800001000082FFFF") + bytes(10))


@settings(max_examples=300)
@given(st.binary(max_size=100))
def test_parse_arbitrary(data: bytes) -> None:
    try:
        got = parse_block(b"\xe0" + data)
    except DlmsError:
        return
    assert data.endswith(got.data) and len(data) >= 5 + 1 + len(got.data)  # control, numbers, length, data
    assert (got.control, got.number, got.acknowledged) == (data[0], data[1] << 8 | data[2], data[3] << 8 | data[4])
