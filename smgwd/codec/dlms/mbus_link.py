"""The M-Bus long frames some Austrian meters wrap their DLMS pushes in (EN 13757-2).

How this works: ``68 L L 68 C A CI STSAP DTSAP data… CS 16``: L counts C up to the last data
byte, CS is their sum modulo 256. The CI field numbers the segments of one APDU: low nibble
the sequence number (from 0), bit 0x10 set on the last one (0x00, 0x01, …, 0x1n). Each
segment carries the source and destination transport SAPs (0x01, 0x67) before its part of
the APDU. :class:`MbusLinkDecoder` takes bytes from the line and gives whole APDUs, or
:class:`MbusRejected` for a frame whose checks fail or a segment out of sequence.
"""

from __future__ import annotations

from typing import NamedTuple

from smgwd.codec.dlms.errors import DlmsFormatError
from smgwd.codec.framing import FrameBuffer

__all__ = ["MbusApdu", "MbusLinkDecoder", "MbusRejected", "encode_mbus_frames"]

START, STOP = 0x68, 0x16
LAST = 0x10
HEADER = 3  # C, A, CI
TSAP = 2  # STSAP, DTSAP


class MbusApdu(NamedTuple):
    apdu: bytes
    frames: int


class MbusRejected(NamedTuple):
    error: DlmsFormatError


class MbusLinkDecoder(FrameBuffer["MbusApdu | MbusRejected"]):
    """Incremental: bytes in, whole APDUs (or rejects) out."""

    def __init__(self, max_size: int = 65536) -> None:
        super().__init__(4 + 255 + 2)
        self.max_size = max_size
        self.rejected = 0
        self._parts = bytearray()
        self._next = 0
        self._frames = 0

    def _reject(self, what: str) -> None:
        self.rejected += 1
        self._emit(MbusRejected(DlmsFormatError(what)))
        self._parts.clear()
        self._next, self._frames = 0, 0

    def _scan(self) -> None:
        buf = self._buf
        while buf:
            if buf[0] != START:
                pos = buf.find(START)
                self._skip(len(buf) if pos < 0 else pos)
                continue
            if len(buf) < 4:
                return
            length = buf[1]
            if buf[2] != length or buf[3] != START or length < HEADER + TSAP:
                self._skip(1)
                continue
            total = 4 + length + 2
            if len(buf) < total:
                return
            body = bytes(buf[4 : 4 + length])
            if buf[total - 1] != STOP or sum(body) & 0xFF != buf[total - 2]:
                self._skip(1)
                self._reject("M-Bus long frame with a bad checksum or stop byte")
                continue
            del buf[:total]
            self.frames += 1
            self._segment(body)

    def _segment(self, body: bytes) -> None:
        ci = body[2]
        sequence, last = ci & 0x0F, bool(ci & LAST)
        if ci & 0xE0:
            self._reject(f"M-Bus CI 0x{ci:02X} is no DLMS segment (0x00..0x1F)")
            return
        if sequence != self._next:
            expected = self._next
            self._parts.clear()
            self._next, self._frames = 0, 0
            if sequence != 0:
                self._reject(f"M-Bus segment {sequence} where segment {expected} was due")
                return
        self._parts += body[HEADER + TSAP :]
        self._frames += 1
        if len(self._parts) > self.max_size:
            self._reject(f"M-Bus wrapped APDU beyond {self.max_size} bytes")
            return
        if last:
            self._emit(MbusApdu(bytes(self._parts), self._frames))
            self._parts.clear()
            self._next, self._frames = 0, 0
        else:
            self._next = (sequence + 1) & 0x0F

    @property
    def pending(self) -> bool:
        return bool(self._frames)


def encode_mbus_frames(apdu: bytes, *, chunk: int = 245, c_field: int = 0x53, address: int = 0xFF) -> list[bytes]:
    """Split ``apdu`` into M-Bus long frames (tests; a simulator of these meters)."""
    parts = [apdu[k : k + chunk] for k in range(0, len(apdu), chunk)] or [b""]
    if len(parts) > 16 or chunk > 255 - HEADER - TSAP:
        raise ValueError("at most 16 segments of at most 250 bytes")
    frames = []
    for n, part in enumerate(parts):
        body = bytes((c_field, address, n | (LAST if n == len(parts) - 1 else 0), 0x01, 0x67)) + part
        frames.append(bytes((START, len(body), len(body), START)) + body + bytes((sum(body) & 0xFF, STOP)))
    return frames
