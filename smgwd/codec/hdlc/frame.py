"""HDLC frame format type 3 (IEC 62056-46 / ISO/IEC 13239) as DLMS meters use it, sans-I/O.

How this works: a frame between two 0x7E flags is ``format(2) dest src control [HCS info]
FCS``. The format field holds the type (0xA), the segmentation bit S and the frame length
(11 bits: the bytes from the format field to the FCS); the length is trusted, so 0x7E inside
the information field needs no escaping. Addresses run until a byte with its low bit set:
1, 2 or 4 bytes, each carrying 7 bits, and the two addresses of one frame may have
different sizes (Kaifa and Landis+Gyr send a 2-byte server address beside a 1-byte
client address). HCS (over format..control, only when an information field follows) and
FCS (over format..information) are CRC-16/X-25, low byte first. :func:`decode_frame` checks
both and every field's range; :func:`encode_frame` writes any frame kind.

Control field kinds: I (``RRRP SSS0``), RR (``RRRP 0001``), RNR (``RRRP 0101``), and the
unnumbered SNRM 0x83, DISC 0x43, UA 0x63, DM 0x0F, FRMR 0x87, UI 0x03, each with the P/F
bit 0x10.
"""

from __future__ import annotations

import enum
from typing import NamedTuple

from smgwd.codec.crc import crc16_x25
from smgwd.codec.hdlc.errors import HdlcCrcError, HdlcFormatError, HdlcTruncatedError

__all__ = [
    "FLAG", "MAX_LENGTH", "FrameKind", "HdlcAddress", "HdlcFrame", "control_byte", "decode_frame", "encode_frame",
    "frame_kind",
]

FLAG = 0x7E
FORMAT_TYPE3 = 0xA000
SEGMENTED = 0x0800
MAX_LENGTH = 0x07FF  # the format field's 11 length bits
MIN_LENGTH = 2 + 1 + 1 + 1 + 2  # format, two 1-byte addresses, control, FCS
PF = 0x10


class FrameKind(enum.Enum):
    I = "I"  # noqa: E741 - the frame type's name
    RR = "RR"
    RNR = "RNR"
    SNRM = "SNRM"
    DISC = "DISC"
    UA = "UA"
    DM = "DM"
    FRMR = "FRMR"
    UI = "UI"


_UNNUMBERED = {0x83: FrameKind.SNRM, 0x43: FrameKind.DISC, 0x63: FrameKind.UA, 0x0F: FrameKind.DM,
               0x87: FrameKind.FRMR, 0x03: FrameKind.UI}
_UNNUMBERED_CODE = {kind: code for code, kind in _UNNUMBERED.items()}


def frame_kind(control: int) -> FrameKind | None:
    """The kind of a control byte (None: REJ, SREJ or an undefined unnumbered code)."""
    if not control & 0x01:
        return FrameKind.I
    if control & 0x03 == 0x01:
        return {0x01: FrameKind.RR, 0x05: FrameKind.RNR}.get(control & 0x0F)
    return _UNNUMBERED.get(control & ~PF & 0xFF)


class HdlcAddress(NamedTuple):
    """An HDLC address: ``upper`` (logical device, or the client), ``lower`` (physical device)
    or None for a 1-byte address, and the ``size`` in bytes it was (or is to be) sent in."""

    upper: int
    lower: int | None = None
    size: int = 0  # 0: the smallest size that holds the values

    def wire(self) -> bytes:
        """The address bytes, with the extension bit on the last one."""
        upper, lower = self.upper, self.lower
        size = self.size or (1 if lower is None and upper < 0x80 else 2 if upper < 0x80 and (lower or 0) < 0x80 else 4)
        limit = {1: 0x7F, 2: 0x7F, 4: 0x3FFF}.get(size)
        if limit is None:
            raise ValueError(f"an HDLC address has 1, 2 or 4 bytes, not {size}")
        if size == 1 and lower is not None:
            raise ValueError("a 1-byte HDLC address has no lower part")
        if not 0 <= upper <= limit or not 0 <= (lower or 0) <= limit:
            raise ValueError(f"address {upper}/{lower} does not fit {size} byte(s)")
        if size == 1:
            parts = [upper]
        elif size == 2:
            parts = [upper, lower or 0]
        else:
            low = lower or 0
            parts = [upper >> 7, upper & 0x7F, low >> 7, low & 0x7F]
        out = bytearray(p << 1 for p in parts)
        out[-1] |= 1
        return bytes(out)

    def __str__(self) -> str:
        return f"{self.upper}" if self.lower is None else f"{self.upper}/{self.lower}"


