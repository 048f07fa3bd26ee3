"""The calibration log records the gateway's make-up: meters added, removed, replaced; certificates; versions."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from smgwd.gateway import calibration_events
from smgwd.gateway.calibration_events import changes
from smgwd.gateway.config import load_config
from smgwd.gateway.core import Gateway
from smgwd.gateway.sdnotify import Notifier
from smgwd.gateway.store import StoreReader
from smgwd.wan.pki import init_pki


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("pki")
    init_pki(base / "lab")
    return base / "lab"


METER = '[[meters]]\nid = "{id}"\nprotocol = "sml"\nmode = "push"\nlink = "{link}"\nenabled = false\n'


def write(tmp_path: Path, pki: Path, meters: str, key: str = "sig") -> Path:
    config = tmp_path / "smgwd.toml"
    config.write_text(f'[store]\npath = "{tmp_path / "gw.db"}"\n[time]\nservers = []\n'
                      f'[control]\nsocket = "{tmp_path / "c.sock"}"\n'
                      f'[gateway]\nsig_cert = "{tmp_path / "sig.pem"}"\nsig_key = "{tmp_path / "sig.key"}"\n' + meters)
    shutil.copyfile(pki / f"smgw/smgw/{key}.pem", tmp_path / "sig.pem")
    shutil.copyfile(pki / f"smgw/smgw/{key}.key", tmp_path / "sig.key")
    (tmp_path / "sig.key").chmod(0o600)
    return config


def events(state: dict[str, str], config: Path) -> tuple[list[tuple[str, str | None]], dict[str, str]]:
    notes, record = changes(load_config(config), state)
    return [(n.event, n.meter_id) for n in notes if n.log == "calibration"], {**state, **record}


def test_each_change_is_one_entry_and_a_restart_repeats_none(tmp_path: Path, pki: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    meters = METER.format(id="a", link="tcp://127.0.0.1:7259") + METER.format(id="b", link="tcp://127.0.0.1:7260")
    meters = meters.replace("enabled = false\n", "")
    config = write(tmp_path, pki, meters)
    found, state = events({}, config)
    assert found == [("meter_added", "a"), ("meter_added", "b"), ("certificate_added", None),
                     ("certificate_added", None), ("firmware_changed", None), ("config_changed", None)]
    assert events(state, config)[0] == []  # the same make-up again: nothing
    config = write(tmp_path, pki, meters.replace("7260", "7261").replace('id = "a"', 'id = "c"'), key="tls")
    found, state = events(state, config)
    assert sorted(found) == sorted([("meter_added", "c"), ("meter_removed", "a"), ("meter_replaced", "b"),
                                    ("certificate_changed", None), ("certificate_changed", None),
                                    ("config_changed", None)])
    monkeypatch.setattr(calibration_events, "__version__", "9.9.9")
    assert events(state, config)[0] == [("firmware_changed", None)]


def test_the_running_gateway_writes_them_at_start_and_reload(tmp_path: Path, pki: Path) -> None:
    config_file = write(tmp_path, pki, METER.format(id="a", link="tcp://127.0.0.1:7259").replace("enabled = false\n", ""))

    async def life(reload_to: Path | None = None) -> None:
        gateway = Gateway(load_config(config_file), notifier=Notifier.disabled())
        await gateway.start()
        try:
            if reload_to is not None:
                await gateway.reload(load_config(reload_to))
        finally:
            await gateway.stop()

    asyncio.run(life())
    asyncio.run(life())  # a restart: nothing new
    with StoreReader(tmp_path / "gw.db") as reader:
        first = [(e.event, e.meter_id) for e in reader.log("calibration")]
    assert first == [("meter_added", "a"), ("certificate_added", None), ("certificate_added", None),
                     ("firmware_changed", None), ("config_changed", None)]
    other = tmp_path / "other"
    other.mkdir()
    changed = write(other, pki, "")  # no meters, and the same key pair at another path
    asyncio.run(life(changed))
    with StoreReader(tmp_path / "gw.db") as reader:
        added = [(e.event, e.meter_id, e.message) for e in reader.log("calibration")][len(first):]
        system = {e.event for e in reader.log("system")}
    assert [(event, meter) for event, meter, _ in added] == [("meter_removed", "a"), ("config_changed", None)]
    assert {"meter_removed", "config_changed", "meter_added"} <= system
