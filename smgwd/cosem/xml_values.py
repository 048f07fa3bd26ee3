"""Typed DLMS values as XML elements, shared by the COSEM/XML encodings.

How this works: each :class:`DataType` has one element name (table below, after
jOSEF's ``<string>``/``<ulong>`` example); the element's text holds the value, or,
for arrays and structures, a ``count`` attribute and one child element per item.
The XSD ``schemas/dlms-values.xsd`` declares the same elements as the group
``dlmsValue``; it has no target namespace so each encoding includes it into its
own (jOSEF: none, K461: ``urn:k461-dke-de:extension-1``).

==============  =========================  =====================================
element         DLMS type                  text
==============  =========================  =====================================
null            null-data (0)              empty
boolean         boolean (3)                ``true`` / ``false``
bit-string      bit-string (4)             ``0``/``1`` characters, first bit first
integer         integer (15), i8           decimal
unsigned        unsigned (17), u8          decimal
short           long (16), i16             decimal
ushort          long-unsigned (18), u16    decimal
long            double-long (5), i32       decimal
ulong           double-long-unsigned (6)   decimal
long64          long64 (20)                decimal
ulong64         long64-unsigned (21)       decimal
enum            enum (22)                  decimal 0..255
float32         float32 (23)               xs:float (``INF``, ``-INF``, ``NaN``)
float64         float64 (24)               xs:double
octet-string    octet-string (9)           hex
string          visible-string (10)        the text (printable ASCII)
utf8-string     utf8-string (12)           the text
bcd             bcd (13)                   hex of the one octet
date-time       date-time (25)             hex of the 12 COSEM octets
date            date (26)                  hex of 5 octets
time            time (27)                  hex of 4 octets
array           array (1)                  ``count`` + one child per element
structure       structure (2)              ``count`` + one child per element
==============  =========================  =====================================

Decoding expects a schema-valid document but checks everything it relies on
again, and raises :class:`~smgwd.safexml.XmlError` with the element's line.
"""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from smgwd.cosem.datatypes import INTEGER_TYPES, DataType, DlmsValue, PyValue
from smgwd.cosem.xml_writer import Element
from smgwd.xmlerror import XmlError

if TYPE_CHECKING:
    from lxml import etree

__all__ = [
    "MAX_DEPTH", "XML_NAMES", "check_count", "errors_at", "local_name", "value_from_xml",
    "value_to_xml",
]

XML_NAMES: dict[DataType, str] = {
    DataType.NULL_DATA: "null",
    DataType.BOOLEAN: "boolean",
    DataType.BIT_STRING: "bit-string",
    DataType.INTEGER: "integer",
    DataType.UNSIGNED: "unsigned",
    DataType.LONG: "short",
    DataType.LONG_UNSIGNED: "ushort",
    DataType.DOUBLE_LONG: "long",
    DataType.DOUBLE_LONG_UNSIGNED: "ulong",
    DataType.LONG64: "long64",
    DataType.LONG64_UNSIGNED: "ulong64",
    DataType.ENUM: "enum",
    DataType.FLOAT32: "float32",
    DataType.FLOAT64: "float64",
    DataType.OCTET_STRING: "octet-string",
    DataType.VISIBLE_STRING: "string",
    DataType.UTF8_STRING: "utf8-string",
    DataType.BCD: "bcd",
    DataType.DATE_TIME: "date-time",
    DataType.DATE: "date",
    DataType.TIME: "time",
    DataType.ARRAY: "array",
    DataType.STRUCTURE: "structure",
}
_TYPES = {name: kind for kind, name in XML_NAMES.items()}
_OCTETS = (DataType.OCTET_STRING, DataType.DATE_TIME, DataType.DATE, DataType.TIME)
_COMPOUND = (DataType.ARRAY, DataType.STRUCTURE)

#: Deepest nesting of arrays/structures that decoding accepts.
MAX_DEPTH = 32

_INT_TEXT = re.compile(r"[+-]?[0-9]+")
_COUNT_TEXT = re.compile(r"\s*\+?[0-9]+\s*")
_FLOAT_TEXT = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")
_FLOAT_SPECIAL = {"INF": math.inf, "-INF": -math.inf, "NaN": math.nan}
_HEX_TEXT = re.compile(r"([0-9A-Fa-f]{2})*")


def local_name(element: etree._Element, namespace: str | None) -> str | None:
    """The element's name if it is in ``namespace``, else None."""
    tag = element.tag
    if not isinstance(tag, str):
        return None
    prefix = "" if namespace is None else f"{{{namespace}}}"
    if not tag.startswith(prefix) or (namespace is None and tag.startswith("{")):
        return None
    return tag[len(prefix):]


