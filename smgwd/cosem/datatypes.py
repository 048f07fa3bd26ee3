"""DLMS data types (A-XDR tags, IEC 62056-6-2) and typed values.

How this works: :class:`DataType` is the tag enumeration; :class:`DlmsValue`
pairs a tag with a plain Python value and checks on construction that the value
fits the tag (integer widths, string alphabets, fixed octet lengths). Arrays and
structures hold tuples of :class:`DlmsValue`, each already checked, so a value
tree is valid as soon as it exists.

Python value per type:

===========================  ==========================================
null-data                    ``None``
boolean                      ``bool``
bit-string                   ``str`` of ``'0'``/``'1'`` (first bit first)
integer types, enum          ``int`` within the type's width
bcd                          ``int`` 0..255, the raw octet
float32, float64             ``float`` (float32 values exactly representable)
octet-string                 ``bytes``
visible-string               ``str`` of printable ASCII (0x20..0x7E)
utf8-string                  ``str`` (no lone surrogates)
date-time, date, time        ``bytes`` of 12, 5, 4 octets (COSEM layout)
array                        ``tuple`` of DlmsValue, all of one type
structure                    ``tuple`` of DlmsValue
===========================  ==========================================

The XML element name of each type is in :data:`smgwd.cosem.xml_values.XML_NAMES`.
"""

from __future__ import annotations

import math
import re
import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import Union

from smgwd.cosem.errors import CosemError

__all__ = ["NULL", "DataType", "DataTypeError", "DlmsValue", "INTEGER_TYPES", "PyValue"]


class DataTypeError(CosemError):
    """A Python value that does not fit its DLMS data type."""


class DataType(IntEnum):
    """A-XDR data type tags."""

    NULL_DATA = 0
    ARRAY = 1
    STRUCTURE = 2
    BOOLEAN = 3
    BIT_STRING = 4
    DOUBLE_LONG = 5
    DOUBLE_LONG_UNSIGNED = 6
    OCTET_STRING = 9
    VISIBLE_STRING = 10
    UTF8_STRING = 12
    BCD = 13
    INTEGER = 15
    LONG = 16
    UNSIGNED = 17
    LONG_UNSIGNED = 18
    COMPACT_ARRAY = 19  # decoded raw on the wire (smgwd.codec.dlms.axdr); no typed value of its own
    LONG64 = 20
    LONG64_UNSIGNED = 21
    ENUM = 22
    FLOAT32 = 23
    FLOAT64 = 24
    DATE_TIME = 25
    DATE = 26
    TIME = 27


#: Inclusive value ranges of the integer types (enum and bcd are one raw octet).
INTEGER_TYPES: dict[DataType, tuple[int, int]] = {
    DataType.INTEGER: (-(2**7), 2**7 - 1),
    DataType.LONG: (-(2**15), 2**15 - 1),
    DataType.DOUBLE_LONG: (-(2**31), 2**31 - 1),
    DataType.LONG64: (-(2**63), 2**63 - 1),
    DataType.UNSIGNED: (0, 2**8 - 1),
    DataType.LONG_UNSIGNED: (0, 2**16 - 1),
    DataType.DOUBLE_LONG_UNSIGNED: (0, 2**32 - 1),
    DataType.LONG64_UNSIGNED: (0, 2**64 - 1),
    DataType.ENUM: (0, 255),
    DataType.BCD: (0, 255),
}
_SIGNED = (DataType.INTEGER, DataType.LONG, DataType.DOUBLE_LONG, DataType.LONG64)
_UNSIGNED = (DataType.UNSIGNED, DataType.LONG_UNSIGNED,
             DataType.DOUBLE_LONG_UNSIGNED, DataType.LONG64_UNSIGNED)
_FIXED_OCTETS = {DataType.DATE_TIME: 12, DataType.DATE: 5, DataType.TIME: 4}
_VISIBLE = re.compile(r"[\x20-\x7e]*")
_BITS = re.compile(r"[01]*")

