"""A socket reader with a total deadline per request, for the lab EMP's connections.

How this works: a socket timeout bounds one ``recv``, so a client sending a
byte just before each timeout could hold a connection for ever. A
:class:`DeadlineReader` is the raw stream under the handler's buffered
``rfile``: before each ``recv`` it sets the socket timeout to the time left
until the deadline, and once that is gone it raises :class:`DeadlineExceeded`
(a ``TimeoutError``), so headers and body together take at most the deadline
however the bytes trickle in. :meth:`DeadlineReader.start` opens the window
of the next request. After each ``recv`` the socket timeout goes back to the
write budget, so the answer is bounded too (``sendall`` treats its timeout as
a total since Python 3.5).
"""

from __future__ import annotations

import io
import socket
import time
from typing import Any

__all__ = ["DeadlineExceeded", "DeadlineReader"]


class DeadlineExceeded(TimeoutError):
    """The request was not read completely within its deadline."""


class DeadlineReader(io.RawIOBase):
    """Raw reads from ``sock``, each bounded by what is left of the current request's deadline."""

    def __init__(self, sock: socket.socket, write_timeout: float) -> None:
        super().__init__()
        self.sock = sock
        self.write_timeout = write_timeout
        self.deadline = float("inf")
        self.received = 0  # bytes received since start()
        self.expired = False

    def start(self, seconds: float, since: float | None = None) -> None:
        """A new request may take ``seconds`` from ``since`` (a ``time.monotonic()`` value; default now)."""
        self.deadline = (time.monotonic() if since is None else since) + seconds
        self.received = 0
        self.expired = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        left = self.deadline - time.monotonic()
        if left <= 0:
            self.expired = True
            raise DeadlineExceeded("request deadline passed")
        self.sock.settimeout(left)
        try:
            count = self.sock.recv_into(buffer)
        except TimeoutError:
            self.expired = True
            raise DeadlineExceeded("request deadline passed") from None
        self.sock.settimeout(self.write_timeout)
        self.received += count
        return count
