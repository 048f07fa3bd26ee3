"""The incremental HDLC decoder: bytes from a serial line in, checked frames and rejects out.

How this works: the buffer is scanned for a flag followed by a type-3 format field; the
length it announces is trusted (DLMS does not escape 0x7E inside frames), so a frame is
taken once ``1 + length + 1`` bytes are there and the last one is a flag. The header check
sequence is verified as soon as the header is complete, so a corrupted length field costs
at most the header's bytes, not a wait for 2 KB that never come. A frame that fails is one
:class:`Rejected` event, and scanning resumes at the byte after its opening flag (the next
frame may start inside the bad one's bytes). Flags between frames may be shared, doubled or
many. Bytes outside frames are counted, never kept: the buffer holds at most one frame.

RFC 1662 octet stuffing (0x7D escapes), which a few meters and converters add, is undone
when the frame does not check as sent but its stuffed form, up to the next flag, does;
such frames carry ``stuffed=True``.
"""

from __future__ import annotations

from typing import NamedTuple

from smgwd.codec.crc import crc16_x25
from smgwd.codec.framing import FrameBuffer
from smgwd.codec.hdlc.errors import HdlcCrcError, HdlcError, HdlcFormatError
from smgwd.codec.hdlc.frame import FLAG, MAX_LENGTH, MIN_LENGTH, HdlcFrame, decode_frame

__all__ = ["HdlcDecoder", "Received", "Rejected"]

ESCAPE = 0x7D
_STUFFED_HEADER = 2 * (2 + 4 + 4 + 1 + 2)  # a header (format, addresses, control, HCS), every byte escaped


class Received(NamedTuple):
    frame: HdlcFrame
    raw: bytes  # the frame as received, flags included
    stuffed: bool = False


class Rejected(NamedTuple):
    error: HdlcError
    raw: bytes  # the bytes of the rejected frame as far as they were read (flag first)


def _unstuff(data: bytes) -> bytes | None:
    out = bytearray()
    it = iter(data)
    for b in it:
        if b == ESCAPE:
            nxt = next(it, None)
            if nxt is None:
                return None
            out.append(nxt ^ 0x20)
        else:
            out.append(b)
    return bytes(out)


def _header_end(buf: bytearray) -> int | None:
    """Index (from the flag) just after the control field, None while incomplete or invalid."""
    pos = 3
    for _ in range(2):
        start = pos
        while pos < len(buf) and not buf[pos] & 1:
            pos += 1
            if pos - start >= 4:
                return -1
        if pos >= len(buf):
            return None
        pos += 1
    return pos + 1 if pos < len(buf) else None


