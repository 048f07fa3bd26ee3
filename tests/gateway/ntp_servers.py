"""NTP servers on loopback for tests: a fake one with answers to order, and a real chronyd.

How this works: :class:`FakeNtpServer` is a UDP server on ``127.0.0.1:0`` in a
thread. It answers each request with a real 48-byte NTP packet built from its
attributes at that moment (offset from the system clock, leap indicator,
stratum, mode, reference id, root delay and dispersion), echoes the request's
transmit time as the originate timestamp (or a stale one), or stays silent.
Tests change the attributes between polls.

:func:`chronyd` runs the real thing, the one the demo runs too
(:mod:`smgwd.loopback_ntp`).
"""

from __future__ import annotations

import socketserver
import struct
import threading
import time

from smgwd.loopback_ntp import CHRONY_CACHE, ChronydUnavailable, chronyd, find_chronyd

__all__ = ["CHRONY_CACHE", "ChronydUnavailable", "FakeNtpServer", "chronyd", "find_chronyd"]

NTP_EPOCH = 2208988800  # seconds from 1900-01-01 to 1970-01-01
_PACKET = struct.Struct("!BBBbII4s8s8s8s8s")


def _ntp_time(unix: float) -> bytes:
    seconds = unix + NTP_EPOCH
    whole = int(seconds)
    return struct.pack("!II", whole & 0xFFFFFFFF, int((seconds - whole) * 2**32) & 0xFFFFFFFF)


def _ntp_short(seconds: float) -> int:
    return int(seconds * 2**16) & 0xFFFFFFFF


class FakeNtpServer:
    """An NTP server on loopback whose answers the test sets (see the module comment)."""

    def __init__(self, *, offset: float = 0.0, leap: int = 0, stratum: int = 2, mode: int = 4,
                 version: int = 4, ref_id: bytes = b"\x7f\x00\x00\x01",
                 root_delay: float = 0.001, root_dispersion: float = 0.001) -> None:
        self.offset = offset
        self.leap = leap
        self.stratum = stratum
        self.mode = mode
        self.version = version
        self.ref_id = ref_id
        self.root_delay = root_delay
        self.root_dispersion = root_dispersion
        self.silent = False
        self.stale_origin = False  # echo an originate timestamp a minute old
        self.requests = 0
        fake = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                data, sock = self.request
                fake.requests += 1
                if len(data) >= 48 and not fake.silent:
                    sock.sendto(fake.answer(data), self.client_address)

        self._server = socketserver.UDPServer(("127.0.0.1", 0), Handler)
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True)

    @property
    def address(self) -> str:
        """``127.0.0.1:port``, as the timebase takes it."""
        return f"127.0.0.1:{self.port}"

    def answer(self, request: bytes) -> bytes:
        """The NTP answer to ``request`` under the current settings."""
        received = time.time() + self.offset
        origin = request[40:48]
        if self.stale_origin:
            origin = _ntp_time(time.time() - 60)
        return _PACKET.pack(
            (self.leap << 6) | (self.version << 3) | self.mode, self.stratum, 6, -20,
            _ntp_short(self.root_delay), _ntp_short(self.root_dispersion), self.ref_id,
            _ntp_time(received - 16), origin, _ntp_time(received),
            _ntp_time(time.time() + self.offset))

    def __enter__(self) -> FakeNtpServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._thread.join()
        self._server.server_close()
