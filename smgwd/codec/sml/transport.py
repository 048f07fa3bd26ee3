"""SML transport protocol v1: an incremental frame decoder and a frame encoder.

Wire format::

    1b1b1b1b 01010101  <payload, escaped>  00*PP  1b1b1b1b 1a PP C1 C2

How the decoder works: bytes go into a buffer with ``receive_data``;
``next_event`` returns a :class:`Frame`, a :class:`FrameRejected`, a
:class:`BytesDiscarded` or :data:`NEED_DATA`. Outside a frame it looks for the
start sequence (bytes before it are reported as discarded). Inside a frame it
looks at every ``1b1b1b1b`` with ``bytes.find`` (C speed): at a 4-byte boundary
relative to the frame start it is an escape — a doubled escape is a literal
``1b1b1b1b``, ``1a PP C1 C2`` ends the frame, ``01010101`` restarts; anything
else is an error. A start sequence at any other offset also restarts (the
frame before it lost bytes). The scan position survives between calls, so
feeding one byte at a time costs no rescans. The frame CRC covers every wire
byte from the first ``1b`` through ``PP``. Frames larger than ``max_frame``
are rejected, so the buffer stays bounded. ``receive_data(b"")`` marks the
end of the stream: a frame still open is then rejected as truncated.
"""

from __future__ import annotations

from dataclasses import dataclass

from smgwd.codec.crc import CrcKind, CrcPolicy, crc16_kermit, crc16_x25, match_sml_crc
from smgwd.codec.sml.errors import SmlCrcError, SmlTransportError

__all__ = [
    "NEED_DATA",
    "BytesDiscarded",
    "Frame",
    "FrameRejected",
    "SmlTransportDecoder",
    "encode_frame",
    "START",
]

ESCAPE = b"\x1b\x1b\x1b\x1b"
START = ESCAPE + b"\x01\x01\x01\x01"
_PADDING_4 = frozenset({"padding_4"})
DEFAULT_MAX_FRAME = 16 * 1024  # real push frames are 200..600 bytes; profile responses a few KiB


class _NeedData:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NEED_DATA"


#: Returned by :meth:`SmlTransportDecoder.next_event` when it needs more bytes.
NEED_DATA = _NeedData()


@dataclass(frozen=True, slots=True)
class Frame:
    """A complete frame with a good CRC; ``payload`` is un-escaped, without padding."""

    payload: bytes
    crc_kind: CrcKind
    offset: int
    size: int
    #: tolerated deviations from transport v1, e.g. ``padding_4`` (see SmlTransportDecoder)
    quirks: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class FrameRejected:
    """A frame (from ``offset``, ``size`` wire bytes) that was dropped, and why."""

    error: SmlTransportError | SmlCrcError
    offset: int
    size: int


@dataclass(frozen=True, slots=True)
class BytesDiscarded:
    """Bytes outside any frame (noise, a frame whose start was missed)."""

    count: int
    offset: int


Event = Frame | FrameRejected | BytesDiscarded


