"""The store's schema: pragmas, forward migrations, refusing what it cannot use."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from smgwd.gateway.store import SCHEMA_VERSION, SchemaError, Store, StoreError, StoreReader
from smgwd.gateway.store.schema import APPLICATION_ID, connect_writer, migrate
from tests.gateway.test_store_support import reading, running


def tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {name for (name,) in conn.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")}


def test_fresh_database_has_every_table_and_the_pragmas(tmp_path: Path) -> None:
    conn = connect_writer(tmp_path / "s.db")
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL
        assert conn.execute("PRAGMA foreign_keys").fetchone() == (1,)
        assert conn.execute("PRAGMA application_id").fetchone() == (APPLICATION_ID,)
        versions = [v for (v,) in conn.execute("SELECT version FROM schema_version ORDER BY version")]
        assert versions == list(range(1, SCHEMA_VERSION + 1))
    finally:
        conn.close()
    assert {"meters", "readings", "log_system", "log_calibration", "log_consumer", "gateway_state",
            "outbox", "schema_version"} <= tables(tmp_path / "s.db")


def test_an_older_database_is_migrated_and_keeps_its_data(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    assert migrate(conn, target=1) == 1  # as the first release left it: no outbox yet
    conn.execute("INSERT INTO meters (id, updated_at) VALUES ('m1', 0)")
    conn.execute("INSERT INTO readings (meter_id, obis, raw_kind, raw, scaler) VALUES ('m1', '1-0:1.8.0*255', 0, 7, 0)")
    conn.close()
    assert "outbox" not in tables(path)
    with running(path) as store:
        store.add_outbox("msg-1", "emp-a", b"payload")
    with StoreReader(path) as reader:
        assert reader.schema_version == SCHEMA_VERSION
        assert [r.raw for r in reader.readings()] == [7]
        assert [e.message_id for e in reader.outbox()] == ["msg-1"]


def test_an_old_database_is_read_without_the_newer_tables(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "v1.db", isolation_level=None)
    migrate(conn, target=1)
    conn.close()
    with StoreReader(tmp_path / "v1.db") as reader:
        assert reader.schema_version == 1 and reader.outbox() == [] and reader.meters() == []


def test_migrating_twice_changes_nothing(tmp_path: Path) -> None:
    connect_writer(tmp_path / "s.db").close()
    conn = connect_writer(tmp_path / "s.db")
    assert conn.execute("SELECT count(*) FROM schema_version").fetchone() == (SCHEMA_VERSION,)
    conn.close()


def newer(path: Path) -> Path:
    connect_writer(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO schema_version VALUES (?, 0)", (SCHEMA_VERSION + 1,))
    return path


def test_a_newer_database_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    path = newer(tmp_path / "new.db")
    store = Store(path)
    with pytest.raises(SchemaError, match=rf"schema version {SCHEMA_VERSION + 1} is newer .* upgrade smgwd"):
        store.start()
    assert not store.alive()
    with pytest.raises(SchemaError, match="newer"):
        StoreReader(path)


def test_a_foreign_database_is_refused(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "other.db") as conn:
        conn.execute("CREATE TABLE notes (text TEXT)")
    with pytest.raises(SchemaError, match="not an smgwd database"):
        Store(tmp_path / "other.db").start()
    assert tables(tmp_path / "other.db") == {"notes"}


def test_a_file_that_is_not_a_database_is_one_error_line(tmp_path: Path) -> None:
    (tmp_path / "junk.db").write_bytes(b"this is not SQLite" * 100)
    for attempt in (lambda: Store(tmp_path / "junk.db").start(), lambda: StoreReader(tmp_path / "junk.db")):
        with pytest.raises(StoreError, match="junk.db: file is not a database") as caught:
            attempt()
        assert "\n" not in str(caught.value)


def test_reader_refuses_a_missing_or_empty_database(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no such database"):
        StoreReader(tmp_path / "missing.db")
    assert not (tmp_path / "missing.db").exists()  # the read-only open never creates it
    sqlite3.connect(tmp_path / "empty.db").close()
    with pytest.raises(SchemaError, match="older than 1"):
        StoreReader(tmp_path / "empty.db")


def test_path_with_uri_characters(tmp_path: Path) -> None:
    path = tmp_path / "odd ?#%name.db"
    with running(path) as store:
        store.on_reading(reading())
    with StoreReader(path) as reader:
        assert len(list(reader.readings())) == 1
