"""COSEM interface classes: Data, Register, Extended Register, Profile Generic, Clock.

How this works: each class is a frozen dataclass holding its attributes as Python
values (an :class:`Obis` logical name, raw integers, 12-octet date-times) and, for
attributes of type "any", as :class:`DlmsValue`. ``attributes()`` lists the
attributes as ``(index, DlmsValue)`` pairs numbered as in the Blue Book and
``from_attributes()`` rebuilds the object from such a list, checking that every
index is present once and has a fitting type. Attribute 1, the logical name, is
written as the visible-string of the dotted OBIS code (``"1.0.1.8.1.255"``) as in
jOSEF's COSEM/XML; reading also accepts the 6-octet form that meters send.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar, Self, Union

from smgwd.cosem.cosemtime import UNSPECIFIED_DATE_TIME
from smgwd.cosem.datatypes import INTEGER_TYPES, NULL, DataType, DataTypeError, DlmsValue
from smgwd.cosem.errors import CosemError
from smgwd.cosem.obis import Obis

__all__ = [
    "CLASSES", "NO_SORT_OBJECT", "CaptureObject", "Clock", "CosemObject", "Data",
    "ExtendedRegister", "LogicalDevice", "ProfileGeneric", "Register",
    "from_structure", "object_from_attributes", "to_structure",
]

Attributes = list[tuple[int, DlmsValue]]

_DATE_TIMES = (DataType.DATE_TIME, DataType.OCTET_STRING)


def _int(kind: DataType, n: int, what: str) -> int:
    low, high = INTEGER_TYPES[kind]
    if type(n) is not int or not low <= n <= high:
        raise CosemError(f"{what} must be an int {low}..{high}, got {n!r}")
    return n


def _date_time(octets: bytes, what: str) -> bytes:
    if type(octets) is not bytes or len(octets) != 12:
        raise CosemError(f"{what} must be 12 octets of COSEM date-time, got {octets!r}")
    return octets


class _Reader:
    """Checked access to one object's ``(index, value)`` list while rebuilding it."""

    def __init__(self, cls: type, attributes: Iterable[tuple[int, DlmsValue]], count: int):
        self.cls = cls.__name__
        self.values: dict[int, DlmsValue] = {}
        for index, value in attributes:
            if index in self.values:
                raise CosemError(f"{self.cls}: attribute {index} given twice")
            if not isinstance(value, DlmsValue):
                raise CosemError(f"{self.cls}: attribute {index} is not a DlmsValue: {value!r}")
            self.values[index] = value
        if sorted(self.values) != list(range(1, count + 1)):
            raise CosemError(f"{self.cls}: needs attributes 1..{count}, got {sorted(self.values)}")

    def fail(self, index: int, problem: str) -> CosemError:
        return CosemError(f"{self.cls} attribute {index}: {problem}")

    def typed(self, index: int, *kinds: DataType) -> DlmsValue:
        value = self.values[index]
        if value.type not in kinds:
            wanted = " or ".join(k.name.lower() for k in kinds)
            raise self.fail(index, f"expected {wanted}, got {value.type.name.lower()}")
        return value

    def any(self, index: int) -> DlmsValue:
        return self.values[index]

    def integer(self, index: int, kind: DataType) -> int:
        """An integer attribute of type ``kind``; any integer type whose value fits is read."""
        value = self.typed(index, *INTEGER_TYPES)
        try:
            return _int(kind, value.value, kind.name.lower())  # type: ignore[arg-type]
        except CosemError as exc:
            raise self.fail(index, str(exc)) from None

    def date_time(self, index: int) -> bytes:
        octets = self.typed(index, *_DATE_TIMES).value
        assert isinstance(octets, bytes)
        if len(octets) != 12:
            raise self.fail(index, f"a date-time is 12 octets, got {len(octets)}")
        return octets

    def logical_name(self) -> Obis:
        return self.obis(self.typed(1, DataType.VISIBLE_STRING, DataType.OCTET_STRING), 1)

    def obis(self, value: DlmsValue, index: int) -> Obis:
        try:
            if isinstance(value.value, bytes):
                return Obis.from_bytes(value.value)
            if value.type is DataType.VISIBLE_STRING:
                return Obis.parse(str(value.value))
        except CosemError as exc:
            raise self.fail(index, str(exc)) from None
        raise self.fail(index, f"expected a logical name, got {value.type.name.lower()}")


