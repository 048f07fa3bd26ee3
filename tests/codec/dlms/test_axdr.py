"""A-XDR Data values and COSEM date-time: hand-built encodings both ways (tags and length forms of
dlms.md §3), a round trip over every type, hostile input, and the date-time fields and moments."""

from __future__ import annotations

import datetime as dt
import struct
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smgwd.codec.dlms import (
    BitString,
    CosemDate,
    CosemDateTime,
    CosemTime,
    Data,
    DataType,
    DlmsError,
    DlmsFormatError,
    DlmsTruncatedError,
    decode_data,
    decode_date_time,
    encode_data,
)
from smgwd.codec.dlms.axdr import MAX_DEPTH, decode_length, encode_length
from smgwd.codec.dlms.dates import decode_date, decode_time

UTC = dt.timezone.utc

# --- hand-built values -------------------------------------------------------------------------

EXAMPLES = [
    ("00", Data(DataType.NULL_DATA, None)),
    ("0300", Data(DataType.BOOLEAN, False)),
    ("0301", Data(DataType.BOOLEAN, True)),
    ("0F80", Data(DataType.INTEGER, -128)),
    ("0F7F", Data(DataType.INTEGER, 127)),
    ("11FF", Data(DataType.UNSIGNED, 255)),
    ("10FFFE", Data(DataType.LONG, -2)),
    ("120005", Data(DataType.LONG_UNSIGNED, 5)),
    ("12FFFF", Data(DataType.LONG_UNSIGNED, 65535)),
    ("05FFFFFFFF", Data(DataType.DOUBLE_LONG, -1)),
    ("0580000000", Data(DataType.DOUBLE_LONG, -(2**31))),
    ("06FFFFFFFF", Data(DataType.DOUBLE_LONG_UNSIGNED, 2**32 - 1)),
    ("0600000010", Data(DataType.DOUBLE_LONG_UNSIGNED, 16)),
    ("14FFFFFFFFFFFFFFFE", Data(DataType.LONG64, -2)),
    ("157FFFFFFFFFFFFFFF", Data(DataType.LONG64_UNSIGNED, 2**63 - 1)),
    ("15FFFFFFFFFFFFFFFF", Data(DataType.LONG64_UNSIGNED, 2**64 - 1)),
    ("161E", Data(DataType.ENUM, 30)),
    ("0D12", Data(DataType.BCD, 0x12)),
    ("1700000000", Data(DataType.FLOAT32, 0.0)),
    ("173F800000", Data(DataType.FLOAT32, 1.0)),
    ("17C0490FDB", Data(DataType.FLOAT32, struct.unpack(">f", bytes.fromhex("C0490FDB"))[0])),
    ("183FF0000000000000", Data(DataType.FLOAT64, 1.0)),
    ("18C000000000000000", Data(DataType.FLOAT64, -2.0)),
    ("0900", Data(DataType.OCTET_STRING, b"")),
    ("09060100010800FF", Data(DataType.OCTET_STRING, bytes.fromhex("0100010800FF"))),
    ("0A03414243", Data(DataType.VISIBLE_STRING, "ABC")),
    ("0C02C3A9", Data(DataType.UTF8_STRING, "\u00e9")),
    ("040AFFC0", Data(DataType.BIT_STRING, BitString(10, b"\xff\xc0"))),
    ("0400", Data(DataType.BIT_STRING, BitString(0, b""))),
    ("0100", Data(DataType.ARRAY, ())),
    ("0202110112FFFF", Data(DataType.STRUCTURE, (Data(DataType.UNSIGNED, 1), Data(DataType.LONG_UNSIGNED, 65535)))),
    ("020309060100010800FF06000004D20202 0FFF161E".replace(" ", ""),
     Data(DataType.STRUCTURE, (Data(DataType.OCTET_STRING, bytes.fromhex("0100010800FF")),
                               Data(DataType.DOUBLE_LONG_UNSIGNED, 1234),
                               Data(DataType.STRUCTURE, (Data(DataType.INTEGER, -1), Data(DataType.ENUM, 30)))))),
    ("0102 0202 1101 1102 0202 1103 1104".replace(" ", ""),
     Data(DataType.ARRAY, (Data(DataType.STRUCTURE, (Data(DataType.UNSIGNED, 1), Data(DataType.UNSIGNED, 2))),
                           Data(DataType.STRUCTURE, (Data(DataType.UNSIGNED, 3), Data(DataType.UNSIGNED, 4)))))),
]


