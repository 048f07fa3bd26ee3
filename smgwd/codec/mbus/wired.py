"""Wired M-Bus (EN 13757-2) long frames with a variable data response, for tests and later.

How this works: a long frame is ``68 L L 68 C A CI data... CS 16`` where L counts C to the
last data byte and CS is their sum modulo 256. For CI 0x72 (variable data response, long
header) the data starts with a 12-byte fixed header: identification (4 bytes BCD, least
significant first), manufacturer (2 bytes), version, medium, access number, status,
signature (2 bytes); CI 0x7A has the short header (access number, status, signature).
The record area that follows goes to :func:`~smgwd.codec.mbus.records.decode_records`.
Other CI values (0x76 MSB-first, fixed data 0x73/0x77, ...) are rejected.
"""

from __future__ import annotations

from dataclasses import dataclass

from smgwd.codec.mbus.errors import MbusFrameError
from smgwd.codec.mbus.records import Record, decode_records

__all__ = ["LongFrame", "decode_long_frame", "manufacturer_code"]


def manufacturer_code(value: int) -> str:
    """The three letters of an EN 13757 manufacturer id (bit 15, the "lowercase" flag, ignored)."""
    value &= 0x7FFF
    return "".join(chr(64 + ((value >> shift) & 0x1F)) for shift in (10, 5, 0))


@dataclass(frozen=True, slots=True)
class LongFrame:
    """A checked long frame: link fields, the fixed header and the record area.

    ``identification`` is the BCD secondary address as an int (``None`` if a nibble is not
    a decimal digit; ``id_bytes`` keeps it as sent). ``manufacturer``/``version``/``medium``
    are ``None`` for the short header (CI 0x7A). ``records_offset`` is where the record area
    starts in the frame.
    """

    control: int
    address: int
    ci: int
    id_bytes: bytes
    identification: int | None
    manufacturer: str | None
    version: int | None
    medium: int | None
    access_number: int
    status: int
    signature: int
    records_data: bytes
    records_offset: int

    def records(self) -> tuple[Record, ...]:
        """Decode the record area (raises :class:`~smgwd.codec.mbus.errors.MbusError`)."""
        return decode_records(self.records_data)


def decode_long_frame(frame: bytes) -> LongFrame:
    """Check and split one long frame (exactly one, no trailing bytes).

    Raises:
        MbusFrameError: wrong start/stop bytes, length fields, checksum, or unsupported CI.
    """
    frame = bytes(frame)
    n = len(frame)
    if n < 9 or frame[0] != 0x68 or frame[3] != 0x68:
        raise MbusFrameError("not a long frame (68 L L 68)", 0)
    length = frame[1]
    if frame[2] != length:
        raise MbusFrameError(f"length fields differ (0x{length:02x}, 0x{frame[2]:02x})", 1)
    if n != length + 6:
        raise MbusFrameError(f"frame has {n} bytes, its L field says {length + 6}", 1)
    if frame[-1] != 0x16:
        raise MbusFrameError("no stop byte 0x16", n - 1)
    if sum(frame[4:-2]) & 0xFF != frame[-2]:
        raise MbusFrameError("checksum mismatch", n - 2)
    control, address, ci = frame[4], frame[5], frame[6]
    if ci == 0x72:
        if length < 3 + 12:
            raise MbusFrameError("CI 0x72 frame shorter than its 12-byte header", 7)
        head = frame[7:19]
        id_bytes = head[:4]
        text = id_bytes[::-1].hex()
        return LongFrame(
            control, address, ci, id_bytes, int(text) if text.isdigit() else None,
            manufacturer_code(int.from_bytes(head[4:6], "little")), head[6], head[7],
            head[8], head[9], int.from_bytes(head[10:12], "little"), frame[19:-2], 19,
        )  # fmt: skip
    if ci == 0x7A:
        if length < 3 + 4:
            raise MbusFrameError("CI 0x7A frame shorter than its 4-byte header", 7)
        head = frame[7:11]
        return LongFrame(
            control, address, ci, b"", None, None, None, None,
            head[0], head[1], int.from_bytes(head[2:4], "little"), frame[11:-2], 11,
        )  # fmt: skip
    raise MbusFrameError(f"unsupported CI 0x{ci:02x}", 6)
