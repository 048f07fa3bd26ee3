"""``smgwd demo``: the simulator and the gateway on loopback, with a live view.

How this works: one event loop runs both programs' libraries. The simulator
gets eleven meters on accelerated time (a quarter hour in 4 s, as in jOSEF): a
household read by the gateway over TCP with jOSEF's discovery flow (SML pull),
a prosumer with PV that pushes SML over a pty pair like an IR head, two
DLMS/COSEM meters pushing HDLC on their customer ports (one plain, one
encrypted with AES-GCM in general-block-transfer blocks), three meters on one
RS-485 bus that the gateway polls as HDLC primary station (SML inside
I-frames), a heat pump's S0 output on a fake GPIO pin (its power comes from
pulses per real second, so accelerated time shows it 225 times too high), and a water meter (OMS
security mode 5, T1) and a heat meter (mode 7, C1) heard by an emulated iM871A
stick on another pty (every key in ``DIR/keys``, 0600). The
gateway gets a configuration generated for them, its store in the demo
directory, and a real NTP server: a chronyd on loopback serving this machine's
clock (:mod:`smgwd.loopback_ntp`; the clock is never touched), so readings are
stamped ``synchronised``; with no chronyd at hand it says why and every reading
says ``unsynchronised``, honestly. The lab EMP runs too: a fresh lab PKI in ``DIR/pki`` (kept when it
is there), ``smgw-emp``'s server in a thread with its store ``DIR/emp.db`` and
its ``DIR/emp.toml``, and an ``[[emps]]`` table delivering every 10 s over
mutual TLS. The live view shows each meter's link state and latest values as
they arrive, and the messages and readings the EMP has acknowledged. Given
``--dir``, everything stays there afterwards, so ``smgwctl --config
DIR/smgwd.toml status`` works on it; otherwise a temporary directory is used
and removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Iterator, TextIO

from smgwd.cosem.obis import Obis
from smgwd.emp.config import load_emp_config
from smgwd.emp.main import open_emp
from smgwd.emp.server import EmpServer
from smgwd.emp.service import EmpService
from smgwd.gateway.config import load_config
from smgwd.gateway.core import Gateway
from smgwd.gateway.listener import Listener
from smgwd.gateway.sdnotify import Notifier
from smgwd.loopback_ntp import ChronydUnavailable, chronyd
from smgwd.reading import Reading
from smgwd.sim.app import Simulator
from smgwd.sim.config import parse_config as parse_sim_config
from smgwd.wan.deliveries import Deliveries
from smgwd.wan.pki import init_pki

__all__ = ["run_demo"]

SIMULATOR_XML = """<?xml version="1.0" encoding="UTF-8"?>
<!-- smgwd demo: the meters (written by smgwd demo) -->
<simulator>
  <time mode="accelerated" quarter-hour-seconds="4" resolution-ms="250"/>
  <listeners>
    <tcp id="lan" host="127.0.0.1" port="0"><meter ref="household"/></tcp>
    <serial id="ir" device="pty" meter="prosumer" interval-seconds="1"/>
    <dlms id="han-a" device="pty" meter="flat-a" layout="registers" interval-seconds="2"/>
    <dlms id="han-b" device="pty" meter="flat-b" layout="idis" key="{han_ek}" auth-key="{han_ak}" block-size="96"
          interval-seconds="2"/>
    <s0 id="s0" meter="heatpump" pin="17" pulses-per-kwh="1000"/>
    <bus id="lmn" device="pty" baud="9600">
      <station meter="lmn-1" address="0x12"/>
      <station meter="lmn-2" address="0x13"/>
      <station meter="lmn-3" address="0x14" behaviour="slow" delay-ms="20"/>
    </bus>
    <wmbus id="radio" device="pty" dongle="im871a" duplicate-rate="0.1" seed="3">
      <meter ref="water" security="5" key="{water_key}" interval-seconds="3"/>
      <meter ref="heat" security="7" key="{heat_key}" radio-mode="c1" interval-seconds="4"/>
    </wmbus>
  </listeners>
  <meters>
    <meter id="household" manufacturer="SIM" serial="10000001" seed="1" initial-import-kwh="12345.6">
      <consumption profile="h0" annual-kwh="3500" dynamic="true"/>
      <tariff><period from="06:00" to="22:00" register="1"/></tariff>
    </meter>
    <meter id="prosumer" manufacturer="SIM" serial="20000002" seed="7" initial-import-kwh="4321">
      <consumption profile="h0" annual-kwh="4500" dynamic="true"/>
      <infeed annual-kwh="6000"/>
    </meter>
    <meter id="flat-a" manufacturer="KFM" serial="50000005" seed="11" initial-import-kwh="9876.5">
      <consumption profile="h0" annual-kwh="2500" dynamic="true"/>
    </meter>
    <meter id="flat-b" manufacturer="LGZ" serial="60000006" seed="13" initial-import-kwh="1500">
      <consumption profile="g0" annual-kwh="8000"/>
    </meter>
    <meter id="heatpump" manufacturer="SIM" serial="80000010" seed="31">
      <consumption profile="g0" annual-kwh="2000"/>
    </meter>
    <meter id="lmn-1" manufacturer="EMH" serial="70000007" seed="21" initial-import-kwh="3000">
      <consumption profile="h0" annual-kwh="3000"/>
    </meter>
    <meter id="lmn-2" manufacturer="EMH" serial="70000008" seed="22" initial-import-kwh="4000">
      <consumption profile="h0" annual-kwh="4000"/>
    </meter>
    <meter id="lmn-3" manufacturer="EMH" serial="70000009" seed="23" initial-import-kwh="5000">
      <consumption profile="g1" annual-kwh="12000"/>
    </meter>
    <water id="water" manufacturer="SIM" serial="30000003" seed="5" annual-m3="80" initial-m3="123.4"/>
    <heat id="heat" manufacturer="SIM" serial="40000004" seed="9" annual-kwh="9000" initial-kwh="20000"/>
  </meters>
