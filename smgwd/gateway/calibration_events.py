"""What the calibration-relevant log records of the gateway's own make-up: meters, certificates, versions.

How this works: at start and at every reload the gateway compares what its
configuration now says with what it last recorded, in gateway_state:

- ``calibration.meters``: each enabled meter's protocol, link and server id.
  A new id is ``meter_added``, a gone one ``meter_removed``, one whose
  protocol, link or server id changed ``meter_replaced``;
- ``calibration.files``: the SHA-256 of every certificate and key file the
  configuration names (the gateway's signature pair, each EMP's TLS and
  signature pairs, its encryption certificate, CA and chain):
  ``certificate_added``, ``certificate_changed``, ``certificate_removed``
  (a key file counts as a certificate here: its change is a key change);
- ``calibration.versions``: smgwd's version and the SHA-256 of the
  configuration file and of the administrator's overlay
  (:mod:`smgwd.gateway.admin_overlay`): ``firmware_changed``, ``config_changed``.

Each difference is one entry in the calibration log and one in the system
log, committed in one transaction with the new record, so a change is logged
once however often the gateway restarts. A file that cannot be read is
recorded as ``unreadable``, which is a change like any other.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from smgwd import __version__
from smgwd.gateway.config import GatewayConfig
from smgwd.gateway.store import Store, SystemNote

__all__ = ["changes", "file_digest", "record_changes"]

METERS, FILES, VERSIONS = "calibration.meters", "calibration.files", "calibration.versions"
_MAX_FILE = 1024 * 1024


def file_digest(path: Path) -> str:
    """The SHA-256 (hex) of the file's first MiB, or "unreadable"."""
    try:
        with open(path, "rb") as file:
            return hashlib.sha256(file.read(_MAX_FILE)).hexdigest()
    except OSError:
        return "unreadable"


def _meters(config: GatewayConfig) -> dict[str, dict[str, Any]]:
    def text(value: object) -> str | None:
        if isinstance(value, (bytes, bytearray)):
            return value.hex()
        return None if value is None else str(value)  # a link prints its URL, a protocol its name

    return {m.id: {"protocol": text(m.protocol), "link": text(m.link), "server_id": text(m.server_id)}
            for m in config.meters if m.enabled}


def _files(config: GatewayConfig) -> dict[str, str]:
    named: dict[str, Path | None] = {"gateway.sig_cert": config.gateway.sig_cert,
                                     "gateway.sig_key": config.gateway.sig_key}
    for emp in config.emps:
        for field in ("tls_cert", "tls_key", "sig_cert", "sig_key", "recipient", "server_ca", "chain"):
            named[f"emps.{emp.id}.{field}"] = getattr(emp, field)
    return {label: file_digest(path) for label, path in named.items() if path is not None}


def _versions(config: GatewayConfig) -> dict[str, str]:
    from smgwd.gateway.admin_overlay import OVERLAY_NAME

    found = {"smgwd": __version__}
    if os.path.isfile(config.source):
        found["config"] = file_digest(Path(config.source))
    overlay = config.admin.overlay or config.store.path.parent / OVERLAY_NAME
    if overlay.is_file():
        found["overlay"] = file_digest(overlay)
    return found


def _recorded(state: dict[str, str], key: str) -> dict[str, Any]:
    try:
        value = json.loads(state.get(key, "{}"))
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def changes(config: GatewayConfig, state: dict[str, str]) -> tuple[list[SystemNote], dict[str, str]]:
    """The calibration notes of what differs from ``state``, and the state entries that record the new make-up."""
    notes: list[SystemNote] = []

    def note(event: str, message: str, **data: Any) -> None:
        for log in ("calibration", "system"):
            notes.append(SystemNote(event, message, meter_id=data.get("meter"), data=data, log=log))

    old_meters, meters = _recorded(state, METERS), _meters(config)
    for meter_id in sorted(meters.keys() - old_meters.keys()):
        note("meter_added", f"meter {meter_id} added ({meters[meter_id]['protocol']} on {meters[meter_id]['link']})",
             meter=meter_id, now=meters[meter_id])
    for meter_id in sorted(old_meters.keys() - meters.keys()):
        note("meter_removed", f"meter {meter_id} removed", meter=meter_id, before=old_meters[meter_id])
    for meter_id in sorted(meters.keys() & old_meters.keys()):
        if meters[meter_id] != old_meters[meter_id]:
            what = ", ".join(k for k in meters[meter_id] if meters[meter_id][k] != old_meters[meter_id].get(k))
            note("meter_replaced", f"meter {meter_id} replaced: {what} changed", meter=meter_id,
                 before=old_meters[meter_id], now=meters[meter_id])
    old_files, files = _recorded(state, FILES), _files(config)
    for label in sorted(files.keys() | old_files.keys()):
        before, now = old_files.get(label), files.get(label)
        if before == now:
            continue
        event = "certificate_added" if before is None else "certificate_removed" if now is None else \
            "certificate_changed"
        note(event, f"{label}: {event.split('_')[1]}" + ("" if now in (None, "unreadable") else f" (SHA-256 {now[:16]}…)")
             + (" (unreadable)" if now == "unreadable" else ""), file=label, before=before, now=now)
    old_versions, versions = _recorded(state, VERSIONS), _versions(config)
    if versions["smgwd"] != old_versions.get("smgwd"):
        note("firmware_changed", f"smgwd {old_versions.get('smgwd') or 'not recorded'} -> {versions['smgwd']}",
             before=old_versions.get("smgwd"), now=versions["smgwd"])
    for key, what in (("config", f"configuration {config.source}"), ("overlay", "the administrator's overlay")):
        if versions.get(key) != old_versions.get(key) and key in versions:
            note("config_changed", f"{what} changed (SHA-256 {versions[key][:16]}…)", file=key,
                 before=old_versions.get(key), now=versions[key])
    record = {METERS: json.dumps(meters, sort_keys=True), FILES: json.dumps(files, sort_keys=True),
              VERSIONS: json.dumps(versions, sort_keys=True)}
    return notes, record


def record_changes(config: GatewayConfig, state: dict[str, str], store: Store) -> int:
    """Log what changed since ``state`` and record the new make-up, in one transaction; how many changes."""
    notes, record = changes(config, state)
    if notes or any(state.get(key) != value for key, value in record.items()):
        store.record(notes, record)
    return len(notes) // 2
