"""DLMS typed values: range and type checks, integer type choice."""

from __future__ import annotations

import math

import pytest

from smgwd.cosem.datatypes import INTEGER_TYPES, NULL, DataType, DataTypeError, DlmsValue


def test_tags_match_the_a_xdr_numbers() -> None:
    expected = {
        "NULL_DATA": 0, "ARRAY": 1, "STRUCTURE": 2, "BOOLEAN": 3, "BIT_STRING": 4,
        "DOUBLE_LONG": 5, "DOUBLE_LONG_UNSIGNED": 6, "OCTET_STRING": 9, "VISIBLE_STRING": 10,
        "UTF8_STRING": 12, "BCD": 13, "INTEGER": 15, "LONG": 16, "UNSIGNED": 17,
        "LONG_UNSIGNED": 18, "COMPACT_ARRAY": 19, "LONG64": 20, "LONG64_UNSIGNED": 21, "ENUM": 22, "FLOAT32": 23,
        "FLOAT64": 24, "DATE_TIME": 25, "DATE": 26, "TIME": 27,
    }
    assert {t.name: t.value for t in DataType} == expected


@pytest.mark.parametrize(("kind", "low", "high"), [
    (DataType.INTEGER, -128, 127), (DataType.UNSIGNED, 0, 255),
    (DataType.LONG, -32768, 32767), (DataType.LONG_UNSIGNED, 0, 65535),
    (DataType.DOUBLE_LONG, -(2**31), 2**31 - 1), (DataType.DOUBLE_LONG_UNSIGNED, 0, 2**32 - 1),
    (DataType.LONG64, -(2**63), 2**63 - 1), (DataType.LONG64_UNSIGNED, 0, 2**64 - 1),
    (DataType.ENUM, 0, 255), (DataType.BCD, 0, 255),
])
def test_integer_widths(kind: DataType, low: int, high: int) -> None:
    assert DlmsValue(kind, low).value == low
    assert DlmsValue(kind, high).value == high
    for outside in (low - 1, high + 1):
        with pytest.raises(DataTypeError, match="outside"):
            DlmsValue(kind, outside)


@pytest.mark.parametrize(("kind", "value"), [
    (DataType.UNSIGNED, True), (DataType.UNSIGNED, 1.0), (DataType.UNSIGNED, "1"),
    (DataType.BOOLEAN, 1), (DataType.NULL_DATA, 0), (DataType.FLOAT64, 1),
    (DataType.OCTET_STRING, "00"), (DataType.OCTET_STRING, bytearray(b"\x00")),
    (DataType.VISIBLE_STRING, "Zähler"), (DataType.VISIBLE_STRING, "a\nb"),
    (DataType.VISIBLE_STRING, b"abc"), (DataType.UTF8_STRING, "\ud800"),
    (DataType.BIT_STRING, "0102"), (DataType.DATE_TIME, bytes(11)), (DataType.DATE, bytes(4)),
    (DataType.TIME, bytes(5)), (DataType.FLOAT32, 0.1), (DataType.FLOAT32, 1e300),
    (DataType.STRUCTURE, [NULL]), (DataType.STRUCTURE, (None,)),
    (DataType.ARRAY, (DlmsValue(DataType.UNSIGNED, 1), DlmsValue(DataType.LONG, 1))),
])
def test_values_that_do_not_fit_are_refused(kind: DataType, value: object) -> None:
    with pytest.raises(DataTypeError):
        DlmsValue(kind, value)  # type: ignore[arg-type]


def test_values_that_fit() -> None:
    assert DlmsValue(DataType.FLOAT32, 0.5).value == 0.5
    assert math.isinf(DlmsValue(DataType.FLOAT32, math.inf).value)  # type: ignore[arg-type]
    assert math.isnan(DlmsValue(DataType.FLOAT64, math.nan).value)  # type: ignore[arg-type]
    assert DlmsValue(DataType.VISIBLE_STRING, " ~").value == " ~"
    assert DlmsValue(DataType.UTF8_STRING, "Zähler €").value == "Zähler €"
    assert DlmsValue(DataType.BIT_STRING, "").value == ""
    nested = DlmsValue(DataType.ARRAY, (DlmsValue(DataType.STRUCTURE, (NULL,)),) * 2)
    assert len(nested.value) == 2  # type: ignore[arg-type]


def test_unknown_tag_is_refused_and_known_int_tag_is_normalised() -> None:
    with pytest.raises(DataTypeError):
        DlmsValue(7, None)  # type: ignore[arg-type]
    value = DlmsValue(17, 5)  # type: ignore[arg-type]
    assert value.type is DataType.UNSIGNED


def test_values_are_frozen_and_hashable() -> None:
    value = DlmsValue(DataType.UNSIGNED, 5)
    with pytest.raises(AttributeError):
        value.value = 6  # type: ignore[misc]
    assert {value: 1}[DlmsValue(DataType.UNSIGNED, 5)] == 1
    assert value != DlmsValue(DataType.LONG_UNSIGNED, 5)


@pytest.mark.parametrize(("n", "hint", "kind"), [
    (0, None, DataType.UNSIGNED), (255, None, DataType.UNSIGNED),
    (256, None, DataType.LONG_UNSIGNED), (2**32 - 1, None, DataType.DOUBLE_LONG_UNSIGNED),
    (2**32, None, DataType.LONG64_UNSIGNED), (-1, None, DataType.INTEGER),
    (-129, None, DataType.LONG), (-(2**31), None, DataType.DOUBLE_LONG),
    (-(2**31) - 1, None, DataType.LONG64), (5, True, DataType.INTEGER),
    (200, True, DataType.LONG),
])
def test_for_int_picks_the_smallest_type(n: int, hint: bool | None, kind: DataType) -> None:
    assert DlmsValue.for_int(n, hint) == DlmsValue(kind, n)


@pytest.mark.parametrize(("n", "hint"), [(-1, False), (2**64, None), (-(2**63) - 1, None),
                                         (2**63, True)])
def test_for_int_refuses_what_fits_nowhere(n: int, hint: bool | None) -> None:
    with pytest.raises(DataTypeError, match="fits no"):
        DlmsValue.for_int(n, hint)


def test_is_numeric() -> None:
    numeric = {k for k in INTEGER_TYPES if k not in (DataType.ENUM, DataType.BCD)}
    numeric |= {DataType.FLOAT32, DataType.FLOAT64}
    for kind in DataType:
        sample = {DataType.FLOAT32: 1.0, DataType.FLOAT64: 1.0}.get(kind, 1)
        if kind in numeric:
            assert DlmsValue(kind, sample).is_numeric()
    assert not DlmsValue(DataType.ENUM, 1).is_numeric()
    assert not DlmsValue(DataType.BOOLEAN, True).is_numeric()
    assert not DlmsValue(DataType.OCTET_STRING, b"1").is_numeric()
