"""Is this file a store smgwd may open? The checks made before anything is written.

How this works: :func:`check_file` looks at the path with ``os.stat`` and
reads the first 100 bytes: a directory, a FIFO or device, a file this user
cannot open, or one that does not start with the SQLite header is refused
before SQLite sees it (a missing file is fine: the writer creates it). Then,
on a read-only connection, :func:`check_integrity` runs ``PRAGMA
quick_check`` (``integrity_check`` with ``full``, which also compares every
index with its table) within an optional time budget: the progress handler
interrupts a check that runs over, and the caller is told it did not finish,
so a large store on a slow card never holds the start for ever.
:func:`explain` turns any ``sqlite3.Error`` met while opening into a
:class:`StoreError` that names the kind of problem (locked, corrupt, not a
database, read-only, disk full, I/O) and says what to do.

Every refusal is one line, ``<path>: <what is wrong>; <what to do>``. Nothing
here writes to, moves or deletes the file: a bad store stays exactly as it was
for the operator to inspect, salvage or restore.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import time
from pathlib import Path
from urllib.parse import quote

from smgwd.gateway.store.errors import StoreError

__all__ = [
    "OPEN_BUSY_TIMEOUT_MS", "SQLITE_HEADER", "START_CHECK_BUDGET", "check_file", "check_integrity", "check_unlocked",
    "explain", "read_only_uri",
]

SQLITE_HEADER = b"SQLite format 3\x00"
#: While opening: how long to wait for another process's lock before refusing (ms).
OPEN_BUSY_TIMEOUT_MS = 2000
#: Seconds the daemon's start-up quick_check may take; beyond it the start goes on (and says so).
START_CHECK_BUDGET = 10.0
MAX_PROBLEMS = 20  # integrity problems collected at most (the first is reported)
_PROGRESS_STEPS = 10_000  # SQLite VM steps between two looks at the clock

LEAVE_ALONE = "smgwd leaves it untouched: restore it from a backup, or move it away to start with an empty store"

# primary result codes (https://sqlite.org/rescode.html)
_BUSY, _LOCKED, _READONLY, _INTERRUPT, _IOERR, _CORRUPT, _FULL, _CANTOPEN, _NOTADB = 5, 6, 8, 9, 10, 11, 13, 14, 26

_KINDS = {stat.S_IFIFO: "a FIFO", stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
          stat.S_IFSOCK: "a socket"}


def check_file(path: Path, *, writable: bool = True) -> bytes | None:
    """Refuse a path that cannot be a store (StoreError); its first 100 bytes, None when it does not exist yet."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise StoreError(f"{path}: cannot be examined ({error.strerror}); check the path and its directories") from None
    if stat.S_ISDIR(info.st_mode):
        raise StoreError(f"{path}: is a directory, not a database file; "
                         f"set [store] path to a file, e.g. {path / 'smgwd.db'}")
    if not stat.S_ISREG(info.st_mode):
        kind = _KINDS.get(stat.S_IFMT(info.st_mode), "not a regular file")
        raise StoreError(f"{path}: is {kind}, not a database file; set [store] path to a regular file")
    access = "read and written" if writable else "read"
    try:
        fd = os.open(path, (os.O_RDWR if writable else os.O_RDONLY) | os.O_NONBLOCK)
    except OSError as error:
        raise StoreError(f"{path}: cannot be {access} by this user ({error.strerror}); "
                         f"fix its owner or mode (the daemon runs as user smgwd)") from None
    try:
        header = os.read(fd, 100)
    except OSError as error:
        raise StoreError(f"{path}: cannot be read ({error.strerror}); check the disk (dmesg)") from None
    finally:
        os.close(fd)
    if header and not header.startswith(SQLITE_HEADER[:len(header)]):
        raise StoreError(f"{path}: file is not a database (no SQLite header); {LEAVE_ALONE}")
    if 0 < len(header) < 100:
        raise StoreError(f"{path}: is corrupt (truncated to {len(header)} bytes, shorter than the SQLite header); "
                         f"{LEAVE_ALONE}")
    return header