PyValue = Union[None, bool, int, float, str, bytes, tuple["DlmsValue", ...]]


@dataclass(frozen=True, slots=True)
class DlmsValue:
    """A DLMS value: a :class:`DataType` tag and a Python value that fits it."""

    type: DataType
    value: PyValue = None

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "type", DataType(self.type))
        except ValueError:
            raise DataTypeError(f"unknown DLMS data type {self.type!r}") from None
        problem = _check(self.type, self.value)
        if problem:
            raise DataTypeError(f"{self.type.name.lower().replace('_', '-')}: {problem}")

    @classmethod
    def for_int(cls, n: int, signed_hint: bool | None = None) -> DlmsValue:
        """The smallest integer type holding ``n``; unsigned unless ``n < 0`` or ``signed_hint``."""
        signed = n < 0 if signed_hint is None else signed_hint
        for candidate in _SIGNED if signed else _UNSIGNED:
            low, high = INTEGER_TYPES[candidate]
            if low <= n <= high:
                return cls(candidate, n)
        kind = "signed" if signed else "unsigned"
        raise DataTypeError(f"{n!r} fits no {kind} DLMS integer type")

    def is_numeric(self) -> bool:
        """True for the signed/unsigned integer and float types (not enum, bcd or boolean)."""
        return self.type in _SIGNED or self.type in _UNSIGNED or self.type in (
            DataType.FLOAT32, DataType.FLOAT64)


def _check(kind: DataType, value: object) -> str | None:
    """Why ``value`` does not fit ``kind``, or None when it does."""
    if kind is DataType.NULL_DATA:
        return None if value is None else f"value must be None, got {value!r}"
    if kind is DataType.BOOLEAN:
        return None if isinstance(value, bool) else f"value must be a bool, got {value!r}"
    if kind in INTEGER_TYPES:
        low, high = INTEGER_TYPES[kind]
        if type(value) is not int:
            return f"value must be an int, got {value!r}"
        return None if low <= value <= high else f"{value} is outside {low}..{high}"
    if kind in (DataType.FLOAT32, DataType.FLOAT64):
        if type(value) is not float:
            return f"value must be a float, got {value!r}"
        if kind is DataType.FLOAT32 and math.isfinite(value):
            try:
                exact = struct.unpack(">f", struct.pack(">f", value))[0] == value
            except OverflowError:
                exact = False
            if not exact:
                return f"{value!r} is not exactly representable as float32"
        return None
    if kind in (DataType.OCTET_STRING, *_FIXED_OCTETS):
        if type(value) is not bytes:
            return f"value must be bytes, got {value!r}"
        size = _FIXED_OCTETS.get(kind)
        return None if size in (None, len(value)) else f"needs {size} octets, got {len(value)}"
    if kind is DataType.VISIBLE_STRING:
        if not isinstance(value, str) or not _VISIBLE.fullmatch(value):
            return f"value must be a str of printable ASCII, got {value!r}"
        return None
    if kind is DataType.UTF8_STRING:
        return _check_utf8(value)
    if kind is DataType.BIT_STRING:
        if not isinstance(value, str) or not _BITS.fullmatch(value):
            return f"value must be a str of '0'/'1', got {value!r}"
        return None
    return _check_compound(kind, value)


def _check_utf8(value: object) -> str | None:
    if not isinstance(value, str):
        return f"value must be a str, got {value!r}"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return f"{value!r} is not encodable as UTF-8"
    return None


def _check_compound(kind: DataType, value: object) -> str | None:
    if type(value) is not tuple or not all(isinstance(v, DlmsValue) for v in value):
        return f"value must be a tuple of DlmsValue, got {value!r}"
    if kind is DataType.ARRAY and len({v.type for v in value}) > 1:
        return "array elements must all have one type"
    return None


#: The null-data value.
NULL = DlmsValue(DataType.NULL_DATA)