</simulator>
"""

EMP_INTERVAL = 10.0  # seconds between two deliveries to the demo EMP

GATEWAY_TOML = """# smgwd demo: the gateway (written by smgwd demo)
[gateway]
id = "smgw-demo"

[store]
path = "{db}"

[time]
{time}

[control]
socket = "{socket}"

[logging]
level = "warning"
journal = "no"

[[meters]]
id = "household"
link = "tcp://127.0.0.1:{port}"
mode = "pull"
interval = 2.0
server_id = "{household}"

[[meters]]
id = "prosumer"
link = "serial://{pty}?baud=9600"
mode = "push"
interval = 1.0

# DLMS/COSEM push meters on customer ports (HDLC over ptys, 2400 8E1): one plain, one encrypted
[[meters]]
id = "flat-a"
link = "serial://{han_a}?baud=2400&parity=E"
protocol = "dlms"
interval = 2.0

[[meters]]
id = "flat-b"
link = "serial://{han_b}?baud=2400&parity=E"
protocol = "dlms"
key_file = "{keys}/flat-b.ek"
auth_key_file = "{keys}/flat-b.ak"
layout = "smgw-sim-idis"
interval = 2.0

# an S0 pulse input (the demo drives a fake GPIO pin from the simulated heat pump's meter)
[[meters]]
id = "heatpump"
link = "gpio://17?backend=fake&debounce=0"
protocol = "s0"
pulses_per_unit = 1000
interval = 2.0

# three meters on one RS-485 bus (a pty here): smgwd is the HDLC primary station and polls them in turn
[[meters]]
id = "lmn-1"
link = "rs485://{bus}?baud=9600&address=0x12"
interval = 2.0

[[meters]]
id = "lmn-2"
link = "rs485://{bus}?baud=9600&address=0x13"
interval = 2.0

[[meters]]
id = "lmn-3"
link = "rs485://{bus}?baud=9600&address=0x14"
interval = 2.0

# wM-Bus meters heard by an emulated iM871A stick on a pty (keys in keys/, mode 0600)
[[meters]]
id = "water"
link = "im871a://{radio}?mode=c1,t1"
protocol = "wmbus"
wmbus_id = "30000003"
key_file = "{keys}/water.key"
interval = 3.0

[[meters]]
id = "heat"
link = "im871a://{radio}?mode=c1,t1"
protocol = "wmbus"
wmbus_id = "40000004"
key_file = "{keys}/heat.key"
interval = 4.0
"""

#: The delivery profile of a lab PKI made in the same directory (also used by tests).
EMPS_TOML = """
[[emps]]
id = "emp"
url = "https://localhost:{emp_port}/v1/meterdata"
interval = {emp_interval}
shape = "josef"
tls_cert = "pki/smgw/smgw/tls.pem"
tls_key = "pki/smgw/smgw/tls.key"
server_ca = "pki/ca-chain.pem"
sig_cert = "pki/smgw/smgw/sig.pem"
sig_key = "pki/smgw/smgw/sig.key"
chain = "pki/subca.pem"
recipient = "pki/emp/emp/enc.pem"
"""

EMP_TOML = """# smgwd demo: the lab EMP (written by smgwd demo)
[server]
host = "127.0.0.1"
port = {port}