def _ln(obis: Obis) -> DlmsValue:
    return DlmsValue(DataType.VISIBLE_STRING, obis.dotted())


def _dt(octets: bytes) -> DlmsValue:
    return DlmsValue(DataType.DATE_TIME, octets)


@dataclass(frozen=True, slots=True)
class Data:
    """Data (class 1, version 0): a value of any type."""

    class_id: ClassVar[int] = 1
    version: ClassVar[int] = 0

    logical_name: Obis
    value: DlmsValue = NULL

    def attributes(self) -> Attributes:
        """Attributes 1 logical_name and 2 value."""
        return [(1, _ln(self.logical_name)), (2, self.value)]

    @classmethod
    def from_attributes(cls, attributes: Iterable[tuple[int, DlmsValue]]) -> Self:
        """Rebuild from ``attributes()`` output (or a meter's equivalent)."""
        read = _Reader(cls, attributes, 2)
        return cls(read.logical_name(), read.any(2))


@dataclass(frozen=True, slots=True)
class Register:
    """Register (class 3, version 0): a raw value with scaler and unit.

    The value stays as the meter sent it; :meth:`scaled_value` gives
    ``value * 10**scaler`` as a ``Decimal`` for display and export.
    """

    class_id: ClassVar[int] = 3
    version: ClassVar[int] = 0

    logical_name: Obis
    value: DlmsValue
    scaler: int = 0
    unit: int = 255

    def __post_init__(self) -> None:
        _int(DataType.INTEGER, self.scaler, "scaler")
        _int(DataType.ENUM, self.unit, "unit")

    def scaled_value(self) -> Decimal:
        """``value * 10**scaler``, exact for integers; CosemError for non-numeric values."""
        if not self.value.is_numeric():
            kind = self.value.type.name.lower()
            raise CosemError(f"{self.logical_name}: a {kind} has no scaled value")
        raw = self.value.value
        number = Decimal(raw) if isinstance(raw, int) else Decimal(repr(raw))
        return number.scaleb(self.scaler)

    def attributes(self) -> Attributes:
        """Attributes 1 logical_name, 2 value, 3 scaler_unit = structure{integer, enum}."""
        scaler_unit = DlmsValue(DataType.STRUCTURE, (
            DlmsValue(DataType.INTEGER, self.scaler), DlmsValue(DataType.ENUM, self.unit)))
        return [(1, _ln(self.logical_name)), (2, self.value), (3, scaler_unit)]

    @classmethod
    def from_attributes(cls, attributes: Iterable[tuple[int, DlmsValue]]) -> Self:
        """Rebuild from ``attributes()`` output (or a meter's equivalent)."""
        read = _Reader(cls, attributes, 3)
        return cls(read.logical_name(), read.any(2), *_scaler_unit(read))


