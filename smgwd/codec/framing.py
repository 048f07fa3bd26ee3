"""What the incremental frame decoders (dongle host protocols, HDLC) share: a bounded buffer, an event queue, counters.

A subclass implements ``_scan``: take complete frames from the front of ``self._buf``,
append events with ``self._emit``, step over garbage with ``self._skip``, and leave an
incomplete frame in the buffer. ``feed`` adds at most ``max_frame`` bytes before each scan,
so the buffer never holds more than about two frames.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import Generic, TypeVar

__all__ = ["FrameBuffer"]

E = TypeVar("E")


class FrameBuffer(Generic[E]):
    """Incremental decoder base: ``feed`` bytes, then iterate (or ``next_event``) for events."""

    def __init__(self, max_frame: int) -> None:
        self._max_frame = max_frame
        self._buf = bytearray()
        self._events: deque[E] = deque()
        self.frames = 0
        self.skipped = 0

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Add received bytes; complete frames become events."""
        for start in range(0, len(data), self._max_frame):
            self._buf += data[start : start + self._max_frame]
            self._scan()

    def next_event(self) -> E | None:
        """The next event, or None when more bytes are needed."""
        return self._events.popleft() if self._events else None

    def __iter__(self) -> Iterator[E]:
        while self._events:
            yield self._events.popleft()

    @property
    def buffered(self) -> int:
        """Bytes held while waiting for the rest of a frame."""
        return len(self._buf)

    def _emit(self, event: E) -> None:
        self._events.append(event)

    def _skip(self, count: int) -> None:
        del self._buf[:count]
        self.skipped += count

    def _scan(self) -> None:  # pragma: no cover - every subclass has one
        raise NotImplementedError
