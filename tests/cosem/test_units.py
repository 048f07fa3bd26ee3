"""DLMS units: code <-> symbol."""

from __future__ import annotations

import pytest

from smgwd.cosem.units import UNITS, UnknownUnitError, unit_code, unit_symbol

# dlms.md §4.3: 1..57, 60..67, 70..72, 253..255.
EXPECTED_CODES = [*range(1, 58), *range(60, 68), *range(70, 73), 253, 254, 255]


def test_the_enumeration_is_complete() -> None:
    assert sorted(UNITS) == EXPECTED_CODES


def test_symbols_are_unique_and_read_back() -> None:
    assert len(set(UNITS.values())) == len(UNITS)
    for code, symbol in UNITS.items():
        assert unit_code(symbol) == code


@pytest.mark.parametrize(("code", "symbol"), [
    (1, "a"), (4, "d"), (5, "h"), (6, "min"), (7, "s"), (8, "°"), (9, "°C"), (13, "m3"),
    (27, "W"), (28, "VA"), (29, "var"), (30, "Wh"), (31, "VAh"), (32, "varh"), (33, "A"),
    (35, "V"), (44, "Hz"), (56, "%"), (72, "dB"), (254, "other"), (255, "count"),
])
def test_canonical_symbols(code: int, symbol: str) -> None:
    assert unit_symbol(code) == symbol
    assert unit_code(symbol) == code


@pytest.mark.parametrize(("spelling", "code"), [("m³", 13), ("Ω", 38), ("dBµV", 71), ("m³/h", 15)])
def test_unicode_spellings_are_read(spelling: str, code: int) -> None:
    assert unit_code(spelling) == code


@pytest.mark.parametrize("code", [0, 58, 59, 68, 69, 73, 252, 256, -1])
def test_unknown_code_has_no_symbol(code: int) -> None:
    assert unit_symbol(code) is None


def test_unknown_symbol_raises_a_key_error_with_a_message() -> None:
    with pytest.raises(UnknownUnitError) as caught:
        unit_code("kWh")
    assert isinstance(caught.value, KeyError)
    assert str(caught.value) == "not a DLMS unit symbol: 'kWh'"
