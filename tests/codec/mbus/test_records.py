"""Single records: the vectors of wmbusmeters' src/testinternals.cc test_dvparser() (values as
that test asserts them), and EN 13757-3 rules worked out by hand from the standard's tables."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from smgwd.codec.mbus import (
    Function,
    MbusCompactError,
    MbusDateTime,
    MbusError,
    MbusExtensionError,
    MbusReservedError,
    MbusTruncatedError,
    Record,
    decode_compact,
    decode_records,
    record_headers,
)
from smgwd.codec.mbus import records as records_module


def one(hexstr: str) -> Record:
    recs = decode_records(bytes.fromhex(hexstr))
    assert len(recs) == 1
    return recs[0]


def value(rec: Record) -> Decimal:
    assert isinstance(rec.raw, (int, Decimal))
    return Decimal(rec.raw) * Decimal(10) ** rec.scaler


# --- wmbusmeters src/testinternals.cc test_dvparser() @4dedd717 ---------------------------


def test_dvparser_case_1() -> None:
    recs = decode_records(bytes.fromhex("2F2F0B135634128B8200933E674523 0DFD100A30313233343536373839 0F882F".replace(" ", "")))
    assert [r.quantity for r in recs] == ["volume", "volume", "customer_location", "manufacturer_data"]
    assert value(recs[0]) == Decimal("123.456")
    assert value(recs[1]) == Decimal("234.567") and recs[1].extensions == ("value_at_base_conditions",)
    assert recs[1].dif_bytes == bytes.fromhex("8B8200") and recs[1].vif_bytes == bytes.fromhex("933E")
    assert recs[2].data.hex() == "30313233343536373839"  # what the test asserts (wire order)
    assert recs[2].raw == "9876543210"  # text: last character first on the wire
    assert recs[3].data == b"\x88\x2f"


@pytest.mark.parametrize(
    ("hexstr", "iso"),
    [
        ("82046C5F1C", "2010-12-31"),
        ("426CFE04", "2007-04-30"),
        ("446C0C0DD62C", "2022-12-22T13:12:00"),
        ("466C2D0C0DD62C33", "2022-12-22T13:12:45"),
        ("82106C0101", "2000-01-01"),
    ],
)
def test_dvparser_dates(hexstr: str, iso: str) -> None:
    rec = one(hexstr)
    assert isinstance(rec.raw, MbusDateTime) and rec.valid
    assert rec.raw.isoformat() == iso


def test_dvparser_year_127_kept_but_invalid() -> None:
    """wmbusmeters prints 426C E1F1 as 2127-01-01: year 127 is outside the type's 0..99."""
    rec = one("426CE1F1")
    assert isinstance(rec.raw, MbusDateTime)
    assert (rec.raw.year, rec.raw.month, rec.raw.day) == (2127, 1, 1)
    assert not rec.valid and rec.raw.to_python() is None and rec.storage == 1


def test_dvparser_case_3_compact_profile() -> None:
    area = bytes.fromhex(
        "0C1348550000426CE1F14C130000000082046C21298C0413330000008D04931E3A3CFE3300000033000000330000003300000033"
        "000000330000003300000033000000330000003300000033000000330000004300000034180000046D0D0B5C2B03FD6C5E1500"
        "82206C5C290BFD0F0200018C4079678885238310FD3100000082106C01018110FD610002FD66020002FD170000"
    )
    recs = decode_records(area)
    assert value(recs[0]) == Decimal("5.548")
    profile = next(r for r in recs if "compact_profile_with_register" in r.extensions)
    assert profile.coding == "lvar_bytes" and len(profile.data) == 0x3A
    assert any(r.quantity == "date" and r.raw.isoformat() == "2000-01-01" for r in recs)  # type: ignore[union-attr]


# --- EN 13757-3 rules, by hand ---------------------------------------------------------


def test_dif_fields_storage_tariff_subunit() -> None:
    # DIF C4: storage LSB 1, int32; DIFE 9F: storage 0xF<<1, tariff 1, ext; DIFE 70: tariff 3<<2, subunit 1<<1
    rec = one("C49F70" + "03" + "01000000")
    assert rec.storage == 1 | (0xF << 1)
    assert rec.tariff == 1 | (3 << 2)
    assert rec.subunit == 1 << 1
    assert rec.function is Function.INSTANTANEOUS
    assert (rec.quantity, rec.unit, rec.scaler, rec.raw) == ("energy", "Wh", 0, 1)


