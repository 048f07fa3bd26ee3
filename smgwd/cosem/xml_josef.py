"""COSEM/XML in the shape of jOSEF's example: logical devices, objects, attributes.

How this works: the document is ``<ldev count=N>`` holding one ``<ldev id=...>``
per logical device (jOSEF uses the same name for both levels), each with
``<objects count=N>`` of ``<object id="1.0.1.8.1.255" class-id="3" version="0">``,
each with ``<attributes count=N>`` of ``<attribute id=i><value>TYPED</value>``;
``TYPED`` is one element from :mod:`smgwd.cosem.xml_values`. :func:`encode` walks
the objects' ``attributes()``; :func:`decode` validates against
``schemas/cosem-ldev.xsd``, checks every count and that each object id matches its
logical name, and rebuilds each object by class id with ``object_from_attributes``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from smgwd.cosem.classes import CosemObject, LogicalDevice, object_from_attributes
from smgwd.cosem.datatypes import DlmsValue
from smgwd.cosem.obis import Obis
from smgwd.cosem.xml_values import check_count, errors_at, value_from_xml, value_to_xml
from smgwd.cosem.xml_writer import Element, document, serialized
from smgwd.xmlerror import XmlError

if TYPE_CHECKING:
    from lxml import etree

__all__ = ["SCHEMA", "decode", "encode", "schema"]

#: Where the XSD lives: ``load_schema(*SCHEMA)``.
SCHEMA = ("smgwd.cosem", "schemas/cosem-ldev.xsd")
_OBJECT_LEVEL = 3  # <ldev count> / <ldev id> / <objects> / <object>


def schema() -> etree.XMLSchema:
    """The XSD every document from :func:`encode` is valid against."""
    from smgwd.safexml import load_schema  # lxml only to read

    return load_schema(*SCHEMA)


def encode(devices: Iterable[LogicalDevice]) -> bytes:
    """The UTF-8 document (with XML declaration) for ``devices``."""
    devices = list(devices)
    root = Element("ldev", {"count": str(len(devices))})
    for device in devices:
        objects = root.sub("ldev", id=device.id).sub("objects", count=str(len(device.objects)))
        for obj in device.objects:
            objects.append(serialized(_object_to_xml(obj), _OBJECT_LEVEL))
    return document(root)


def _object_to_xml(obj: CosemObject) -> Element:
    element = Element("object", {"id": obj.logical_name.dotted(), "class-id": str(obj.class_id),
                                 "version": str(obj.version)})
    attributes = obj.attributes()
    container = element.sub("attributes", count=str(len(attributes)))
    for index, value in attributes:
        container.sub("attribute", id=str(index)).sub("value").append(value_to_xml(value))
    return element


def decode(data: bytes) -> list[LogicalDevice]:
    """The logical devices of a document; :class:`XmlError` (with line) if anything is off."""
    from smgwd.safexml import parse_xml

    root = parse_xml(data, schema())
    devices = list(root)
    check_count(root, devices)
    return [_device_from_xml(device) for device in devices]


def _device_from_xml(element: etree._Element) -> LogicalDevice:
    (objects,) = element
    children = list(objects)
    check_count(objects, children)
    with errors_at(element):
        return LogicalDevice(element.get("id", ""), tuple(_object_from_xml(o) for o in children))


def _object_from_xml(element: etree._Element) -> CosemObject:
    (attributes,) = element
    children = list(attributes)
    check_count(attributes, children)
    pairs: list[tuple[int, DlmsValue]] = []
    for attribute in children:
        (holder,) = attribute
        (typed,) = holder
        pairs.append((int(attribute.get("id", "")), value_from_xml(typed)))
    with errors_at(element, f"object {element.get('id')}: "):
        obj = object_from_attributes(int(element.get("class-id", "")),
                                     int(element.get("version", "")), pairs)
        named = Obis.parse(element.get("id", ""))
    if named != obj.logical_name:
        raise XmlError(f"object id {element.get('id')} differs from its logical name "
                       f"{obj.logical_name.dotted()}", element.sourceline)
    return obj
