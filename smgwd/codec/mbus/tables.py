"""EN 13757-3 code tables: VIF (primary, 0xFB and 0xFD extensions) and combinable VIFEs.

How this works: every table is a plain dict built once at import, mapping a code (with the
extension bit masked off) to a :class:`Vif` meaning (quantity, unit, decimal scaler, value
kind) or, for combinable VIFEs, to a stable snake_case name. Codes a table does not know are
not errors; the record decoder names them ``vif_0x..`` / ``vife_0x..`` so nothing is lost.

Canonical units (``Vif.unit``): ``Wh``, ``J``, ``m3``, ``kg``, ``t``, ``W``, ``J/h``,
``m3/h``, ``m3/min``, ``m3/s``, ``kg/h``, ``°C``, ``°F``, ``K``, ``bar``, ``V``, ``A``, ``Hz``,
``%``, ``var``, ``VA``, ``varh``, ``VAh``, ``cal``, ``ft3``, ``gal_us``, ``gal_us/min``,
``gal_us/h``, ``dBm``, ``Bd`` (baud), ``bit_times``, ``currency`` (local legal currency
units), and the durations ``s``, ``min``, ``h``, ``d``, ``month``, ``year``. Larger units of the
standard fold into the scaler (0xFB00 "0.1 MWh" is Wh with scaler 5, 0xFB08 "0.1 GJ" is J
with scaler 8, 0xFB18 "100 t" is kg with scaler 5); units that differ by a factor other than
a power of ten stay apart (J vs Wh, h vs s, °F vs °C). ``None`` means dimensionless or not a
measured value (dates, identifiers, counters, flags, HCA units).

Value kinds (``Vif.kind``): ``signed`` (EN 13757-3 type B integer), ``unsigned`` (identifiers,
flags, counters, versions: type C), ``date`` (VIF 0x6C, type G; like wmbusmeters, a 32/48-bit
field under it is read as type F/I), ``datetime`` (type G/F/I/J chosen by the field size).

Sources for the codes: EN 13757-3:2013/2018 as quoted by libmbus ``mbus/mbus-protocol.c``,
wmbusmeters ``src/dvparser.h`` and m-bus-parser ``value_information.rs``; where they disagree
the comment says which was followed.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = [
    "Vif",
    "PRIMARY",
    "FB",
    "FD",
    "COMBINABLE",
    "COMBINABLE_FC",
    "DATE_VIFES",
    "PROFILE_VIFES",
    "DATA_LENGTH",
    "CODING",
]


class Vif(NamedTuple):
    """What a VIF code means: quantity name, canonical unit, power-of-ten scaler, value kind."""

    quantity: str
    unit: str | None
    scaler: int
    kind: str = "signed"


_DURATION = ("s", "min", "h", "d")
_DURATION_PP = ("h", "d", "month", "year")


def _range(table: dict[int, Vif], first: int, count: int, quantity: str, unit: str | None, base: int) -> None:
    """Codes first..first+count-1 mean ``quantity`` in ``unit`` with scaler ``code - first + base``."""
    for n in range(count):
        table[first + n] = Vif(quantity, unit, n + base)


def _durations(table: dict[int, Vif], first: int, quantity: str, units: tuple[str, ...] = _DURATION) -> None:
    for n, unit in enumerate(units):
        table[first + n] = Vif(quantity, unit, 0, "unsigned")


# --- primary VIF (EN 13757-3 table 10), keyed by VIF & 0x7F -------------------------------

PRIMARY: dict[int, Vif] = {}
_range(PRIMARY, 0x00, 8, "energy", "Wh", -3)
_range(PRIMARY, 0x08, 8, "energy", "J", 0)
_range(PRIMARY, 0x10, 8, "volume", "m3", -6)
_range(PRIMARY, 0x18, 8, "mass", "kg", -3)
_durations(PRIMARY, 0x20, "on_time")
_durations(PRIMARY, 0x24, "operating_time")
_range(PRIMARY, 0x28, 8, "power", "W", -3)
_range(PRIMARY, 0x30, 8, "power", "J/h", 0)
_range(PRIMARY, 0x38, 8, "volume_flow", "m3/h", -6)
_range(PRIMARY, 0x40, 8, "volume_flow", "m3/min", -7)
_range(PRIMARY, 0x48, 8, "volume_flow", "m3/s", -9)
_range(PRIMARY, 0x50, 8, "mass_flow", "kg/h", -3)
_range(PRIMARY, 0x58, 4, "flow_temperature", "°C", -3)
_range(PRIMARY, 0x5C, 4, "return_temperature", "°C", -3)
_range(PRIMARY, 0x60, 4, "temperature_difference", "K", -3)
_range(PRIMARY, 0x64, 4, "external_temperature", "°C", -3)
_range(PRIMARY, 0x68, 4, "pressure", "bar", -3)
PRIMARY[0x6C] = Vif("date", None, 0, "date")
PRIMARY[0x6D] = Vif("date_time", None, 0, "datetime")
PRIMARY[0x6E] = Vif("hca", None, 0)
_durations(PRIMARY, 0x70, "averaging_duration")
_durations(PRIMARY, 0x74, "actuality_duration")
PRIMARY[0x78] = Vif("fabrication_number", None, 0, "unsigned")
PRIMARY[0x79] = Vif("enhanced_identification", None, 0, "unsigned")
PRIMARY[0x7A] = Vif("bus_address", None, 0, "unsigned")
PRIMARY[0x7E] = Vif("any", None, 0)
# 0x6F (third extension table, reserved), 0x7B/0x7D (extension tables, handled by the
# decoder when the extension bit is set), 0x7C (plain text) and 0x7F (manufacturer) are
# not in this table on purpose.

# --- first extension table, VIF 0xFB (EN 13757-3 table 14), keyed by VIFE & 0x7F ----------
# 0x02-0x07, 0x0C-0x0F, 0x14-0x17, 0x2A-0x2F, 0x34-0x37 are EN 13757-3:2018 codes (as in
# m-bus-parser); 0x22-0x26 (US gallons) are from the older M-Bus documentation (as in libmbus).

FB: dict[int, Vif] = {}
_range(FB, 0x00, 2, "energy", "Wh", 5)
_range(FB, 0x02, 2, "reactive_energy", "varh", 3)
_range(FB, 0x04, 2, "apparent_energy", "VAh", 3)
_range(FB, 0x08, 2, "energy", "J", 8)
_range(FB, 0x0C, 4, "energy", "cal", 5)
_range(FB, 0x10, 2, "volume", "m3", 2)
_range(FB, 0x14, 4, "reactive_power", "var", 0)
_range(FB, 0x18, 2, "mass", "kg", 5)
_range(FB, 0x1A, 2, "relative_humidity", "%", -1)
FB[0x20] = Vif("volume", "ft3", 0)
FB[0x21] = Vif("volume", "ft3", -1)
_range(FB, 0x22, 2, "volume", "gal_us", -1)
FB[0x24] = Vif("volume_flow", "gal_us/min", -3)
FB[0x25] = Vif("volume_flow", "gal_us/min", 0)
FB[0x26] = Vif("volume_flow", "gal_us/h", 0)
_range(FB, 0x28, 2, "power", "W", 5)
FB[0x2A] = Vif("phase_voltage_voltage", "°", -1)
FB[0x2B] = Vif("phase_voltage_current", "°", -1)
_range(FB, 0x2C, 4, "frequency", "Hz", -3)
_range(FB, 0x30, 2, "power", "J/h", 8)
_range(FB, 0x34, 4, "apparent_power", "VA", 0)
_range(FB, 0x58, 4, "flow_temperature", "°F", -3)
_range(FB, 0x5C, 4, "return_temperature", "°F", -3)
_range(FB, 0x60, 4, "temperature_difference", "°F", -3)
_range(FB, 0x64, 4, "external_temperature", "°F", -3)
_range(FB, 0x70, 4, "temperature_limit", "°F", -3)
_range(FB, 0x74, 4, "temperature_limit", "°C", -3)
_range(FB, 0x78, 8, "cumulative_max_power", "W", -3)

# --- second extension table, VIF 0xFD (EN 13757-3 table 12), keyed by VIFE & 0x7F ---------
# 0x30-0x39 follow EN 13757-3:2013 as in libmbus (tariff start/duration/period).

FD: dict[int, Vif] = {}
_range(FD, 0x00, 4, "credit", "currency", -3)
_range(FD, 0x04, 4, "debit", "currency", -3)
for _code, _name in {
    0x08: "access_number",
    0x09: "medium",
    0x0A: "manufacturer",
    0x0B: "parameter_set_id",
    0x0C: "model_version",
    0x0D: "hardware_version",
    0x0E: "firmware_version",
    0x0F: "software_version",
    0x10: "customer_location",
    0x11: "customer",
    0x12: "access_code_user",
    0x13: "access_code_operator",
    0x14: "access_code_system_operator",
    0x15: "access_code_developer",
    0x16: "password",
    0x17: "error_flags",
    0x18: "error_mask",
    0x19: "security_key",
    0x1A: "digital_output",
    0x1B: "digital_input",
    0x1E: "retry",
    0x1F: "remote_control",
    0x20: "first_storage_number",
    0x21: "last_storage_number",
    0x22: "storage_block_size",
    0x23: "tariff_subunit_descriptor",
    0x2B: "time_point_second",
    0x60: "reset_counter",
    0x61: "cumulation_counter",
    0x62: "control_signal",
    0x63: "day_of_week",
    0x64: "week_number",
    0x65: "time_point_of_day_change",
    0x66: "parameter_activation_state",
    0x67: "special_supplier_information",
    0x72: "daylight_saving",
    0x73: "listening_window",
    0x75: "meter_stop_count",
    0x76: "manufacturer_protocol_container",
}.items():
    FD[_code] = Vif(_name, None, 0, "unsigned")
FD[0x1C] = Vif("baud_rate", "Bd", 0, "unsigned")
FD[0x1D] = Vif("response_delay", "bit_times", 0, "unsigned")
_durations(FD, 0x24, "storage_interval", ("s", "min", "h", "d", "month", "year"))
_durations(FD, 0x2C, "duration_since_readout")
FD[0x30] = Vif("tariff_start", None, 0, "datetime")
_durations(FD, 0x31, "tariff_duration", ("min", "h", "d"))
_durations(FD, 0x34, "tariff_period", ("s", "min", "h", "d", "month", "year"))
FD[0x3A] = Vif("dimensionless", None, 0)
_range(FD, 0x40, 16, "voltage", "V", -9)
_range(FD, 0x50, 16, "current", "A", -12)
_durations(FD, 0x68, "duration_since_cumulation", _DURATION_PP)
_durations(FD, 0x6C, "battery_operating_time", _DURATION_PP)
FD[0x70] = Vif("battery_change_date_time", None, 0, "datetime")
FD[0x71] = Vif("rf_level", "dBm", 0)
FD[0x74] = Vif("remaining_battery", "d", 0, "unsigned")

# --- combinable (orthogonal) VIFEs (EN 13757-3 tables 15/16), keyed by VIFE & 0x7F --------
# 0x00-0x0F and 0x15-0x18, 0x1C: record error codes (meter to controller); 0x12-0x14 and
# 0x1D-0x1F: EN 13757-3:2018 meanings; 0x70-0x7F are handled by the decoder (corrections,
# extension, manufacturer) and only named here.

_ERRORS = {
    0x00: "none",
    0x01: "too_many_difes",
    0x02: "storage_not_implemented",
    0x03: "unit_not_implemented",
    0x04: "tariff_not_implemented",
    0x05: "function_not_implemented",
    0x06: "data_class_not_implemented",
    0x07: "data_size_not_implemented",
    0x0B: "too_many_vifes",
    0x0C: "illegal_vif_group",
    0x0D: "illegal_vif_exponent",
    0x0E: "vif_dif_mismatch",
    0x0F: "unimplemented_action",
    0x15: "no_data",
    0x16: "data_overflow",
    0x17: "data_underflow",
    0x18: "data_error",
    0x1C: "premature_end_of_record",
}
COMBINABLE: dict[int, str] = {code: "record_error_" + name for code, name in _ERRORS.items()}
COMBINABLE.update(
    {
        0x12: "average",
        0x13: "inverse_compact_profile",
        0x14: "relative_deviation",
        0x1D: "standard_conformant_data",
        0x1E: "compact_profile_with_register",
        0x1F: "compact_profile",
        0x20: "per_second",
        0x21: "per_minute",
        0x22: "per_hour",
        0x23: "per_day",
        0x24: "per_week",
        0x25: "per_month",
        0x26: "per_year",
        0x27: "per_revolution",
        0x28: "increment_per_input_pulse_0",
        0x29: "increment_per_input_pulse_1",
        0x2A: "increment_per_output_pulse_0",
        0x2B: "increment_per_output_pulse_1",
        0x2C: "per_litre",
        0x2D: "per_m3",
        0x2E: "per_kg",
        0x2F: "per_kelvin",
        0x30: "per_kwh",
        0x31: "per_gj",
        0x32: "per_kw",
        0x33: "per_kelvin_litre",
        0x34: "per_volt",
        0x35: "per_ampere",
        0x36: "multiplied_by_s",
        0x37: "multiplied_by_s_per_v",
        0x38: "multiplied_by_s_per_a",
        0x39: "start_date_time_of",
        0x3A: "uncorrected_unit",
        0x3B: "accumulation_if_positive",
        0x3C: "accumulation_if_negative",
        0x3D: "non_metric_units",
        0x3E: "value_at_base_conditions",
        0x3F: "obis_declaration",
        0x40: "lower_limit",
        0x41: "lower_limit_exceed_count",
        0x42: "lower_limit_first_begin_date",
        0x43: "lower_limit_first_end_date",
        0x46: "lower_limit_last_begin_date",
        0x47: "lower_limit_last_end_date",
        0x48: "upper_limit",
        0x49: "upper_limit_exceed_count",
        0x4A: "upper_limit_first_begin_date",
        0x4B: "upper_limit_first_end_date",
        0x4E: "upper_limit_last_begin_date",
        0x4F: "upper_limit_last_end_date",
        0x68: "value_during_lower_limit_exceed",
        0x69: "leakage_values",
        0x6C: "value_during_upper_limit_exceed",
        0x6D: "overflow_values",
        0x6A: "first_begin_date_of",
        0x6B: "first_end_date_of",
        0x6E: "last_begin_date_of",
        0x6F: "last_end_date_of",
        0x7E: "future_value",
    }
)
for _n, _unit in enumerate(_DURATION):
    COMBINABLE[0x50 + _n] = f"lower_limit_first_exceed_duration_{_unit}"
    COMBINABLE[0x54 + _n] = f"lower_limit_last_exceed_duration_{_unit}"
    COMBINABLE[0x58 + _n] = f"upper_limit_first_exceed_duration_{_unit}"
    COMBINABLE[0x5C + _n] = f"upper_limit_last_exceed_duration_{_unit}"
    COMBINABLE[0x60 + _n] = f"first_duration_{_unit}"
    COMBINABLE[0x64 + _n] = f"last_duration_{_unit}"

#: Combinable VIFEs that turn the record's value into a point in time (decoded by size).
DATE_VIFES = frozenset({0x39, 0x42, 0x43, 0x46, 0x47, 0x4A, 0x4B, 0x4E, 0x4F, 0x6A, 0x6B, 0x6E, 0x6F})

#: Combinable VIFEs whose variable-length data is a (compact) profile, kept as bytes.
PROFILE_VIFES = frozenset({0x13, 0x1E, 0x1F})

#: Combinable VIFE extension table (after VIFE 0xFC / 0x7C), EN 13757-3:2018 table 16.
COMBINABLE_FC: dict[int, str] = {
    0x01: "at_phase_l1",
    0x02: "at_phase_l2",
    0x03: "at_phase_l3",
    0x04: "at_neutral",
    0x05: "between_l1_l2",
    0x06: "between_l2_l3",
    0x07: "between_l3_l1",
    0x08: "at_quadrant_q1",
    0x09: "at_quadrant_q2",
    0x0A: "at_quadrant_q3",
    0x0B: "at_quadrant_q4",
    0x0C: "delta_import_export",
    0x10: "accumulation_of_absolute_value",
    0x11: "data_type_c",
    0x12: "data_type_d",
    0x13: "to_meter",
    0x14: "from_meter",
}

# --- DIF data field (EN 13757-3 table 4), keyed by DIF & 0x0F -----------------------------

#: Data field length in bytes; -1 = variable length (LVAR), -2 = special function.
DATA_LENGTH: tuple[int, ...] = (0, 1, 2, 3, 4, 4, 6, 8, 0, 1, 2, 3, 4, -1, 6, -2)

#: Data field coding names, as carried in ``Record.coding``.
CODING: tuple[str, ...] = (
    "none",
    "int8",
    "int16",
    "int24",
    "int32",
    "real32",
    "int48",
    "int64",
    "selection",
    "bcd2",
    "bcd4",
    "bcd6",
    "bcd8",
    "lvar",
    "bcd12",
    "special",
)