@contextmanager
def errors_at(element: etree._Element, prefix: str = "") -> Iterator[None]:
    """Turn a ValueError (a model check failing) into XmlError at ``element``'s line."""
    try:
        yield
    except XmlError:
        raise
    except (ValueError, OverflowError) as exc:  # CosemError is a ValueError
        raise XmlError(f"{prefix}{exc}", element.sourceline) from None


def check_count(element: etree._Element, children: list[etree._Element]) -> None:
    """Raise XmlError unless the ``count`` attribute equals the number of children."""
    name = str(element.tag).rpartition("}")[2]
    count = element.get("count")
    if count is None or not _COUNT_TEXT.fullmatch(count) or int(count) != len(children):
        raise XmlError(f"<{name}> says count={count!r} but has {len(children)} children",
                       element.sourceline)


def _float_text(number: float) -> str:
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "INF" if number > 0 else "-INF"
    return repr(number)


def value_to_xml(value: DlmsValue, prefix: str = "") -> Element:
    """The element for ``value`` (its name after ``prefix``, e.g. ``ns2:``); XmlError if its text is not XML 1.0."""
    element = Element(prefix + XML_NAMES[value.type])
    raw = value.value
    if isinstance(raw, tuple):
        element.set("count", str(len(raw)))
        element.children.extend(value_to_xml(item, prefix) for item in raw)
        return element
    if raw is None:
        return element
    if isinstance(raw, bool):
        text = "true" if raw else "false"
    elif isinstance(raw, bytes):
        text = raw.hex()
    elif value.type is DataType.BCD:
        text = f"{raw:02x}"
    elif isinstance(raw, float):
        text = _float_text(raw)
    else:
        text = str(raw)
    try:
        element.text = text
    except ValueError:
        raise XmlError(f"{value.type.name.lower()} {text!r} cannot be written in XML 1.0") from None
    return element


def value_from_xml(element: etree._Element, namespace: str | None = None,
                   depth: int = 0) -> DlmsValue:
    """The value an element written by :func:`value_to_xml` stands for."""
    name = local_name(element, namespace)
    kind = _TYPES.get(name or "")
    if kind is None:
        raise XmlError(f"<{element.tag}> is not a DLMS value element", element.sourceline)
    with errors_at(element, f"<{name}>: "):
        if kind in _COMPOUND:
            if depth >= MAX_DEPTH:
                raise XmlError(f"values nested deeper than {MAX_DEPTH}", element.sourceline)
            children = list(element)
            check_count(element, children)
            return DlmsValue(kind, tuple(value_from_xml(c, namespace, depth + 1) for c in children))
        if len(element):
            raise XmlError(f"<{name}> must not have child elements", element.sourceline)
        return DlmsValue(kind, _parse_text(kind, "".join(element.itertext())))  # comments are gone (safexml)


def _parse_text(kind: DataType, text: str) -> PyValue:
    """The Python value of a leaf element's text (ValueError if it is malformed)."""
    if kind is DataType.NULL_DATA:
        if text.strip():
            raise ValueError("must be empty")
        return None
    if kind in (DataType.VISIBLE_STRING, DataType.UTF8_STRING):
        return text
    token = text.strip()
    if kind is DataType.BOOLEAN:
        if token not in ("true", "false", "1", "0"):
            raise ValueError(f"{token!r} is not a boolean")
        return token in ("true", "1")
    if kind is DataType.BIT_STRING:
        return token
    if kind in _OCTETS or kind is DataType.BCD:
        if not _HEX_TEXT.fullmatch(token):
            raise ValueError(f"{token!r} is not hex")
        octets = bytes.fromhex(token)
        if kind is not DataType.BCD:
            return octets
        if len(octets) != 1:
            raise ValueError(f"{token!r} is not one octet")
        return octets[0]
    if kind in INTEGER_TYPES:
        if not _INT_TEXT.fullmatch(token):
            raise ValueError(f"{token!r} is not an integer")
        return int(token)
    if token in _FLOAT_SPECIAL:
        return _FLOAT_SPECIAL[token]
    if not _FLOAT_TEXT.fullmatch(token):
        raise ValueError(f"{token!r} is not a number")
    number = float(token)
    if kind is DataType.FLOAT32:  # xs:float: the nearest float32
        number = struct.unpack(">f", struct.pack(">f", number))[0]
    return number
