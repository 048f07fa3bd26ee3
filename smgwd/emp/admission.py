"""Who may open one more connection to the lab EMP: a cap per peer address and one in all.

How this works: the accept loop asks :meth:`Admission.admit` about each new
connection before any TLS work is done; over either cap the answer is the
refusal's counter name and the server closes the socket at once, so a flood
costs neither a thread nor a handshake. An admitted connection holds its slot
until :meth:`Admission.release`, which its thread calls when it ends, however
it ends. One lock guards the small table of open connections per peer.
"""

from __future__ import annotations

import threading
from collections import Counter

__all__ = ["Admission", "TOO_MANY", "TOO_MANY_FROM_PEER"]

TOO_MANY = "too_many_connections"
TOO_MANY_FROM_PEER = "too_many_from_peer"


class Admission:
    """Open connections per peer address, at most ``per_peer`` each and ``total`` in all."""

    def __init__(self, per_peer: int, total: int) -> None:
        if per_peer < 1 or total < 1:
            raise ValueError(f"connection caps must be >= 1 (per peer {per_peer}, in all {total})")
        self.per_peer = per_peer
        self.total = total
        self._open: Counter[str] = Counter()
        self._lock = threading.Lock()

    def admit(self, peer: str) -> str | None:
        """Take a slot for ``peer``; None if admitted, else the refusal's counter name."""
        with self._lock:
            if self._open.total() >= self.total:
                return TOO_MANY
            if self._open[peer] >= self.per_peer:
                return TOO_MANY_FROM_PEER
            self._open[peer] += 1
            return None

    def release(self, peer: str) -> None:
        """Give back a slot taken by :meth:`admit`."""
        with self._lock:
            self._open[peer] -= 1
            if self._open[peer] <= 0:
                del self._open[peer]

    @property
    def open(self) -> int:
        """Connections open now."""
        with self._lock:
            return self._open.total()