@pytest.mark.parametrize(("hexdata", "value"), EXAMPLES, ids=[h[:20] for h, _ in EXAMPLES])
def test_examples_both_ways(hexdata: str, value: Data) -> None:
    raw = bytes.fromhex(hexdata)
    assert decode_data(raw) == (value, len(raw))
    assert encode_data(value) == raw
    # the position argument: a value inside other bytes
    assert decode_data(b"\xaa\xbb" + raw + b"\xcc", 2) == (value, 2 + len(raw))


def test_integer_type_flag() -> None:
    assert Data(DataType.INTEGER, 1).is_integer and Data(DataType.ENUM, 1).is_integer
    assert not Data(DataType.FLOAT32, 1.0).is_integer and not Data(DataType.OCTET_STRING, b"").is_integer


@pytest.mark.parametrize(("length", "form"), [(0, "00"), (127, "7F"), (128, "8180"), (255, "81FF"),
                                              (256, "820100"), (65535, "82FFFF"), (65536, "83010000")])
def test_length_forms(length: int, form: str) -> None:
    assert encode_length(length) == bytes.fromhex(form)
    assert decode_length(bytes.fromhex(form), 0) == (length, len(form) // 2)
    value = bytes(range(256)) * (length // 256) + bytes(range(length % 256))
    raw = b"\x09" + bytes.fromhex(form) + value
    assert encode_data(Data(DataType.OCTET_STRING, value)) == raw
    assert decode_data(raw) == (Data(DataType.OCTET_STRING, value), len(raw))


@pytest.mark.parametrize(("count", "form"), [(127, "7F"), (128, "8180"), (255, "81FF"), (256, "820100")])
def test_array_count_forms(count: int, form: str) -> None:
    raw = b"\x01" + bytes.fromhex(form) + b"\x00" * count
    value = Data(DataType.ARRAY, (Data(DataType.NULL_DATA, None),) * count)
    assert encode_data(value) == raw
    assert decode_data(raw) == (value, len(raw))


def test_four_byte_length_form() -> None:
    assert decode_length(bytes.fromhex("8400000080"), 0) == (128, 5)
    assert decode_data(bytes.fromhex("0A840000000141")) == (Data(DataType.VISIBLE_STRING, "A"), 7)
    with pytest.raises(ValueError):
        encode_length(2**32)
    with pytest.raises(ValueError):
        encode_length(-1)


@pytest.mark.parametrize("raw", ["0980", "098500000000 01", "0A85", "01FF"])
def test_length_of_undefined_size(raw: str) -> None:
    with pytest.raises(DlmsFormatError) as exc:
        decode_data(bytes.fromhex(raw.replace(" ", "")))
    assert not isinstance(exc.value, DlmsTruncatedError)


@pytest.mark.parametrize("raw", ["07", "08", "0B", "0E", "1C", "FF"])
def test_unknown_tag(raw: str) -> None:
    with pytest.raises(DlmsFormatError) as exc:
        decode_data(bytes.fromhex(raw) + bytes(16))
    assert not isinstance(exc.value, DlmsTruncatedError)
    assert exc.value.offset == 0


def test_strings_that_are_not_their_charset() -> None:
    with pytest.raises(DlmsFormatError):
        decode_data(bytes.fromhex("0A0180"))  # visible string: ASCII only
    with pytest.raises(DlmsFormatError):
        decode_data(bytes.fromhex("0C01FF"))  # not UTF-8
    with pytest.raises(DlmsFormatError):
        decode_data(bytes.fromhex("0C02C328"))


def test_date_time_value() -> None:
    octets = bytes.fromhex("07E50713010F2E2300FF8880")
    item, end = decode_data(b"\x19" + octets)
    assert end == 13 and item.type is DataType.DATE_TIME
    assert isinstance(item.value, CosemDateTime) and item.value.data == octets
    assert encode_data(item) == b"\x19" + octets
    assert encode_data(Data(DataType.DATE_TIME, octets)) == b"\x19" + octets
    date, _ = decode_data(bytes.fromhex("1A07E5071301"))
    assert date == Data(DataType.DATE, CosemDate(2021, 7, 19, 1, True, bytes.fromhex("07E5071301")))
    clock, _ = decode_data(bytes.fromhex("1B0F2E2300"))
    assert clock == Data(DataType.TIME, CosemTime(15, 46, 35, 0, True, bytes.fromhex("0F2E2300")))
    with pytest.raises(ValueError):
        encode_data(Data(DataType.DATE_TIME, octets[:11]))
    with pytest.raises(ValueError):
        encode_data(Data(DataType.DATE, octets))


def test_compact_array_kept_raw() -> None:
    # type description: array of 2 x uint16 -> contents as an octet string
    raw = bytes.fromhex("13" "01 0002 12".replace(" ", "") + "04" + "00010002")
    item, end = decode_data(raw)
    assert item == Data(DataType.COMPACT_ARRAY, raw[1:]) and end == len(raw)
    raw = bytes.fromhex("13 02 02 11 12 03 010002".replace(" ", ""))  # structure{uint8, uint16}
    assert decode_data(raw) == (Data(DataType.COMPACT_ARRAY, raw[1:]), len(raw))


# --- round trip --------------------------------------------------------------------------------

INT_RANGES = {
    DataType.INTEGER: (-(2**7), 2**7 - 1), DataType.LONG: (-(2**15), 2**15 - 1),
    DataType.DOUBLE_LONG: (-(2**31), 2**31 - 1), DataType.LONG64: (-(2**63), 2**63 - 1),
    DataType.UNSIGNED: (0, 2**8 - 1), DataType.LONG_UNSIGNED: (0, 2**16 - 1), DataType.DOUBLE_LONG_UNSIGNED: (0, 2**32 - 1),
    DataType.LONG64_UNSIGNED: (0, 2**64 - 1), DataType.ENUM: (0, 255), DataType.BCD: (0, 255),
}

integers = st.one_of(*(st.builds(Data, st.just(kind), st.integers(lo, hi)) for kind, (lo, hi) in INT_RANGES.items()))
bit_strings = st.integers(0, 200).flatmap(
    lambda bits: st.binary(min_size=(bits + 7) // 8, max_size=(bits + 7) // 8).map(lambda d: BitString(bits, d)))
long_bytes = st.one_of(st.binary(max_size=20), st.binary(min_size=120, max_size=300))
leaves = st.one_of(
    integers,
    st.builds(Data, st.just(DataType.NULL_DATA), st.none()),
    st.builds(Data, st.just(DataType.BOOLEAN), st.booleans()),
    st.builds(Data, st.just(DataType.OCTET_STRING), long_bytes),
    st.builds(Data, st.just(DataType.VISIBLE_STRING), st.text(st.characters(max_codepoint=127), max_size=150)),
    st.builds(Data, st.just(DataType.UTF8_STRING), st.text(max_size=60)),
    st.builds(Data, st.just(DataType.BIT_STRING), bit_strings),
    st.builds(Data, st.just(DataType.FLOAT32), st.floats(width=32, allow_nan=False)),
    st.builds(Data, st.just(DataType.FLOAT64), st.floats(allow_nan=False)),
    st.builds(Data, st.just(DataType.DATE_TIME), st.binary(min_size=12, max_size=12)),
    st.builds(Data, st.just(DataType.DATE), st.binary(min_size=5, max_size=5)),
    st.builds(Data, st.just(DataType.TIME), st.binary(min_size=4, max_size=4)),
)


def containers(children: st.SearchStrategy[Data]) -> st.SearchStrategy[Data]:
    return st.builds(Data, st.sampled_from([DataType.ARRAY, DataType.STRUCTURE]),
                     st.lists(children, max_size=4).map(tuple))


def depth(item: Data) -> int:
    if item.type in (DataType.ARRAY, DataType.STRUCTURE):
        return 1 + max((depth(v) for v in item.value), default=0)  # type: ignore[union-attr]
    return 0


long_arrays = st.builds(Data, st.sampled_from([DataType.ARRAY, DataType.STRUCTURE]),
                        st.lists(integers, min_size=128, max_size=300).map(tuple))  # 0x81 / 0x82 counts
values = st.recursive(st.one_of(leaves, long_arrays), containers, max_leaves=40).filter(lambda v: depth(v) <= 5)


def plain(item: Data) -> Data:
    """Dates as their octets, so a value compares with what was encoded."""
    if isinstance(item.value, (CosemDateTime, CosemDate, CosemTime)):
        return Data(item.type, item.value.data)
    if item.type in (DataType.ARRAY, DataType.STRUCTURE):
        return Data(item.type, tuple(plain(v) for v in item.value))  # type: ignore[union-attr]
    return item


@settings(max_examples=200)
@given(values)
def test_round_trip(item: Data) -> None:
    raw = encode_data(item)
    decoded, end = decode_data(raw)
    assert end == len(raw)
    assert plain(decoded) == item
    assert encode_data(decoded) == raw
    for cut in {0, len(raw) // 2, len(raw) - 1}:
        with pytest.raises(DlmsTruncatedError):
            decode_data(raw[:cut])


# --- hostile input -----------------------------------------------------------------------------


@settings(max_examples=500)
@given(st.binary(max_size=300))
def test_arbitrary_bytes(data: bytes) -> None:
    try:
        item, end = decode_data(data)
    except DlmsError:
        return
    assert 0 < end <= len(data)


@settings(max_examples=200)
@given(st.lists(st.sampled_from([b"\x01", b"\x02", b"\x81", b"\x82\xff\xff", b"\x84\xff\xff\xff\xff", b"\x13",
                                 b"\x00", b"\x09", b"\x7f", b"\x19"]), max_size=60))
def test_arbitrary_structure_bytes(parts: list[bytes]) -> None:
    try:
        decode_data(b"".join(parts))
    except DlmsError:
        pass


@pytest.mark.parametrize("raw", ["0184FFFFFFFF00", "0284FFFFFFFF" + "00" * 1000, "0982FFFF00", "0A84FFFFFFFF41",
                                 "0484FFFFFFFFFF", "01820100" + "00" * 255, "0181FF" + "0102" * 100])
def test_huge_count_in_short_input(raw: str) -> None:
    start = time.perf_counter()
    with pytest.raises(DlmsTruncatedError):
        decode_data(bytes.fromhex(raw))
    assert time.perf_counter() - start < 0.1


def test_nesting_limit() -> None:
    deepest = b"\x01\x01" * MAX_DEPTH + b"\x00"
    item, end = decode_data(deepest)
    assert end == len(deepest) and depth(item) == MAX_DEPTH
    for head in (b"\x01\x01", b"\x02\x01"):
        with pytest.raises(DlmsFormatError, match="nesting") as exc:
            decode_data(head * (MAX_DEPTH + 1) + b"\x00")
        assert not isinstance(exc.value, DlmsTruncatedError)
    with pytest.raises(DlmsFormatError, match="nesting"):
        decode_data(b"\x02\x01" * 100_000 + b"\x00")  # no RecursionError
    with pytest.raises(DlmsFormatError):
        decode_data(b"\x13" + b"\x02\x01" * 100_000 + b"\x11\x00")  # compact array type description


def test_truncated_fixed_sizes() -> None:
    for raw in ("", "12", "1200", "05000000", "15" + "00" * 7, "1700", "18" + "00" * 7, "19" + "00" * 11,
                "1A00", "1B000000", "03", "0D", "0903AABB", "040901", "0102", "020211"):
        with pytest.raises(DlmsTruncatedError):
            decode_data(bytes.fromhex(raw))


# --- COSEM date-time ---------------------------------------------------------------------------


def test_reference_date_time() -> None:
    stamp = decode_date_time(bytes.fromhex("07E50713010F2E2300FF8880"))
    assert (stamp.year, stamp.month, stamp.day, stamp.weekday) == (2021, 7, 19, 1)
    assert dt.date(2021, 7, 19).isoweekday() == 1  # Monday is 1 in COSEM too
    assert (stamp.hour, stamp.minute, stamp.second, stamp.hundredths) == (15, 46, 35, 0)
    assert stamp.deviation == -120 and stamp.status == 0x80 and stamp.valid
    assert stamp.to_datetime() == dt.datetime(2021, 7, 19, 13, 46, 35, tzinfo=UTC)
    assert stamp.local_isoformat() == "2021-07-19T15:46:35"


def test_deviation_minus_60_is_utc_plus_one() -> None:
    stamp = decode_date_time(bytes.fromhex("07E8010F01" "0E000000" "FFC4" "00"))  # 2024-01-15 14:00 local
    assert stamp.deviation == -60
    assert stamp.to_datetime() == dt.datetime(2024, 1, 15, 13, 0, tzinfo=UTC)
    stamp = decode_date_time(bytes.fromhex("07E8010F01" "0E000000" "003C" "00"))
    assert stamp.to_datetime() == dt.datetime(2024, 1, 15, 15, 0, tzinfo=UTC)


def test_hundredths_and_day_change() -> None:
    stamp = decode_date_time(bytes.fromhex("07E70101" "07" "00" "0A" "0B" "32" "0078" "00"))
    assert stamp.to_datetime() == dt.datetime(2023, 1, 1, 2, 10, 11, 500_000, tzinfo=UTC)
    stamp = decode_date_time(bytes.fromhex("07E7010107" "00050000" "FF88" "00"))  # 00:05 at UTC+2
    assert stamp.to_datetime() == dt.datetime(2022, 12, 31, 22, 5, tzinfo=UTC)


def test_not_specified_fields() -> None:
    stamp = decode_date_time(bytes.fromhex("FFFFFFFFFFFFFFFFFF8000FF"))
    assert stamp[:10] == (None,) * 10
    assert stamp.valid is True
    assert stamp.to_datetime() is None and stamp.local_isoformat() is None

    stamp = decode_date_time(bytes.fromhex("07E50713FF0F2E23FF8000FF"))  # no weekday, deviation, status
    assert (stamp.weekday, stamp.hundredths, stamp.deviation, stamp.status) == (None, None, None, None)
    assert stamp.valid and stamp.to_datetime() is None
    assert stamp.local_isoformat() == "2021-07-19T15:46:35"

    stamp = decode_date_time(bytes.fromhex("07E50713FF0F2EFFFF0000FF"))  # seconds not specified: 0
    assert stamp.second is None and stamp.to_datetime() == dt.datetime(2021, 7, 19, 15, 46, tzinfo=UTC)

    for raw in ("FFFF0713FF0F2E2300000000", "07E5FF13FF0F2E2300000000", "07E507FFFF0F2E2300000000",
                "07E50713FFFF2E2300000000", "07E50713FF0FFF2300000000"):
        stamp = decode_date_time(bytes.fromhex(raw))
        assert stamp.valid and stamp.to_datetime() is None, raw


@pytest.mark.parametrize("raw", [
    "07E50D13010F2E2300FF8880",  # month 13
    "07E50013010F2E2300FF8880",  # month 0
    "07E50000010F2E2300FF8880",  # month 0, day 0
    "07E5001F010F2E2300FF8880",  # month 0, day 31
    "07E50720010F2E2300FF8880",  # day 32
    "07E50200010F2E2300FF8880",  # day 0
    "07E50700010F2E2300FF8880",  # day 0
    "07E5021D010F2E2300FF8880",  # 29 February 2021
    "07E50931010F2E2300FF8880",  # day 0x31 = 49
    "07E5091F010F2E2300FF8880",  # 31 September
    "07E5071308" "0F2E2300FF8880",  # weekday 8
    "07E5071300" "0F2E2300FF8880",  # weekday 0
    "07E5071301" "182E2300FF8880",  # hour 24
    "07E5071301" "0F3C2300FF8880",  # minute 60
    "07E5071301" "0F2E3C00FF8880",  # second 60
    "07E5071301" "0F2E2364FF8880",  # hundredths 100
    "07E5071301" "0F2E2300" "02D1" "80",  # deviation 721
    "07E5071301" "0F2E2300" "FD2F" "80",  # deviation -721
])
def test_invalid_fields(raw: str) -> None:
    stamp = decode_date_time(bytes.fromhex(raw))
    assert stamp.valid is False
    assert stamp.to_datetime() is None and stamp.local_isoformat() is None


def test_valid_edges() -> None:
    for raw in ("07E8021D040F2E2300FF8880",  # 29 February 2024
                "07E5071301" "17 3B 3B 63 02D0 00".replace(" ", ""),  # 23:59:59.99, deviation 720
                "07E5071301" "0F2E2300" "FD30" "80",  # deviation -720
                "07E5FD1301" "0F2E2300" "FF88" "80", "07E5FE1301" "0F2E2300" "FF88" "80",  # DST begin/end months
                "07E507FD01" "0F2E2300" "FF88" "80", "07E507FE01" "0F2E2300" "FF88" "80"):  # last days
        stamp = decode_date_time(bytes.fromhex(raw))
        assert stamp.valid, raw
    assert decode_date_time(bytes.fromhex("07E5FD1301" "0F2E2300" "FF88" "80")).to_datetime() is None
    assert decode_date_time(bytes.fromhex("07E507FE01" "0F2E2300" "FF88" "80")).to_datetime() is None


def test_wrong_lengths() -> None:
    for size in (0, 11, 13):
        with pytest.raises(ValueError):
            decode_date_time(bytes(size))
    with pytest.raises(ValueError):
        decode_date(bytes(4))
    with pytest.raises(ValueError):
        decode_time(bytes(5))


YEAR_EDGES = [
    "0000" "0101" "FF" "00000000" "0000" "00",  # year 0
    "2710" "0101" "FF" "00000000" "0000" "00",  # year 10000
    "FFFE" "0101" "FF" "00000000" "0000" "00",  # year 65534
    "270F" "0C1F" "FF" "173B0000" "02D0" "00",  # 9999-12-31 23:59 at UTC-12: after datetime.max in UTC
    "0001" "0101" "FF" "00000000" "FD30" "00",  # 0001-01-01 00:00 at UTC+12: before datetime.min in UTC
]


@pytest.mark.parametrize("raw", YEAR_EDGES)
def test_years_out_of_datetime_range(raw: str) -> None:
    stamp = decode_date_time(bytes.fromhex(raw))
    assert stamp.to_datetime() is None or stamp.to_datetime().year in (1, 9999)


@settings(max_examples=500)
@given(st.binary(min_size=12, max_size=12), st.integers(2, 9998))
def test_any_octets(octets: bytes, year: int) -> None:
    """Any 12 octets decode; to_datetime is None or an aware UTC moment (the year edges: above)."""
    if octets[:2] != b"\xff\xff":
        octets = year.to_bytes(2, "big") + octets[2:]
    stamp = decode_date_time(octets)
    assert stamp.data == octets
    moment = stamp.to_datetime()
    if moment is not None:
        assert stamp.valid and moment.tzinfo is UTC
        assert stamp.deviation is not None
        local = moment.replace(tzinfo=None) - dt.timedelta(minutes=stamp.deviation)
        assert (local.year, local.month, local.day, local.hour, local.minute) == (
            stamp.year, stamp.month, stamp.day, stamp.hour, stamp.minute)


def test_month_zero_is_invalid_not_an_exception() -> None:
    # calendar.monthrange(year, 0) raises IllegalMonthError (a ValueError, not a DlmsError)
    item, _ = decode_data(bytes.fromhex("1A07E50001FF"))
    assert isinstance(item.value, CosemDate) and item.value.valid is False
    item, _ = decode_data(bytes.fromhex("19" "07E50001FF" "0F2E2300" "FF88" "80"))
    assert isinstance(item.value, CosemDateTime) and item.value.valid is False and item.value.to_datetime() is None
