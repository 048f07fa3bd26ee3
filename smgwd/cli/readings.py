"""``smgwctl readings``: stored readings, filtered by meter, OBIS code and gateway time.

Formats: ``json`` is JSON Lines in the contract of ``smgwctl decode`` (see
:func:`smgwd.cli.reading_output.reading_record`; ``protocol`` is the meter's
as the store knows it) plus ``gateway_time`` and ``time_quality``; ``csv`` has
one header line and the same fields; ``table`` is for people. json and csv
stream, so any number of readings can be exported.

A stored reading that cannot be rendered (a meter time beyond year 9999, ...)
is shown in a safe form, never a traceback: its raw values, ``time`` null (in
the table ``unrenderable``), the meter time as stored in ``meter_time_raw``,
the quirk ``unrenderable`` and the reason in ``unrenderable``.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from typing import Any, Iterator

from smgwd.cli.reading_output import reading_record
from smgwd.cli.store_common import EXIT_OK, iso, parse_instant, run_on_store, write_table
from smgwd.gateway.store import StoreReader
from smgwd.reading import Reading

__all__ = ["CSV_FIELDS", "run", "stored_record"]

CSV_FIELDS = (
    "meter", "obis", "name", "value", "unit", "unit_code", "raw", "scaler", "status", "time", "sec_index",
    "gateway_time", "time_quality", "quirks", "wire_raw", "protocol", "meter_time_raw", "unrenderable",
)
_TABLE = ("meter", "obis", "name", "value", "unit", "status", "meter time", "gateway time", "quality")


def _hex(value: object) -> object:
    return value.hex() if isinstance(value, bytes) else value


def _raw_record(reading: Reading, protocol: str, reason: str, **extra: Any) -> dict[str, Any]:
    """The safe form of a reading that cannot be rendered: stored values only, marked."""
    time = reading.meter_time
    return {
        "protocol": protocol, "meter": reading.meter_id, "obis": str(reading.obis), "name": None,
        "value": _hex(reading.raw), "unit": None, "unit_code": reading.unit, "raw": _hex(reading.raw),
        "scaler": reading.scaler, "status": reading.status, "time": None, "sec_index": None,
        "quirks": [*reading.quirks, "unrenderable"], "wire_raw": _hex(reading.wire_raw),
        "meter_time_raw": None if time is None else f"{time.kind.value} {time.value} {time.offset_minutes:+d}",
        "unrenderable": reason, **extra,
    }


def stored_record(reading: Reading, protocol: str) -> dict[str, Any]:
    """The JSON object of a stored reading: ``decode``'s plus gateway_time and time_quality."""
    extra = {"gateway_time": None if reading.gateway_time is None else reading.gateway_time.isoformat(),
             "time_quality": None if reading.time_quality is None else reading.time_quality.value}
    try:
        record = reading_record(reading, protocol, **extra)
    except Exception as error:  # noqa: BLE001 - one bad stored reading must not end the listing
        return _raw_record(reading, protocol, f"{type(error).__name__}: {error}"[:200], **extra)
    if isinstance(record.get("wire_raw"), bytes):
        record["wire_raw"] = record["wire_raw"].hex()
    return record


def _records(reader: StoreReader, args: argparse.Namespace) -> Iterator[tuple[Reading, dict[str, Any]]]:
    protocols = {m.id: m.protocol for m in reader.meters()}
    found = reader.readings(
        meter=args.meter, obis=args.obis, since=parse_instant(args.since, "--since"),
        until=parse_instant(args.until, "--until"), limit=args.limit, order=args.order,
    )
    for reading in found:
        yield reading, stored_record(reading, protocols.get(reading.meter_id) or "unknown")


def _table_row(reading: Reading, record: dict[str, Any]) -> tuple[Any, ...]:
    meter_time = record["time"] or (f"secIndex {record['sec_index']}" if record["sec_index"] is not None else "")
    if record.get("unrenderable"):
        meter_time = f"unrenderable ({record['meter_time_raw'] or record['unrenderable']})"
    status = "" if record["status"] is None else f"0x{record['status']:x}"
    value = str(record["value"])
    value = value if len(value) <= 34 else value[:31] + "..."
    return (record["meter"], record["obis"], record["name"], value, record["unit"], status, meter_time,
            iso(reading.gateway_time, "milliseconds"), record["time_quality"])


def readings(reader: StoreReader, args: argparse.Namespace) -> int:
    records = _records(reader, args)
    out = sys.stdout
    if args.format == "json":
        for _, record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    elif args.format == "csv":
        writer = csv.DictWriter(out, CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for _, record in records:
            writer.writerow({**record, "quirks": " ".join(record.get("quirks", ()))})
    else:
        write_table(_TABLE, [_table_row(*pair) for pair in records], out, right=(3,))
    return EXIT_OK


def run(args: argparse.Namespace) -> int:
    return run_on_store(args, lambda reader: readings(reader, args))