class HdlcDecoder(FrameBuffer["Received | Rejected"]):
    """Incremental decoder: ``feed`` bytes, iterate for :class:`Received` / :class:`Rejected`.

    Counters: ``frames``, ``rejected``, ``skipped`` (bytes outside frames, flags included).
    ``stuffing``: also accept RFC 1662 stuffed frames (default True).
    """

    def __init__(self, *, stuffing: bool = True) -> None:
        super().__init__(1 + MAX_LENGTH + 1)
        self.stuffing = stuffing
        self.rejected = 0

    def _reject(self, error: HdlcError, seen: int) -> None:
        self.rejected += 1
        self._emit(Rejected(error, bytes(self._buf[:seen])))
        self._skip(1)

    def _scan(self) -> None:
        buf = self._buf
        while buf:
            if buf[0] != FLAG:
                pos = buf.find(FLAG)
                self._skip(len(buf) if pos < 0 else pos)
                continue
            if len(buf) < 3:
                return
            if buf[1] == FLAG:  # flags between frames
                self._skip(1)
                continue
            fmt = buf[1] << 8 | buf[2]
            length = fmt & MAX_LENGTH
            if fmt & 0xF000 != 0xA000 or length < MIN_LENGTH:
                self._skip(1)  # not a frame start: a closing flag, or garbage
                continue
            if self.stuffing and buf[2] == ESCAPE:
                # A length byte of 0x7D, or a stuffed format field (its 0x7E or 0x7D escaped): a stuffed
                # frame up to the next flag that checks is taken; else the plain reading goes on below.
                taken = self._stuffed_format()
                if taken is None:
                    return
                if taken:
                    continue
            header = self._check_header(length)
            if header == "wait":
                return
            if header == "rejected":
                continue
            total = 1 + length + 1
            if len(buf) < total:
                return
            if buf[total - 1] != FLAG:
                if self.stuffing and ESCAPE in buf[1 : total - 1]:
                    if self._try_stuffed(length):
                        continue
                    if buf.find(FLAG, 1) < 0 and len(buf) < 2 * total:
                        return  # a stuffed frame (at most twice as long) whose closing flag is to come
                self._reject(HdlcError(f"no closing flag after the {length} bytes the format field announces", length), total)
                continue
            try:
                frame = decode_frame(buf[1 : total - 1])
            except HdlcError as error:
                if self.stuffing and ESCAPE in buf[1 : total - 1] and self._try_stuffed(length):
                    continue
                self._reject(error, total)
                continue
            self.frames += 1
            self._emit(Received(frame, bytes(buf[:total])))
            del buf[: total - 1]  # the closing flag may open the next frame

    def _check_header(self, length: int) -> str:
        """"ok", "wait" (header incomplete) or "rejected" (its HCS fails: skipped already)."""
        buf = self._buf
        end = _header_end(buf)
        if end is None:
            return "ok" if len(buf) >= 1 + length + 1 else "wait"  # a whole frame: decode_frame judges
        if end < 0:
            self._reject(HdlcFormatError("address longer than 4 bytes"), 7)
            return "rejected"
        if end + 2 > 1 + length - 2:
            return "ok"  # no HCS in this frame: decode_frame judges
        if len(buf) < end + 2:
            return "wait"
        if crc16_x25(buf[1:end]) != buf[end] | buf[end + 1] << 8:
            if self.stuffing and ESCAPE in buf[1 : end + 2]:
                return self._check_stuffed_header(end)
            self._reject(HdlcCrcError("header check sequence does not match", end - 1), end + 2)
            return "rejected"
        return "ok"

    def _check_stuffed_header(self, raw_end: int) -> str:
        """The HCS of a header that holds 0x7D, read unstuffed: "ok", "wait" or "rejected"."""
        buf = self._buf
        close = buf.find(FLAG, 1)
        window = bytes(buf[1 : close if close > 0 else 1 + _STUFFED_HEADER])
        if window.endswith(b"\x7d"):
            window = window[:-1]
        body = _unstuff(window) or b""
        end = _header_end(bytearray(b"\x7e") + body)
        if end is None or end < 0 or len(body) < end + 1:
            complete = close > 0 or len(buf) >= 1 + _STUFFED_HEADER
            if not complete:
                return "wait"
        elif crc16_x25(body[: end - 1]) == body[end - 1] | body[end] << 8:
            return "ok"  # a stuffed frame: decided when it is complete
        self._reject(HdlcCrcError("header check sequence does not match (also unstuffed)", raw_end - 1), raw_end + 2)
        return "rejected"

    def _stuffed_format(self) -> bool | None:
        """A frame whose format field may be stuffed: True when taken, None to wait for its closing flag."""
        buf = self._buf
        if len(buf) < 4:
            return None
        if buf.find(FLAG, 1) < 0:
            maybe = buf[3] in (0x5E, 0x5D)  # what an escaped 0x7E or 0x7D becomes
            return None if maybe and len(buf) <= 2 * (1 + MAX_LENGTH + 1) else False
        return self._try_stuffed((buf[1] << 8 | buf[3] ^ 0x20) & MAX_LENGTH)

    def _try_stuffed(self, length: int) -> bool:
        """Take a stuffed frame up to the next flag if it checks; True when taken."""
        buf = self._buf
        close = buf.find(FLAG, 1)
        if close < 0:
            return False
        body = _unstuff(bytes(buf[1:close]))
        if body is None:  # decode_frame checks the length: the stuffed format field may itself be escaped
            return False
        try:
            frame = decode_frame(body)
        except HdlcError:
            return False
        self.frames += 1
        self._emit(Received(frame, bytes(buf[: close + 1]), stuffed=True))
        del buf[:close]
        return True
