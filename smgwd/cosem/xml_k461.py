"""Load profiles as DKE K461 ``profile_generic-1`` XML (the German SMGW export shape).

How this works: a K461 profile is column-oriented: one ``column`` per capture
object, each a list of entries (raw value, scaler, unit, status, capture time in
UTC). We map it onto :class:`ProfileGeneric` like this:

* every capture object is ``CaptureObject(4, obis, 0, 0)``: the whole Extended
  Register (attribute index 0), so each buffer cell is ``to_structure()`` of an
  :class:`ExtendedRegister` whose logical name is that capture object's, or
  null-data when that column has no entry in that row;
* row ``n`` of the buffer holds the entries with ``id="n"`` of every column; a
  row with no entry at all is refused both ways;
* logical names are written ``<obis hex>.<meter id>.sm`` and the profile's own
  OBIS code goes into the object's ``id``;
* capture_period, sort_method, sort_object and the entry counters are not part of
  the shape: :func:`decode` gives 0, 1 (fifo), none and the row count.

Capture times are written in UTC to the hundredth of a second, so they come back
in the canonical form of :func:`smgwd.cosem.cosemtime.datetime_to_cosem`.
Entries are written as unsigned ``entry``; ``entry_gateway_signed`` (with an
optional ``smgw_signature``, ignored) is read as well.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING

from smgwd.cosem.classes import (CaptureObject, ExtendedRegister, ProfileGeneric,
                                 from_structure, to_structure)
from smgwd.cosem.cosemtime import cosem_to_datetime, datetime_to_cosem
from smgwd.cosem.datatypes import NULL, DataType, DlmsValue
from smgwd.cosem.errors import CosemError
from smgwd.cosem.obis import Obis
from smgwd.cosem.xml_values import (check_count, errors_at, local_name, value_from_xml,
                                     value_to_xml)
from smgwd.cosem.xml_writer import Element, document, serialized
from smgwd.xmlerror import XmlError

if TYPE_CHECKING:
    from lxml import etree

__all__ = ["EXT_NS", "PG_NS", "SCHEMA", "decode", "encode", "schema"]

PG_NS = "urn:k461-dke-de:profile_generic-1"
EXT_NS = "urn:k461-dke-de:extension-1"
#: Where the XSD lives: ``load_schema(*SCHEMA)``.
SCHEMA = ("smgwd.cosem", "schemas/k461-profile-generic.xsd")
_ENTRY_LEVEL = 5  # <object> / <attributes> / <buffer> / <simple_data> / <column> / <entry>

_METER_ID = re.compile(r"[!-\-/-~]+")  # printable ASCII without "."
_LOGICAL_NAME = re.compile(r"([0-9a-fA-F]{12})\.([!-\-/-~]+)\.sm")
_ENTRIES = ("entry", "entry_gateway_signed")


def schema() -> etree.XMLSchema:
    """The XSD every document from :func:`encode` is valid against."""
    from smgwd.safexml import load_schema  # lxml only to read

    return load_schema(*SCHEMA)


def encode(profile: ProfileGeneric, meter_id: str) -> bytes:
    """The UTF-8 document for ``profile`` read from meter ``meter_id``."""
    if not _METER_ID.fullmatch(meter_id):
        raise CosemError(f"meter id must be printable ASCII without '.', got {meter_id!r}")
    for capture in profile.capture_objects:
        if (capture.class_id, capture.attribute_index, capture.data_index) != (4, 0, 0):
            raise CosemError(f"K461 profiles capture whole Extended Registers (class 4, "
                             f"attribute 0), got {capture}")
    own_name = f"{profile.logical_name.hex()}.{meter_id}.sm"
    root = Element("ns1:object", {"class_id": "7", "id": own_name})
    attributes = root.sub("ns1:attributes", count="3")
    attributes.sub("ns2:logical_name", own_name, id="1")
    captures = attributes.sub("ns1:capture_objects", id="2", count=str(len(profile.capture_objects)))
    data = attributes.sub("ns1:buffer", id="3").sub("ns1:simple_data", count=str(len(profile.capture_objects)))
    columns = []
    for number, capture in enumerate(profile.capture_objects, start=1):
        captures.sub("ns1:capture_object", id=str(number)).sub(
            "ns2:logical_name", f"{capture.logical_name.hex()}.{meter_id}.sm")
        columns.append(data.sub("ns1:column", count="0", id=str(number)))
    for row_number, row in enumerate(profile.buffer, start=1):
        if all(cell.type is DataType.NULL_DATA for cell in row):
            raise CosemError(f"buffer row {row_number} has no entry")
        for capture, column, cell in zip(profile.capture_objects, columns, row):
            if cell.type is not DataType.NULL_DATA:
                column.append(serialized(_entry(row_number, capture, cell), _ENTRY_LEVEL))
    for column in columns:
        column.set("count", str(len(column)))
    return document(root, {"ns1": PG_NS, "ns2": EXT_NS})


def _entry(row_number: int, capture: CaptureObject, cell: DlmsValue) -> Element:
    register = from_structure(4, cell)
    assert isinstance(register, ExtendedRegister)
    if register.logical_name != capture.logical_name:
        raise CosemError(f"row {row_number}: cell of {register.logical_name} "
                         f"in the column of {capture.logical_name}")
    entry = Element("ns1:entry", {"id": str(row_number)})
    entry.sub("ns2:value").append(value_to_xml(register.value, "ns2:"))
    entry.sub("ns2:scaler", str(register.scaler))
    entry.sub("ns2:unit", str(register.unit))
    entry.sub("ns2:status").append(value_to_xml(register.status, "ns2:"))
    entry.sub("ns2:capture_time", _iso_utc(cosem_to_datetime(register.capture_time)))
    return entry


def _iso_utc(moment: datetime) -> str:
    text = (f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
            f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}")
    hundredths = moment.microsecond // 10_000
    return f"{text}.{hundredths:02d}Z" if hundredths else f"{text}Z"


def decode(data: bytes) -> tuple[str, ProfileGeneric]:
    """The meter id and profile of a document; :class:`XmlError` (with line) if anything is off."""
    from smgwd.safexml import parse_xml

    root = parse_xml(data, schema())
    profile_name, meter_id = _logical_name(root, root.get("id", ""), None)
    attributes = list(root[0])
    check_count(root[0], attributes)
    if local_name(attributes[0], EXT_NS) == "logical_name":
        named, _ = _logical_name(attributes[0], attributes[0].text or "", meter_id)
        if named != profile_name:
            raise XmlError(f"logical_name {named} differs from the object id",
                           attributes[0].sourceline)
        attributes.pop(0)
    captures_element, buffer_element = attributes
    captures = _capture_objects(captures_element, meter_id)
    cells = _columns(buffer_element[0], captures)
    rows = max((row for column in cells for row in column), default=0)
    buffer = []
    for row in range(1, rows + 1):
        cells_of_row = tuple(column.get(row, NULL) for column in cells)
        if all(cell is NULL for cell in cells_of_row):
            raise XmlError(f"no column has an entry with id {row}", buffer_element.sourceline)
        buffer.append(cells_of_row)
    profile = ProfileGeneric(profile_name, tuple(buffer), captures,
                             entries_in_use=rows, profile_entries=rows)
    return meter_id, profile


def _logical_name(element: etree._Element, text: str, meter_id: str | None) -> tuple[Obis, str]:
    match = _LOGICAL_NAME.fullmatch(text.strip())
    if match is None:
        raise XmlError(f"{text!r} is not a logical name <obis hex>.<meter>.sm", element.sourceline)
    if meter_id is not None and match.group(2) != meter_id:
        raise XmlError(f"{text!r} is not of meter {meter_id!r}", element.sourceline)
    return Obis.from_bytes(bytes.fromhex(match.group(1))), match.group(2)


def _numbered(parent: etree._Element, children: list[etree._Element]) -> None:
    """Children must be numbered id=1..n in document order."""
    for number, child in enumerate(children, start=1):
        if child.get("id", "").strip() != str(number):
            name = str(child.tag).rpartition("}")[2]
            raise XmlError(f"<{name}> should have id {number}, "
                           f"has {child.get('id')!r}", child.sourceline)


def _capture_objects(element: etree._Element, meter_id: str) -> tuple[CaptureObject, ...]:
    children = list(element)
    check_count(element, children)
    _numbered(element, children)
    return tuple(CaptureObject(4, _logical_name(c[0], c[0].text or "", meter_id)[0], 0, 0)
                 for c in children)


def _columns(element: etree._Element,
             captures: tuple[CaptureObject, ...]) -> list[dict[int, DlmsValue]]:
    columns = list(element)
    check_count(element, columns)
    _numbered(element, columns)
    if len(columns) != len(captures):
        raise XmlError(f"{len(columns)} columns for {len(captures)} capture objects",
                       element.sourceline)
    result = []
    for column, capture in zip(columns, captures):
        entries = list(column)
        check_count(column, entries)
        cells: dict[int, DlmsValue] = {}
        for entry in entries:
            row = int(entry.get("id", "0"))
            if cells and row <= max(cells):
                raise XmlError(f"entry ids must increase, got {row} after {max(cells)}",
                               entry.sourceline)
            cells[row] = _entry_value(entry, capture)
        result.append(cells)
    return result


def _entry_value(entry: etree._Element, capture: CaptureObject) -> DlmsValue:
    if local_name(entry, PG_NS) not in _ENTRIES:
        raise XmlError(f"<{entry.tag}> is not an entry", entry.sourceline)
    value, scaler, unit, status, captured = list(entry)[:5]
    with errors_at(entry, f"entry {entry.get('id')}: "):
        moment = datetime.fromisoformat((captured.text or "").strip().replace("Z", "+00:00"))
        if moment.tzinfo is None:
            raise ValueError("capture_time needs a time zone")
        register = ExtendedRegister(capture.logical_name, value_from_xml(value[0], EXT_NS),
                                    int(scaler.text or ""), int(unit.text or ""),
                                    value_from_xml(status[0], EXT_NS), datetime_to_cosem(moment))
    return to_structure(register)
