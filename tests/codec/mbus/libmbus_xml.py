"""Compare our records with libmbus' normalised XML (``mbus_frame_data_xml_normalized``).

libmbus prints, per record: function, storage number, tariff and device (subunit, only when
a DIFE is present), a quantity name, a unit and the value normalised to that unit (``%f``),
a date as ``YYYY-MM-DD`` / ``YYYY-MM-DDTHH:MM:SSZ``, text as the string, binary data and
manufacturer data as upper-case hex bytes. This module turns a :class:`Record` into the same
terms so a test can compare field by field; it knows nothing of the expected values.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from smgwd.codec.mbus import Function, MbusDateTime, Record

FUNCTIONS = {
    "Instantaneous value": Function.INSTANTANEOUS,
    "Maximum value": Function.MAXIMUM,
    "Minimum value": Function.MINIMUM,
    "Value during error state": Function.ERROR,
}

# libmbus quantity name -> ours (libmbus names come from mbus_vif_unit_normalize /
# mbus_vib_unit_lookup in mbus/mbus-protocol.c)
QUANTITIES = {
    "Energy": "energy",
    "Volume": "volume",
    "Mass": "mass",
    "Power": "power",
    "Volume flow": "volume_flow",
    "Mass flow": "mass_flow",
    "Flow temperature": "flow_temperature",
    "Return temperature": "return_temperature",
    "Temperature difference": "temperature_difference",
    "External temperature": "external_temperature",
    "Pressure": "pressure",
    "Time point (date)": "date",
    "Time point (date & time)": "date_time",
    "H.C.A.": "hca",
    "Fabrication No": "fabrication_number",
    "(Enhanced) Identification": "enhanced_identification",
    "On time": "on_time",
    "Operating time": "operating_time",
    "Averaging Duration": "averaging_duration",
    "Actuality Duration": "actuality_duration",
    "Voltage": "voltage",
    "Current": "current",
    "Error flags": "error_flags",
    "Software version": "software_version",
    "Firmware version": "firmware_version",
    "Hardware version": "hardware_version",
    "Model / Version": "model_version",
    "Parameter set identification": "parameter_set_id",
    "Customer location": "customer_location",
    "Customer": "customer",
    "Medium": "medium",
    "Digital Input": "digital_input",
    "Digital Output": "digital_output",
    "Dimensionless": "dimensionless",
    "Reset counter": "reset_counter",
    "Special supplier information": "special_supplier_information",
    "%RH": "relative_humidity",
    "Manufacturer specific": "manufacturer_specific",
}

# our unit -> (libmbus normalised unit, factor)
UNITS = {
    "Wh": ("Wh", 1),
    "J": ("J", 1),
    "m3": ("m^3", 1),
    "kg": ("kg", 1),
    "W": ("W", 1),
    "J/h": ("J/h", 1),
    "m3/h": ("m^3/h", 1),
    "m3/min": ("m^3/min", 1),
    "m3/s": ("m^3/s", 1),
    "kg/h": ("kg/h", 1),
    "°C": ("°C", 1),
    "K": ("K", 1),
    "bar": ("bar", 1),
    "V": ("V", 1),
    "A": ("A", 1),
    "%": ("%", 1),
    "s": ("s", 1),
    "min": ("s", 60),
    "h": ("s", 3600),
    "d": ("s", 86400),
}


@dataclass(frozen=True)
class Expected:
    """One libmbus DataRecord."""

    index: int
    function: str
    storage: int
    tariff: int | None
    device: int | None
    unit: str
    quantity: str
    value: str


def _text(rec: ET.Element, tag: str) -> str | None:
    el = rec.find(tag)
    return None if el is None else (el.text or "")


def load_norm_xml(path: Path) -> list[Expected]:
    # the files declare ISO-8859-1 but are UTF-8 ("°C" is C2 B0)
    text = path.read_bytes().decode("utf-8")
    root = ET.fromstring(text[text.index("?>") + 2 :] if text.startswith("<?xml") else text)
    out = []
    for rec in root.iter("DataRecord"):
        tariff, device = _text(rec, "Tariff"), _text(rec, "Device")
        out.append(
            Expected(
                int(rec.get("id", "0")),
                _text(rec, "Function") or "",
                int(_text(rec, "StorageNumber") or 0),
                None if tariff is None else int(tariff),
                None if device is None else int(device),
                _text(rec, "Unit") or "",
                _text(rec, "Quantity") or "",
                _text(rec, "Value") or "",
            )
        )
    return out


def hex_upper(data: bytes) -> str:
    return " ".join(f"{b:02X}" for b in data)


def libmbus_date(when: MbusDateTime) -> str:
    """Our date in libmbus' print format."""
    if when.type == "G":
        return f"{when.year:04d}-{when.month:02d}-{when.day:02d}"
    return f"{when.year:04d}-{when.month:02d}-{when.day:02d}T{when.hour:02d}:{when.minute:02d}:{when.second or 0:02d}Z"


