"""What the gateway administrator changed: whole tables laid over the configuration file.

How this works: the GWA's commands (:mod:`smgwd.wan.admin_commands`) cannot
edit ``/etc/smgwd/smgwd.toml``, which is root's and read-only to the daemon.
They write ``admin.json`` beside the store instead (``[admin] overlay``): a
JSON object holding any of the top-level tables ``gateway``, ``meters``,
``emps`` and ``tariffs``, each of which replaces the file's table as a whole
(``gateway`` after a key rotation: its ``sig_cert`` and ``sig_key``).
:func:`~smgwd.gateway.config.load_config` reads the file, lays the overlay
over it and checks the result as one configuration, so the daemon, a reload
and ``smgwctl config check`` all see the same.

:func:`apply_change` makes one change: it takes the tables as they are now,
lets the caller change a copy, checks the whole configuration that would
result (a :class:`~smgwd.gateway.config.ConfigError` leaves everything as it
was), then writes the new overlay to a temporary file, fsyncs it and renames
it into place, and returns the new configuration for the caller to reload.
A crash leaves the old overlay or the new one, never half of one.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from smgwd.gateway.config_limits import MAX_BYTES

if TYPE_CHECKING:
    from smgwd.gateway.config import GatewayConfig

__all__ = ["OVERLAY_NAME", "TABLES", "apply_change", "laid_over", "locate"]

OVERLAY_NAME = "admin.json"
TABLES = ("gateway", "meters", "emps", "tariffs")
_DEFAULT_STORE = Path("/var/lib/smgwd/smgwd.db")


def locate(document: dict[str, Any], base_dir: Path) -> Path:
    """Where the overlay of a configuration document is: ``[admin] overlay``, else beside its store."""
    admin = document.get("admin")
    store = document.get("store")
    named = admin.get("overlay") if isinstance(admin, dict) else None
    if isinstance(named, str) and named:
        return base_dir / named
    path = store.get("path") if isinstance(store, dict) else None
    return (base_dir / path if isinstance(path, str) and path else _DEFAULT_STORE).parent / OVERLAY_NAME


def _read(path: Path) -> dict[str, Any]:
    """The overlay at ``path`` ({} when there is none); ValueError (one line) when it is not one."""
    try:
        with open(path, "rb") as file:
            data = file.read(MAX_BYTES + 1)
    except FileNotFoundError:
        return {}
    except OSError as error:
        raise ValueError(f"cannot be read: {error.strerror}") from None
    if len(data) > MAX_BYTES:
        raise ValueError(f"larger than {MAX_BYTES} bytes")
    try:
        overlay = json.loads(data)
    except (ValueError, RecursionError) as error:
        raise ValueError(f"not JSON: {str(error)[:100]}") from None
    if not isinstance(overlay, dict) or not set(overlay) <= set(TABLES):
        raise ValueError(f"expected an object of at most the tables {', '.join(TABLES)}")
    return overlay


def laid_over(document: dict[str, Any], base_dir: Path) -> tuple[dict[str, Any], Path]:
    """``document`` with its overlay's tables in place of its own, and the overlay's path; ValueError if unusable."""
    path = locate(document, base_dir)
    try:
        overlay = _read(path)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None
    return {**document, **overlay}, path


def _write(path: Path, overlay: dict[str, Any]) -> None:
    data = (json.dumps(overlay, indent=2, sort_keys=True) + "\n").encode()
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def apply_change(config_file: Path, change: Callable[[dict[str, Any]], None]) -> GatewayConfig:
    """Change the overlaid tables of ``config_file`` with ``change`` (it edits a copy in place, and may raise);
    the new configuration once its overlay is on disk. ConfigError (nothing written) if it would not load."""
    from smgwd.gateway.config import check_document, read_document

    document, current, path, base_dir = read_document(config_file)
    tables = copy.deepcopy({name: current[name] for name in TABLES if name in current})
    change(tables)
    config = check_document({**document, **tables}, os.fspath(config_file), base_dir)
    _write(path, tables)
    return config