[tls]
cert = "pki/emp/emp/tls.pem"
key = "pki/emp/emp/tls.key"
client_ca = "pki/ca-chain.pem"

[cms]
cert = "pki/emp/emp/enc.pem"
key = "pki/emp/emp/enc.key"
trust = "pki/root.pem"
untrusted = "pki/subca.pem"
name = "emp"        # the [[emps]] id gateways deliver to: a message signed for another EMP is refused

[store]
path = "emp.db"

[gateways]
# the meters each gateway (the name in its certificates) may report; "*" for any
smgw = [{meters}]
"""

#: What the live view shows: label, unit, digits and the divisor from the stored unit.
SHOWN = {
    Obis(1, 0, 1, 8, 0): ("import", "kWh", 3, 1000),
    Obis(1, 0, 2, 8, 0): ("export", "kWh", 3, 1000),
    Obis(1, 0, 16, 7, 0): ("power", "W", 0, 1),
    Obis(1, 0, 1, 7, 0): ("power", "W", 0, 1),
    Obis(8, 0, 1, 0, 0): ("volume", "m³", 3, 1),
    Obis(8, 0, 2, 0, 0): ("flow", "l/h", 0, 0.001),
    Obis(6, 0, 1, 0, 0): ("heat", "kWh", 1, 1000),
    Obis(6, 0, 8, 0, 0): ("power", "W", 0, 1),
}


class LiveView(Listener):
    """The latest shown values per meter, drawn once a second."""

    def __init__(self, gateway: Gateway, out: TextIO, emp: EmpService | None = None) -> None:
        self.gateway = gateway
        self.emp = emp
        self.out = out
        self.latest: dict[str, dict[Obis, Reading]] = {}
        self.count = 0
        self.redraw = out.isatty()

    def on_readings(self, readings: list[Reading]) -> None:
        self.count += len(readings)
        for reading in readings:
            if reading.obis in SHOWN:
                self.latest.setdefault(reading.meter_id, {})[reading.obis] = reading

    def draw(self) -> None:
        lines = [f"smgwd demo — {self.gateway.status_line()} — {self.count} readings stored"]
        for meter_id, running in sorted(self.gateway.meters.items()):
            values = []
            for obis, (label, unit, digits, scale) in SHOWN.items():
                reading = self.latest.get(meter_id, {}).get(obis)
                if reading is not None:
                    value = reading.value()
                    values.append(f"{label} {float(value) / scale:,.{digits}f} {unit}")
            state = running.driver.state.value
            lines.append(f"  {meter_id:10} {state:10} " + ("  ".join(values) or "waiting for the first reading"))
        if self.emp is not None:
            messages, readings = self.emp.store.counts()
            lines.append(f"  EMP: {messages} messages acknowledged, {readings} readings stored "
                         f"(every {EMP_INTERVAL:g} s)")
        if self.redraw:
            self.out.write("\x1b[H\x1b[J")
        self.out.write("\n".join(lines) + "\n")
        self.out.flush()


def _start_emp(workdir: Path, meters: list[str]) -> tuple[EmpService, EmpServer]:
    """The lab PKI (made once) and the EMP serving in a thread, the gateway bound to ``meters``;
    emp.toml names its real port."""
    if not (workdir / "pki" / "root.pem").exists():
        init_pki(workdir / "pki")
    emp_path = workdir / "emp.toml"
    bound = ", ".join(json.dumps(meter) for meter in meters)
    emp_path.write_text(EMP_TOML.format(port=0, meters=bound))
    service, server = open_emp(load_emp_config(emp_path))
    emp_path.write_text(EMP_TOML.format(port=server.port, meters=bound))
    server.serve_in_thread()
    return service, server


def _meter_keys(workdir: Path) -> dict[str, str]:
    """The wM-Bus and DLMS meters' AES keys (made once), as key files of mode 0600 in ``DIR/keys``."""
    keys = workdir / "keys"
    keys.mkdir(mode=0o700, exist_ok=True)
    out = {}
    for name, file_name in (("water_key", "water.key"), ("heat_key", "heat.key"), ("han_ek", "flat-b.ek"),
                            ("han_ak", "flat-b.ak")):
        path = keys / file_name
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as file:
                file.write(secrets.token_hex(16) + "\n")
        out[name] = path.read_text().strip()
    return out


