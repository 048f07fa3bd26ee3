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
from smgwd.reading import MeterTime, MeterTimeKind, Reading, octets_text

__all__ = ["JsonLines", "reading_record", "write_jsonl", "write_table"]

_encode = json.JSONEncoder(ensure_ascii=False).encode


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
        out.write(_encode(record) + "\n")


def _scaled_text(raw: int, scaler: int) -> str | None:
    """``raw * 10**scaler`` as the JSON number :func:`_number` would print, or None to ask it.

    Decimal arithmetic and a float round trip per value cost more than the
    rest of a line; digits and a decimal point give the same text directly.
    """
    if scaler >= 0:
        return str(raw * 10**scaler)
    digits = str(-raw if raw < 0 else raw)
    places = -scaler
    if len(digits) <= places:
        digits = "0" * (places - len(digits) + 1) + digits
    fraction = digits[-places:].rstrip("0")
    whole = ("-" if raw < 0 else "") + digits[:-places]
    if not fraction:
        return "0" if whole == "-0" else whole
    text = f"{whole}.{fraction}"
    return text if repr(float(text)) == text else None


class JsonLines:
    """The JSON lines of :func:`reading_record`, fast: what a meter's series repeats is encoded once.

    Every line equals ``json.dumps(reading_record(reading, protocol, **extra),
    ensure_ascii=False)``, keys in the same order; a reading with quirks takes
    that path itself. At most ``max_series`` series are remembered.
    """

    def __init__(self, protocol: str, max_series: int = 4096) -> None:
        self.protocol = protocol
        self.max_series = max_series
        self._series: dict[tuple[object, ...], tuple[str, str, str]] = {}
        self._last_time: object = None
        self._last_time_text = ""

    def _parts(self, reading: Reading) -> tuple[str, str, str]:
        key = (reading.meter_id, reading.obis, reading.unit, reading.scaler)
        parts = self._series.get(key)
        if parts is None:
            unit = unit_symbol(reading.unit) if reading.unit is not None else None
            parts = (
                f'{{"protocol": {_encode(self.protocol)}, "meter": {_encode(reading.meter_id)}, '
                f'"obis": {_encode(str(reading.obis))}, "name": {_encode(describe(reading.obis))}, "value": ',
                f', "unit": {_encode(unit)}, "unit_code": {_encode(reading.unit)}, "raw": ',
                f', "scaler": {_encode(reading.scaler)}, "status": ',
            )
            if len(self._series) >= self.max_series:
                self._series.clear()
            self._series[key] = parts
        return parts

    def _time(self, time: MeterTime | None) -> str:
        if time is None:
            return ', "time": null, "sec_index": null'
        if time is not self._last_time and time != self._last_time:
            if time.kind is MeterTimeKind.SEC_INDEX:
                text = f', "time": null, "sec_index": {time.value}'
            else:
                text = f', "time": "{time.local_datetime().isoformat()}", "sec_index": null'  # type: ignore[union-attr]
            self._last_time, self._last_time_text = time, text
        return self._last_time_text

    def lines(self, readings: list[Reading], **extra: Any) -> str:
        """The lines of ``readings`` (each ending in a newline), ``extra`` keys last."""
        tail = "".join(f", {_encode(key)}: {_encode(value)}" for key, value in extra.items()) + "}\n"
        out = []
        for reading in readings:
            raw = reading.raw
            if reading.quirks:
                out.append(_encode(reading_record(reading, self.protocol, **extra)) + "\n")
                continue
            head, middle, scaler = self._parts(reading)
            if isinstance(raw, bool):
                value = raw_text = "true" if raw else "false"
            elif isinstance(raw, int):
                raw_text = str(raw)
                value = _scaled_text(raw, reading.scaler) or _encode(_number(reading.value()))  # type: ignore[arg-type]
            else:
                value, raw_text = _encode(octets_text(raw)), f'"{raw.hex()}"'
            status = "null" if reading.status is None else str(reading.status)
            out.append(f"{head}{value}{middle}{raw_text}{scaler}{status}{self._time(reading.meter_time)}{tail}")
        return "".join(out)


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
