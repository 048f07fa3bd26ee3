"""A real NTP server on loopback for the demo and the tests: chronyd serving this machine's clock.

How this works: :func:`chronyd` runs chronyd 4.x in the foreground (``-d``),
without touching the clock (``-x``), on a free loopback port, with no command
port or socket and its pid file in a given directory; with ``local stratum``
it serves its own clock as stratum N, without it answers "unsynchronised"
(stratum 0, leap 3). It yields the port once chronyd answers. The binary is
``chronyd`` on PATH, ``/usr/sbin/chronyd``, or the copy ``deploy/host-deps.sh``
extracts into ``.cache/chrony`` of a checkout (Debian's chrony package,
unpacked, not installed). Nothing here sets the system clock.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["CHRONY_CACHE", "ChronydUnavailable", "chronyd", "find_chronyd"]

#: Where ``deploy/host-deps.sh`` unpacks Debian's chrony in a checkout.
CHRONY_CACHE = Path(__file__).resolve().parents[1] / ".cache" / "chrony"


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
def chronyd(workdir: Path, *, local_stratum: int | None = 8, start_timeout: float = 10.0) -> Iterator[int]:
    """Run chronyd on a free loopback port (yielded) until the block ends; ChronydUnavailable if it cannot."""
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


def _wait_until_answering(proc: subprocess.Popen[bytes], port: int, limit: float, logfile: Path) -> None:
    from smgwd.gateway.timebase import NtpError, ntplib_query

    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ChronydUnavailable(f"chronyd exited with {proc.returncode}: "
                                     f"{logfile.read_text(errors='replace').strip()}")
        try:
            ntplib_query("127.0.0.1", port, 0.2)
            return
        except NtpError:
            continue
    raise ChronydUnavailable(f"chronyd did not answer on 127.0.0.1:{port} within {limit:g} s: "
                             f"{logfile.read_text(errors='replace').strip()}")
