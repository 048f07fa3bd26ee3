"""TAF6 through the running gateway: ``smgwctl taf6`` over the control socket to a real lab EMP.

The gateway runs with its control socket and two EMP deliveries (one under
pseudonyms, whose secret the gateway makes on start); ``smgwctl`` is the
real program in a subprocess, as an operator would run it.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from smgwd.gateway.config import ControlConfig, GatewayConfig, GatewayIdentity, StoreConfig, TimeConfig
from smgwd.gateway.core import Gateway
from smgwd.gateway.sdnotify import Notifier
from smgwd.gateway.secret import read_secret
from smgwd.wan.deliveries import Deliveries
from smgwd.wan.pseudonyms import pseudonym
from tests.wan.test_delivery import Emp, emp, emp_config, pki, readings  # noqa: F401 - fixtures


def smgwctl(config: Path, *words: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "smgwd.cli.main", "--config", str(config), *words],
                          capture_output=True, text=True, timeout=60)


def test_smgwctl_taf6_makes_the_running_gateway_send_the_latest_values(
        pki: Path, emp: Emp, tmp_path: Path) -> None:  # noqa: F811
    socket = tmp_path / "control.sock"
    config_file = tmp_path / "smgwd.toml"
    config_file.write_text(f'[store]\npath = "{tmp_path / "gw.db"}"\n[control]\nsocket = "{socket}"\n')
    grid = Emp(pki, tmp_path / "grid.db")  # the grid operator's EMP: another server, as in the field
    grid.start()
    supplier = emp_config(pki, emp.port, interval=3600.0, obis=("1-0:1.8.0*255",))
    dso = replace(supplier, id="dso", url=f"https://localhost:{grid.port}/v1/meterdata", pseudonymize=True)
    config = GatewayConfig(
        gateway=GatewayIdentity("gw", secret=tmp_path / "gateway.secret"),
        store=StoreConfig(path=tmp_path / "gw.db", flush_interval=0.05), time=TimeConfig(servers=()),
        control=ControlConfig(socket=socket), emps=(supplier, dso),
    )
    newest = readings(3, 1) + readings(3, 1, meter="m2")  # minute 3: the latest of each meter

    async def life() -> dict[str, subprocess.CompletedProcess[str]]:
        deliveries = Deliveries({"backoff": lambda n: 0.05})
        gateway = Gateway(config, notifier=Notifier.disabled(), listeners=[deliveries])
        await gateway.start()
        try:
            gateway.on_readings(readings(0, 3) + readings(0, 3, meter="m2") + newest)
            assert gateway.store.flush(10)
            answers = {
                "supplier": await asyncio.to_thread(smgwctl, config_file, "taf6", "emp", "m1"),
                "dso": await asyncio.to_thread(smgwctl, config_file, "taf6", "dso"),
                "stranger": await asyncio.to_thread(smgwctl, config_file, "taf6", "emp", "m9"),
                "nobody": await asyncio.to_thread(smgwctl, config_file, "taf6", "nope"),
            }
            wanted = {line for name in ("supplier", "dso") for line in answers[name].stdout.split()}
            for _ in range(200):  # the messages are sent at once, not at the next interval
                done = {row.message_id for server in (emp, grid) for row in server.service.store.readings()}
                if wanted <= done:
                    break
                await asyncio.sleep(0.05)
            return answers
        finally:
            await gateway.stop()

    try:
        answers = asyncio.run(life())
    finally:
        grid.stop()
    assert answers["supplier"].returncode == 0 and answers["dso"].returncode == 0, answers
    assert (answers["stranger"].returncode, answers["stranger"].stderr.strip()) == (
        1, "smgwctl: taf6: emp emp is not given meter m9")
    assert answers["nobody"].returncode == 1 and "no delivery runs for emp 'nope'" in answers["nobody"].stderr
    rows = emp.service.store.readings(limit=100_000)
    (supplier_message,) = answers["supplier"].stdout.split()
    got = sorted((r.meter, r.obis, int(r.raw)) for r in rows if r.message_id == supplier_message)
    assert got == [("m1", "1-0:1.8.0*255", newest[0].raw)]  # the EMP's OBIS selection, the latest value
    secret = read_secret(tmp_path / "gateway.secret")  # made by the gateway when the dso delivery started
    assert (tmp_path / "gateway.secret").stat().st_mode & 0o777 == 0o600
    dso_rows = [r for r in grid.service.store.readings() if r.message_id in answers["dso"].stdout.split()]
    grid.service.store.close()
    stopped = smgwctl(config_file, "taf6", "emp")  # no daemon: one line, no traceback
    assert (stopped.returncode, stopped.stderr.count("\n")) == (1, 1) and "(is smgwd running?)" in stopped.stderr
    assert sorted((r.meter, int(r.raw)) for r in dso_rows) == sorted(
        (pseudonym(secret, "dso", r.meter_id), int(r.raw)) for r in newest if str(r.obis) in supplier.obis)
