"""OBIS codes: parsing, formatting, ordering, names."""

from __future__ import annotations

import pytest
from hypothesis import given

from smgwd.cosem.errors import CosemError
from smgwd.cosem.obis import Obis, ObisError, describe
from tests.cosem.strategies import obis_codes

ACTIVE_IMPORT = Obis(1, 0, 1, 8, 0, 255)


@pytest.mark.parametrize("text", [
    "1-0:1.8.0*255", "1-0:1.8.0", "1.0.1.8.0.255", "0100010800ff", "0100010800FF",
    " 1-0:1.8.0*255\n", "1-0:1.8.0.255", "1-0:1.8.0&255",
])
def test_parse_accepts_the_usual_forms(text: str) -> None:
    assert Obis.parse(text) == ACTIVE_IMPORT


def test_parse_keeps_f_when_given() -> None:
    assert Obis.parse("1-0:96.50.1*1") == Obis(1, 0, 96, 50, 1, 1)
    assert Obis.parse("129-129:199.130.3*255") == Obis(129, 129, 199, 130, 3, 255)


@pytest.mark.parametrize("text", [
    "", "1-0:1.8", "1-0:1.8.0*256", "256-0:1.8.0", "1.0.1.8.0", "1.0.1.8.0.255.1",
    "0100010800f", "0100010800ffff", "01000108zzff", "1-0:1.8.-1", "1-0:1.8.0*1000",
    "1-0:1.8.0*", "a-b:c.d.e", "١-0:1.8.0",  # Arabic-Indic digit one
])
def test_parse_refuses_other_text_and_names_it(text: str) -> None:
    with pytest.raises(ObisError) as caught:
        Obis.parse(text)
    assert repr(text) in str(caught.value)


def test_errors_are_value_errors_and_cosem_errors() -> None:
    assert issubclass(ObisError, ValueError)
    assert issubclass(ObisError, CosemError)


def test_parse_refuses_non_text() -> None:
    with pytest.raises(ObisError):
        Obis.parse(b"1-0:1.8.0")  # type: ignore[arg-type]


@pytest.mark.parametrize("groups", [(256, 0, 0, 0, 0, 0), (0, 0, 0, 0, 0, -1), (True, 0, 0, 0, 0, 0),
                                    (1.0, 0, 0, 0, 0, 0)])
def test_constructor_checks_ranges(groups: tuple[int, ...]) -> None:
    with pytest.raises(ObisError):
        Obis(*groups)


def test_formats() -> None:
    assert str(ACTIVE_IMPORT) == "1-0:1.8.0*255"
    assert ACTIVE_IMPORT.dotted() == "1.0.1.8.0.255"
    assert ACTIVE_IMPORT.hex() == "0100010800ff"
    assert bytes(ACTIVE_IMPORT) == b"\x01\x00\x01\x08\x00\xff" == ACTIVE_IMPORT.to_bytes()


def test_from_bytes() -> None:
    assert Obis.from_bytes(b"\x01\x00\x01\x08\x00\xff") == ACTIVE_IMPORT
    assert Obis.from_bytes(bytearray(b"\x01\x00\x01\x08\x00\xff")) == ACTIVE_IMPORT
    for wrong in (b"", b"\x01\x00\x01\x08\x00", b"\x01\x00\x01\x08\x00\xff\x00"):
        with pytest.raises(ObisError):
            Obis.from_bytes(wrong)


def test_frozen_hashable_ordered() -> None:
    with pytest.raises(AttributeError):
        ACTIVE_IMPORT.c = 2  # type: ignore[misc]
    assert {ACTIVE_IMPORT: 1}[Obis.parse("1-0:1.8.0")] == 1
    assert sorted([Obis.parse("1-0:2.8.0"), Obis.parse("0-0:1.0.0"), ACTIVE_IMPORT]) == [
        Obis.parse("0-0:1.0.0"), ACTIVE_IMPORT, Obis.parse("1-0:2.8.0")]


@given(obis_codes)
def test_every_form_reads_back(obis: Obis) -> None:
    assert Obis.parse(str(obis)) == obis
    assert Obis.parse(obis.dotted()) == obis
    assert Obis.parse(obis.hex()) == obis
    assert Obis.parse(obis.hex().upper()) == obis
    assert Obis.from_bytes(bytes(obis)) == obis


@pytest.mark.parametrize(("text", "name"), [
    ("1-0:1.8.0", "active energy import total"),
    ("1-0:2.8.0", "active energy export total"),
    ("1-0:1.8.1", "active energy import tariff 1"),
    ("1-0:16.7.0", "active power total (signed)"),
    ("1-0:32.7.0", "voltage L1"),
    ("1-0:71.7.0", "current L3"),
    ("1-0:14.7.0", "supply frequency"),
    ("1-0:96.50.1*1", "manufacturer identification"),
    ("0-0:1.0.0", "clock"),
    ("129-129:199.130.5", "meter public key"),
])
def test_describe_names_well_known_codes(text: str, name: str) -> None:
    assert describe(Obis.parse(text)) == name


def test_describe_unknown_is_none() -> None:
    assert describe(Obis.parse("1-0:1.8.0*1")) is None  # a billing period, not in the table
    assert describe(Obis.parse("1-0:99.99.99")) is None


def test_codes_read_from_bytes_are_shared_and_their_cache_is_bounded() -> None:
    from smgwd.cosem import obis as module

    wire = b"\x01\x00\x01\x08\x00\xff"
    assert Obis.from_bytes(wire) is Obis.from_bytes(bytearray(wire))
    for k in range(module._CACHE_SIZE + 10):  # a stream of distinct codes
        assert Obis.from_bytes(k.to_bytes(6, "big")) == Obis(*k.to_bytes(6, "big"))
    assert len(module._FROM_BYTES) <= module._CACHE_SIZE