def read_only_uri(path: Path, header: bytes) -> str:
    """A ``mode=ro`` URI for ``path`` that leaves no ``-wal``/``-shm`` files beside it.

    A read-only connection to a WAL database creates those files and, unable to
    checkpoint, leaves them behind. When the header says WAL (bytes 18 and 19 are 2)
    and no ``-wal`` file exists, no process has the database open in WAL mode and
    everything is in the main file: it is then read as ``immutable``, without them.
    """
    uri = f"file:{quote(path.resolve().as_posix())}?mode=ro"
    if header[18:20] == b"\x02\x02" and not os.path.lexists(f"{path}-wal"):
        uri += "&immutable=1"
    return uri


def check_integrity(conn: sqlite3.Connection, path: Path, *, full: bool = False,
                    budget: float | None = None) -> bool:
    """Run quick_check (integrity_check if ``full``); StoreError if corrupt, False if ``budget`` ran out."""
    check = "integrity_check" if full else "quick_check"
    if budget is not None:
        deadline = time.monotonic() + budget
        conn.set_progress_handler(lambda: time.monotonic() > deadline, _PROGRESS_STEPS)
    try:
        rows = conn.execute(f"PRAGMA {check}({MAX_PROBLEMS})").fetchall()
    except sqlite3.Error as error:
        if budget is not None and _code(error) == _INTERRUPT:
            return False
        raise explain(path, error) from None
    finally:
        if budget is not None:
            conn.set_progress_handler(None, 0)
    problems = [line.strip() for (text,) in rows for line in str(text).splitlines()
                if line.strip() and not line.startswith("*** in database")]
    if problems != ["ok"]:
        more = "" if len(problems) == 1 else f" and {len(problems) - 1} more"
        if len(problems) >= MAX_PROBLEMS:
            more = " and more"
        raise StoreError(f"{path}: is corrupt ({check}: {problems[0]}{more}); {LEAVE_ALONE} "
                         f"(`sqlite3 {path} .recover` may salvage rows into a new file)")
    return True


def _code(error: sqlite3.Error) -> int:
    return int(getattr(error, "sqlite_errorcode", 0) or 0) & 0xFF


def explain(path: Path, error: sqlite3.Error) -> StoreError:
    """A one-line StoreError for an SQLite error met while opening or checking ``path``."""
    code = _code(error)
    if code in (_BUSY, _LOCKED):
        return StoreError(f"{path}: is locked by another process ({error}); stop the other smgwd or program "
                          f"using it (`fuser {path}` names it), then start again")
    if code == _CORRUPT:
        return StoreError(f"{path}: is corrupt ({error}); {LEAVE_ALONE}")
    if code == _NOTADB:
        return StoreError(f"{path}: file is not a database; {LEAVE_ALONE}")
    if code == _READONLY:
        return StoreError(f"{path}: cannot be written ({error}); check the owner and mode of the file and its "
                          f"directory, and that the file system is mounted read-write")
    if code == _CANTOPEN:
        return StoreError(f"{path}: cannot be opened ({error}); check that its directory exists and that the "
                          f"daemon's user may create files in it")
    if code == _FULL:
        return StoreError(f"{path}: the disk is full ({error}); free space on it, then start again")
    if code == _IOERR:
        return StoreError(f"{path}: I/O error ({error}); check the disk (dmesg), then restore from a backup")
    return StoreError(f"{path}: {error}")


def check_unlocked(path: Path) -> None:
    """Refuse (StoreError) a store whose write lock another process holds longer than OPEN_BUSY_TIMEOUT_MS.

    Takes the write lock for a moment (``BEGIN IMMEDIATE`` then ``ROLLBACK``) and writes nothing.
    """
    try:
        conn = sqlite3.connect(path, isolation_level=None)
    except sqlite3.Error as error:
        raise explain(path, error) from None
    try:
        conn.execute(f"PRAGMA busy_timeout = {OPEN_BUSY_TIMEOUT_MS}")
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
    except sqlite3.Error as error:
        raise explain(path, error) from None
    finally:
        conn.close()