class SmlTransportDecoder:
    """Incremental SML transport v1 decoder (sans-I/O).

    Args:
        crc: frame CRC policy: ``x25``, ``kermit``, ``auto`` (X-25, then KERMIT) or ``off``.
        max_frame: the largest frame accepted, in wire bytes.
        tolerate_padding_4: accept padding count 4 in the end sequence (spec 0..3), named
            ``padding_4`` in ``Frame.quirks``; counts above 4 are always rejected.
    """

    def __init__(
        self, crc: CrcPolicy = CrcPolicy.AUTO, max_frame: int = DEFAULT_MAX_FRAME, tolerate_padding_4: bool = True
    ) -> None:
        self.crc = crc
        self.max_frame = max_frame
        self.tolerate_padding_4 = tolerate_padding_4
        self._buf = bytearray()
        self._base = 0  # stream offset of _buf[0]
        self._in_frame = False  # True: _buf starts with a start sequence
        self._scan = 0  # where the in-frame scan resumes
        self._escapes: list[int] = []  # positions of doubled escapes in the open frame
        self._eof = False

    @property
    def buffered(self) -> int:
        """Bytes held, waiting for more data."""
        return len(self._buf)

    def receive_data(self, data: bytes) -> None:
        """Add bytes from the link; ``b""`` means the stream has ended."""
        if data:
            self._buf += data
        else:
            self._eof = True

    def next_event(self) -> Event | _NeedData:
        """The next frame, rejection or discard, or NEED_DATA."""
        buf = self._buf
        if len(buf) - self._scan < 8 and not self._eof:
            return NEED_DATA  # fast path for small reads: nothing new to look at yet
        if not self._in_frame:
            i = buf.find(START)
            if i < 0:
                keep = 0 if self._eof else min(len(buf), len(START) - 1)
                # keep a possible partial start sequence at the end
                while keep and not START.startswith(bytes(buf[len(buf) - keep :])):
                    keep -= 1
                return self._discard(len(buf) - keep) or NEED_DATA
            if i > 0:
                return self._discard(i)  # type: ignore[return-value]
            self._in_frame = True  # _scan is 0 while hunting, len(START) in a frame
            self._scan = len(START)
            self._escapes = []
        return self._scan_frame()

    def events(self) -> list[Event]:
        """All events available now (convenience for tests and tools)."""
        out: list[Event] = []
        while True:
            event = self.next_event()
            if event is NEED_DATA:
                return out
            out.append(event)  # type: ignore[arg-type]

    # --- internals --------------------------------------------------------------------

    def _discard(self, n: int) -> BytesDiscarded | None:
        if n <= 0:
            return None
        offset = self._base
        del self._buf[:n]
        self._base += n
        return BytesDiscarded(n, offset)

    def _reject(self, size: int, error: SmlTransportError | SmlCrcError) -> FrameRejected:
        offset = self._base
        del self._buf[:size]
        self._base += size
        self._in_frame = False
        self._scan = 0
        return FrameRejected(error, offset, size)

    def _scan_frame(self) -> Event | _NeedData:
        buf = self._buf
        p = self._scan
        while True:
            i = buf.find(ESCAPE, p)
            if i < 0 or i + 8 > len(buf):
                if i < 0:
                    i = max(p, len(buf) - 3)
                self._scan = i
                if len(buf) > self.max_frame:
                    return self._reject(i, SmlTransportError(f"frame larger than {self.max_frame} bytes", self._base))
                if self._eof:
                    return self._reject(len(buf), SmlTransportError("truncated: the stream ended inside the frame", self._base + len(buf)))
                return NEED_DATA
            tail = buf[i + 4 : i + 8]
            if i % 4:
                if tail == b"\x01\x01\x01\x01":
                    return self._reject(
                        i, SmlTransportError("new start sequence inside the frame (bytes lost)", self._base + i)
                    )
                p = i + 1
                continue
            if tail == ESCAPE:
                self._escapes.append(i)
                p = i + 8
                continue
            if tail == b"\x01\x01\x01\x01":
                return self._reject(i, SmlTransportError("new start sequence inside the frame", self._base + i))
            if tail[0] == 0x1A:
                return self._end_frame(i)
            return self._reject(i + 4, SmlTransportError(f"invalid escape sequence 1b1b1b1b {tail.hex()}", self._base + i))

    def _end_frame(self, i: int) -> Event:
        buf = self._buf
        size = i + 8
        if size > self.max_frame:
            return self._reject(size, SmlTransportError(f"frame larger than {self.max_frame} bytes", self._base))
        pad = buf[i + 5]
        quirks: frozenset[str] = frozenset()
        if pad == 4 and self.tolerate_padding_4:
            # Tolerated deviation "padding_4": some meters pad an already aligned payload with
            # four zero bytes and send count 4 (spec 0..3); harmless, the bytes are still checked.
            quirks = _PADDING_4
        elif pad > 3:
            return self._reject(size, SmlTransportError(f"padding count {pad} > 3", self._base + i + 5))
        if any(buf[i - pad : i]) or i - pad < len(START):
            return self._reject(size, SmlTransportError("padding bytes are not zero", self._base + i - pad))
        wire = (buf[i + 6] << 8) | buf[i + 7]
        kind = match_sml_crc(self.crc, bytes(buf[: i + 6]), wire)
        if kind is None:
            x25 = crc16_x25(bytes(buf[: i + 6]))
            error = SmlCrcError(
                f"frame CRC mismatch: trailer {wire:04x}, X-25 gives {((x25 & 0xFF) << 8) | (x25 >> 8):04x},"
                f" KERMIT {crc16_kermit(bytes(buf[: i + 6])):04x} (policy {self.crc.value})",
                self._base + i + 6,
            )
            return self._reject(size, error)
        payload = self._unescape(bytes(buf[len(START) : i - pad]))
        frame = Frame(payload, kind, self._base, size, quirks)
        del buf[:size]
        self._base += size
        self._in_frame = False
        self._scan = 0
        return frame

    def _unescape(self, raw: bytes) -> bytes:
        if not self._escapes:
            return raw
        parts = []
        prev = 0
        for pos in self._escapes:
            cut = pos - len(START) + 4  # keep the first 1b1b1b1b, drop the doubled one
            parts.append(raw[prev:cut])
            prev = cut + 4
        parts.append(raw[prev:])
        return b"".join(parts)


def encode_frame(payload: bytes, crc: CrcKind = CrcKind.X25) -> bytes:
    """Wrap SML messages in a transport v1 frame: escape, pad, end sequence, CRC.

    Escapes are doubled at 4-byte boundaries, as decoders expect them.
    """
    if ESCAPE in payload:
        blocks = []
        for k in range(0, len(payload), 4):
            block = payload[k : k + 4]
            blocks.append(block + ESCAPE if block == ESCAPE else block)
        payload = b"".join(blocks)
    pad = -len(payload) % 4
    body = START + payload + bytes(pad) + ESCAPE + bytes((0x1A, pad))
    if crc is CrcKind.KERMIT:
        return body + crc16_kermit(body).to_bytes(2, "big")
    return body + crc16_x25(body).to_bytes(2, "little")