def _scaler_unit(read: _Reader) -> tuple[int, int]:
    parts = read.typed(3, DataType.STRUCTURE).value
    assert isinstance(parts, tuple)
    kinds = tuple(part.type for part in parts)
    if kinds != (DataType.INTEGER, DataType.ENUM):
        raise read.fail(3, "scaler_unit must be structure{integer, enum}")
    return parts[0].value, parts[1].value  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class ExtendedRegister(Register):
    """Extended Register (class 4, version 0): a Register with status and capture time."""

    class_id: ClassVar[int] = 4
    version: ClassVar[int] = 0

    status: DlmsValue = NULL
    capture_time: bytes = UNSPECIFIED_DATE_TIME

    def __post_init__(self) -> None:
        Register.__post_init__(self)
        _date_time(self.capture_time, "capture_time")

    def attributes(self) -> Attributes:
        """Register's attributes plus 4 status and 5 capture_time (date-time)."""
        return [*Register.attributes(self), (4, self.status), (5, _dt(self.capture_time))]

    @classmethod
    def from_attributes(cls, attributes: Iterable[tuple[int, DlmsValue]]) -> Self:
        """Rebuild from ``attributes()`` output (or a meter's equivalent)."""
        read = _Reader(cls, attributes, 5)
        scaler, unit = _scaler_unit(read)
        return cls(read.logical_name(), read.any(2), scaler, unit, read.any(4), read.date_time(5))


@dataclass(frozen=True, slots=True)
class CaptureObject:
    """One capture object definition of a Profile Generic (attribute 3)."""

    class_id: int
    logical_name: Obis
    attribute_index: int
    data_index: int = 0

    def __post_init__(self) -> None:
        _int(DataType.LONG_UNSIGNED, self.class_id, "class_id")
        _int(DataType.INTEGER, self.attribute_index, "attribute_index")
        _int(DataType.LONG_UNSIGNED, self.data_index, "data_index")

    def to_value(self) -> DlmsValue:
        """structure{long-unsigned class_id, octet-string logical_name, integer, long-unsigned}."""
        return DlmsValue(DataType.STRUCTURE, (
            DlmsValue(DataType.LONG_UNSIGNED, self.class_id),
            DlmsValue(DataType.OCTET_STRING, bytes(self.logical_name)),
            DlmsValue(DataType.INTEGER, self.attribute_index),
            DlmsValue(DataType.LONG_UNSIGNED, self.data_index),
        ))

    @classmethod
    def from_value(cls, value: DlmsValue) -> CaptureObject:
        """Read the structure written by :meth:`to_value` (logical name also as string)."""
        parts = value.value
        if value.type is not DataType.STRUCTURE or not isinstance(parts, tuple) or len(parts) != 4:
            raise CosemError(f"a capture object is a structure of 4, got {value!r}")
        read = _Reader(cls, enumerate(parts, start=1), 4)
        return cls(read.integer(1, DataType.LONG_UNSIGNED), read.obis(parts[1], 2),
                   read.integer(3, DataType.INTEGER), read.integer(4, DataType.LONG_UNSIGNED))


#: The sort object of a profile that sets none (all fields zero).
NO_SORT_OBJECT = CaptureObject(0, Obis(0, 0, 0, 0, 0, 0), 0, 0)


