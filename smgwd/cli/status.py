"""``smgwctl status`` and ``smgwctl meters``: what the gateway's store says about it now.

status: the database (path, size, schema version), the readings stored, the
gateway's time (the ``time.*`` entries the daemon keeps in gateway_state:
quality, offset, stratum, ...) and every meter with its link state and since
when, its last reading and its reading and error counts. meters: the meters
alone, with protocol, mode, link and server id. ``--format json`` gives one
JSON object (status) or JSON Lines, one meter per line (meters).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from smgwd.cli.store_common import EXIT_FAILED, EXIT_OK, CliError, control_socket, iso, run_on_store, write_table
from smgwd.gateway.store import MeterInfo, StoreReader

__all__ = ["meter_record", "run_meters", "run_status"]

TIME_PREFIX = "time."
# the timebase's entries in the order people read them; "servers" (every server's view) is JSON only
TIME_ORDER = ("quality", "reason", "offset", "delay", "stratum", "server", "last_sync")
TIME_JSON_ONLY = ("servers",)


def meter_record(meter: MeterInfo) -> dict[str, Any]:
    """The JSON object of one meter."""
    return {
        "id": meter.id,
        "protocol": meter.protocol,
        "mode": meter.mode,
        "link": meter.link,
        "server_id": meter.server_id,
        "state": meter.state,
        "state_reason": meter.state_reason,
        "state_since": iso(meter.state_since),
        "last_reading_at": iso(meter.last_reading_at),
        "readings": meter.readings,
        "errors": meter.errors,
        "updated_at": iso(meter.updated_at),
    }


def _state_cell(meter: MeterInfo) -> str:
    if meter.state is None:
        return "-"
    return f"{meter.state} ({meter.state_reason})" if meter.state_reason and meter.state != "up" else meter.state


def _meter_rows(meters: list[MeterInfo]) -> list[tuple[Any, ...]]:
    return [
        (m.id, _state_cell(m), iso(m.state_since, "seconds"), iso(m.last_reading_at, "seconds"), m.readings, m.errors)
        for m in meters
    ]


_METER_COLUMNS = ("meter", "state", "since", "last reading", "readings", "errors")


def _size(size: int) -> str:
    if size < 1000:
        return f"{size} bytes"
    value, units = size / 1000, ["kB", "MB", "GB", "TB"]
    while value >= 1000 and len(units) > 1:
        value, units = value / 1000, units[1:]
    return f"{value:.1f} {units[0]}"


def _daemon(socket: Path | None) -> tuple[dict[str, Any] | None, str]:
    """The running daemon's own view, or why there is none."""
    if socket is None:
        return None, "not asked (--db without --config)"
    from smgwd.gateway.control import ControlUnavailable, query

    try:
        live = query(socket)
    except ControlUnavailable as error:
        return None, f"not running or not reachable ({error}); showing the store"
    return live, f"running, pid {live.get('pid')}, up {live.get('uptime')} s: {live.get('status')}"


def status(reader: StoreReader, fmt: str, socket: Path | None = None) -> int:
    live, daemon_text = _daemon(socket)
    state = reader.state()
    meters = reader.meters()
    time_state = {k[len(TIME_PREFIX):]: v for k, v in state.items() if k.startswith(TIME_PREFIX)}
    if fmt == "json":
        record = {
            "database": str(reader.path),
            "size_bytes": reader.size_bytes(),
            "schema_version": reader.schema_version,
            "readings": reader.total_readings(),
            "time": time_state,
            "state": state,
            "meters": [meter_record(m) for m in meters],
            "daemon": live,
        }
        sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
        return EXIT_OK
    out = sys.stdout
    out.write(f"daemon    {daemon_text}\n")
    out.write(f"database  {reader.path} ({_size(reader.size_bytes())}, schema version {reader.schema_version})\n")
    out.write(f"readings  {reader.total_readings()} stored\n")
    shown = sorted((k for k in time_state if k not in TIME_JSON_ONLY and time_state[k] != ""),
                   key=lambda k: (TIME_ORDER.index(k) if k in TIME_ORDER else len(TIME_ORDER), k))
    time_text = ", ".join(f"{k} {time_state[k]}" for k in shown) or "no time state recorded"
    out.write(f"time      {time_text}\n")
    for key, value in state.items():
        if not key.startswith(TIME_PREFIX):
            out.write(f"state     {key} = {value}\n")
    out.write("\n")
    if meters:
        write_table(_METER_COLUMNS, _meter_rows(meters), out, right=(4, 5))
    else:
        out.write("no meters\n")
    for bus in (live or {}).get("buses") or ():
        _write_bus(bus, out)
    return EXIT_OK


_BUS_COLUMNS = ("meter", "address", "polls", "answers", "failures", "timeouts", "reconnects", "last poll ms")


def _write_bus(bus: dict[str, Any], out: Any) -> None:
    cycle = "no full cycle yet" if bus.get("cycle_s") is None else f"cycle {bus['cycle_s']:g} s"
    state = "up" if bus.get("up") else f"down: {bus.get('reason')}"
    out.write(f"\nbus       {bus.get('port')} {state}, {cycle}, {bus.get('bad_frames', 0)} bad frames, "
              f"{bus.get('noise_bytes', 0)} bytes of noise\n")
    rows = [(meter_id, m["address"], m["polls"], m["answers"], m["failures"], m["timeouts"], m["reconnects"],
             "" if m["last_poll_ms"] is None else m["last_poll_ms"]) for meter_id, m in sorted(bus["meters"].items())]
    write_table(_BUS_COLUMNS, rows, out, right=(2, 3, 4, 5, 6, 7))


def meters(reader: StoreReader, fmt: str) -> int:
    known = reader.meters()
    if fmt == "json":
        for meter in known:
            sys.stdout.write(json.dumps(meter_record(meter), ensure_ascii=False) + "\n")
        return EXIT_OK
    rows = [(*row, m.protocol, m.mode, m.link, m.server_id) for row, m in zip(_meter_rows(known), known)]
    write_table((*_METER_COLUMNS, "protocol", "mode", "link", "server id"), rows, sys.stdout, right=(4, 5))
    return EXIT_OK


def run_status(args: argparse.Namespace) -> int:
    try:
        socket = control_socket(args)
    except CliError as error:
        print(f"smgwctl: {error}", file=sys.stderr)
        return EXIT_FAILED
    return run_on_store(args, lambda reader: status(reader, args.format, socket))


def run_meters(args: argparse.Namespace) -> int:
    return run_on_store(args, lambda reader: meters(reader, args.format))
