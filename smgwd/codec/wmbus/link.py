"""Link-layer framing (EN 13757-4): the L-field rules and the block CRCs of frame formats A and B.

How this works: a telegram reaches us in one of three shapes. Frame A with CRCs (CUL
sticks): L counts the bytes after L without CRCs; a CRC follows the first 10 bytes (L..A)
and every 16 bytes after that, the last block shorter. Frame B with CRCs: L counts every
byte after L *including* the CRCs; one CRC covers bytes 0..125 (or everything but the CRC
in frames of at most 128 bytes), a second one the rest. Without CRCs (rtl_wmbus, and the
iM871A/AMB8465 dongles once the driver puts L back in front): L counts the bytes after L;
rtl_wmbus rewrites a frame B's L that way too. All CRCs are CRC-16/EN-13757, sent high
byte first.

``strip_link_crcs`` removes the CRCs under a :class:`~smgwd.codec.wmbus.types.LinkCrc`
policy and returns a :class:`Layout` that maps offsets in the CRC-free frame back to the
input, so errors found later still name input offsets.
"""

from __future__ import annotations

from dataclasses import dataclass

from smgwd.codec.crc import crc16_en13757
from smgwd.codec.wmbus.errors import CrcError, FormatError, TruncatedError
from smgwd.codec.wmbus.types import FrameFormat, LinkCrc

__all__ = ["Layout", "add_link_crcs", "frame_a_length", "strip_link_crcs", "with_l_field"]

_MIN_FRAME = 11  # L, C, M (2), A (6), CI


