"""Safe XML parsing: no entities, no DTDs, no network, clear errors."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from lxml import etree

from smgwd.safexml import XmlError, load_schema, parse_xml

SCHEMA = etree.XMLSchema(etree.fromstring(
    b'<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">'
    b'<xs:element name="r" type="xs:unsignedByte"/></xs:schema>'))


def test_parses_plain_documents() -> None:
    root = parse_xml(b'<?xml version="1.0"?>\n<r a="1"><s>t</s><!-- c --><?pi x?></r>')
    assert root.tag == "r" and root.get("a") == "1" and root[0].text == "t"
    assert len(root) == 1  # comments and processing instructions are dropped


def test_xxe_is_refused_and_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    payload = (f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "{secret.as_uri()}">]>'
               f"<r>&xxe;</r>").encode()
    with pytest.raises(XmlError, match="DOCTYPE") as caught:
        parse_xml(payload)
    assert "TOP-SECRET" not in str(caught.value)


def test_xxe_in_a_parameter_entity_is_refused(tmp_path: Path) -> None:
    evil = tmp_path / "evil.dtd"
    evil.write_text('<!ENTITY leak "LEAKED">')
    payload = (f'<!DOCTYPE r [<!ENTITY % ext SYSTEM "{evil.as_uri()}"> %ext;]>'
               f"<r>&leak;</r>").encode()
    with pytest.raises(XmlError) as caught:
        parse_xml(payload)
    assert "LEAKED" not in str(caught.value)


def _billion_laughs(in_attribute: bool) -> bytes:
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)]
    body = '<lolz a="&lol9;"/>' if in_attribute else "<lolz>&lol9;</lolz>"
    return f'<?xml version="1.0"?><!DOCTYPE lolz [{"".join(entities)}]>{body}'.encode()


@pytest.mark.parametrize("in_attribute", [False, True])
def test_billion_laughs_is_refused_quickly(in_attribute: bool) -> None:
    started = time.perf_counter()
    with pytest.raises(XmlError) as caught:
        parse_xml(_billion_laughs(in_attribute))
    assert time.perf_counter() - started < 1.0
    assert "lollollol" not in str(caught.value)


def test_any_doctype_is_refused() -> None:
    with pytest.raises(XmlError, match="DOCTYPE"):
        parse_xml(b'<!DOCTYPE r SYSTEM "http://example.invalid/r.dtd"><r/>')
    with pytest.raises(XmlError, match="DOCTYPE"):
        parse_xml(b"<!DOCTYPE r><r/>")


@pytest.mark.parametrize(("data", "line"), [
    (b"", 1), (b"<r>", 1), (b"<r>\n<s>\n</r>", 3), (b"<r/><r/>", 1), (b"<r>&undeclared;</r>", 1),
    (b"<r>\n\n\x00</r>", 3),
])
def test_malformed_input_names_the_line(data: bytes, line: int) -> None:
    with pytest.raises(XmlError, match="malformed") as caught:
        parse_xml(data)
    assert caught.value.line == line
    assert str(caught.value).startswith(f"line {line}: ")


def test_text_input_is_refused() -> None:
    with pytest.raises(XmlError, match="bytes"):
        parse_xml("<r/>")  # type: ignore[arg-type]


def test_schema_failures_name_the_line() -> None:
    assert parse_xml(b"<r>7</r>", SCHEMA).text == "7"
    with pytest.raises(XmlError, match="not valid") as caught:
        parse_xml(b"\n\n<r>300</r>", SCHEMA)
    assert caught.value.line == 3
    assert isinstance(caught.value, ValueError)


def test_load_schema_reads_packaged_xsds_once() -> None:
    first = load_schema("smgwd.cosem", "schemas/cosem-ldev.xsd")
    assert first is load_schema("smgwd.cosem", "schemas/cosem-ldev.xsd")
    assert isinstance(first, etree.XMLSchema)


def test_load_schema_refuses_missing_files() -> None:
    with pytest.raises(XmlError, match="no-such.xsd"):
        load_schema("smgwd.cosem", "schemas/no-such.xsd")


def _package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, xsd: str) -> None:
    package = tmp_path / name
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "main.xsd").write_text(xsd)
    (package / "part.xsd").write_text(
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">'
        '<xs:simpleType name="small"><xs:restriction base="xs:byte"/></xs:simpleType></xs:schema>')
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop(name, None)


def test_schema_includes_come_from_the_package(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    _package(tmp_path, monkeypatch, "goodschemas",
             '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">'
             '<xs:include schemaLocation="part.xsd"/>'
             '<xs:element name="r" type="small"/></xs:schema>')
    schema = load_schema("goodschemas", "main.xsd")
    assert schema.validate(etree.fromstring(b"<r>-5</r>"))
    assert not schema.validate(etree.fromstring(b"<r>500</r>"))


def test_schema_includes_outside_the_package_are_refused(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    outside = tmp_path / "outside.xsd"
    outside.write_text('<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"/>')
    _package(tmp_path, monkeypatch, "badschemas",
             '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">'
             f'<xs:include schemaLocation="{outside.as_uri()}"/></xs:schema>')
    with pytest.raises(XmlError, match="badschemas"):
        load_schema("badschemas", "main.xsd")
