"""From SML bytes to readings, frame by frame: the shared core of SML meter drivers.

How this works: :class:`SmlFrameReader` feeds bytes to the transport decoder,
decodes each good frame's messages with the meter profile's dialect and turns
them into readings. Every frame gives one :class:`FrameDecoded` or one
:class:`FrameFailed`; bytes outside frames give a :class:`FrameFailed` too, so
a caller can count and log every byte it could not use. Captures without
transport framing (bare messages) go through :func:`decode_bare_messages`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from smgwd.codec.crc import CrcPolicy
from smgwd.codec.sml import types as t
from smgwd.codec.sml.decoder import decode_messages
from smgwd.codec.sml.errors import SmlError
from smgwd.codec.sml.transport import NEED_DATA, BytesDiscarded, Frame, FrameRejected, SmlTransportDecoder
from smgwd.meters.sml.profiles import SmlProfile
from smgwd.meters.sml.readings import readings_from_messages
from smgwd.reading import Reading

__all__ = ["FrameDecoded", "FrameFailed", "SmlFrameReader", "decode_bare_messages"]


@dataclass
class FrameDecoded:
    """A frame whose messages all decoded."""

    index: int
    offset: int
    messages: list[t.SmlMessage]
    readings: list[Reading]
    problems: list[str] = field(default_factory=list)
    quirks: frozenset[str] = frozenset()  # tolerated deviations of the transport frame (e.g. padding_4)


@dataclass
class FrameFailed:
    """A frame (or stray bytes: ``index`` None) that was rejected, and why."""

    index: int | None
    offset: int
    size: int
    reason: str


class SmlFrameReader:
    """Incremental: bytes in, decoded or failed frames out.

    Args:
        profile: the meter profile (dialect, CRC policy, value fixes).
        crc: overrides the profile's CRC policy for frames and messages.
    """

    def __init__(self, profile: SmlProfile, crc: CrcPolicy | None = None) -> None:
        self.profile = profile
        self.dialect = profile.dialect if crc is None else replace(profile.dialect, crc=crc)
        self._transport = SmlTransportDecoder(self.dialect.crc)
        self._frames = 0

    def feed(self, data: bytes) -> list[FrameDecoded | FrameFailed]:
        """Add bytes (``b""`` at end of stream) and return what they completed."""
        self._transport.receive_data(data)
        out: list[FrameDecoded | FrameFailed] = []
        while True:
            event = self._transport.next_event()
            if event is NEED_DATA:
                return out
            if isinstance(event, BytesDiscarded):
                out.append(FrameFailed(None, event.offset, event.count, f"{event.count} bytes outside any frame discarded"))
                continue
            index = self._frames
            self._frames += 1
            if isinstance(event, Frame):
                out.append(self._decode(index, event))
            elif isinstance(event, FrameRejected):
                out.append(FrameFailed(index, event.offset, event.size, str(event.error)))

    def _decode(self, index: int, frame: Frame) -> FrameDecoded | FrameFailed:
        try:
            messages = decode_messages(frame.payload, self.dialect)
        except SmlError as error:
            # the error's offset counts in the un-escaped payload, not on the wire
            where = "" if error.offset is None else f" (payload byte {error.offset})"
            return FrameFailed(index, frame.offset, frame.size, error.what + where)
        result = readings_from_messages(messages, self.profile)
        return FrameDecoded(index, frame.offset, messages, result.readings, result.problems, frame.quirks)


def decode_bare_messages(data: bytes, profile: SmlProfile, crc: CrcPolicy | None = None) -> FrameDecoded | FrameFailed:
    """Decode SML messages that came without transport framing, as one unit."""
    dialect = profile.dialect if crc is None else replace(profile.dialect, crc=crc)
    try:
        messages = decode_messages(data, dialect)
    except SmlError as error:
        return FrameFailed(0, 0, len(data), str(error))
    result = readings_from_messages(messages, profile)
    return FrameDecoded(0, 0, messages, result.readings, result.problems)
