"""HDLC segmentation undone: the information fields of one message's frames joined.

How this works: a frame with the S bit set is a segment, and the first frame after it
without the S bit ends the message (IEC 62056-46). Only frames with an information field
(I and UI) carry messages; each source address has its own message in progress. The LLC
header (``E6 E6 00`` command, ``E6 E7 00`` response or push) is taken off the first
segment and named in the result. A message grows to at most ``max_size`` bytes; beyond
that it is dropped and counted. A message whose first segment had no LLC header may have
started before the capture did (``starts_with_llc`` False) — the APDU layer decides.
"""

from __future__ import annotations

from typing import NamedTuple

from smgwd.codec.hdlc.frame import HdlcAddress, HdlcFrame

__all__ = ["LLC_COMMAND", "LLC_RESPONSE", "HdlcMessage", "Reassembler"]

LLC_COMMAND = b"\xe6\xe6\x00"
LLC_RESPONSE = b"\xe6\xe7\x00"
MAX_MESSAGE = 65536


class HdlcMessage(NamedTuple):
    """A whole message: the APDU bytes (LLC removed) and where it came from."""

    src: HdlcAddress
    dest: HdlcAddress
    apdu: bytes
    frames: int
    llc: bytes | None  # the LLC header of the first segment, None when it had none


class Reassembler:
    """Frames in, whole messages out."""

    def __init__(self, max_size: int = MAX_MESSAGE) -> None:
        self.max_size = max_size
        self._pending: dict[HdlcAddress, tuple[bytearray, int, bytes | None, HdlcAddress]] = {}
        self.dropped = 0
        self._discarding: set[HdlcAddress] = set()

    def add(self, frame: HdlcFrame) -> HdlcMessage | None:
        """Add a frame; returns the message it completes, if any."""
        if not frame.info:
            return None
        key = frame.src._replace(size=0)
        pending = self._pending.get(key)
        if pending is None:
            info = frame.info
            llc = info[:3] if info[:3] in (LLC_COMMAND, LLC_RESPONSE) else None
            pending = (bytearray(info[3:] if llc else info), 1, llc, frame.dest)
        else:
            data, count, llc, dest = pending
            data += frame.info
            pending = (data, count + 1, llc, dest)
        data, count, llc, dest = pending
        if len(data) > self.max_size:
            self.dropped += 1
            if frame.segmented:  # its further segments are dropped too, up to its last one
                self._pending[key] = (bytearray(), count, llc, dest)
                self._discarding.add(key)
            else:
                self._pending.pop(key, None)
                self._discarding.discard(key)
            return None
        if key in self._discarding:
            if not frame.segmented:
                self._pending.pop(key, None)
                self._discarding.discard(key)
            else:
                self._pending[key] = (bytearray(), count, llc, dest)
            return None
        if frame.segmented:
            self._pending[key] = pending
            return None
        self._pending.pop(key, None)
        return HdlcMessage(frame.src, dest, bytes(data), count, llc)

    @property
    def pending(self) -> int:
        """Messages whose last segment has not come yet."""
        return len(self._pending)

    def clear(self) -> None:
        self._pending.clear()
        self._discarding.clear()
