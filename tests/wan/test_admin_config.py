"""The GWA changes a running gateway's configuration: applied whole and reloaded, or refused and left as it was."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, Awaitable, Callable

import pytest

from smgwd.gateway.config import ConfigError, load_config
from smgwd.gateway.core import Gateway
from smgwd.gateway.sdnotify import Notifier
from smgwd.gateway.store import StoreReader
from smgwd.wan.admin_server import AdminServer
from smgwd.wan.deliveries import Deliveries
from tests.wan.test_admin import GATEWAY, command, post, signed
from tests.wan.test_delivery import free_port, pki  # noqa: F401 - the fixture

METER = {"id": "house2", "protocol": "sml", "mode": "push", "link": "tcp://127.0.0.1:{port}"}


def config_file(tmp_path: Path, lab: Path, admin_port: int) -> Path:
    path = tmp_path / "smgwd.toml"
    path.write_text(f"""[gateway]
id = "{GATEWAY}"
[store]
path = "{tmp_path / 'gw.db'}"
flush_interval = 0.05
[time]
servers = []
[control]
socket = "{tmp_path / 'c.sock'}"
[admin]
enabled = true
port = {admin_port}
tls_cert = "{lab / 'smgw/smgw/tls.pem'}"
tls_key = "{lab / 'smgw/smgw/tls.key'}"
client_ca = "{lab / 'ca-chain.pem'}"
trust = "{lab / 'root.pem'}"
untrusted = "{lab / 'subca.pem'}"

[[meters]]
id = "house"
protocol = "sml"
mode = "push"
link = "tcp://127.0.0.1:{free_port()}"

[[emps]]
id = "emp"
url = "https://localhost:{free_port()}/v1/meterdata"
interval = 900
tls_cert = "{lab / 'smgw/smgw/tls.pem'}"
tls_key = "{lab / 'smgw/smgw/tls.key'}"
server_ca = "{lab / 'ca-chain.pem'}"
sig_cert = "{lab / 'smgw/smgw/sig.pem'}"
sig_key = "{lab / 'smgw/smgw/sig.key'}"
recipient = "{lab / 'emp/emp/enc.pem'}"
""")
    return path


Step = Callable[..., tuple[int, dict[str, Any]]]


async def administered(path: Path, lab: Path, work: Callable[[Gateway, Step], Awaitable[None]]) -> None:
    """The gateway of config file ``path`` with its admin API; ``work`` gets it and ``step(sequence, command,
    **args)``, which signs the command as the lab's GWA and posts it (blocking: run it in a thread)."""
    server = AdminServer()
    gateway = Gateway(load_config(path), notifier=Notifier.disabled(), listeners=[Deliveries(), server])
    await gateway.start()
    try:
        assert server.port is not None
        port = server.port

        def step(sequence: int, what: str, /, **args: Any) -> tuple[int, dict[str, Any]]:
            return post(lab, port, signed(lab, command(what, sequence, args=args)))

        await work(gateway, step)
    finally:
        await gateway.stop()


def test_changes_are_applied_whole_or_not_at_all(pki: Path, tmp_path: Path) -> None:  # noqa: F811
    lab = pki / "lab"
    path = config_file(tmp_path, lab, free_port())
    overlay = tmp_path / "admin.json"
    seen: dict[str, Any] = {}

    async def work(gateway: Gateway, step: Step) -> None:
        meter = {**METER, "link": METER["link"].format(port=free_port())}
        seen["add"] = await asyncio.to_thread(step, 1, "meter-add", meter=meter)
        seen["running after add"] = sorted(gateway.meters)
        seen["overlay after add"] = overlay.read_bytes()
        seen["bad link"] = await asyncio.to_thread(step, 2, "meter-add", meter={**meter, "id": "x", "link": "bogus:"})
        seen["overlay after bad"] = overlay.read_bytes()
        seen["twice"] = await asyncio.to_thread(step, 3, "meter-add", meter=meter)
        seen["replace"] = await asyncio.to_thread(step, 4, "meter-replace", id="house2",
                                                  meter={**meter, "link": METER["link"].format(port=free_port())})
        seen["interval"] = await asyncio.to_thread(step, 5, "emp-update", id="emp", set={"interval": 120})
        seen["emp interval"] = gateway.config.emps[0].interval
        seen["rename"] = await asyncio.to_thread(step, 6, "emp-update", id="emp", set={"id": "other"})
        seen["remove nothing"] = await asyncio.to_thread(step, 7, "meter-remove", id="nope")
        seen["bad calendar"] = await asyncio.to_thread(step, 8, "tariff-set", name="ht", calendar={"zones": 3})
        seen["remove"] = await asyncio.to_thread(step, 9, "meter-remove", id="house2")
        seen["running after remove"] = sorted(gateway.meters)
        seen["meters"] = await asyncio.to_thread(step, 10, "meters")

    asyncio.run(administered(path, lab, work))
    assert seen["add"][0] == 200 and seen["add"][1]["result"]["meters"] == ["house", "house2"]
    assert seen["running after add"] == ["house", "house2"]
    assert json.loads(seen["overlay after add"])["meters"][1]["id"] == "house2"
    status, body = seen["bad link"]
    assert (status, body["error"]) == (400, "invalid_config") and "meters[2].link" in body["reason"], body
    assert seen["overlay after bad"] == seen["overlay after add"]  # refused: nothing written
    assert seen["twice"][1]["error"] == "invalid_config" and "already" in seen["twice"][1]["reason"]
    assert seen["replace"][0] == 200 and seen["interval"][0] == 200 and seen["emp interval"] == 120.0
    assert seen["rename"][1]["error"] == "bad_args" and seen["remove nothing"][1]["error"] == "bad_args"
    assert seen["bad calendar"][1]["error"] == "invalid_config"
    assert seen["remove"][0] == 200 and seen["running after remove"] == ["house"]
    assert [m["id"] for m in seen["meters"][1]["result"]["meters"]] == ["house"]
    with StoreReader(tmp_path / "gw.db") as reader:
        calibration = [(e.event, e.meter_id) for e in reader.log("calibration")]
        system = [e.event for e in reader.log("system", limit=1000)]
    assert [c for c in calibration if c[0].startswith("meter_")] == [
        ("meter_added", "house"), ("meter_added", "house2"), ("meter_replaced", "house2"), ("meter_removed", "house2")]
    assert calibration.count(("config_changed", None)) >= 4  # the file at first start, then each overlay write
    assert system.count("admin_done") == 5 and system.count("admin_failed") == 5
    after = load_config(path)  # a restart, or smgwctl config check, sees the same
    assert [m.id for m in after.meters] == ["house"] and after.emps[0].interval == 120.0


def test_a_damaged_overlay_stops_the_start_with_one_line(pki: Path, tmp_path: Path) -> None:  # noqa: F811
    path = config_file(tmp_path, pki / "lab", free_port())
    (tmp_path / "admin.json").write_text('{"meters": [')
    with pytest.raises(ConfigError, match=r"admin\.overlay: .*admin\.json: not JSON"):
        load_config(path)
    (tmp_path / "admin.json").write_text('{"store": {}}')
    with pytest.raises(ConfigError, match="expected an object of at most the tables gateway, meters, emps, tariffs"):
        load_config(path)
    (tmp_path / "admin.json").write_text('{"meters": [{"id": "m", "link": "bogus:"}]}')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value).startswith(f"{path} with {tmp_path / 'admin.json'}: meters[0].link: ")
