"""smgwd end to end, as systemd runs it: a real smgw-sim process (TCP pull meter and a pty push
meter), a real chronyd on a loopback port as the NTP source, a NOTIFY_SOCKET listener, and
the daemon as its own process. READY=1 and WATCHDOG=1 arrive, readings land in the store
stamped as synchronised, SIGHUP reloads (and a bad new config is refused), a vanished meter is
reported and comes back, SIGTERM stops cleanly."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from smgwd.gateway.store import StoreError, StoreReader
from smgwd.reading import TimeQuality
from tests.gateway.ntp_servers import chronyd

SIM_XML = """<simulator>
  <time mode="accelerated" quarter-hour-seconds="4" resolution-ms="250"/>
  <listeners>
    <tcp id="lan" host="127.0.0.1" port="{port}"><meter ref="house"/></tcp>
    <serial id="ir" device="pty" meter="flat" interval-seconds="0.2"/>
  </listeners>
  <meters>
    <meter id="house" serial="10000001" seed="1"><consumption annual-kwh="3500"/></meter>
    <meter id="flat" serial="10000002" seed="2"><consumption annual-kwh="1800"/></meter>
  </meters>
</simulator>"""

GATEWAY_TOML = """
[store]
path = "{db}"
flush_interval = 0.2

[time]
servers = ["127.0.0.1:{ntp}"]
poll_interval = 2.0
timeout = 1.0
unsynchronised_after = 30.0

[control]
socket = "{dir}/control.sock"

[logging]
journal = "no"
level = "info"

[[meters]]
id = "house"
link = "tcp://127.0.0.1:{port}"
mode = "pull"
interval = {interval}
timeout = 1.0

[[meters]]
id = "flat"
link = "serial://{pty}"
mode = "push"
interval = 0.2
silence_intervals = 5
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Notifications:
    """A NOTIFY_SOCKET as systemd offers one."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.seen: list[str] = []

    def wait_for(self, line: str, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(part.startswith(line) for message in self.seen for part in message.splitlines()):
                return
            try:
                self.seen.append(self.sock.recv(4096).decode())
            except socket.timeout:
                pass
        raise AssertionError(f"{line!r} not received; got {self.seen}")


def start_simulator(workdir: Path, port: int) -> tuple[subprocess.Popen[str], str]:
    config = workdir / "sim.xml"
    config.write_text(SIM_XML.format(port=port))
    sim = subprocess.Popen([sys.executable, "-m", "smgwd.sim.main", "run", "--no-console", "--config", str(config)],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    pty = None
    assert sim.stdout is not None
    for line in sim.stdout:
        match = re.search(r"to \[pty (\S+)\]", line)
        if match:
            pty = match.group(1)
            break
    assert pty, "simulator did not report its pty"
    return sim, pty


def stop(proc: subprocess.Popen[str]) -> None:
    """End a child process and close its pipes."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()


def wait_until(condition, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.1)


def readings(db: Path, meter: str) -> list:  # type: ignore[type-arg]
    """The meter's stored readings; none while the daemon has not yet created its schema."""
    try:
        with StoreReader(db) as reader:
            return list(reader.readings(meter=meter))
    except StoreError:
        return []


def log_events(db: Path) -> list[str]:
    try:
        with StoreReader(db) as reader:
            return [entry.event for entry in reader.log("system")]
    except StoreError:
        return []


