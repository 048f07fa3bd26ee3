"""smgwd on a store it must not use: one line, exit status 78, the file left exactly as it was.

Real daemon processes (``python -m smgwd.daemon``) and real ``smgwctl store check``
processes on each kind of bad store: garbage, truncated, bit-rotted (b-tree pages
overwritten), foreign (another program's SQLite file, or one with the wrong
application_id), of a newer schema, a directory, a FIFO, unreadable for the daemon's
user, and locked by another process. Both say the same one-line reason; neither
prints a traceback; the bytes of the file are unchanged afterwards.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from smgwd.gateway.store import SCHEMA_VERSION, Store, StoreError
from smgwd.gateway.store.health import START_CHECK_BUDGET, check_integrity
from smgwd.gateway.store.schema import connect_writer, inspect
from tests.gateway.test_store_support import readings, running

EX_CONFIG = 78
PAGE = 4096

CONFIG = """
[store]
path = "{db}"
[time]
servers = []
[control]
socket = "{dir}/control.sock"
[logging]
journal = "no"
"""


def good_store(path: Path, count: int = 3000) -> Path:
    """A real store with some pages of readings, checkpointed (no WAL left)."""
    with running(path) as store:
        store.on_readings(readings("m1", count))
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "not a file"


def garbage(path: Path) -> None:
    path.write_bytes(bytes(range(256)) * 64)


def truncated(path: Path) -> None:
    good_store(path)
    os.truncate(path, path.stat().st_size // 2)


def header_only(path: Path) -> None:
    good_store(path)
    os.truncate(path, 40)


def bit_rotted(path: Path) -> None:
    good_store(path)
    pages = path.stat().st_size // PAGE
    with open(path, "r+b") as f:  # the b-tree header of a page in the middle
        f.seek((pages // 2) * PAGE)
        f.write(b"\xff" * 16)


def foreign(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes (text TEXT)")
        conn.execute("INSERT INTO notes VALUES ('not ours')")
    conn.close()


def foreign_marks(path: Path) -> None:
    """Our tables, another program's application_id."""
    good_store(path, 10)
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA application_id = 42")
    conn.close()


def foreign_user_version(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 7")
    conn.close()


def newer(path: Path) -> None:
    good_store(path, 10)
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO schema_version VALUES (?, 0)", (SCHEMA_VERSION + 1,))
    conn.close()


def directory(path: Path) -> None:
    path.mkdir()


def fifo(path: Path) -> None:
    os.mkfifo(path)


KINDS: dict[str, tuple[Callable[[Path], None], str]] = {
    "garbage": (garbage, "file is not a database (no SQLite header)"),
    "truncated": (truncated, "is corrupt"),
    "header_only": (header_only, "is corrupt (truncated to 40 bytes"),
    "bit_rotted": (bit_rotted, "is corrupt (quick_check: Page "),
    "foreign": (foreign, "not an smgwd database (it has other tables and no schema_version: tables notes"),
    "foreign_marks": (foreign_marks, "not an smgwd database (it has a schema_version table but application_id"),
    "foreign_user_version": (foreign_user_version, "not an smgwd database"),
    "newer": (newer, f"schema version {SCHEMA_VERSION + 1} is newer than this smgwd knows"),
    "directory": (directory, "is a directory, not a database file"),
    "fifo": (fifo, "is a FIFO, not a database file"),
}


def run_daemon(config: Path, **popen: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "smgwd.daemon", "--config", str(config)],
                          capture_output=True, text=True, timeout=60, **popen)  # type: ignore[call-overload]


def run_check(db: Path, *more: str, **popen: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "smgwd.cli.main", "store", "check", "--db", str(db), *more],
                          capture_output=True, text=True, timeout=60, **popen)  # type: ignore[call-overload]


def reason_of_daemon(done: subprocess.CompletedProcess[str]) -> str:
    """The reason in the daemon's single stderr line (asserted to be single, without a traceback)."""
    assert done.returncode == EX_CONFIG, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr and len(done.stderr.splitlines()) == 1, done.stderr
    line = done.stderr.strip()
    assert "ERROR smgwd: store refused, not starting: " in line and line.endswith("[event=store_refused]")
    return line.split("not starting: ", 1)[1].removesuffix(" [event=store_refused]")


