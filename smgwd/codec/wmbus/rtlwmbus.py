"""rtl_wmbus output lines (an RTL-SDR demodulator's text format), sans-I/O.

How this works: rtl_wmbus prints one line per received telegram, eight fields split by
semicolons (README of xaelsouth/rtl-wmbus)::

    MODE;CRC_OK;3OUTOF6OK;TIMESTAMP;PACKET_RSSI;CURRENT_RSSI;LINK_LAYER_IDENT_NO;0xHEX

e.g. ``T1;1;1;2019-04-03 19:00:42.000;97;148;88888888;0x2e44…``. MODE is the link mode
(T1, C1, S1), the two flags say whether the link-layer CRCs and (T mode) the 3-out-of-6
coding checked out, the RSSI fields are the demodulator's own integers (not dBm), the
ident is the meter ID as printed, and the hex is the telegram starting with its L-field,
link CRCs already removed (for C1 frame format B the L-field is rewritten as if frame A).

:func:`parse_line` turns one line into an :class:`RtlWmbusLine` or raises
:class:`RtlWmbusError` naming the field and its character offset; :func:`format_line`
is its inverse. :class:`RtlWmbusDecoder` splits a byte stream into lines (bounded, so a
stream without newlines cannot grow it), skips empty and ``#`` comment lines (wmbusmeters
puts those in its simulation files) and counts the lines it rejects.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

from smgwd.codec.wmbus.errors import WmbusError

MAX_LINE = 2 + 2 * 256 + 200
_MODE = re.compile(r"[A-Z][A-Za-z0-9]{0,3}\Z")
_INT = re.compile(r"-?[0-9]{1,6}\Z")
_HEX = re.compile(r"0[xX]((?:[0-9a-fA-F]{2})+)\Z")


class RtlWmbusError(WmbusError):
    """A line that is not rtl_wmbus output; ``offset`` counts characters of the line."""


@dataclass(frozen=True, slots=True)
class RtlWmbusLine:
    """One received telegram as rtl_wmbus reports it.

    ``telegram`` starts with the L-field and has no link-layer CRCs (decode it with
    ``decode_telegram(..., link_crc="absent")``); whether L matches its length is left to
    that decoder.
    """

    mode: str
    crc_ok: bool
    three_of_six_ok: bool
    timestamp: str
    packet_rssi: int
    current_rssi: int
    link_layer_id: str
    telegram: bytes


def _flag(text: str, name: str, offset: int) -> bool:
    if text not in ("0", "1"):
        raise RtlWmbusError(f"{name} must be 0 or 1, not {text[:20]!r}", offset)
    return text == "1"


def _int(text: str, name: str, offset: int) -> int:
    if not _INT.match(text):
        raise RtlWmbusError(f"{name} must be an integer, not {text[:20]!r}", offset)
    return int(text)


def parse_line(line: str | bytes | bytearray) -> RtlWmbusLine:
    """Decode one rtl_wmbus line (trailing CR/LF allowed)."""
    if isinstance(line, (bytes, bytearray)):
        try:
            text = bytes(line).decode("ascii")
        except UnicodeDecodeError as exc:
            raise RtlWmbusError("line is not ASCII", exc.start) from None
    else:
        text = line
    text = text.rstrip("\r\n")
    parts = text.split(";")
    if len(parts) != 8:
        raise RtlWmbusError(f"expected 8 ';'-separated fields, found {len(parts)}", 0)
    starts = [0]
    for part in parts[:-1]:
        starts.append(starts[-1] + len(part) + 1)
    mode, crc, three, timestamp, packet, current, ident, data = parts
    if not _MODE.match(mode):
        raise RtlWmbusError(f"link mode {mode[:20]!r} is not like T1, C1, S1", 0)
    if not timestamp or not timestamp.isprintable():
        raise RtlWmbusError("empty or unprintable timestamp", starts[3])
    match = _HEX.match(data)
    if match is None:
        raise RtlWmbusError("telegram must be 0x followed by an even number of hex digits", starts[7])
    telegram = bytes.fromhex(match.group(1))
    if not ident or not ident.isalnum():
        raise RtlWmbusError(f"link layer ident {ident[:20]!r} is not alphanumeric", starts[6])
    return RtlWmbusLine(
        mode=mode,
        crc_ok=_flag(crc, "CRC_OK", starts[1]),
        three_of_six_ok=_flag(three, "3OUTOF6OK", starts[2]),
        timestamp=timestamp,
        packet_rssi=_int(packet, "PACKET_RSSI", starts[4]),
        current_rssi=_int(current, "CURRENT_RSSI", starts[5]),
        link_layer_id=ident,
        telegram=telegram,
    )


def format_line(event: RtlWmbusLine) -> str:
    """The line rtl_wmbus prints for ``event`` (lowercase hex, no newline)."""
    fields = (
        event.mode,
        "1" if event.crc_ok else "0",
        "1" if event.three_of_six_ok else "0",
        event.timestamp,
        str(event.packet_rssi),
        str(event.current_rssi),
        event.link_layer_id,
        "0x" + event.telegram.hex(),
    )
    return ";".join(fields)


class RtlWmbusDecoder:
    """Incremental line decoder: ``feed`` bytes, iterate (or ``next_event``) for lines.

    Rejected lines are counted in ``errors`` and the last one's error kept in
    ``last_error``; a line longer than ``MAX_LINE`` is dropped up to its newline.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._overlong = False
        self._events: deque[RtlWmbusLine] = deque()
        self.lines = 0
        self.errors = 0
        self.last_error: RtlWmbusError | None = None

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        self._buf += data
        while True:
            end = self._buf.find(b"\n")
            if end < 0:
                if len(self._buf) > MAX_LINE:
                    del self._buf[:]
                    if not self._overlong:
                        self._reject(RtlWmbusError(f"line longer than {MAX_LINE} characters", MAX_LINE))
                    self._overlong = True
                return
            line = bytes(self._buf[:end])
            del self._buf[: end + 1]
            if self._overlong:
                self._overlong = False
                continue
            self._line(line)

    def _reject(self, error: RtlWmbusError) -> None:
        self.errors += 1
        self.last_error = error

    def _line(self, line: bytes) -> None:
        stripped = line.strip()
        if not stripped or stripped.startswith(b"#"):
            return
        if len(line) > MAX_LINE:
            self._reject(RtlWmbusError(f"line longer than {MAX_LINE} characters", MAX_LINE))
            return
        try:
            self._events.append(parse_line(stripped))
        except RtlWmbusError as exc:
            self._reject(exc)
            return
        self.lines += 1

    def next_event(self) -> RtlWmbusLine | None:
        return self._events.popleft() if self._events else None

    def __iter__(self) -> Iterator[RtlWmbusLine]:
        while self._events:
            yield self._events.popleft()
