"""COSEM interface classes: attribute numbering, rebuilding, checks."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given

from smgwd.cosem.classes import (CLASSES, NO_SORT_OBJECT, CaptureObject, Clock, CosemObject, Data,
                                 ExtendedRegister, LogicalDevice, ProfileGeneric, Register,
                                 from_structure, object_from_attributes, to_structure)
from smgwd.cosem.cosemtime import UNSPECIFIED_DATE_TIME
from smgwd.cosem.datatypes import NULL, DataType, DlmsValue
from smgwd.cosem.errors import CosemError
from smgwd.cosem.obis import Obis
from tests.cosem.strategies import cosem_objects

LN = Obis.parse("1-0:1.8.1")
ULONG = DlmsValue(DataType.DOUBLE_LONG_UNSIGNED, 23051550)


def josef_register() -> Register:
    return Register(LN, ULONG, -1, 30)


def test_class_ids_and_versions() -> None:
    assert {c: (cls.__name__, cls.version) for c, cls in CLASSES.items()} == {
        1: ("Data", 0), 3: ("Register", 0), 4: ("ExtendedRegister", 0),
        7: ("ProfileGeneric", 1), 8: ("Clock", 0)}


def test_register_attributes_as_in_josef() -> None:
    assert josef_register().attributes() == [
        (1, DlmsValue(DataType.VISIBLE_STRING, "1.0.1.8.1.255")),
        (2, ULONG),
        (3, DlmsValue(DataType.STRUCTURE, (DlmsValue(DataType.INTEGER, -1),
                                           DlmsValue(DataType.ENUM, 30)))),
    ]


def test_scaled_value_is_an_exact_decimal() -> None:
    assert josef_register().scaled_value() == Decimal("2305155.0")
    assert isinstance(josef_register().scaled_value(), Decimal)
    assert Register(LN, DlmsValue(DataType.LONG64, -7), 3).scaled_value() == Decimal("-7000")
    assert Register(LN, DlmsValue(DataType.FLOAT64, 0.1), -1).scaled_value() == Decimal("0.01")


def test_scaled_value_of_text_is_refused() -> None:
    with pytest.raises(CosemError, match="no scaled value"):
        Register(LN, DlmsValue(DataType.VISIBLE_STRING, "x")).scaled_value()


@pytest.mark.parametrize(("scaler", "unit"), [(128, 30), (-129, 30), (0, 256), (0, -1)])
def test_register_checks_scaler_and_unit(scaler: int, unit: int) -> None:
    with pytest.raises(CosemError):
        Register(LN, ULONG, scaler, unit)


def test_extended_register_adds_status_and_capture_time() -> None:
    octets = bytes.fromhex("07e50713010f2e2300000000")
    register = ExtendedRegister(LN, ULONG, -1, 30, DlmsValue(DataType.UNSIGNED, 4), octets)
    assert [i for i, _ in register.attributes()] == [1, 2, 3, 4, 5]
    assert register.attributes()[3:] == [(4, DlmsValue(DataType.UNSIGNED, 4)),
                                         (5, DlmsValue(DataType.DATE_TIME, octets))]
    assert register != Register(LN, ULONG, -1, 30)
    with pytest.raises(CosemError, match="capture_time"):
        ExtendedRegister(LN, ULONG, capture_time=bytes(11))


def test_extended_register_defaults() -> None:
    register = ExtendedRegister(LN, ULONG)
    assert (register.status, register.capture_time) == (NULL, UNSPECIFIED_DATE_TIME)


def test_clock_attributes() -> None:
    clock = Clock(Obis.parse("0-0:1.0.0"), time_zone=-60, status=0x80,
                  daylight_savings_deviation=60, daylight_savings_enabled=True, clock_base=1)
    kinds = [value.type for _, value in clock.attributes()]
    assert kinds == [DataType.VISIBLE_STRING, DataType.DATE_TIME, DataType.LONG, DataType.UNSIGNED,
                     DataType.DATE_TIME, DataType.DATE_TIME, DataType.INTEGER, DataType.BOOLEAN,
                     DataType.ENUM]
    assert clock.attributes()[2] == (3, DlmsValue(DataType.LONG, -60))


def test_profile_generic_attributes() -> None:
    capture = CaptureObject(3, LN, 2)
    profile = ProfileGeneric(Obis.parse("1-0:99.1.0"), ((ULONG,),), (capture,), 900, 1,
                             NO_SORT_OBJECT, 1, 96)
    attributes = dict(profile.attributes())
    assert sorted(attributes) == list(range(1, 9))
    assert attributes[2] == DlmsValue(DataType.ARRAY, (DlmsValue(DataType.STRUCTURE, (ULONG,)),))
    assert attributes[3] == DlmsValue(DataType.ARRAY, (DlmsValue(DataType.STRUCTURE, (
        DlmsValue(DataType.LONG_UNSIGNED, 3), DlmsValue(DataType.OCTET_STRING, bytes(LN)),
        DlmsValue(DataType.INTEGER, 2), DlmsValue(DataType.LONG_UNSIGNED, 0))),))
    assert attributes[4] == DlmsValue(DataType.DOUBLE_LONG_UNSIGNED, 900)


def test_profile_rows_must_match_the_capture_objects() -> None:
    with pytest.raises(CosemError, match="buffer row 2"):
        ProfileGeneric(LN, ((ULONG,), (ULONG, ULONG)), (CaptureObject(3, LN, 2),))


@given(cosem_objects)
def test_from_attributes_rebuilds_every_class(obj: CosemObject) -> None:
    assert type(obj).from_attributes(obj.attributes()) == obj
    assert object_from_attributes(obj.class_id, obj.version, obj.attributes()) == obj
    assert from_structure(obj.class_id, to_structure(obj)) == obj


def test_logical_name_also_read_from_octets() -> None:
    attributes = josef_register().attributes()
    attributes[0] = (1, DlmsValue(DataType.OCTET_STRING, bytes(LN)))
    assert Register.from_attributes(attributes) == josef_register()


def test_integer_attributes_accept_any_fitting_integer_type() -> None:
    attributes = Clock(LN).attributes()
    attributes[2] = (3, DlmsValue(DataType.DOUBLE_LONG, -60))
    assert Clock.from_attributes(attributes).time_zone == -60
    attributes[2] = (3, DlmsValue(DataType.DOUBLE_LONG, 40000))
    with pytest.raises(CosemError, match="Clock attribute 3"):
        Clock.from_attributes(attributes)


@pytest.mark.parametrize(("change", "message"), [
    (lambda a: a[:2], r"needs attributes 1..3, got \[1, 2\]"),
    (lambda a: [*a, (2, ULONG)], "attribute 2 given twice"),
    (lambda a: [*a, (4, ULONG)], r"needs attributes 1..3"),
    (lambda a: [(1, DlmsValue(DataType.UNSIGNED, 1)), *a[1:]], "attribute 1: expected"),
    (lambda a: [(1, DlmsValue(DataType.VISIBLE_STRING, "1.0.1.8")), *a[1:]], "attribute 1"),
    (lambda a: [*a[:2], (3, DlmsValue(DataType.STRUCTURE, (DlmsValue(DataType.INTEGER, 0),)))],
     "scaler_unit"),
    (lambda a: [*a[:2], (3, ULONG)], "attribute 3: expected structure"),
    (lambda a: [*a[:2], (3, "not a value")], "not a DlmsValue"),
])
def test_from_attributes_says_what_is_wrong(change: object, message: str) -> None:
    with pytest.raises(CosemError, match=message):
        Register.from_attributes(change(josef_register().attributes()))  # type: ignore[operator]


def test_profile_from_attributes_checks_nested_values() -> None:
    attributes = ProfileGeneric(LN).attributes()
    attributes[2] = (3, DlmsValue(DataType.ARRAY, (ULONG,)))
    with pytest.raises(CosemError, match="ProfileGeneric.*capture object"):
        ProfileGeneric.from_attributes(attributes)
    attributes = ProfileGeneric(LN).attributes()
    attributes[1] = (2, DlmsValue(DataType.STRUCTURE, ()))
    with pytest.raises(CosemError, match="expected array"):
        ProfileGeneric.from_attributes(attributes)


def test_object_from_attributes_checks_class_and_version() -> None:
    with pytest.raises(CosemError, match="unsupported interface class 15"):
        object_from_attributes(15, 0, [])
    with pytest.raises(CosemError, match="Register is version 0, got version 1"):
        object_from_attributes(3, 1, josef_register().attributes())
    with pytest.raises(CosemError, match="unsupported interface class 2"):
        from_structure(2, DlmsValue(DataType.STRUCTURE, ()))


@pytest.mark.parametrize("fields", [(-1, LN, 2, 0), (65536, LN, 2, 0), (3, LN, 128, 0),
                                    (3, LN, 2, 65536)])
def test_capture_object_ranges(fields: tuple[int, Obis, int, int]) -> None:
    with pytest.raises(CosemError):
        CaptureObject(*fields)


def test_logical_device_checks() -> None:
    device = LogicalDevice("UTB1429882966913", (josef_register(), Data(Obis.parse("1-0:0.0.9"))))
    assert len(device.objects) == 2
    with pytest.raises(CosemError, match="twice"):
        LogicalDevice("x", (josef_register(), Data(LN)))
    with pytest.raises(CosemError, match="empty"):
        LogicalDevice("")
    with pytest.raises(CosemError, match="printable ASCII"):
        LogicalDevice("Zähler")
    with pytest.raises(CosemError, match="not a COSEM object"):
        LogicalDevice("x", (LN,))  # type: ignore[arg-type]


def test_objects_are_frozen() -> None:
    with pytest.raises(AttributeError):
        josef_register().scaler = 0  # type: ignore[misc]
