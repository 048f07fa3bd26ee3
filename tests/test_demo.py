"""``smgwd demo``: simulator -> gateway -> lab EMP, with a fresh lab PKI in the demo directory."""

from __future__ import annotations

import io
from collections import Counter
from pathlib import Path

import pytest

from smgwd.emp.config import load_emp_config
from smgwd.emp.store import EmpStore
from smgwd import demo
from smgwd.gateway.store import StoreReader
from smgwd.loopback_ntp import find_chronyd


def test_demo_delivers_to_the_emp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(demo, "EMP_INTERVAL", 1.0)
    out = io.StringIO()
    assert demo.run_demo(str(tmp_path), 7.0, out) == 0
    text = out.getvalue()
    assert "EMP: " in text and "the EMP acknowledged" in text
    assert (tmp_path / "pki" / "root.pem").exists()
    with StoreReader(tmp_path / "smgwd.db") as reader:
        acked = reader.outbox("acked")
        ours = {(r.meter_id, str(r.obis), str(r.raw), r.scaler) for r in reader.readings()}
    assert {meter for meter, *_ in ours} == {"household", "prosumer", "flat-a", "flat-b", "lmn-1", "lmn-2", "lmn-3", "heatpump", "water", "heat"}, text
    for key in ("water.key", "heat.key", "flat-b.ek", "flat-b.ak"):
        assert (tmp_path / "keys" / key).stat().st_mode & 0o777 == 0o600
    assert acked, text
    store = EmpStore(load_emp_config(tmp_path / "emp.toml").store, readonly=True)
    try:
        messages, readings = store.counts()
        assert messages >= len(acked) and readings > 0  # one may be stored but its ack cut off by the stop
        assert all(store.message(entry.message_id) for entry in acked)
        meters = {r.meter for r in store.readings()}
        assert meters <= {"household", "prosumer", "flat-a", "flat-b", "lmn-1", "lmn-2", "lmn-3", "heatpump", "water", "heat"}
        assert meters & {"water", "heat"}, meters  # the wM-Bus meters reach the EMP too
        assert meters & {"flat-a", "flat-b"}, meters  # and the DLMS ones
        new_wires = {(r.meter, r.obis, r.raw, r.scaler) for r in store.readings()
                     if r.meter in ("water", "heat", "flat-a", "flat-b")}
        assert new_wires <= ours, sorted(new_wires - ours)[:5]  # as the gateway recorded them
        # every value carries the gateway's time; with the demo's chronyd most are stamped synchronised
        # (those before the first NTP answer are not)
        qualities = Counter(r.time_quality for r in store.readings())
        assert all(r.gateway_time for r in store.readings())
        if find_chronyd() is not None:
            assert "NTP: chronyd on 127.0.0.1:" in text
            assert qualities["synchronised"] > 0.9 * sum(qualities.values()), qualities
        else:
            assert "NTP: none, so readings are stamped unsynchronised" in text
    finally:
        store.close()
    with StoreReader(tmp_path / "smgwd.db") as reader:
        assert not reader.outbox("failed")  # the EMP refused nothing: the demo's meters are the gateway's own
