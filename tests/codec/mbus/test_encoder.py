"""The EN 13757-3 record encoder the simulator's meters use: what it writes decodes back to
what was given (hypothesis round trips through decode_records / decode_date_time), a few
records worked out by hand from the standard's DIF/DIFE layout, and values that do not fit
their field are refused."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smgwd.codec.mbus import Function, MbusDateTime, decode_date_time, decode_records
from smgwd.codec.mbus.encoder import date_time_f, encode_record

# coding -> data field bytes (EN 13757-3 table 4), written out here, not taken from the encoder
INT_WIDTHS = {"int8": 1, "int16": 2, "int24": 3, "int32": 4, "int48": 6, "int64": 8}
BCD_WIDTHS = {"bcd2": 1, "bcd4": 2, "bcd6": 3, "bcd8": 4, "bcd12": 6}

# VIF (and VIFE) bytes -> (quantity, unit, scaler, extensions), from EN 13757-3 table 10 by hand
VIFS: dict[bytes, tuple[str, str, int, tuple[str, ...]]] = {
    b"\x03": ("energy", "Wh", 0, ()),
    b"\x13": ("volume", "m3", -3, ()),  # litres
    b"\x2b": ("power", "W", 0, ()),
    b"\x3b": ("volume_flow", "m3/h", -3, ()),  # l/h
    b"\x5a": ("flow_temperature", "°C", -1, ()),
    b"\x83\x3c": ("energy", "Wh", 0, ("accumulation_if_negative",)),
}


@st.composite
def coded_values(draw: st.DrawFn) -> tuple[str, int]:
    """A coding and a value its field holds (binary: the signed range the decoder reads back)."""
    coding = draw(st.sampled_from(sorted(INT_WIDTHS) + sorted(BCD_WIDTHS)))
    if coding in INT_WIDTHS:
        bits = 8 * INT_WIDTHS[coding]
        return coding, draw(st.integers(-(1 << (bits - 1)), (1 << (bits - 1)) - 1))
    return coding, draw(st.integers(0, 10 ** (2 * BCD_WIDTHS[coding]) - 1))


@settings(max_examples=600)
@given(
    coded_values(),
    st.sampled_from(sorted(VIFS)),
    st.integers(0, 2**20),
    st.integers(0, 15),
    st.integers(0, 3),
    st.sampled_from(list(Function)),
)
def test_record_round_trip(
    cv: tuple[str, int], vif: bytes, storage: int, tariff: int, subunit: int, function: Function
) -> None:
    coding, value = cv
    data = encode_record(vif, value, coding=coding, storage=storage, tariff=tariff, subunit=subunit, function=function)
    (rec,) = decode_records(data)
    assert (rec.raw, rec.storage, rec.tariff, rec.subunit, rec.function) == (value, storage, tariff, subunit, function)
    assert rec.coding == coding and rec.valid
    assert (rec.quantity, rec.unit, rec.scaler, rec.extensions) == VIFS[vif]
    assert rec.vif_bytes == vif
    width = INT_WIDTHS.get(coding) or BCD_WIDTHS[coding]
    assert len(rec.data) == width
    assert len(rec.dif_bytes) + len(vif) + width == len(data)  # nothing left over, nothing missing


@settings(max_examples=200)
@given(st.sampled_from(sorted(INT_WIDTHS)), st.data())
def test_unsigned_upper_half_is_twos_complement(coding: str, data: st.DataObject) -> None:
    """The encoder takes 0 .. 2**bits - 1 too (unsigned fields); a signed VIF reads it back as
    the two's complement."""
    bits = 8 * INT_WIDTHS[coding]
    value = data.draw(st.integers(1 << (bits - 1), (1 << bits) - 1))
    (rec,) = decode_records(encode_record(b"\x03", value, coding=coding))
    assert rec.raw == value - (1 << bits)
    assert rec.data == value.to_bytes(bits // 8, "little")


def test_several_records_in_one_area() -> None:
    area = (
        encode_record(b"\x03", 123456, storage=1)
        + b"\x2f"
        + encode_record(b"\x83\x3c", 7, coding="bcd4", tariff=2)
        + encode_record(b"\x5a", -105, coding="int16", subunit=1)
    )
    recs = decode_records(area)
    assert [(r.quantity, r.raw, r.storage, r.tariff, r.subunit) for r in recs] == [
        ("energy", 123456, 1, 0, 0),
        ("energy", 7, 0, 2, 0),
        ("flow_temperature", -105, 0, 0, 1),
    ]


@pytest.mark.parametrize(
    ("kwargs", "wire"),
    [
        # DIF 0x04 (32 bit), VIF 0x03, data little-endian
        ({"vif": b"\x03", "value": 0x12345678}, "0403" "78563412"),
        # negative int16: two's complement
        ({"vif": b"\x5a", "value": -2, "coding": "int16"}, "025a" "feff"),
        # BCD8: low digit pair first
        ({"vif": b"\x13", "value": 12345678, "coding": "bcd8"}, "0c13" "78563412"),
        # storage 1 is DIF bit 6, no DIFE
        ({"vif": b"\x03", "value": 1, "coding": "int8", "storage": 1}, "4103" "01"),
        # storage 2: DIF extension bit, DIFE storage nibble 1
        ({"vif": b"\x03", "value": 1, "coding": "int8", "storage": 2}, "8101" "03" "01"),
        # storage 33: DIF bit 6, DIFE 1 nibble 0 (extension), DIFE 2 nibble 1
        ({"vif": b"\x03", "value": 1, "coding": "int8", "storage": 33}, "c18001" "03" "01"),
        # tariff 1 in DIFE bits 4-5, subunit 1 in bit 6
        ({"vif": b"\x03", "value": 1, "coding": "int8", "tariff": 1}, "8110" "03" "01"),
        ({"vif": b"\x03", "value": 1, "coding": "int8", "subunit": 1}, "8140" "03" "01"),
        # tariff 5 = 0b0101: 01 in DIFE 1, 01 in DIFE 2
        ({"vif": b"\x03", "value": 1, "coding": "int8", "tariff": 5}, "819010" "03" "01"),
        # function maximum (DIF bits 4-5 = 1), VIF+VIFE as given
        ({"vif": b"\xab\x3c", "value": 0, "coding": "int8", "function": Function.MAXIMUM}, "11ab3c" "00"),
        # raw bytes as the data field
        ({"vif": b"\x6d", "value": bytes.fromhex("0c2dd62c")}, "046d" "0c2dd62c"),
    ],
)
def test_wire_layout_by_hand(kwargs: dict[str, object], wire: str) -> None:
    vif = kwargs.pop("vif")
    value = kwargs.pop("value")
    assert encode_record(vif, value, **kwargs).hex() == wire  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "coding"),
    [
        (-129, "int8"),
        (256, "int8"),
        (-(1 << 15) - 1, "int16"),
        (1 << 16, "int16"),
        (1 << 24, "int24"),
        (-(1 << 31) - 1, "int32"),
        (1 << 32, "int32"),
        (1 << 48, "int48"),
        (1 << 64, "int64"),
        (-(1 << 63) - 1, "int64"),
        (100, "bcd2"),
        (-1, "bcd2"),
        (10**4, "bcd4"),
        (10**6, "bcd6"),
        (10**8, "bcd8"),
        (-5, "bcd8"),
        (10**12, "bcd12"),
    ],
)
def test_out_of_range_values_raise(value: int, coding: str) -> None:
    with pytest.raises(ValueError):
        encode_record(b"\x03", value, coding=coding)


