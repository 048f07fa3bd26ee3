"""NTP servers on loopback for tests: a fake one with answers to order, and a real chronyd.

How this works: :class:`FakeNtpServer` is a UDP server on ``127.0.0.1:0`` in a
thread. It answers each request with a real 48-byte NTP packet built from its
attributes at that moment (offset from the system clock, leap indicator,
stratum, mode, reference id, root delay and dispersion), echoes the request's
transmit time as the originate timestamp (or a stale one), or stays silent.
Tests change the attributes between polls.

:func:`chronyd` runs the real thing: chronyd 4.x in the foreground (``-d``),
without touching the clock (``-x``), on a free loopback port, with no command
port or socket and its pid file in a temporary directory; with ``local
stratum`` it serves its own clock as stratum N, without it answers
"unsynchronised" (stratum 0, leap 3). The binary is ``chronyd`` on PATH,
``/usr/sbin/chronyd``, or the copy ``deploy/host-deps.sh`` extracts into
``.cache/chrony``.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import socketserver
import struct
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import ntplib

__all__ = ["CHRONY_CACHE", "ChronydUnavailable", "FakeNtpServer", "chronyd", "find_chronyd"]

REPO = Path(__file__).resolve().parents[2]
CHRONY_CACHE = REPO / ".cache" / "chrony"
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


class ChronydUnavailable(RuntimeError):
    """No chronyd binary, or it did not start."""


def find_chronyd() -> str | None:
    """The chronyd binary to use, or None."""
    for candidate in (shutil.which("chronyd"), "/usr/sbin/chronyd",
                      str(CHRONY_CACHE / "usr" / "sbin" / "chronyd")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def chronyd(workdir: Path, *, local_stratum: int | None = 8,
            start_timeout: float = 10.0) -> Iterator[int]:
    """Run chronyd on a free loopback port (yielded) until the block ends."""
    binary = find_chronyd()
    if binary is None:
        raise ChronydUnavailable(
            "chronyd not found (PATH, /usr/sbin, .cache/chrony): run `sh deploy/host-deps.sh`, "
            "which extracts Debian's chrony package into .cache/chrony")
    workdir.mkdir(parents=True, exist_ok=True)
    port = _free_udp_port()
    config = workdir / "chrony.conf"
    config.write_text("\n".join([
        f"port {port}", "bindaddress 127.0.0.1", "allow 127.0.0.1",
        "cmdport 0", "bindcmdaddress /",  # no command port, no command socket
        f"pidfile {workdir / 'chronyd.pid'}",
        *([f"local stratum {local_stratum}"] if local_stratum is not None else []),
    ]) + "\n")
    # Root drops privileges to -u; anyone else needs -U (no root check) and their own name.
    user = ["-u", "root"] if os.geteuid() == 0 else ["-U", "-u", pwd.getpwuid(os.geteuid()).pw_name]
    logfile = workdir / "chronyd.log"
    with open(logfile, "wb") as out:
        proc = subprocess.Popen([binary, "-d", "-x", "-f", str(config), *user],
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        _wait_until_answering(proc, port, start_timeout, logfile)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_until_answering(proc: subprocess.Popen[bytes], port: int, limit: float,
                          logfile: Path) -> None:
    deadline = time.monotonic() + limit
    client = ntplib.NTPClient()
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ChronydUnavailable(f"chronyd exited with {proc.returncode}: "
                                     f"{logfile.read_text(errors='replace').strip()}")
        try:
            client.request("127.0.0.1", version=4, port=port, timeout=0.2)
            return
        except ntplib.NTPException:
            continue
    raise ChronydUnavailable(f"chronyd did not answer on 127.0.0.1:{port} within {limit:g} s: "
                             f"{logfile.read_text(errors='replace').strip()}")
