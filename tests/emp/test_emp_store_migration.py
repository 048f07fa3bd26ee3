"""An EMP store of an earlier release (readings without type, status, time) opens and keeps its rows."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from smgwd.emp.store import EmpStore, Row

OLD_SCHEMA = """
CREATE TABLE messages (message_id TEXT PRIMARY KEY, digest TEXT NOT NULL, received_at TEXT NOT NULL,
                       signer TEXT NOT NULL, client TEXT NOT NULL, readings INTEGER NOT NULL);
CREATE TABLE readings (message_id TEXT NOT NULL REFERENCES messages(message_id), meter TEXT NOT NULL,
                       obis TEXT NOT NULL, class_id INTEGER NOT NULL, raw TEXT NOT NULL, scaler INTEGER,
                       unit INTEGER, received_at TEXT NOT NULL);
INSERT INTO messages VALUES ('old-1', 'd', '2026-11-01T00:00:00.000+00:00', 'CN=smgw SIG', 'smgw TLS', 1);
INSERT INTO readings VALUES ('old-1', 'm1', '1-0:1.8.0*255', 3, '42', -1, 30, '2026-11-01T00:00:00.000+00:00');
"""


def old_store(tmp_path: Path) -> Path:
    path = tmp_path / "emp.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(OLD_SCHEMA)
    return path


def test_read_only_listing_of_an_old_store(tmp_path: Path) -> None:
    store = EmpStore(old_store(tmp_path), readonly=True)
    (reading,) = store.readings()
    assert (reading.meter, reading.raw, reading.gateway_time, reading.time_quality) == ("m1", "42", None, None)
    assert reading.record()["raw"] == "42"  # no type known: the text as stored
    store.close()


def test_an_old_store_gains_the_columns_and_keeps_its_rows(tmp_path: Path) -> None:
    path = old_store(tmp_path)
    store = EmpStore(path)
    assert store.accept("new-1", "e", "CN=smgw SIG", "smgw TLS",
                        [Row("m1", "1-0:1.8.0*255", 4, "ulong", "43", -1, 30, 0x104, "2026-12-01T00:00:00+00:00",
                             "drifting")])
    old, new = store.readings()
    assert old.gateway_time is None and old.raw == "42"
    assert new.record() | {"received_at": None} == {
        "message_id": "new-1", "meter": "m1", "obis": "1-0:1.8.0*255", "class_id": 4, "raw": 43,
        "value_type": "ulong", "scaler": -1, "unit": "Wh", "unit_code": 30, "status": 0x104,
        "gateway_time": "2026-12-01T00:00:00+00:00", "time_quality": "drifting", "marks": [], "received_at": None}
    store.close()


def test_smgw_emp_requests_on_an_old_store_lists_none_and_asking_adds_the_table(tmp_path: Path) -> None:
    import subprocess
    import sys

    from smgwd.demo import EMP_TOML

    config = tmp_path / "emp.toml"
    config.write_text(EMP_TOML.format(port=8443, meters='"*"'))
    old_store(tmp_path)

    def smgw_emp(*words: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "smgwd.emp.main", "--config", str(config), *words],
                              capture_output=True, text=True, timeout=60)

    listed = smgw_emp("requests")
    assert (listed.returncode, listed.stdout, listed.stderr) == (0, "", "")
    assert smgw_emp("ask", "smgw", "m1").returncode == 0  # opened for writing: the table is made
    assert "m1" in smgw_emp("requests").stdout and len(EmpStore(tmp_path / "emp.db").readings()) == 1