def test_daemon_end_to_end(tmp_path: Path) -> None:
    port = free_port()
    sim, pty = start_simulator(tmp_path, port)
    notify = Notifications(tmp_path / "notify.sock")
    db = tmp_path / "smgwd.db"
    config = tmp_path / "smgwd.toml"
    with chronyd(tmp_path / "chrony", local_stratum=8) as ntp_port:
        text = GATEWAY_TOML.format(db=db, ntp=ntp_port, dir=tmp_path, port=port, pty=pty, interval=0.5)
        config.write_text(text)
        env = dict(os.environ, NOTIFY_SOCKET=notify.path, WATCHDOG_USEC="2000000")
        daemon = subprocess.Popen([sys.executable, "-m", "smgwd.daemon", "--config", str(config)],
                                  env=env, stderr=subprocess.PIPE, text=True)
        try:
            notify.wait_for("READY=1")
            notify.wait_for("WATCHDOG=1")
            wait_until(lambda: readings(db, "house") and readings(db, "flat"))
            wait_until(lambda: any(r.time_quality is TimeQuality.SYNCHRONISED for r in readings(db, "flat")))
            energy = [r for r in readings(db, "house") if str(r.obis) == "1-0:1.8.0*255"]
            assert energy[-1].gateway_time is not None and energy[-1].meter_time is not None
            assert energy[-1].meter_time.as_datetime() is None  # a seconds index, never taken for a date
            notify.wait_for("STATUS=meters 2 up, 0 connecting, 0 down;")

            # smgwctl asks the running daemon over its control socket
            done = subprocess.run([sys.executable, "-m", "smgwd.cli.main", "--config", str(config), "status",
                                   "--format", "json"], capture_output=True, text=True, timeout=30)
            live = json.loads(done.stdout)["daemon"]
            assert live["pid"] == daemon.pid and {m["id"]: m["state"] for m in live["meters"]} == {
                "house": "up", "flat": "up"}

            # SIGHUP with a changed meter: reloaded, readings keep coming
            config.write_text(text.replace("interval = 0.5", "interval = 0.3"))
            before = len(readings(db, "flat"))
            daemon.send_signal(signal.SIGHUP)
            wait_until(lambda: "reload" in log_events(db))
            wait_until(lambda: len(readings(db, "flat")) > before + 10)

            # SIGHUP with a broken config: refused, the running one stays
            config.write_text(text + "\n[store]\nbatch = 3\n")
            daemon.send_signal(signal.SIGHUP)
            wait_until(lambda: "reload_refused" in log_events(db))
            count = len(readings(db, "house"))
            wait_until(lambda: len(readings(db, "house")) > count)

            # the meter vanishes and comes back
            stop(sim)
            wait_until(lambda: "link_down" in log_events(db))
            sim, _ = start_simulator(tmp_path, port)  # a new pty path: only the TCP meter can come back
            ups = log_events(db).count("link_up")
            wait_until(lambda: log_events(db).count("link_up") > ups)

            started = time.monotonic()
            daemon.send_signal(signal.SIGTERM)
            assert daemon.wait(10) == 0
            assert time.monotonic() - started < 5.0
            notify.wait_for("STOPPING=1")
            stderr = daemon.stderr.read() if daemon.stderr else ""
        finally:
            stop(daemon)
            stop(sim)
            notify.sock.close()
    assert "Traceback" not in stderr
    assert "stop" in log_events(db)
    # the vanished push meter logged its loss once, not once per retry
    assert stderr.count("meter flat down") <= 3, stderr