@pytest.mark.parametrize("coding", ["int12", "real32", "bcd10", "text", "", "INT32"])
def test_unknown_coding_raises(coding: str) -> None:
    with pytest.raises(ValueError, match="unknown coding"):
        encode_record(b"\x03", 1, coding=coding)


@pytest.mark.parametrize(
    ("field", "coding"),
    [(b"", "int8"), (b"\x00\x00", "int8"), (b"\x00" * 3, "int32"), (b"\x00" * 5, "int32"), (b"\x00" * 7, "int64"),
     (b"\x00\x00", "bcd2"), (b"\x00" * 5, "bcd12")],
)
def test_wrong_length_bytes_raise(field: bytes, coding: str) -> None:
    with pytest.raises(ValueError):
        encode_record(b"\x6d", field, coding=coding)


@pytest.mark.parametrize("kwargs", [{"storage": -1}, {"tariff": -1}, {"subunit": -1}, {"storage": 1 << 42}])
def test_bad_storage_tariff_subunit_raise(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        encode_record(b"\x03", 1, **kwargs)  # type: ignore[arg-type]


def test_ten_difes_are_the_limit() -> None:
    # storage bits 1..40 fill exactly ten DIFEs; one more bit needs an eleventh
    (rec,) = decode_records(encode_record(b"\x03", 5, storage=(1 << 41) - 1))
    assert rec.storage == (1 << 41) - 1 and len(rec.dif_bytes) == 11
    with pytest.raises(ValueError):
        encode_record(b"\x03", 5, storage=1 << 41)


# --- type F date and time -------------------------------------------------------------------


@settings(max_examples=500)
@given(
    st.datetimes(min_value=dt.datetime(1981, 1, 1), max_value=dt.datetime(2299, 12, 31, 23, 59)),
    st.booleans(),
)
def test_date_time_f_round_trip(moment: dt.datetime, summer: bool) -> None:
    moment = moment.replace(second=0, microsecond=0)
    data = date_time_f(moment, summer_time=summer)
    assert len(data) == 4
    got = decode_date_time(data)
    assert isinstance(got, MbusDateTime) and got.type == "F"
    assert (got.year, got.month, got.day, got.hour, got.minute) == (
        moment.year, moment.month, moment.day, moment.hour, moment.minute,
    )  # fmt: skip
    assert got.summer_time is summer
    assert got.valid and not got.time_invalid
    assert got.to_python() == moment
    # the same bytes under VIF 0x6D decode as a date_time record
    (rec,) = decode_records(encode_record(b"\x6d", data))
    assert rec.quantity == "date_time" and rec.raw == got


def test_date_time_f_by_hand() -> None:
    # 2022-12-22 13:12: minute 12; hundred years 1, hour 13; year 22 = 0b0010110 split 110 / 0010
    assert date_time_f(dt.datetime(2022, 12, 22, 13, 12, 59)).hex() == "0c2dd62c"
    # 1999-07-01 00:00, summer time: hundred 0, year 99 = 0b1100011
    assert date_time_f(dt.datetime(1999, 7, 1, 0, 0), summer_time=True).hex() == "008061c7"


@pytest.mark.parametrize("year", [1899, 2300])
def test_date_time_f_year_out_of_range(year: int) -> None:
    with pytest.raises(ValueError):
        date_time_f(dt.datetime(year, 1, 1))


@pytest.mark.parametrize("year", [1900, 1980, 2300])
def test_date_time_f_refuses_years_it_cannot_say_unambiguously(year: int) -> None:
    with pytest.raises(ValueError, match=r"outside what type F says unambiguously \(1981\.\.2299\)"):
        date_time_f(dt.datetime(year, 6, 1, 12, 0))
