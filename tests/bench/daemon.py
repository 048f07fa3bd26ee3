"""Gateway benchmarks: ingest into the store, and the daemon as a process with 100 meters.

1. Sustained readings per second, one core: real SML push frames from smgw-sim's meters go
   through frame decoding (every CRC), readings, gateway stamping and the SQLite store until
   committed. Peer on the same frames: the same pipeline with smllib 1.7 as the decoder
   (its entries turned into the same readings), so the ratio shows what our decoding saves.
   Target: >= 20,000 readings/s.
2. The daemon process (``python -m smgwd.daemon``) with 100 push meters on ptys fed by one
   smgw-sim process at 1 frame/s each: time from start to READY=1 (target < 0.5 s), CPU per
   meter (target < 0.2 % of a core), resident memory (target < 35 MiB without an EMP). Peer:
   the same run of the daemon of the last release (RELEASE, checked out with ``git archive``
   into a temporary directory and put first on PYTHONPATH), on the same simulator, in the
   same benchmark run; the ratios are release / ours (above 1: ours is smaller or faster).
   Resident memory is sampled every 0.5 s while the meters push (and the EMP, if any, is delivered
   to every 5 s): the median is the daemon's resident size, the maximum its peak during a delivery.
   Both daemons run twice: on Debian 12's /usr/bin/python3 with Debian's python3-* packages
   (``.venv-debian``, built by ``make test-debian``: what a Pi runs), when that exists, and on the
   benchmark's own interpreter with PyPI's wheels (cryptography's wheel brings a second OpenSSL:
   about 6 MiB more with one EMP).
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from smgwd.cosem.obis import Obis
from smgwd.gateway.store import Store
from smgwd.meters.sml.profiles import get_profile
from smgwd.meters.sml.stream import FrameDecoded, SmlFrameReader
from smgwd.reading import Reading, TimeQuality
from smgwd.sim.clock import SteppedClock
from smgwd.sim.meter import MeterSpec, SimMeter
from smgwd.sim.sml_push import push_frame

START = datetime(2025, 1, 1, tzinfo=timezone.utc).timestamp()
NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
FRAMES = 3000
RELEASE = "778761b"  # the last landed main before the hardening issue (issue 9)
REPO = Path(__file__).resolve().parents[2]


def frames(n: int = FRAMES) -> bytes:
    clock = SteppedClock(START)
    meters = [SimMeter(MeterSpec(id=f"m{k}", serial=10_000_000 + k, seed=k), clock) for k in range(20)]
    out = []
    for k in range(n):
        clock.step(1.0 / len(meters))
        out.append(push_frame(meters[k % len(meters)], k))
    return b"".join(out)


def _stamp(readings: list[Reading]) -> list[Reading]:
    """As a meter driver stamps what its decoder gave (``Reading.stamped``)."""
    return [r.stamped(r.meter_id, NOW, TimeQuality.SYNCHRONISED) for r in readings]


def ingest_smgwd(data: bytes, store: Store) -> int:
    reader = SmlFrameReader(get_profile("generic"))
    count = 0
    for chunk in range(0, len(data), 4096):
        for result in reader.feed(data[chunk:chunk + 4096]):
            if isinstance(result, FrameDecoded):
                store.on_readings(_stamp(result.readings))
                count += len(result.readings)
    return count


def ingest_smllib(data: bytes, store: Store) -> int:
    from smllib import SmlStreamReader

    reader = SmlStreamReader()
    count = 0
    for chunk in range(0, len(data), 4096):
        reader.add(data[chunk:chunk + 4096])
        while (frame := reader.get_frame()) is not None:
            readings = []
            for entry in frame.get_obis():
                raw = _smllib_raw(entry.value)
                if raw is None:
                    continue
                readings.append(Reading("m", Obis.parse(entry.obis), raw, entry.scaler or 0, entry.unit,
                                        entry.status, None, NOW, TimeQuality.SYNCHRONISED))
            store.on_readings(readings)
            count += len(readings)
    return count


def _smllib_raw(value: object) -> int | bytes | None:
    """smllib gives octet strings as hex or text, times as datetimes: map them as we store them."""
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return bytes.fromhex(value)
        except ValueError:
            return value.encode()
    return None


def timed_ingest(fn, data: bytes) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.db", batch_size=2000, flush_interval=0.5)
        store.start()
        started = time.perf_counter()
        count = fn(data, store)
        store.flush(120)
        elapsed = time.perf_counter() - started
        store.stop(30)
    return count / elapsed, count


SIM_HEADER = '<simulator><time mode="real"/><listeners>'
GATEWAY_HEAD = '[store]\npath = "{db}"\n[control]\nsocket = "{socket}"\n[time]\nservers = []\n[logging]\njournal = "no"\nlevel = "warning"\n'


@contextlib.contextmanager
def release_tree(rev: str = RELEASE) -> Iterator[Path]:
    """The source tree of ``rev`` in a temporary directory (nothing in the repository changes)."""
    with tempfile.TemporaryDirectory(prefix="smgwd-release-") as tmp:
        archive = subprocess.run(["git", "-C", str(REPO), "archive", rev, "smgwd"], capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", tmp], input=archive.stdout, check=True)
        yield Path(tmp)


@contextlib.contextmanager
def lab_emp(tmpdir: Path) -> Iterator[str]:
    """A lab PKI in ``tmpdir/pki`` and the lab EMP serving in a thread; yields the ``[[emps]]`` table."""
    from smgwd.demo import EMP_TOML, EMPS_TOML
    from smgwd.emp.config import load_emp_config
    from smgwd.emp.main import open_emp
    from smgwd.wan.pki import init_pki

    init_pki(tmpdir / "pki")
    (tmpdir / "emp.toml").write_text(EMP_TOML.format(port=0, meters="\"*\""))
    service, server = open_emp(load_emp_config(tmpdir / "emp.toml"))
    server.serve_in_thread()
    try:
        yield EMPS_TOML.format(emp_port=server.port, emp_interval=5.0)
    finally:
        server.shutdown()
        server.server_close()
        service.store.close()


DEPLOYED_PYTHON = REPO / ".venv-debian" / "bin" / "python"


@dataclass(frozen=True)
class DaemonRun:
    """What one daemon run measured."""

    ready: float  # seconds from start to READY=1
    per_meter: float  # % of a core per meter
    rss: float  # median resident MiB
    peak: float  # largest resident MiB sampled


def daemon_run(
    meters: int = 100, seconds: float = 20.0, source: Path | None = None, emp: bool = False,
    python: str = sys.executable,
) -> DaemonRun:
    """One run of the daemon with ``meters`` push meters, on the interpreter ``python``.

    ``source``: run the daemon from this source tree (the simulator always runs from ours);
    ``emp``: deliver to a lab EMP (run in this process, so it is not counted) every 5 s.
    """
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        tmpdir = Path(tmp)
        emps = stack.enter_context(lab_emp(tmpdir)) if emp else ""
        listeners = "".join(f'<serial id="s{k}" device="pty" meter="m{k}" interval-seconds="1"/>' for k in range(meters))
        specs = "".join(f'<meter id="m{k}" serial="{10_000_000 + k}" seed="{k}"><consumption annual-kwh="3000"/></meter>'
                        for k in range(meters))
        (tmpdir / "sim.xml").write_text(f"{SIM_HEADER}{listeners}</listeners><meters>{specs}</meters></simulator>")
        sim = subprocess.Popen([sys.executable, "-m", "smgwd.sim.main", "run", "--no-console", "--config",
                                str(tmpdir / "sim.xml")], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        ptys: dict[str, str] = {}
        assert sim.stdout is not None
        for line in sim.stdout:
            match = re.search(r"Meter \[(\w+)\] pushes .* to \[pty (\S+)\]", line)
            if match:
                ptys[match.group(1)] = match.group(2)
            if len(ptys) == meters:
                break
        config = GATEWAY_HEAD.format(db=tmpdir / "smgwd.db", socket=tmpdir / "control.sock") + "".join(
            f'[[meters]]\nid = "{m}"\nlink = "serial://{path}"\nmode = "push"\ninterval = 1.0\n'
            for m, path in ptys.items()) + emps
        (tmpdir / "smgwd.toml").write_text(config)
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify.bind(str(tmpdir / "notify"))
        notify.settimeout(30)
        started = time.monotonic()
        env = dict(os.environ, NOTIFY_SOCKET=str(tmpdir / "notify"))
        if source is not None:
            env["PYTHONPATH"] = str(source)
        daemon = subprocess.Popen([python, "-m", "smgwd.daemon", "--config", str(tmpdir / "smgwd.toml")],
                                  env=env, cwd=source or tmpdir)
        try:
            while b"READY=1" not in notify.recv(4096):
                pass
            ready = time.monotonic() - started
            time.sleep(3.0)  # every meter connected and pushing
            cpu0 = _cpu_seconds(daemon.pid)
            samples = []
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                samples.append(_rss_mib(daemon.pid))
                time.sleep(0.5)
            cpu = _cpu_seconds(daemon.pid) - cpu0
        finally:
            for proc in (daemon, sim):
                proc.terminate()
                proc.wait(20)
            if sim.stdout:
                sim.stdout.close()
            notify.close()
    return DaemonRun(ready, cpu / seconds * 100 / meters, statistics.median(samples), max(samples))


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    data = frames()
    ours, n_ours = timed_ingest(ingest_smgwd, data)
    peer, n_peer = timed_ingest(ingest_smllib, data)
    print(f"gateway ingest: {FRAMES} real push frames -> readings -> SQLite store (WAL, synchronous=FULL)")
    print(f"smgwd {ours:,.0f} readings/s ({n_ours} readings); peer: smllib 1.7 decoding into the same store "
          f"{peer:,.0f} readings/s ({n_peer}); ratio {ours / peer:.2f}x   (target >= 20,000 readings/s)")
    pythons = [(str(DEPLOYED_PYTHON), "Debian 12 python3 + python3-* packages")] if DEPLOYED_PYTHON.exists() else []
    pythons.append((sys.executable, f"{sys.executable} (PyPI wheels)"))
    with release_tree() as old:
        for python, label in pythons:
            for emp, target in ((False, 35), (True, 45)):
                ours = daemon_run(emp=emp, python=python)
                release = daemon_run(source=old, emp=emp, python=python)
                print(f"daemon on {label}, 100 push meters at 1 frame/s, {'one EMP' if emp else 'no EMP'}: "
                      f"READY=1 after {ours.ready:.2f} s (target < 0.5 s), {ours.per_meter:.3f} % of a core per "
                      f"meter (target < 0.2 %), {ours.rss:.1f} MiB resident, peak {ours.peak:.1f} "
                      f"(target < {target} MiB)")
                print(f"  same run of release {RELEASE}: READY=1 after {release.ready:.2f} s, "
                      f"{release.per_meter:.3f} %, {release.rss:.1f} MiB, peak {release.peak:.1f}; ratios "
                      f"release/ours: READY {release.ready / ours.ready:.2f}x, CPU "
                      f"{release.per_meter / ours.per_meter:.2f}x, RSS {release.rss / ours.rss:.2f}x, "
                      f"peak {release.peak / ours.peak:.2f}x")


if __name__ == "__main__":
    main()