def reason_of_check(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == EX_CONFIG, (done.returncode, done.stdout, done.stderr)
    assert done.stdout == "" and "Traceback" not in done.stderr and len(done.stderr.splitlines()) == 1
    assert done.stderr.startswith("smgwctl: ")
    return done.stderr.strip().removeprefix("smgwctl: ")


def listing(folder: Path) -> dict[str, str]:
    return {p.name: digest(p) for p in folder.iterdir() if p.name != "control.sock"}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_bad_store_is_refused_with_one_line_and_78_untouched(tmp_path: Path, kind: str) -> None:
    make, expected = KINDS[kind]
    db = tmp_path / "store" / "smgwd.db"
    db.parent.mkdir()
    make(db)
    config = tmp_path / "smgwd.toml"
    config.write_text(CONFIG.format(db=db, dir=tmp_path))
    before = listing(db.parent)

    reason = reason_of_daemon(run_daemon(config))
    assert reason.startswith(f"{db}: ") and expected in reason, reason
    assert listing(db.parent) == before  # nothing written, moved, deleted or left beside it

    assert reason_of_check(run_check(db)) == reason  # smgwctl says the very same line
    assert listing(db.parent) == before


@contextmanager
def locked(db: Path, how: str) -> Iterator[None]:
    """Another connection (to the daemon: another process) holding the write lock."""
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        if how == "exclusive-mode":
            conn.execute("PRAGMA locking_mode = EXCLUSIVE")
        conn.execute("BEGIN EXCLUSIVE")
        conn.execute("SELECT count(*) FROM meters").fetchall()
        yield
    finally:
        conn.execute("ROLLBACK")
        conn.close()


@pytest.mark.parametrize("how", ["transaction", "exclusive-mode"])
def test_a_locked_store_is_refused_after_a_short_wait(tmp_path: Path, how: str) -> None:
    db = good_store(tmp_path / "smgwd.db", 10)
    config = tmp_path / "smgwd.toml"
    config.write_text(CONFIG.format(db=db, dir=tmp_path))
    before = digest(db)
    with locked(db, how):
        reason = reason_of_daemon(run_daemon(config))
        assert reason.startswith(f"{db}: is locked by another process") and "fuser" in reason, reason
        assert reason_of_check(run_check(db)) == reason
    assert digest(db) == before


@contextmanager
def unopenable(db: Path) -> Iterator[str]:
    """Make ``db`` fail to open for this user; yields the reason the kernel gives."""
    if os.geteuid() != 0:
        db.chmod(0o000)
        try:
            yield "Permission denied"
        finally:
            db.chmod(0o600)
        return
    # root opens any file whatever its mode; the immutable attribute refuses root a write open
    if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(db)], capture_output=True).returncode:
        pytest.skip("running as root and chattr +i is not available here")
    try:
        yield "Operation not permitted"
    finally:
        subprocess.run(["chattr", "-i", str(db)], check=True)


def test_a_store_the_daemon_cannot_open_is_refused(tmp_path: Path) -> None:
    db = good_store(tmp_path / "store" / "smgwd.db", 10)
    config = tmp_path / "smgwd.toml"
    config.write_text(CONFIG.format(db=db, dir=tmp_path))
    before = listing(db.parent)
    with unopenable(db) as why:
        reason = reason_of_daemon(run_daemon(config))
        assert reason == (f"{db}: cannot be read and written by this user ({why}); "
                          f"fix its owner or mode (the daemon runs as user smgwd)")
        if why == "Permission denied":  # smgwctl only reads: the immutable file is readable
            assert reason_of_check(run_check(db)).startswith(f"{db}: cannot be read by this user ({why})")
    assert listing(db.parent) == before


def test_store_check_says_ok_and_full_runs_integrity_check(tmp_path: Path) -> None:
    db = good_store(tmp_path / "smgwd.db")
    for more, check in (((), "quick_check"), (("--full",), "integrity_check")):
        done = run_check(db, *more)
        assert done.returncode == 0 and done.stderr == "", done.stderr
        assert done.stdout.startswith(f"{db}: OK; schema version {SCHEMA_VERSION}, ") and f"{check} ok" in done.stdout
        assert "not locked" in done.stdout
    missing = run_check(tmp_path / "none.db")
    assert missing.returncode == 0 and "no database yet" in missing.stdout
    assert not (tmp_path / "none.db").exists()


def test_an_older_store_is_good_and_migrated_on_start(tmp_path: Path) -> None:
    from smgwd.gateway.store.schema import migrate

    conn = sqlite3.connect(tmp_path / "v1.db", isolation_level=None)
    migrate(conn, target=1)
    conn.close()
    done = run_check(tmp_path / "v1.db")
    assert done.returncode == 0 and f"schema version 1 (smgwd migrates it to {SCHEMA_VERSION} on start)" in done.stdout


def test_store_check_full_finds_what_only_integrity_check_sees(tmp_path: Path) -> None:
    """An index that disagrees with its table: quick_check passes it, --full does not."""
    db = good_store(tmp_path / "smgwd.db", 100)
    conn = sqlite3.connect(db, isolation_level=None)
    (root,) = conn.execute("SELECT rootpage FROM sqlite_schema WHERE name = 'readings_time'").fetchone()
    conn.close()
    # drop the index's entries by replacing its root page with an empty index leaf page
    with open(db, "r+b") as f:
        f.seek((root - 1) * PAGE)
        f.write(bytes([0x0A, 0, 0, 0, 0, 0x10, 0, 0]))
    assert run_check(db).returncode == 0
    reason = reason_of_check(run_check(db, "--full"))
    assert reason.startswith(f"{db}: is corrupt (integrity_check: ")


def test_the_start_check_has_a_time_budget(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A quick_check that runs out of its budget lets the start go on, and says so."""
    db = good_store(tmp_path / "smgwd.db", 20_000)
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        assert check_integrity(conn, db, budget=0.0) is False
        assert check_integrity(conn, db, budget=START_CHECK_BUDGET) is True
    finally:
        conn.close()
    assert inspect(db, budget=0.0).checked is False
    with caplog.at_level("WARNING"):
        connect_writer(db, check_budget=0.0).close()
    assert "quick_check did not finish within 0 s" in caplog.text


def test_a_store_under_a_file_is_one_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    store = Store(tmp_path / "file" / "smgwd.db")
    with pytest.raises(StoreError, match=r"its directory cannot be made \(File exists\)|Not a directory"):
        store.start()