@dataclass(frozen=True, slots=True)
class ProfileGeneric:
    """Profile Generic (class 7, version 1): a buffer of rows, one cell per capture object.

    ``sort_method``: 1 fifo, 2 lifo, 3 largest, 4 smallest, 5 nearest to zero,
    6 farthest from zero.
    """

    class_id: ClassVar[int] = 7
    version: ClassVar[int] = 1

    logical_name: Obis
    buffer: tuple[tuple[DlmsValue, ...], ...] = ()
    capture_objects: tuple[CaptureObject, ...] = ()
    capture_period: int = 0
    sort_method: int = 1
    sort_object: CaptureObject = NO_SORT_OBJECT
    entries_in_use: int = 0
    profile_entries: int = 0

    def __post_init__(self) -> None:
        if not all(isinstance(c, CaptureObject) for c in self.capture_objects):
            raise CosemError("capture_objects must be a tuple of CaptureObject")
        for number, row in enumerate(self.buffer, start=1):
            fits = len(row) == len(self.capture_objects)
            if not fits or not all(isinstance(v, DlmsValue) for v in row):
                raise CosemError(f"buffer row {number}: needs one DlmsValue per capture object "
                                 f"({len(self.capture_objects)}), got {row!r}")
        _int(DataType.DOUBLE_LONG_UNSIGNED, self.capture_period, "capture_period")
        _int(DataType.ENUM, self.sort_method, "sort_method")
        _int(DataType.DOUBLE_LONG_UNSIGNED, self.entries_in_use, "entries_in_use")
        _int(DataType.DOUBLE_LONG_UNSIGNED, self.profile_entries, "profile_entries")

    def attributes(self) -> Attributes:
        """Attributes 1..8: logical_name, buffer, capture_objects, capture_period,
        sort_method, sort_object, entries_in_use, profile_entries."""
        rows = tuple(DlmsValue(DataType.STRUCTURE, row) for row in self.buffer)
        captures = tuple(c.to_value() for c in self.capture_objects)
        return [
            (1, _ln(self.logical_name)),
            (2, DlmsValue(DataType.ARRAY, rows)),
            (3, DlmsValue(DataType.ARRAY, captures)),
            (4, DlmsValue(DataType.DOUBLE_LONG_UNSIGNED, self.capture_period)),
            (5, DlmsValue(DataType.ENUM, self.sort_method)),
            (6, self.sort_object.to_value()),
            (7, DlmsValue(DataType.DOUBLE_LONG_UNSIGNED, self.entries_in_use)),
            (8, DlmsValue(DataType.DOUBLE_LONG_UNSIGNED, self.profile_entries)),
        ]

    @classmethod
    def from_attributes(cls, attributes: Iterable[tuple[int, DlmsValue]]) -> Self:
        """Rebuild from ``attributes()`` output (or a meter's equivalent)."""
        read = _Reader(cls, attributes, 8)
        try:
            rows = tuple(_items(row, DataType.STRUCTURE)
                         for row in _items(read.any(2), DataType.ARRAY))
            captures = tuple(CaptureObject.from_value(v)
                             for v in _items(read.any(3), DataType.ARRAY))
            sort_object = CaptureObject.from_value(read.any(6))
        except CosemError as exc:
            raise CosemError(f"ProfileGeneric: {exc}") from None
        return cls(read.logical_name(), rows, captures,
                   read.integer(4, DataType.DOUBLE_LONG_UNSIGNED), read.integer(5, DataType.ENUM),
                   sort_object, read.integer(7, DataType.DOUBLE_LONG_UNSIGNED),
                   read.integer(8, DataType.DOUBLE_LONG_UNSIGNED))


def _items(value: DlmsValue, kind: DataType) -> tuple[DlmsValue, ...]:
    if value.type is not kind or not isinstance(value.value, tuple):
        raise CosemError(f"expected {kind.name.lower()}, got {value.type.name.lower()}")
    return value.value