@contextlib.contextmanager
def _loopback_ntp(workdir: Path, out: TextIO) -> Iterator[str]:
    """The demo's [time] lines: a chronyd on loopback when one is at hand (readings stamped synchronised)."""
    try:
        with chronyd(workdir / "chrony") as port:
            print(f"NTP: chronyd on 127.0.0.1:{port} serves this machine's clock (stratum 8; the clock is "
                  "not touched)", file=out)
            yield f'servers = ["127.0.0.1:{port}"]   # the demo\'s chronyd on loopback\npoll_interval = 16'
            return
    except ChronydUnavailable as why:
        print(f"NTP: none, so readings are stamped unsynchronised ({why})", file=out)
    yield 'servers = []   # no chronyd at hand: readings are stamped "unsynchronised"'


async def _demo(workdir: Path, duration: float | None, out: TextIO, time_lines: str) -> int:
    sim_path = workdir / "simulator.xml"
    sim_xml = SIMULATOR_XML.format(**_meter_keys(workdir))
    sim_path.write_text(sim_xml)
    sim_path.chmod(0o600)  # it holds the meters' keys
    simulator = Simulator(parse_sim_config(sim_xml.encode(), str(sim_path)))
    await simulator.start()
    gateway: Gateway | None = None
    server: EmpServer | None = None
    try:
        household = simulator.meters["household"]
        pty = simulator.pushers[0].sink.path  # type: ignore[attr-defined]
        toml = GATEWAY_TOML.format(
            db=workdir / "smgwd.db", socket=workdir / "control.sock", port=simulator.tcp_servers[0].port,
            pty=pty, household=household.server_id.hex(), radio=simulator.radios[0].emulator.port.path,  # type: ignore[attr-defined]
            han_a=simulator.pushers[1].sink.path, han_b=simulator.pushers[2].sink.path,  # type: ignore[attr-defined]
            bus=simulator.buses[0].port.path,  # type: ignore[attr-defined]
            keys=workdir / "keys", time=time_lines,
        )
        service, server = _start_emp(workdir, [meter["id"] for meter in tomllib.loads(toml)["meters"]])
        toml += EMPS_TOML.format(emp_port=server.port, emp_interval=EMP_INTERVAL)
        config_path = workdir / "smgwd.toml"
        config_path.write_text(toml)
        gateway = Gateway(load_config(config_path), notifier=Notifier.disabled(), listeners=[Deliveries()])
        view = LiveView(gateway, out, service)
        gateway.listeners.append(view)
        await gateway.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        if duration is not None:
            loop.call_later(duration, stop.set)
        runner = asyncio.create_task(gateway.run(stop))
        while not stop.is_set():
            view.draw()
            try:
                async with asyncio.timeout(1.0):
                    await stop.wait()
            except asyncio.TimeoutError:
                pass
        await runner
        view.draw()
    finally:
        if gateway is not None:
            await gateway.stop()
        await simulator.stop()
        if server is not None:
            server.shutdown()
            server.server_close()
            messages, received = service.store.counts()
            service.store.close()
    print(f"\nstopped. {view.count} readings stored in {workdir / 'smgwd.db'}; the EMP acknowledged {messages} "
          f"messages with {received} readings ({workdir / 'emp.db'})", file=out)
    return 0


def run_demo(directory: str | None, duration: float | None, out: TextIO = sys.stdout) -> int:
    """Run the demo; keeps ``directory`` (or uses and removes a temporary one)."""
    keep = directory is not None
    workdir = Path(directory) if directory is not None else Path(tempfile.mkdtemp(prefix="smgwd-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"smgwd demo: simulator and gateway on loopback; files in {workdir}", file=out)
    print("(Ctrl-C stops)" if duration is None else f"(stops after {duration:g} s)", file=out, flush=True)
    try:
        with _loopback_ntp(workdir, out) as time_lines:
            status = asyncio.run(_demo(workdir, duration, out, time_lines))
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
    if keep:
        print(f"look again: smgwctl --config {workdir / 'smgwd.toml'} status", file=out)
        print(f"            smgwctl --config {workdir / 'smgwd.toml'} readings --meter household", file=out)
        print(f"            smgwctl --config {workdir / 'smgwd.toml'} deliveries", file=out)
        print(f"            smgw-emp --config {workdir / 'emp.toml'} readings --format json", file=out)
    return status
