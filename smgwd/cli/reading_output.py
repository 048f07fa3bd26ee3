"""Readings as JSON Lines or as a table: the output contract of ``smgwctl decode``.

One JSON object per reading with at least ``protocol``, ``meter``, ``obis``
(``1-0:1.8.0*255``), ``value`` (scaled number, or text), ``unit`` (canonical
symbol), ``raw``, ``scaler``, ``status`` and ``time`` (ISO 8601 UTC when the
meter sent a date, else null; a seconds index goes to ``sec_index``).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, TextIO

from smgwd.cosem.obis import describe
from smgwd.cosem.units import unit_symbol
from smgwd.reading import MeterTimeKind, Reading

__all__ = ["reading_record", "write_jsonl", "write_table"]


def _number(value: Decimal) -> int | float | str:
    """A JSON number that prints exactly the decimal (text if a float cannot)."""
    if value == value.to_integral_value():
        return int(value)
    as_float = float(value)
    return as_float if Decimal(repr(as_float)) == value else str(value)


def reading_record(reading: Reading, protocol: str, **extra: Any) -> dict[str, Any]:
    """The JSON object of one reading."""
    value = reading.value()
    raw = reading.raw
    time = reading.meter_time
    record: dict[str, Any] = {
        "protocol": protocol,
        "meter": reading.meter_id,
        "obis": str(reading.obis),
        "name": describe(reading.obis),
        "value": _number(value) if isinstance(value, Decimal) else value,
        "unit": unit_symbol(reading.unit) if reading.unit is not None else None,
        "unit_code": reading.unit,
        "raw": raw.hex() if isinstance(raw, bytes) else raw,
        "scaler": reading.scaler,
        "status": reading.status,
        "time": None,
        "sec_index": None,
    }
    if time is not None:
        if time.kind is MeterTimeKind.SEC_INDEX:
            record["sec_index"] = time.value
        else:
            record["time"] = time.local_datetime().isoformat()  # type: ignore[union-attr]
    if reading.quirks:
        record["quirks"] = list(reading.quirks)
        wire = reading.wire_raw
        record["wire_raw"] = wire.hex() if isinstance(wire, bytes) else wire
    record.update(extra)
    return record


def write_jsonl(records: list[dict[str, Any]], out: TextIO) -> None:
    for record in records:
        out.write(json.dumps(record, ensure_ascii=False) + "\n")


def write_table(records: list[dict[str, Any]], out: TextIO) -> None:
    """A fixed-width table for people: frame, meter, OBIS, name, value, unit, status, time."""
    columns = ("frame", "meter", "obis", "name", "value", "unit", "status", "time")
    rows = []
    for r in records:
        time = r["time"] or (f"secIndex {r['sec_index']}" if r["sec_index"] is not None else "")
        status = "" if r["status"] is None else f"0x{r['status']:x}"
        value = str(r["value"])
        if len(value) > 34:
            value = value[:31] + "..."
        rows.append((str(r.get("frame", "")), r["meter"], r["obis"], r["name"] or "", value, r["unit"] or "", status, time))
    widths = [max([len(c)] + [len(row[k]) for row in rows]) for k, c in enumerate(columns)]
    numeric = {4}
    for row in [columns, *rows]:
        cells = [cell.rjust(widths[k]) if k in numeric else cell.ljust(widths[k]) for k, cell in enumerate(row)]
        out.write("  ".join(cells).rstrip() + "\n")
