"""What smgwctl's store commands share: finding the database, options, output helpers.

How this works: the database is ``--db PATH`` when given, else the ``[store]
path`` of the configuration (``--config``, default /etc/smgwd/smgwd.toml, read
by :func:`smgwd.gateway.config.load_config`); when the default configuration
file does not exist the default database path is used. :func:`run_on_store`
opens the store read-only, runs a command on it and turns every expected
failure (missing or foreign database, bad option value) into one line on
stderr and exit status 1.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence, TextIO

from smgwd.cosem.errors import CosemError
from smgwd.gateway.store import StoreError, StoreReader

if TYPE_CHECKING:
    from smgwd.gateway.config import EmpConfig, GatewayConfig

__all__ = [
    "DEFAULT_CONFIG", "DEFAULT_DB", "CliError", "configured_emp", "database_path", "iso", "parse_instant",
    "run_on_store", "write_table",
]

DEFAULT_CONFIG = Path("/etc/smgwd/smgwd.toml")
DEFAULT_DB = Path("/var/lib/smgwd/smgwd.db")
DEFAULT_SOCKET = Path("/run/smgwd/control.sock")
EXIT_OK, EXIT_FAILED = 0, 1


class CliError(Exception):
    """A failure to report as one line (exit status 1)."""


def _configured(args: argparse.Namespace) -> GatewayConfig | None:
    """The configuration named by ``--config`` (None: the default file does not exist)."""
    config = Path(getattr(args, "config", None) or DEFAULT_CONFIG)
    if config == DEFAULT_CONFIG and not config.exists():
        return None
    from smgwd.gateway.config import ConfigError, load_config

    try:
        return load_config(config)
    except ConfigError as error:
        raise CliError(str(error)) from None


def optional_gateway(args: argparse.Namespace) -> GatewayConfig | None:
    """The gateway configuration (``--config``), or None when there is none (the default file is missing)."""
    return _configured(args)


def configured_gateway(args: argparse.Namespace, what: str) -> GatewayConfig:
    """The gateway configuration (``--config``); CliError saying that ``what`` needs it when there is none."""
    config = _configured(args)
    if config is None:
        raise CliError(f"{what} needs the gateway configuration ({DEFAULT_CONFIG} does not exist; give --config)")
    return config


def configured_emp(args: argparse.Namespace, emp_id: str) -> EmpConfig:
    """The ``[[emps]]`` entry ``emp_id`` of the configuration (``--config``); CliError naming the known ones."""
    config = configured_gateway(args, "--emp")
    for emp in config.emps:
        if emp.id == emp_id:
            return emp
    known = ", ".join(e.id for e in config.emps) or "none"
    raise CliError(f"no EMP {emp_id!r} in {config.source} (configured: {known})")


def database_path(args: argparse.Namespace) -> Path:
    """The database the command reads: ``--db``, else the configuration's ``[store] path``."""
    if getattr(args, "db", None):
        return Path(args.db)
    config = _configured(args)
    return DEFAULT_DB if config is None else Path(config.store.path)


def control_socket(args: argparse.Namespace) -> Path | None:
    """The daemon's control socket from the configuration (None with ``--db`` alone)."""
    if getattr(args, "db", None) and not getattr(args, "config", None):
        return None
    config = _configured(args)
    return DEFAULT_SOCKET if config is None else Path(config.control.socket)


def parse_instant(text: str | None, option: str) -> datetime | None:
    """An ISO 8601 time from the command line (no offset means UTC)."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise CliError(f"{option}: not an ISO 8601 time: {text!r} (e.g. 2025-01-31T12:00:00Z)") from None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


def iso(moment: datetime | None, timespec: str = "auto") -> str | None:
    """A UTC time as ISO 8601 with ``Z`` (None stays None)."""
    if moment is None:
        return None
    return moment.astimezone(timezone.utc).isoformat(timespec=timespec).replace("+00:00", "Z")


def run_on_store(args: argparse.Namespace, command: Callable[[StoreReader], int]) -> int:
    """Open the store read-only and run ``command``; failures become one line on stderr, status 1."""
    try:
        path = database_path(args)
        with StoreReader(path) as reader:
            return command(reader)
    except (CliError, StoreError, CosemError) as error:
        print(f"smgwctl: {error}", file=sys.stderr)
    except sqlite3.Error as error:
        print(f"smgwctl: {path}: {error}", file=sys.stderr)
    return EXIT_FAILED


def write_table(columns: Sequence[str], rows: Iterable[Sequence[Any]], out: TextIO,
                right: Iterable[int] = ()) -> None:
    """A fixed-width table for people; ``right`` names the columns aligned right (numbers)."""
    cells = [[("" if cell is None else str(cell)) for cell in row] for row in rows]
    widths = [max([len(name)] + [len(row[k]) for row in cells]) for k, name in enumerate(columns)]
    right = set(right)
    for row in [list(columns), *cells]:
        line = [cell.rjust(widths[k]) if k in right else cell.ljust(widths[k]) for k, cell in enumerate(row)]
        out.write("  ".join(line).rstrip() + "\n")