@dataclass(frozen=True, slots=True)
class Layout:
    """Where the link CRCs were: ``format`` is None when the input had none."""

    format: FrameFormat | None
    wire_length: int  # input bytes the frame took, CRCs included

    def to_input(self, offset: int) -> int:
        """Map an offset in the CRC-free frame to the input offset of the same byte."""
        if self.format is FrameFormat.A:
            return offset if offset < 10 else offset + 2 + 2 * ((offset - 10) // 16)
        if self.format is FrameFormat.B:
            return offset if offset < 126 else offset + 2
        return offset


def frame_a_length(l_field: int) -> int:
    """Total bytes of a frame A with CRCs whose L-field is ``l_field`` (>= 9)."""
    return l_field + 1 + 2 * (1 + (l_field - 9 + 15) // 16)


def _crc_at(data: bytes, start: int, end: int) -> bool:
    return crc16_en13757(data[start:end]) == (data[end] << 8 | data[end + 1])


def _strip_a(data: bytes, l_field: int) -> bytes:
    """Frame A with CRCs, ``data`` exactly frame_a_length(l_field) long."""
    if not _crc_at(data, 0, 10):
        raise _crc_error(data, 0, 10, "frame A first block")
    parts = [data[0:10]]
    pos = 12
    left = l_field - 9
    block = 2
    while left > 0:
        size = 16 if left > 16 else left
        if not _crc_at(data, pos, pos + size):
            raise _crc_error(data, pos, pos + size, f"frame A block {block}")
        parts.append(data[pos : pos + size])
        pos += size + 2
        left -= size
        block += 1
    return b"".join(parts)


def _strip_b(data: bytes) -> bytes:
    """Frame B with CRCs, ``data`` exactly L + 1 long."""
    total = len(data)
    if total <= 128:
        if total < _MIN_FRAME + 2:
            raise TruncatedError(f"frame B of {total} bytes is too short", total)
        if not _crc_at(data, 0, total - 2):
            raise _crc_error(data, 0, total - 2, "frame B block 1+2")
        return data[: total - 2]
    if total < 131:
        raise FormatError(f"frame B of {total} bytes leaves its third block empty", 128)
    if not _crc_at(data, 0, 126):
        raise _crc_error(data, 0, 126, "frame B block 1+2")
    if not _crc_at(data, 128, total - 2):
        raise _crc_error(data, 128, total - 2, "frame B block 3")
    return data[:126] + data[128 : total - 2]


def _crc_error(data: bytes, start: int, end: int, what: str) -> CrcError:
    wire = data[end] << 8 | data[end + 1]
    calc = crc16_en13757(data[start:end])
    return CrcError(f"{what} CRC 0x{wire:04X}, computed 0x{calc:04X}", end)


def _strip_b_or_none(data: bytes) -> bytes | None:
    try:
        return _strip_b(data)
    except (CrcError, FormatError):
        return None


def strip_link_crcs(
    data: bytes, policy: LinkCrc = LinkCrc.AUTO, *, allow_trailing: bool = False
) -> tuple[bytes, Layout]:
    """Split ``data`` into the CRC-free frame and its layout; bytes after it are the caller's.

    ``AUTO``: a length that fits frame A with CRCs must pass its CRCs; a length of L + 1 is
    frame B if its CRCs pass, else a frame without CRCs. With ``allow_trailing`` longer
    input is accepted (a receiver's RSSI after the frame) and the shapes are tried in that
    order on its prefixes. Raises CrcError, FormatError or TruncatedError.
    """
    total = len(data)
    if total == 0:
        raise TruncatedError("empty telegram", 0)
    l_field = data[0]
    if l_field < _MIN_FRAME - 1:
        raise FormatError(f"L-field {l_field} leaves no room for C, M, A and CI", 0)
    n_plain = l_field + 1
    n_a = frame_a_length(l_field)

    if policy is LinkCrc.ABSENT:
        if total < n_plain:
            raise TruncatedError(f"L-field {l_field} announces {n_plain} bytes, got {total}", total)
        if total > n_plain and not allow_trailing:
            raise FormatError(f"L-field {l_field} announces {n_plain} bytes, got {total}", n_plain)
        return data[:n_plain], Layout(None, n_plain)

    if total == n_a or (allow_trailing and total > n_a):
        # Frame A with CRCs: the only shape of exactly this length; with trailing bytes
        # allowed, a first block whose CRC verifies says so (a 1 in 65536 coincidence).
        first_ok = _crc_at(data, 0, 10)
        if first_ok or not allow_trailing:
            return _strip_a(data[:n_a], l_field), Layout(FrameFormat.A, n_a)
    if total == n_plain or (allow_trailing and total > n_plain):
        if policy is LinkCrc.PRESENT:
            return _strip_b(data[:n_plain]), Layout(FrameFormat.B, n_plain)
        frame_b = _strip_b_or_none(data[:n_plain])
        if frame_b is not None:
            return frame_b, Layout(FrameFormat.B, n_plain)
        return data[:n_plain], Layout(None, n_plain)
    if total < n_plain:
        raise TruncatedError(f"L-field {l_field} announces at least {n_plain} bytes, got {total}", total)
    if total < n_a and total >= 12 and _crc_at(data, 0, 10):
        raise TruncatedError(f"frame A with CRCs needs {n_a} bytes, got {total}", total)
    raise FormatError(
        f"{total} bytes fit neither L-field {l_field} without CRCs ({n_plain}) nor frame A with CRCs ({n_a})",
        0,
    )


def add_link_crcs(frame: bytes, frame_format: FrameFormat = FrameFormat.A) -> bytes:
    """Insert the block CRCs into a CRC-free frame (whose L is its length - 1) and set L.

    Frame B's L counts the CRCs, so it is rewritten; a frame B may hold at most 256 bytes.
    """
    if len(frame) < _MIN_FRAME:
        raise ValueError(f"a frame has at least {_MIN_FRAME} bytes, not {len(frame)}")
    if frame_format is FrameFormat.A:
        if len(frame) > 256:
            raise ValueError(f"frame of {len(frame)} bytes exceeds L = 255")
        body = bytes((len(frame) - 1,)) + frame[1:]
        out = bytearray(body[:10])
        out += crc16_en13757(body[:10]).to_bytes(2, "big")
        for pos in range(10, len(body), 16):
            chunk = body[pos : pos + 16]
            out += chunk
            out += crc16_en13757(chunk).to_bytes(2, "big")
        return bytes(out)
    total = len(frame) + 2 if len(frame) + 2 <= 128 else len(frame) + 4
    if total > 256:
        raise ValueError(f"frame B of {total} bytes exceeds L = 255")
    body = bytes((total - 1,)) + frame[1:]
    if total <= 128:
        return body + crc16_en13757(body).to_bytes(2, "big")
    first, rest = body[:126], body[126:]
    return first + crc16_en13757(first).to_bytes(2, "big") + rest + crc16_en13757(rest).to_bytes(2, "big")


def with_l_field(c_to_end: bytes | bytearray) -> bytes:
    """Put the L-field back in front of a telegram a dongle delivers without it.

    The iM871A (WMBUSMSG_IND) and the AMB8465 (DATA_IND, once its RSSI byte is cut off)
    hand over C … last byte, without L and without link CRCs.
    """
    if not 10 <= len(c_to_end) <= 255:
        raise ValueError(f"a telegram without L has 10..255 bytes, not {len(c_to_end)}")
    return bytes((len(c_to_end),)) + bytes(c_to_end)