def compare(rec: Record, want: Expected) -> list[str]:
    """Differences between our record and libmbus' (empty when they agree)."""
    diffs: list[str] = []
    if want.function in ("Manufacturer specific", "More records follow"):
        if rec.quantity != "manufacturer_data":
            diffs.append(f"quantity {rec.quantity} != manufacturer data")
        if (want.function == "More records follow") != ("more_records_follow" in rec.extensions):
            diffs.append("more records follow flag")
        if want.value and hex_upper(rec.data) != want.value:
            diffs.append(f"data {hex_upper(rec.data)} != {want.value}")
        return diffs
    if FUNCTIONS.get(want.function) is not rec.function:
        diffs.append(f"function {rec.function.name} != {want.function}")
    if rec.storage != want.storage:
        diffs.append(f"storage {rec.storage} != {want.storage}")
    if want.tariff is not None and rec.tariff != want.tariff:
        diffs.append(f"tariff {rec.tariff} != {want.tariff}")
    if want.device is not None and rec.subunit != want.device:
        diffs.append(f"subunit {rec.subunit} != {want.device}")
    if rec.quantity == "plain_text":
        if rec.unit != want.quantity:
            diffs.append(f"plain-text unit {rec.unit!r} != {want.quantity!r}")
    elif want.quantity == "Reserved":  # libmbus' name for codes its tables do not know
        if not rec.quantity.startswith("vif_0x"):
            diffs.append(f"quantity {rec.quantity} != Reserved")
    elif QUANTITIES.get(want.quantity) != rec.quantity:
        diffs.append(f"quantity {rec.quantity} != {want.quantity}")
    raw = rec.raw
    if isinstance(raw, MbusDateTime):
        if not raw.valid or libmbus_date(raw) != want.value:
            diffs.append(f"date {raw} != {want.value}")
    elif isinstance(raw, str):
        if raw != want.value:
            diffs.append(f"text {raw!r} != {want.value!r}")
    elif rec.coding == "lvar_binary" and isinstance(raw, int):
        if hex_upper(rec.data[::-1]) != want.value:
            diffs.append(f"binary {hex_upper(rec.data[::-1])} != {want.value}")
    elif isinstance(raw, (int, Decimal)):
        unit, factor = UNITS.get(rec.unit or "", (None, 1))
        if unit is not None and want.unit != unit:
            diffs.append(f"unit {rec.unit} ({unit}) != {want.unit}")
        ours = Decimal(raw) * factor * Decimal(10) ** rec.scaler
        try:
            theirs = Decimal(want.value)
        except ArithmeticError:
            return diffs + [f"value {raw!r} ({rec.coding}) != {want.value!r}"]
        if abs(ours - theirs) > max(Decimal("0.0000011"), abs(theirs) * Decimal("1e-7")):
            diffs.append(f"value {ours} != {theirs}")
    else:
        diffs.append(f"value {raw!r} ({rec.coding}) != {want.value!r}")
    return diffs