@pytest.mark.parametrize(
    ("dif", "function"), [(0x04, Function.INSTANTANEOUS), (0x14, Function.MAXIMUM), (0x24, Function.MINIMUM), (0x34, Function.ERROR)]
)
def test_function_field(dif: int, function: Function) -> None:
    assert one(f"{dif:02X}1300000000").function is function


@pytest.mark.parametrize(
    ("hexstr", "raw", "coding"),
    [
        ("0113FF", -1, "int8"),
        ("0213FEFF", -2, "int16"),
        ("0313000080", -(1 << 23), "int24"),
        ("06130100000000 80".replace(" ", ""), -(1 << 47) + 1, "int48"),
        ("0713FFFFFFFFFFFFFF7F", (1 << 63) - 1, "int64"),
        ("0913 42".replace(" ", ""), 42, "bcd2"),
        ("0A13 3412".replace(" ", ""), 1234, "bcd4"),
        ("0A13 23F1".replace(" ", ""), -123, "bcd4"),
        ("0C13 785634F1".replace(" ", ""), -1345678, "bcd8"),
        ("0E13 123456789012".replace(" ", ""), 129078563412, "bcd12"),
    ],
)
def test_integer_and_bcd(hexstr: str, raw: int, coding: str) -> None:
    rec = one(hexstr)
    assert (rec.raw, rec.coding, rec.valid) == (raw, coding, True)


def test_bcd_with_hex_digits_is_invalid_not_an_error() -> None:
    rec = one("0C13FFFFFFFF")
    assert rec.raw is None and not rec.valid and rec.data == b"\xff" * 4


def test_real32_is_exact_decimal() -> None:
    rec = one("05130000C03F")  # 1.5
    assert rec.raw == Decimal("1.5") and rec.coding == "real32"
    nan = one("05130000C07F")
    assert nan.raw is None and not nan.valid


@pytest.mark.parametrize(
    ("hexstr", "coding", "raw"),
    [
        ("0DFD0C03434241", "text", "ABC"),
        ("0D13C23412", "lvar_bcd", 1234),
        ("0D13D23412", "lvar_bcd", -1234),
        ("0D13E20100", "lvar_binary", 1),
    ],
)
def test_lvar(hexstr: str, coding: str, raw: object) -> None:
    rec = one(hexstr)
    assert (rec.coding, rec.raw) == (coding, raw)


def test_lvar_long_binary() -> None:
    rec = one("0D13F0" + "01" + "00" * 15)  # 4 * (0xF0 - 0xEC) = 16 bytes
    assert rec.coding == "lvar_binary" and len(rec.data) == 16 and rec.raw == 1


@pytest.mark.parametrize("lvar", [0xF7, 0xFA, 0xFF])
def test_lvar_reserved(lvar: int) -> None:
    with pytest.raises(MbusReservedError) as exc:
        decode_records(bytes([0x0D, 0x13, lvar, 0, 0]))
    assert exc.value.offset == 2


def test_selection_and_no_data() -> None:
    recs = decode_records(bytes.fromhex("0813 0013".replace(" ", "")))
    assert [(r.coding, r.raw) for r in recs] == [("selection", None), ("none", None)]