def test_bad_config_stops_the_start_with_one_line(tmp_path: Path) -> None:
    config = tmp_path / "smgwd.toml"
    config.write_text('[store]\nretension_days = 3\n')
    done = subprocess.run([sys.executable, "-m", "smgwd.daemon", "--config", str(config)],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 78
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "store.retension_days" in lines[0] and "retention_days" in lines[0]


@pytest.mark.parametrize("args", [("--frobnicate",)])
def test_usage_error(args: tuple[str, ...]) -> None:
    done = subprocess.run([sys.executable, "-m", "smgwd.daemon", *args], capture_output=True, timeout=30)
    assert done.returncode == 1


def test_kill_9_during_ingest_then_restart(tmp_path: Path) -> None:
    """The daemon killed mid-ingest: the database opens, holds what was acknowledged, and a
    restarted daemon carries on (the store's own kill -9 bound is proven in test_store_kill)."""
    import sqlite3

    port = free_port()
    sim, pty = start_simulator(tmp_path, port)
    db = tmp_path / "smgwd.db"
    config = tmp_path / "smgwd.toml"
    config.write_text(GATEWAY_TOML.format(db=db, ntp=free_port(), dir=tmp_path, port=port, pty=pty, interval=0.2)
                      .replace('servers = ["127.0.0.1:', 'servers = [] # ["127.0.0.1:'))
    daemon = subprocess.Popen([sys.executable, "-m", "smgwd.daemon", "--config", str(config)],
                              stderr=subprocess.DEVNULL, text=True)
    try:
        wait_until(lambda: db.exists() and len(readings(db, "flat")) > 50)
        daemon.kill()
        daemon.wait(10)
        with sqlite3.connect(db) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        kept = len(readings(db, "flat"))
        assert kept > 50
        daemon = subprocess.Popen([sys.executable, "-m", "smgwd.daemon", "--config", str(config)],
                                  stderr=subprocess.PIPE, text=True)
        wait_until(lambda: len(readings(db, "flat")) > kept + 20)
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(10) == 0
        assert "Traceback" not in (daemon.stderr.read() if daemon.stderr else "")
    finally:
        stop(daemon)
        stop(sim)


def test_kill_9_while_delivering_then_restart_delivers_each_reading_once(tmp_path: Path) -> None:
    """smgwd killed with -9 while it delivers to a real smgw-emp process: after a restart every
    reading up to the delivery watermark is at the EMP exactly once, nothing twice."""
    from collections import Counter

    from smgwd.emp.store import EmpStore
    from smgwd.demo import EMP_TOML, EMPS_TOML
    from smgwd.wan.delivery import watermark_key
    from smgwd.wan.pki import init_pki

    init_pki(tmp_path / "pki")
    emp_port = free_port()
    (tmp_path / "emp.toml").write_text(EMP_TOML.format(port=emp_port, meters="\"*\""))
    emp = subprocess.Popen([sys.executable, "-m", "smgwd.emp.main", "--config", str(tmp_path / "emp.toml")],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert emp.stdout is not None and "listening" in emp.stdout.readline()
    port = free_port()
    sim, pty = start_simulator(tmp_path, port)
    db = tmp_path / "smgwd.db"
    config = tmp_path / "smgwd.toml"
    delivery = EMPS_TOML.format(emp_port=emp_port, emp_interval=0.5)
    config.write_text(GATEWAY_TOML.format(db=db, ntp=free_port(), dir=tmp_path, port=port, pty=pty, interval=0.2)
                      .replace('servers = ["127.0.0.1:', 'servers = [] # ["127.0.0.1:') + delivery)

    def acked() -> int:
        try:
            with StoreReader(db) as reader:
                return len(reader.outbox("acked"))
        except StoreError:
            return 0

    daemon = subprocess.Popen([sys.executable, "-m", "smgwd.daemon", "--config", str(config)],
                              stderr=subprocess.DEVNULL, text=True)
    try:
        wait_until(lambda: acked() >= 5, timeout=40)
        daemon.kill()
        daemon.wait(10)
        before = acked()
        daemon = subprocess.Popen([sys.executable, "-m", "smgwd.daemon", "--config", str(config)],
                                  stderr=subprocess.DEVNULL, text=True)
        wait_until(lambda: acked() >= before + 5, timeout=40)
        stop(sim)  # no new readings: let the outbox drain, then stop the gateway
        time.sleep(3)
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(10) == 0
    finally:
        stop(daemon)
        stop(sim)
    try:
        with StoreReader(db) as reader:
            taken = int(reader.state()[watermark_key("emp")])
            pending = [e for e in reader.outbox() if e.state != "acked"]
            gateway = Counter(
                (r.meter_id, str(r.obis), r.raw.hex() if isinstance(r.raw, bytes) else str(r.raw))
                for _, r in reader.readings_after(0, taken)
            )
        assert not pending, pending
        store = EmpStore(tmp_path / "emp.db", readonly=True)
        at_emp = Counter((r.meter, r.obis, r.raw) for r in store.readings(limit=10_000_000))
        store.close()
    finally:
        emp.terminate()
        emp.wait(10)
        if emp.stdout:
            emp.stdout.close()
    assert sum(gateway.values()) > 100  # both meters' readings of a few seconds
    assert at_emp == gateway
