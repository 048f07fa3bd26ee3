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