def _address(data: bytes, pos: int, end: int, what: str) -> tuple[HdlcAddress, int]:
    start = pos
    while pos < end and not data[pos] & 1:
        pos += 1
        if pos - start >= 4:
            raise HdlcFormatError(f"{what} address longer than 4 bytes", start)
    if pos >= end:
        raise HdlcTruncatedError(f"frame ends inside the {what} address", start)
    pos += 1
    raw = data[start:pos]
    size = len(raw)
    if size == 1:
        return HdlcAddress(raw[0] >> 1, None, 1), pos
    if size == 2:
        return HdlcAddress(raw[0] >> 1, raw[1] >> 1, 2), pos
    if size == 4:
        return HdlcAddress((raw[0] >> 1) << 7 | raw[1] >> 1, (raw[2] >> 1) << 7 | raw[3] >> 1, 4), pos
    raise HdlcFormatError(f"{what} address of {size} bytes (1, 2 or 4 are defined)", start)


class HdlcFrame(NamedTuple):
    """One checked frame. ``info`` is the information field (LLC header included)."""

    dest: HdlcAddress
    src: HdlcAddress
    control: int
    info: bytes = b""
    segmented: bool = False

    @property
    def kind(self) -> FrameKind | None:
        return frame_kind(self.control)

    @property
    def poll_final(self) -> bool:
        return bool(self.control & PF)

    @property
    def send_sequence(self) -> int | None:
        """N(S) of an I-frame."""
        return (self.control >> 1) & 0x07 if not self.control & 1 else None

    @property
    def receive_sequence(self) -> int | None:
        """N(R) of an I, RR or RNR frame."""
        return self.control >> 5 if self.control & 0x03 != 0x03 else None


def decode_frame(data: bytes | bytearray | memoryview) -> HdlcFrame:
    """Decode one frame from its format field to its FCS (no flags); checks HCS and FCS."""
    data = bytes(data)
    n = len(data)
    if n < 2:
        raise HdlcTruncatedError("frame shorter than its format field", 0)
    fmt = data[0] << 8 | data[1]
    if fmt & 0xF000 != FORMAT_TYPE3:
        raise HdlcFormatError(f"format type 0x{data[0] >> 4:X}, not 0xA (frame format type 3)", 0)
    length = fmt & MAX_LENGTH
    if length < MIN_LENGTH:
        raise HdlcFormatError(f"frame length {length} is below the {MIN_LENGTH} of the smallest frame", 0)
    if n < length:
        raise HdlcTruncatedError(f"frame of {n} bytes, its format field announces {length}", n)
    if n > length:
        raise HdlcFormatError(f"{n - length} byte(s) after the {length} the format field announces", length)
    dest, pos = _address(data, 2, length - 2, "destination")
    src, pos = _address(data, pos, length - 2, "source")
    if pos >= length - 2:
        raise HdlcTruncatedError("frame ends before its control field", pos)
    control = data[pos]
    pos += 1
    info = b""
    if pos < length - 2:
        if pos + 2 > length - 2:
            raise HdlcTruncatedError("frame ends inside its header check sequence", pos)
        hcs = data[pos] | data[pos + 1] << 8
        if crc16_x25(data[:pos]) != hcs:
            raise HdlcCrcError(f"header check sequence {hcs:04X} does not match (expected {crc16_x25(data[:pos]):04X})", pos)
        info = data[pos + 2 : length - 2]
    fcs = data[length - 2] | data[length - 1] << 8
    expected = crc16_x25(data[: length - 2])
    if expected != fcs:
        raise HdlcCrcError(f"frame check sequence {fcs:04X} does not match (expected {expected:04X})", length - 2)
    return HdlcFrame(dest, src, control, info, bool(fmt & SEGMENTED))


def encode_frame(
    dest: HdlcAddress, src: HdlcAddress, control: int, info: bytes = b"", *, segmented: bool = False, flags: bool = True
) -> bytes:
    """A frame with HCS (when ``info``) and FCS; ``flags`` puts 0x7E on both ends."""
    if not 0 <= control <= 0xFF:
        raise ValueError(f"control field {control} does not fit a byte")
    header_body = dest.wire() + src.wire() + bytes((control,))
    length = 2 + len(header_body) + (2 + len(info) if info else 0) + 2
    if length > MAX_LENGTH:
        raise ValueError(f"frame of {length} bytes exceeds the {MAX_LENGTH} the format field can say")
    fmt = FORMAT_TYPE3 | (SEGMENTED if segmented else 0) | length
    out = bytearray(((fmt >> 8), fmt & 0xFF)) + header_body
    if info:
        out += crc16_x25(out).to_bytes(2, "little")
        out += info
    out += crc16_x25(out).to_bytes(2, "little")
    return bytes((FLAG,)) + bytes(out) + bytes((FLAG,)) if flags else bytes(out)


def control_byte(kind: FrameKind, *, poll_final: bool = False, send: int = 0, receive: int = 0) -> int:
    """The control byte of ``kind`` (N(S), N(R) for I, RR and RNR frames)."""
    if not 0 <= send <= 7 or not 0 <= receive <= 7:
        raise ValueError("sequence numbers run 0..7")
    pf = PF if poll_final else 0
    if kind is FrameKind.I:
        return receive << 5 | pf | send << 1
    if kind is FrameKind.RR:
        return receive << 5 | pf | 0x01
    if kind is FrameKind.RNR:
        return receive << 5 | pf | 0x05
    return _UNNUMBERED_CODE[kind] | pf
