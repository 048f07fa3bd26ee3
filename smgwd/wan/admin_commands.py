"""What the gateway administrator may ask of a running gateway, once a command passed its checks.

How this works: :data:`COMMANDS` maps a command's name to a coroutine that
takes the gateway and the command's ``args`` and returns a JSON object; an
argument that is not what the command takes is :class:`AdminRefused`
(``bad_args``). These change nothing but what TAF6 sends:

- ``status``: the gateway's id, smgwd's version, the SHA-256 of its
  configuration file, the status line and each meter's link state;
- ``log``: the newest ``limit`` (1..1000, default 100) entries of the system log;
- ``log-verify``: the verdict of each log's hash chain and checkpoints;
- ``taf6``: readings on demand for ``emp`` (and ``meters``), as ``smgwctl taf6``.

And these change the configuration, through the overlay
(:mod:`smgwd.gateway.admin_overlay`): checked as a whole, written
atomically, then loaded as a reload loads it; a change that would not load
is refused (``invalid_config``, with the configuration's own one-line error)
and leaves everything as it was:

- ``meters``: the meters as configured now (the overlay included);
- ``meter-add`` ``meter``: a ``[[meters]]`` table; ``meter-remove`` ``id``;
  ``meter-replace`` ``id``, ``meter``: the table that takes its place;
- ``emp-update`` ``id``, ``set``: keys of that ``[[emps]]`` entry to set
  (``interval``, ``taf``, ``obis``, ``recipient``, ...: a delivery profile, an
  EMP certificate);
- ``tariff-set`` ``name``, ``calendar``: a ``[tariffs.<name>]`` table;
- ``key-new`` ``kind`` (sig or tls): a new key of the gateway's, and the
  certificate request for it; ``cert-install`` ``kind``, ``cert``: its
  certificate, switched to in every entry that used the old pair
  (:mod:`smgwd.wan.key_rotation`).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from smgwd import __version__
from smgwd.gateway.store import LOG_KINDS, StoreReader
from smgwd.wan.admin_command import AdminRefused
from smgwd.wan.chain import load_certs

if TYPE_CHECKING:
    from smgwd.gateway.core import Gateway

__all__ = ["COMMANDS"]

MAX_LOG = 1000


def _bad(reason: str) -> AdminRefused:
    return AdminRefused("bad_args", reason, 400)


def _only(args: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(args) - allowed)
    if unknown:
        raise _bad(f"unknown argument {unknown[0]!r} (expected {', '.join(sorted(allowed)) or 'none'})")


async def _status(gateway: Gateway, args: dict[str, Any]) -> dict[str, Any]:
    _only(args, set())
    from smgwd.gateway.calibration_events import file_digest

    source = gateway.config.source
    digest = file_digest(Path(source)) if os.path.isfile(source) else None
    return {"gateway": gateway.config.gateway.id, "smgwd": __version__, "config_sha256": digest,
            "status": gateway.status_line(),
            "meters": [{"id": meter_id, "state": m.driver.state.value} for meter_id, m in gateway.meters.items()]}


def _read_log(path: Path, limit: int) -> list[dict[str, Any]]:
    with StoreReader(path) as reader:
        return [{"id": e.id, "at": e.at.isoformat(), "event": e.event, "meter": e.meter_id, "obis": e.obis,
                 "message": e.message} for e in reader.log("system", limit=limit)]


async def _log(gateway: Gateway, args: dict[str, Any]) -> dict[str, Any]:
    _only(args, {"limit"})
    limit = args.get("limit", 100)
    if type(limit) is not int or not 1 <= limit <= MAX_LOG:
        raise _bad(f"limit must be an integer 1..{MAX_LOG}")
    gateway.store.flush(5.0)
    return {"entries": await asyncio.to_thread(_read_log, gateway.store.path, limit)}


def _verdicts(gateway: Gateway) -> dict[str, Any]:
    from smgwd.gateway.log_verify import verify
    from smgwd.wan.log_signers import gateway_signers

    accept = gateway_signers(gateway.config)
    with StoreReader(gateway.store.path) as reader:
        found = {kind: verify(reader, kind, accept) for kind in LOG_KINDS}
    return {kind: {"intact": v.intact, "entries": v.entries, "broken": v.broken, "reason": v.reason,
                   "signed_up_to": v.signed_upto, "unsigned": v.unsigned} for kind, v in found.items()}


async def _log_verify(gateway: Gateway, args: dict[str, Any]) -> dict[str, Any]:
    _only(args, set())
    gateway.store.flush(5.0)
    return await asyncio.to_thread(_verdicts, gateway)


async def _taf6(gateway: Gateway, args: dict[str, Any]) -> dict[str, Any]:
    _only(args, {"emp", "meters"})
    emp, meters = args.get("emp"), args.get("meters", [])
    if not isinstance(emp, str) or not emp or " " in emp:
        raise _bad("emp must be an [[emps]] id")
    if not isinstance(meters, list) or not all(isinstance(m, str) and m and " " not in m for m in meters):
        raise _bad("meters must be a list of meter ids")
    answer = await gateway.control.call(["taf6", emp, *meters])
    if "error" in answer:
        raise _bad(str(answer["error"]))
    return answer


def _config_file(gateway: Gateway) -> Path:
    source = Path(gateway.config.source)
    if not source.is_file():
        raise AdminRefused("no_config_file", "this gateway was not started from a configuration file", 409)
    return source


def _table(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _bad(f"{what} must be an object (a TOML table as JSON)")
    return value


def _index(entries: list[Any], entry_id: object, what: str) -> int:
    for index, entry in enumerate(entries):
        if isinstance(entry, dict) and entry.get("id") == entry_id:
            return index
    raise _bad(f"no {what} {str(entry_id)[:64]!r}")


async def _change(gateway: Gateway, edit: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """Apply ``edit`` to the overlaid tables, then reload the gateway with the result."""
    from smgwd.gateway.admin_overlay import apply_change
    from smgwd.gateway.config import ConfigError

    path = _config_file(gateway)
    try:
        config = await asyncio.to_thread(apply_change, path, edit)
    except ConfigError as error:
        raise AdminRefused("invalid_config", str(error), 400) from None
    await gateway.reload(config)
    return {"meters": [m.id for m in config.meters], "emps": [e.id for e in config.emps]}


async def _meters(gateway: Gateway, args: dict[str, Any]) -> dict[str, Any]:
    _only(args, set())
    return {"meters": [{"id": m.id, "protocol": str(m.protocol), "mode": str(m.mode), "link": str(m.link),
                        "enabled": m.enabled} for m in gateway.config.meters]}


async def _meter_add(gateway: Gateway, args: dict[str, Any]) -> dict[str, Any]:
    _only(args, {"meter"})
    meter = _table(args.get("meter"), "meter")

    def edit(tables: dict[str, Any]) -> None:
        tables.setdefault("meters", []).append(meter)

    return await _change(gateway, edit)


async def _meter_remove(gateway: Gateway, args: dict[str, Any]) -> dict[str, Any]:
    _only(args, {"id"})

    def edit(tables: dict[str, Any]) -> None:
        meters = tables.get("meters", [])
        del meters[_index(meters, args.get("id"), "meter")]

    return await _change(gateway, edit)


async def _meter_replace(gateway: Gateway, args: dict[str, Any]) -> dict[str, Any]:
    _only(args, {"id", "meter"})
    meter = _table(args.get("meter"), "meter")

    def edit(tables: dict[str, Any]) -> None:
        meters = tables.get("meters", [])
        meters[_index(meters, args.get("id"), "meter")] = meter

    return await _change(gateway, edit)


async def _emp_update(gateway: Gateway, args: dict[str, Any]) -> dict[str, Any]:
    _only(args, {"id", "set"})
    changes = _table(args.get("set"), "set")
    if "id" in changes:
        raise _bad("an EMP's id cannot be changed (remove it and add another)")

    def edit(tables: dict[str, Any]) -> None:
        emps = tables.get("emps", [])
        emps[_index(emps, args.get("id"), "EMP")].update(changes)

    return await _change(gateway, edit)


async def _tariff_set(gateway: Gateway, args: dict[str, Any]) -> dict[str, Any]:
    _only(args, {"name", "calendar"})
    name, calendar = args.get("name"), _table(args.get("calendar"), "calendar")
    if not isinstance(name, str) or not name:
        raise _bad("name must be the name of a [tariffs.<name>] table")

    def edit(tables: dict[str, Any]) -> None:
        tables.setdefault("tariffs", {})[name] = calendar

    return await _change(gateway, edit)


async def _key_new(gateway: Gateway, args: dict[str, Any]) -> dict[str, Any]:
    from smgwd.gateway.store import SystemNote
    from smgwd.wan.key_rotation import new_key, pending_key

    _only(args, {"kind"})
    path, request = await asyncio.to_thread(new_key, gateway.config, args.get("kind"))
    kind = str(args["kind"])
    note = f"new {kind} key {path} made; its certificate request went to the administrator"
    gateway.store.record([SystemNote("key_created", note, data={"kind": kind, "key": str(path)}, log=log)
                          for log in ("system", "calibration")], {pending_key(kind): str(path)})
    return {"kind": kind, "key": str(path), "request": request.decode()}


async def _cert_install(gateway: Gateway, args: dict[str, Any]) -> dict[str, Any]:
    from smgwd.wan.key_rotation import install_certificate, pending_key
    from smgwd.wan.pki_revocation import load_crls

    _only(args, {"kind", "cert"})
    kind = args.get("kind")
    gateway.store.flush(5.0)
    with StoreReader(gateway.store.path) as reader:
        pending = reader.state().get(pending_key(str(kind)))
    if not pending:
        raise _bad(f"no pending {kind} key: send key-new first")
    admin = gateway.config.admin
    assert admin.trust is not None
    trust = load_certs(admin.trust.read_bytes())
    untrusted = load_certs(admin.untrusted.read_bytes()) if admin.untrusted else []
    crls = load_crls(admin.crl.read_bytes()) if admin.crl else []
    installed: list[Path] = []

    def edit(tables: dict[str, Any]) -> None:
        installed.append(install_certificate(gateway.config, kind, args.get("cert"), Path(pending), trust, untrusted,
                                             crls, tables))

    result = await _change(gateway, edit)
    gateway.store.record([], {pending_key(str(kind)): ""})
    return {**result, "kind": kind, "cert": str(installed[0]), "key": pending}


COMMANDS: dict[str, Callable[[Gateway, dict[str, Any]], Awaitable[dict[str, Any]]]] = {
    "status": _status, "log": _log, "log-verify": _log_verify, "taf6": _taf6, "meters": _meters,
    "meter-add": _meter_add, "meter-remove": _meter_remove, "meter-replace": _meter_replace,
    "emp-update": _emp_update, "tariff-set": _tariff_set, "key-new": _key_new, "cert-install": _cert_install,
}