@pytest.mark.parametrize(
    ("vif", "quantity", "unit", "scaler"),
    [
        ("07", "energy", "Wh", 4),
        ("0F", "energy", "J", 7),
        ("10", "volume", "m3", -6),
        ("1B", "mass", "kg", 0),
        ("22", "on_time", "h", 0),
        ("27", "operating_time", "d", 0),
        ("2B", "power", "W", 0),
        ("33", "power", "J/h", 3),
        ("3B", "volume_flow", "m3/h", -3),
        ("43", "volume_flow", "m3/min", -4),
        ("4B", "volume_flow", "m3/s", -6),
        ("53", "mass_flow", "kg/h", 0),
        ("59", "flow_temperature", "°C", -2),
        ("5F", "return_temperature", "°C", 0),
        ("61", "temperature_difference", "K", -2),
        ("66", "external_temperature", "°C", -1),
        ("69", "pressure", "bar", -2),
        ("6E", "hca", None, 0),
        ("71", "averaging_duration", "min", 0),
        ("77", "actuality_duration", "d", 0),
        ("7A", "bus_address", None, 0),
        ("FB00", "energy", "Wh", 5),
        ("FB09", "energy", "J", 9),
        ("FB1B", "relative_humidity", "%", 0),
        ("FB21", "volume", "ft3", -1),
        ("FB29", "power", "W", 6),
        ("FB5A", "flow_temperature", "°F", -1),
        ("FD00", "credit", "currency", -3),
        ("FD07", "debit", "currency", 0),
        ("FD08", "access_number", None, 0),
        ("FD0A", "manufacturer", None, 0),
        ("FD0E", "firmware_version", None, 0),
        ("FD17", "error_flags", None, 0),
        ("FD1C", "baud_rate", "Bd", 0),
        ("FD48", "voltage", "V", -1),
        ("FD59", "current", "A", -3),
        ("FD60", "reset_counter", None, 0),
        ("FD61", "cumulation_counter", None, 0),
        ("FD66", "parameter_activation_state", None, 0),
        ("FD67", "special_supplier_information", None, 0),
        ("FD74", "remaining_battery", "d", 0),
    ],
)
def test_vif_tables(vif: str, quantity: str, unit: str | None, scaler: int) -> None:
    vb = bytes.fromhex(vif)
    if len(vb) == 1:
        vb = bytes([vb[0]])
    rec = one("02" + vb.hex() + "0100")
    assert (rec.quantity, rec.unit, rec.scaler) == (quantity, unit, scaler)


def test_unsigned_identifiers() -> None:
    assert one("02FD17FFFF").raw == 0xFFFF  # error flags are a bit field
    assert one("021BFFFF").raw == -1  # a mass is a signed type B integer


def test_combinable_vifes() -> None:
    rec = one("04833C01000000")  # energy 10^0 Wh, accumulation of negative contributions only
    assert rec.extensions == ("accumulation_if_negative",) and rec.scaler == 0
    rec = one("04FDC9FC0101000000")  # voltage, at phase L1
    assert (rec.quantity, rec.extensions) == ("voltage", ("at_phase_l1",))
    rec = one("0493F30000000000")  # volume 10^-3 m3 with VIFE 0x73: x 10^(3-6); then 0x00
    assert rec.scaler == -6 and rec.extensions == ("multiplicative_correction_1e-3", "record_error_none")
    rec = one("0493FD0100000000")  # VIFE 0x7D: x 10^3
    assert rec.scaler == 0
    rec = one("04937901000000")  # additive correction 10^(1-3): carried, not applied
    assert rec.scaler == -3 and rec.extensions == ("additive_correction_1e-2",)
    rec = one("0493FF812B01000000")  # 0x7F: the VIFEs after it are the manufacturer's
    assert rec.extensions == ("manufacturer_specific", "manufacturer_vife_0x81", "manufacturer_vife_0x2b")


def test_unknown_codes_are_kept() -> None:
    assert one("026F0100").quantity == "vif_0x6f"
    assert one("02FD7F0100").quantity == "vif_0xfd_0x7f"
    assert one("02FB400100").quantity == "vif_0xfb_0x40"
    assert one("0293450100").extensions == ("vife_0x45",)


def test_plain_text_vif_then_vifes() -> None:
    rec = one("02FC0348522574" + "2215")  # "%RH" then VIFE 0x74: 10^-2 (Elvaco CMa10)
    assert (rec.quantity, rec.unit, rec.scaler, rec.raw) == ("plain_text", "%RH", -2, 0x1522)
    assert rec.vif_bytes == bytes.fromhex("FC0348522574")


