"""``smgwctl store check``: would smgwd open this store? The same checks, and the same one line.

How this works: the database is found as for the other store commands (``--db``,
else the configuration's ``[store] path``) and checked by
:func:`smgwd.gateway.store.schema.inspect` exactly as the daemon checks it before
writing, without the daemon's time budget: the path, the SQLite header,
``quick_check`` (``integrity_check`` with ``--full``), the smgwd marks and the schema
version. Then, when this user may write the file, the write lock is taken for a
moment to see that no other process holds it. Nothing is written, moved or deleted.

Exit status: 0 the store is good (or does not exist yet: smgwd creates it), 78
(EX_CONFIG, what smgwd exits with on it) refused, with the reason as one line on
stderr, 1 usage error.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from smgwd.cli.store_common import CliError, database_path
from smgwd.gateway.store import SCHEMA_VERSION, StoreError
from smgwd.gateway.store.health import check_unlocked
from smgwd.gateway.store.schema import inspect

__all__ = ["run"]

EXIT_OK = 0
EX_CONFIG = 78


def run(args: argparse.Namespace) -> int:
    """Check the store named by ``--db`` or the configuration; returns the exit status."""
    try:
        path = database_path(args)
        started = time.monotonic()
        found = inspect(path, full=args.full, writable=False)
        if not found.exists:
            print(f"{path}: no database yet; smgwd creates it on its first start")
            return EXIT_OK
        may_write = os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)
        if may_write:
            check_unlocked(path)
        seconds = time.monotonic() - started
    except (CliError, StoreError) as error:
        print(f"smgwctl: {error}", file=sys.stderr)
        return EX_CONFIG
    check = "integrity_check" if args.full else "quick_check"
    version = f"schema version {found.version}"
    if found.version < SCHEMA_VERSION:
        version += f" (smgwd migrates it to {SCHEMA_VERSION} on start)"
    lock = "not locked" if may_write else "lock not probed (no write access)"
    print(f"{path}: OK; {version}, {found.size / 1e6:.1f} MB, {check} ok in {seconds:.1f} s, {lock}")
    return EXIT_OK
