"""general-block-transfer (GBT, tag 0xE0): the blocks of one APDU joined, in order or not at all.

How this works: ``E0, block control (bit 0x80 last block, 0x40 streaming, low 6 bits the
window), block number (2), acknowledged block number (2), block data (A-XDR octet string)``.
A transfer starts with block 1; every next block must carry the next number. A block out of
order, a repeated or missing one, or a transfer beyond ``max_size`` is a
:class:`DlmsBlockError` and ends the transfer (a new one starts at the next block 1), so a
message is never put together from the wrong pieces. A block 1 always begins a new transfer:
one still unfinished is dropped and counted (``dropped``).
"""

from __future__ import annotations

from typing import NamedTuple

from smgwd.codec.dlms.axdr import decode_length, encode_length
from smgwd.codec.dlms.errors import DlmsBlockError, DlmsFormatError, DlmsTruncatedError

__all__ = ["GBT_TAG", "Block", "BlockAssembler", "encode_blocks", "parse_block"]

GBT_TAG = 0xE0
LAST = 0x80
STREAMING = 0x40


class Block(NamedTuple):
    control: int
    number: int
    acknowledged: int
    data: bytes

    @property
    def last(self) -> bool:
        return bool(self.control & LAST)


def parse_block(apdu: bytes) -> Block:
    """Decode one general-block-transfer APDU."""
    if not apdu or apdu[0] != GBT_TAG:
        raise DlmsFormatError("not a general-block-transfer APDU", 0)
    if len(apdu) < 7:
        raise DlmsTruncatedError("general-block-transfer shorter than its header", len(apdu))
    size, pos = decode_length(apdu, 6)
    if pos + size > len(apdu):
        raise DlmsTruncatedError(f"block data of {size} bytes announced, {len(apdu) - pos} there", pos)
    if pos + size < len(apdu):
        raise DlmsFormatError(f"{len(apdu) - pos - size} byte(s) after the block data", pos + size)
    return Block(apdu[1], apdu[2] << 8 | apdu[3], apdu[4] << 8 | apdu[5], bytes(apdu[pos:]))


class BlockAssembler:
    """GBT blocks in, the whole APDU out."""

    def __init__(self, max_size: int = 65536) -> None:
        self.max_size = max_size
        self._data = bytearray()
        self._next = 1
        self.dropped = 0  # transfers a new block 1 cut off before their last block

    @property
    def pending(self) -> bool:
        """A transfer has begun and its last block has not come yet."""
        return self._next > 1

    def add(self, block: Block) -> bytes | None:
        """Add a block; returns the APDU the last block completes."""
        if block.number == 1 and self._next != 1:  # a new transfer begins: the unfinished one is lost
            self.dropped += 1
            self._next = 1
            self._data.clear()
        if block.number != self._next:
            expected, self._next = self._next, 1
            self._data.clear()
            if expected == 1:
                raise DlmsBlockError(f"block {block.number} without block 1 (a transfer that began earlier)")
            raise DlmsBlockError(f"block {block.number} where block {expected} was due: transfer dropped")
        self._data += block.data
        if len(self._data) > self.max_size:
            self._next = 1
            self._data.clear()
            raise DlmsBlockError(f"transfer beyond {self.max_size} bytes: dropped")
        if block.last:
            apdu, self._next = bytes(self._data), 1
            self._data.clear()
            return apdu
        self._next += 1
        return None


def encode_blocks(apdu: bytes, block_size: int) -> list[bytes]:
    """Split ``apdu`` into GBT blocks of at most ``block_size`` data bytes (the simulator)."""
    if block_size < 1:
        raise ValueError("block size must be positive")
    chunks = [apdu[k : k + block_size] for k in range(0, len(apdu), block_size)] or [b""]
    out = []
    for n, chunk in enumerate(chunks, start=1):
        control = LAST if n == len(chunks) else 0
        out.append(bytes((GBT_TAG, control)) + n.to_bytes(2, "big") + b"\x00\x00" + encode_length(len(chunk)) + chunk)
    return out
