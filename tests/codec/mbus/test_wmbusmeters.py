"""Record areas of wireless (and one wired) telegrams from wmbusmeters' driver tests
(tests/data/mbus/wmbusmeters_records.json): the values match the JSON wmbusmeters prints."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from smgwd.codec.mbus import Function, MbusDateTime, decode_long_frame, decode_records

DATA = json.loads((Path(__file__).resolve().parents[2] / "data" / "mbus" / "wmbusmeters_records.json").read_text())
AREAS = {a["name"]: a for a in DATA["areas"]}


def test_provenance() -> None:
    for area in AREAS.values():
        assert area["record_area"].lower() in area["telegram"].replace("_", "").lower()
    assert len({a["maker"] for a in AREAS.values()}) >= 6


def _date_text(when: MbusDateTime) -> str:
    text = when.isoformat()
    assert text is not None
    return text.replace("T", " ")[:16]


def check(rec: Any, want: dict[str, Any]) -> None:
    assert rec.quantity == want["quantity"]
    for key in ("unit", "coding", "storage", "raw"):
        if key in want:
            assert getattr(rec, key) == want[key], key
    assert rec.function is Function[want.get("function", "INSTANTANEOUS")]
    for ext in want.get("extensions", ()):
        assert ext in rec.extensions
    if "factor" in want:
        ours = Decimal(rec.raw) * Decimal(10) ** rec.scaler
        theirs = Decimal(str(want["json"])) * want["factor"]
        assert abs(ours - theirs) <= Decimal(str(want.get("tolerance", "1e-9"))), (ours, theirs)
    elif isinstance(want.get("json"), str) and want["quantity"] in ("date", "date_time"):
        assert isinstance(rec.raw, MbusDateTime) and rec.valid
        assert _date_text(rec.raw) == want["json"]
    elif isinstance(want.get("json"), str) and "raw" not in want and want["json"] != "OK":
        assert rec.raw == want["json"]


@pytest.mark.parametrize("name", sorted(AREAS))
def test_area(name: str) -> None:
    area = AREAS[name]
    records = decode_records(bytes.fromhex(area["record_area"]))
    assert len(records) == area["records"]
    for want in area["expect"]:
        check(records[want["record"]], want)


def test_wired_elf2_frame() -> None:
    """The ELF 2 test telegram is a whole wired long frame: checksum, header and records."""
    area = AREAS["elf2_23170428"]
    fr = decode_long_frame(bytes.fromhex(area["telegram"].replace("_", "")))
    assert (fr.identification, fr.manufacturer, fr.ci) == (23170428, "APA", 0x72)
    assert fr.records_data.hex() == area["record_area"].lower()
