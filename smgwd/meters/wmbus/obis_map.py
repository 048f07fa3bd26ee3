"""EN 13757-3 records onto OBIS codes and DLMS units, per medium.

How this works: the device type of the meter picks the OBIS medium (value group A), the
record's quantity and direction pick C and D from the medium's table, the DIFE fields
give the rest: subunit -> B (channel), tariff -> E, storage number -> F (storage 0 is the
current value, F = 255; storage 1..99 is a historical value, F = storage). The function
field picks D for the non-electric media (0 current, 4 minimum, 5 maximum).

Sources of the tables (facts, no code):

- electricity (A = 1): 1.8 / 2.8 energy import / export, 1.7 / 2.7 power,
  32.7 / 52.7 / 72.7 voltage and 31.7 / 51.7 / 71.7 current per phase, 12.7 / 11.7 without
  phase, 14.7 frequency (IEC 62056-6-1; the codes every SML and DLMS meter of this project
  uses). An energy or power record with the "accumulation if negative" VIFE (0x3C) is the
  export direction.
- water (A = 8 cold, 9 warm): C 1 volume, 2 flow, 3 flow temperature; D 0 current value,
  4 minimum, 5 maximum (KBR's table of DIN EN 13757-1:2015-01,
  https://www.kbr.de/en/obis-code-system/water-cold).
- gas (A = 7): C 3 forward absolute volume, D 0 at metering conditions, D 2 at base
  conditions (VIFE 0x3E); C 43 flow rate (Gurux OBISCodes table, GPL: codes only).
- heat (A = 6) and cooling (A = 5): C 1 energy, 2 volume, 3 mass, 8 power, 9 flow,
  10 flow temperature, 11 return temperature, 12 temperature difference, 13 pressure
  (EN 13757-1 as read for this table; no public copy was at hand to check it against).

A record no table covers still becomes a reading, under a stable code in the
manufacturer-specific range of value group C (128 + the quantity's index in
:data:`PRIVATE_C`, documented in the README, only ever appended to): the JSON output names
the quantity beside it. Records whose subunit, tariff or storage number do not fit an
OBIS group (B <= 64, E <= 63, F <= 99), units DLMS has no code for (ft3, US gallons, °F,
m3/min, m3/s, cal) and dates have no reading.
"""

from __future__ import annotations

from typing import Final

from smgwd.codec.mbus import Function, Record
from smgwd.cosem.obis import Obis
from smgwd.cosem.units import unit_code

__all__ = ["MEDIUM_GROUPS", "PRIVATE_C", "medium_group", "record_obis", "record_unit"]

#: EN 13757 device type -> OBIS value group A.
MEDIUM_GROUPS: Final[dict[int, int]] = {
    0x02: 1,  # electricity
    0x03: 7,  # gas
    0x04: 6,  # heat (outlet)
    0x0C: 6,  # heat (inlet)
    0x0D: 6,  # heat / cooling
    0x0A: 5,  # cooling (outlet)
    0x0B: 5,  # cooling (inlet)
    0x07: 8,  # water
    0x16: 8,  # cold water
    0x06: 9,  # warm water
    0x15: 9,  # hot water
    0x08: 4,  # heat cost allocator
}

_EXPORT = "accumulation_if_negative"
_PHASES = {"at_phase_l1": 0, "at_phase_l2": 1, "at_phase_l3": 2}

#: (A, quantity) -> C for the non-electric media.
_NON_ELECTRIC: Final[dict[tuple[int, str], int]] = {
    **{(a, q): c for a in (8, 9) for q, c in (("volume", 1), ("volume_flow", 2), ("flow_temperature", 3))},
    (7, "volume"): 3,
    (7, "volume_flow"): 43,
    **{
        (a, q): c
        for a in (5, 6)
        for q, c in (
            ("energy", 1),
            ("volume", 2),
            ("mass", 3),
            ("power", 8),
            ("volume_flow", 9),
            ("flow_temperature", 10),
            ("return_temperature", 11),
            ("temperature_difference", 12),
            ("pressure", 13),
        )
    },
}

_FUNCTION_D = {Function.INSTANTANEOUS: 0, Function.MINIMUM: 4, Function.MAXIMUM: 5}

#: Quantities of the private codes, C = 128 + index. Append only: stored readings keep them.
PRIVATE_C: Final[tuple[str, ...]] = (
    "energy",
    "volume",
    "mass",
    "power",
    "volume_flow",
    "mass_flow",
    "flow_temperature",
    "return_temperature",
    "temperature_difference",
    "external_temperature",
    "pressure",
    "hca",
    "on_time",
    "operating_time",
    "actuality_duration",
    "averaging_duration",
    "voltage",
    "current",
    "frequency",
    "dimensionless",
    "fabrication_number",
    "enhanced_identification",
    "access_number",
    "reactive_energy",
    "apparent_energy",
    "reactive_power",
    "apparent_power",
    "relative_humidity",
    "error_flags",
    "remaining_battery",
    "battery_operating_time",
    "rf_level",
    "cumulative_max_power",
)
_PRIVATE = {q: 128 + n for n, q in enumerate(PRIVATE_C)}
#: Records of quantities beyond the list get the code C = 199 (other), D from the function.
_OTHER_C = 199


def medium_group(device_type: int) -> int:
    """OBIS value group A of a device type (0, abstract, for the others)."""
    return MEDIUM_GROUPS.get(device_type, 0)


def _electricity(rec: Record) -> tuple[int, int] | None:
    quantity, ext = rec.quantity, rec.extensions
    if rec.function is not Function.INSTANTANEOUS:
        return None
    export = _EXPORT in ext
    if quantity == "energy":
        return (2 if export else 1), 8
    if quantity == "power":
        return (2 if export else 1), 7
    phase = next((_PHASES[e] for e in ext if e in _PHASES), None)
    if quantity == "voltage":
        return (12 if phase is None else 32 + 20 * phase), 7
    if quantity == "current":
        return (11 if phase is None else 31 + 20 * phase), 7
    if quantity == "frequency":
        return 14, 7
    return None


def _standard(a: int, rec: Record) -> tuple[int, int] | None:
    if a == 1:
        return _electricity(rec)
    c = _NON_ELECTRIC.get((a, rec.quantity))
    d = _FUNCTION_D.get(rec.function)
    if c is None or d is None:
        return None
    if a == 7 and rec.quantity == "volume" and "value_at_base_conditions" in rec.extensions:
        d = 2
    return c, d


def record_obis(device_type: int, rec: Record) -> Obis | None:
    """The OBIS code of a numeric record of a meter of ``device_type``, or None (see module doc)."""
    if rec.subunit > 64 or rec.tariff > 63 or rec.storage > 99 or not isinstance(rec.raw, int) or isinstance(rec.raw, bool):
        return None
    if rec.quantity in ("date", "date_time"):
        return None
    a = medium_group(device_type)
    f = 255 if rec.storage == 0 else rec.storage
    standard = _standard(a, rec)
    if standard is not None:
        return Obis(a, rec.subunit, standard[0], standard[1], rec.tariff, f)
    c = _PRIVATE.get(rec.quantity, _OTHER_C)
    return Obis(a, rec.subunit, c, int(rec.function), rec.tariff, f)


def record_unit(rec: Record) -> int | None:
    """The DLMS unit code of the record's canonical unit, or None (no unit, or none in DLMS)."""
    if rec.unit is None:
        return None
    try:
        return unit_code(rec.unit)
    except KeyError:
        return None