@pytest.mark.parametrize(
    ("data", "when"),
    [
        ("0000", MbusDateTime("G", b"\0\0", 2000, 0, 0, valid=False)),
        ("3F0D", None),  # day 31, month 13
        ("1E02", None),  # 30 February
    ],
)
def test_out_of_range_dates_do_not_raise(data: str, when: MbusDateTime | None) -> None:
    rec = one("026C" + data)
    assert isinstance(rec.raw, MbusDateTime) and not rec.valid and rec.raw.to_python() is None
    if when is not None:
        assert rec.raw == when


def test_type_f_flags_and_hour_25() -> None:
    rec = one("046D" + "1A" + "99" + "6511")  # hour 0x19 = 25, summer time bit set
    assert isinstance(rec.raw, MbusDateTime) and rec.raw.hour == 25 and rec.raw.summer_time and not rec.valid
    rec = one("046D" + "9A" + "0F" + "6511")  # IV bit
    assert rec.raw.time_invalid and not rec.valid  # type: ignore[union-attr]


def test_type_j_time() -> None:
    rec = one("036D" + "2D0C0D")
    assert rec.raw.to_python() == dt.time(13, 12, 45)  # type: ignore[union-attr]


def test_date_vifes_make_dates() -> None:
    rec = one("04AD6F" + "32147A18")  # power + VIFE 0x6F (date of ...): 2011-08-26 20:50
    assert rec.raw.isoformat() == "2011-08-26T20:50:00"  # type: ignore[union-attr]


def test_fillers_and_manufacturer_data() -> None:
    recs = decode_records(bytes.fromhex("2F2F0413010000002F1F0102"))
    assert [r.quantity for r in recs] == ["volume", "manufacturer_data"]
    assert recs[1].data == b"\x01\x02" and recs[1].extensions == ("more_records_follow",)
    assert decode_records(b"\x2f" * 7) == ()


@pytest.mark.parametrize(
    ("hexstr", "error", "offset"),
    [
        ("04", MbusTruncatedError, 0),
        ("0413010000", MbusTruncatedError, 0),
        ("84", MbusTruncatedError, 0),
        ("0493", MbusTruncatedError, 0),
        ("027C05414243", MbusTruncatedError, 0),
        ("2F0D13", MbusTruncatedError, 1),
        ("0D13" + "05" + "41", MbusTruncatedError, 0),
        ("04" + "13" + "00000000" + "8" + "4" + "80" * 10 + "00" + "13", MbusExtensionError, 6),
        ("0493" + "80" * 10 + "00", MbusExtensionError, 0),
        ("3F", MbusReservedError, 0),
        ("7F", MbusReservedError, 0),
    ],
)
def test_errors_name_offset(hexstr: str, error: type[MbusError], offset: int) -> None:
    with pytest.raises(error) as exc:
        decode_records(bytes.fromhex(hexstr))
    assert exc.value.offset == offset
    assert isinstance(exc.value, MbusError)


def test_ten_extensions_are_allowed() -> None:
    rec = one("84" + "80" * 9 + "00" + "93" + "80" * 9 + "00" + "01000000")
    assert len(rec.dif_bytes) == 11 and len(rec.vif_bytes) == 11


def test_compact() -> None:
    area = bytes.fromhex("0413010000000DFD0C024241426C5F1C0F0102")
    full = decode_records(area)
    headers = record_headers(area)
    assert headers == bytes.fromhex("0413" "0DFD0C" "426C" "0F")
    compact = decode_compact(headers, bytes.fromhex("02000000" "024342" "5F1C" "0102"))
    assert [r.raw for r in compact][:2] == [2, "BC"]
    assert compact[2].raw == full[2].raw and compact[3].data == b"\x01\x02"
    with pytest.raises(MbusCompactError):
        decode_compact(headers, bytes.fromhex("020000"))
    with pytest.raises(MbusCompactError):
        decode_compact(bytes.fromhex("0413"), bytes.fromhex("0200000000"))
    with pytest.raises(MbusCompactError):
        decode_compact(bytes.fromhex("04"), b"")


def test_header_cache_is_bounded() -> None:
    for n in range(records_module._CACHE_LIMIT + 10):
        decode_records(bytes([0x84, 0x80 | (n & 0x7F), (n >> 7) & 0x7F, 0x13, 0, 0, 0, 0]))
    assert len(records_module._cache) <= records_module._CACHE_LIMIT