@dataclass(frozen=True, slots=True)
class Clock:
    """Clock (class 8, version 0). Date-times are 12 COSEM octets (see :mod:`cosemtime`).

    ``clock_base``: 0 not defined, 1 internal crystal, 2 mains 50 Hz, 3 mains 60 Hz,
    4 GPS, 5 radio controlled.
    """

    class_id: ClassVar[int] = 8
    version: ClassVar[int] = 0

    logical_name: Obis
    time: bytes = UNSPECIFIED_DATE_TIME
    time_zone: int = 0
    status: int = 0
    daylight_savings_begin: bytes = UNSPECIFIED_DATE_TIME
    daylight_savings_end: bytes = UNSPECIFIED_DATE_TIME
    daylight_savings_deviation: int = 0
    daylight_savings_enabled: bool = False
    clock_base: int = 0

    def __post_init__(self) -> None:
        _date_time(self.time, "time")
        _int(DataType.LONG, self.time_zone, "time_zone")
        _int(DataType.UNSIGNED, self.status, "status")
        _date_time(self.daylight_savings_begin, "daylight_savings_begin")
        _date_time(self.daylight_savings_end, "daylight_savings_end")
        _int(DataType.INTEGER, self.daylight_savings_deviation, "daylight_savings_deviation")
        if not isinstance(self.daylight_savings_enabled, bool):
            raise CosemError("daylight_savings_enabled must be a bool, "
                             f"got {self.daylight_savings_enabled!r}")
        _int(DataType.ENUM, self.clock_base, "clock_base")

    def attributes(self) -> Attributes:
        """Attributes 1..9 as in the Blue Book."""
        return [
            (1, _ln(self.logical_name)),
            (2, _dt(self.time)),
            (3, DlmsValue(DataType.LONG, self.time_zone)),
            (4, DlmsValue(DataType.UNSIGNED, self.status)),
            (5, _dt(self.daylight_savings_begin)),
            (6, _dt(self.daylight_savings_end)),
            (7, DlmsValue(DataType.INTEGER, self.daylight_savings_deviation)),
            (8, DlmsValue(DataType.BOOLEAN, self.daylight_savings_enabled)),
            (9, DlmsValue(DataType.ENUM, self.clock_base)),
        ]

    @classmethod
    def from_attributes(cls, attributes: Iterable[tuple[int, DlmsValue]]) -> Self:
        """Rebuild from ``attributes()`` output (or a meter's equivalent)."""
        read = _Reader(cls, attributes, 9)
        enabled = read.typed(8, DataType.BOOLEAN).value
        assert isinstance(enabled, bool)
        return cls(read.logical_name(), read.date_time(2), read.integer(3, DataType.LONG),
                   read.integer(4, DataType.UNSIGNED), read.date_time(5), read.date_time(6),
                   read.integer(7, DataType.INTEGER), enabled, read.integer(9, DataType.ENUM))


CosemObject = Union[Data, Register, ExtendedRegister, ProfileGeneric, Clock]

#: The supported interface classes by class_id.
CLASSES: dict[int, type[CosemObject]] = {
    cls.class_id: cls for cls in (Data, Register, ExtendedRegister, ProfileGeneric, Clock)
}


def object_from_attributes(class_id: int, version: int,
                           attributes: Iterable[tuple[int, DlmsValue]]) -> CosemObject:
    """Rebuild an object of any supported class from its class id, version and attributes."""
    cls = CLASSES.get(class_id)
    if cls is None:
        raise CosemError(f"unsupported interface class {class_id}")
    if version != cls.version:
        raise CosemError(f"{cls.__name__} is version {cls.version}, got version {version}")
    return cls.from_attributes(attributes)


def to_structure(obj: CosemObject) -> DlmsValue:
    """All attributes as one structure, as a capture with attribute_index 0 records them."""
    return DlmsValue(DataType.STRUCTURE, tuple(value for _, value in obj.attributes()))


def from_structure(class_id: int, value: DlmsValue) -> CosemObject:
    """Rebuild an object from :func:`to_structure` output."""
    items = _items(value, DataType.STRUCTURE)
    cls = CLASSES.get(class_id)
    if cls is None:
        raise CosemError(f"unsupported interface class {class_id}")
    return cls.from_attributes(enumerate(items, start=1))


@dataclass(frozen=True, slots=True)
class LogicalDevice:
    """A logical device: an id (e.g. the meter id) and its objects, logical names unique."""

    id: str
    objects: tuple[CosemObject, ...] = ()

    def __post_init__(self) -> None:
        try:
            DlmsValue(DataType.VISIBLE_STRING, self.id)
        except DataTypeError:
            raise CosemError(
                f"logical device id must be printable ASCII, got {self.id!r}") from None
        if not self.id:
            raise CosemError("logical device id must not be empty")
        names = set()
        for obj in self.objects:
            if not isinstance(obj, tuple(CLASSES.values())):
                raise CosemError(f"logical device {self.id}: not a COSEM object: {obj!r}")
            if obj.logical_name in names:
                raise CosemError(f"logical device {self.id}: logical name {obj.logical_name} twice")
            names.add(obj.logical_name)
