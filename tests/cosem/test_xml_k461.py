"""Load profiles in the DKE K461 profile_generic-1 shape."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from lxml import etree

from smgwd.cosem import xml_k461
from smgwd.cosem.classes import CaptureObject, ExtendedRegister, ProfileGeneric, to_structure
from smgwd.cosem.cosemtime import datetime_to_cosem
from smgwd.cosem.datatypes import NULL, DataType, DlmsValue
from smgwd.cosem.errors import CosemError
from smgwd.cosem.obis import Obis
from smgwd.safexml import XmlError
from tests.cosem.strategies import k461_profiles, meter_ids

PG = xml_k461.PG_NS
EXT = xml_k461.EXT_NS
NS = {"ns1": PG, "ns2": EXT}
T0 = datetime(2026, 5, 14, 22, 0, 1, tzinfo=timezone.utc)
IMPORT, EXPORT = Obis.parse("1-0:1.8.0"), Obis.parse("1-0:2.8.0")
PROFILE_LN = Obis.parse("1-0:99.1.0")


def cell(name: Obis, raw: int, at: datetime, status: int = 0) -> DlmsValue:
    return to_structure(ExtendedRegister(name, DlmsValue(DataType.LONG64, raw), -1, 30,
                                         DlmsValue(DataType.UNSIGNED, status),
                                         datetime_to_cosem(at)))


def sample() -> ProfileGeneric:
    rows = ((cell(IMPORT, 10000000, T0), cell(EXPORT, 5000000, T0, 3)),
            (cell(IMPORT, 10025000, T0 + timedelta(hours=5), 4), NULL))
    return ProfileGeneric(PROFILE_LN, rows, (CaptureObject(4, IMPORT, 0), CaptureObject(4, EXPORT, 0)),
                          entries_in_use=2, profile_entries=2)


def test_shape_follows_the_observed_exports() -> None:
    root = etree.fromstring(xml_k461.encode(sample(), "1lgz0067285558"))
    assert root.tag == f"{{{PG}}}object" and root.prefix == "ns1"
    assert root.nsmap == {"ns1": PG, "ns2": EXT}
    assert root.get("class_id") == "7" and root.get("id") == "0100630100ff.1lgz0067285558.sm"
    assert root.xpath("ns1:attributes/@count", namespaces=NS) == ["3"]
    names = root.xpath("ns1:attributes/ns1:capture_objects/ns1:capture_object/ns2:logical_name/text()",
                       namespaces=NS)
    assert names == ["0100010800ff.1lgz0067285558.sm", "0100020800ff.1lgz0067285558.sm"]
    columns = root.xpath("ns1:attributes/ns1:buffer[@id='3']/ns1:simple_data[@count='2']/ns1:column",
                         namespaces=NS)
    assert [(c.get("id"), c.get("count")) for c in columns] == [("1", "2"), ("2", "1")]
    first = columns[0][0]
    assert first.tag == f"{{{PG}}}entry" and first.get("id") == "1"
    assert [etree.QName(e).localname for e in first] == [
        "value", "scaler", "unit", "status", "capture_time"]  # no smgw_signature
    assert first.xpath("ns2:value/ns2:long64/text()", namespaces=NS) == ["10000000"]
    assert first.xpath("ns2:scaler/text()", namespaces=NS) == ["-1"]
    assert first.xpath("ns2:unit/text()", namespaces=NS) == ["30"]
    assert first.xpath("ns2:status/ns2:unsigned/text()", namespaces=NS) == ["0"]
    assert first.xpath("ns2:capture_time/text()", namespaces=NS) == ["2026-05-14T22:00:01Z"]


def test_sample_round_trips_and_validates() -> None:
    document = xml_k461.encode(sample(), "1lgz0067285558")
    assert xml_k461.schema().validate(etree.fromstring(document))
    assert xml_k461.decode(document) == ("1lgz0067285558", sample())


@settings(max_examples=100, deadline=None)
@given(k461_profiles(), meter_ids)
def test_round_trip_and_validity(profile: ProfileGeneric, meter_id: str) -> None:
    document = xml_k461.encode(profile, meter_id)
    assert xml_k461.schema().validate(etree.fromstring(document))
    assert xml_k461.decode(document) == (meter_id, profile)


# Written after the shape of real exports (dlms.md §4.6): signed entries with and
# without a signature, no logical_name attribute 1, counts on columns.
OBSERVED = b"""<?xml version="1.0" encoding="UTF-8"?>
<ns1:object class_id="7" id="0100630100ff.1lgz.sm"
  xmlns:ns1="urn:k461-dke-de:profile_generic-1" xmlns:ns2="urn:k461-dke-de:extension-1">
 <ns1:attributes count="2">
  <ns1:capture_objects id="2" count="1">
   <ns1:capture_object id="1"><ns2:logical_name>0100010800ff.1lgz.sm</ns2:logical_name></ns1:capture_object>
  </ns1:capture_objects>
  <ns1:buffer id="3"><ns1:simple_data count="1"><ns1:column count="2" id="1">
   <ns1:entry_gateway_signed id="1">
     <ns2:value><ns2:long64>10000000</ns2:long64></ns2:value><ns2:scaler>-1</ns2:scaler>
     <ns2:unit>30</ns2:unit><ns2:status><ns2:unsigned>0</ns2:unsigned></ns2:status>
     <ns2:capture_time>2026-05-14T22:00:01Z</ns2:capture_time><ns2:smgw_signature>SIG</ns2:smgw_signature>
   </ns1:entry_gateway_signed>
   <ns1:entry_gateway_signed id="2">
     <ns2:value><ns2:long64>10025000</ns2:long64></ns2:value><ns2:scaler>-1</ns2:scaler>
     <ns2:unit>30</ns2:unit><ns2:status><ns2:unsigned>4</ns2:unsigned></ns2:status>
     <ns2:capture_time>2026-05-15T05:00:01+02:00</ns2:capture_time>
   </ns1:entry_gateway_signed>
  </ns1:column></ns1:simple_data></ns1:buffer>
 </ns1:attributes>
</ns1:object>
"""


def test_observed_shape_decodes() -> None:
    meter_id, profile = xml_k461.decode(OBSERVED)
    assert meter_id == "1lgz"
    assert profile.logical_name == PROFILE_LN
    assert profile.capture_objects == (CaptureObject(4, IMPORT, 0, 0),)
    assert profile.buffer == ((cell(IMPORT, 10000000, T0),),
                              (cell(IMPORT, 10025000, T0 + timedelta(hours=5), 4),))
    assert (profile.entries_in_use, profile.profile_entries) == (2, 2)


def _broken(old: bytes, new: bytes) -> bytes:
    assert old in OBSERVED
    return OBSERVED.replace(old, new, 1)


@pytest.mark.parametrize(("document", "message", "line"), [
    (_broken(b'column count="2"', b'column count="3"'), "<column> says count='3'", 8),
    (_broken(b'attributes count="2"', b'attributes count="3"'), "<attributes> says count='3'", 4),
    (_broken(b'simple_data count="1"', b'simple_data count="2"'), "<simple_data> says", 8),
    (_broken(b"<ns1:object class_id=\"7\"", b"<ns1:object class_id=\"8\""), "not valid", 3),
    (_broken(b"1lgz.sm</ns2:logical_name>", b"other.sm</ns2:logical_name>"),
     "not of meter '1lgz'", 6),
    (_broken(b'entry_gateway_signed id="2"', b'entry_gateway_signed id="3"'),
     "no column has an entry with id 2", 8),
    (_broken(b'entry_gateway_signed id="2"', b'entry_gateway_signed id="1"'),
     "entry ids must increase", 14),
    (_broken(b'<ns1:capture_object id="1">', b'<ns1:capture_object id="2">'),
     "should have id 1", 6),
    (_broken(b"2026-05-14T22:00:01Z", b"2026-05-14T22:00:01"), "needs a time zone", 9),
    (_broken(b"<ns2:scaler>-1</ns2:scaler>", b"<ns2:scaler>-200</ns2:scaler>"), "not valid", 10),
    (_broken(b"<ns2:long64>10000000</ns2:long64>", b"<ns2:ulong>10000000</ns2:ulong>"),
     None, None),
    (_broken(b"<ns2:long64>10000000</ns2:long64>", b"<ns2:int>10000000</ns2:int>"),
     "not valid", 10),
    (_broken(b'id="0100630100ff.1lgz.sm"', b'id="x.1lgz.sm"'), "not valid", 3),
])
def test_decode_says_what_and_where(document: bytes, message: str | None,
                                    line: int | None) -> None:
    if message is None:  # a control: this variant is fine
        xml_k461.decode(document)
        return
    with pytest.raises(XmlError, match=message) as caught:
        xml_k461.decode(document)
    assert caught.value.line == line


def test_logical_name_attribute_must_match_the_object() -> None:
    document = xml_k461.encode(sample(), "m1").replace(
        b'<ns2:logical_name id="1">0100630100ff.m1.sm', b'<ns2:logical_name id="1">0100630200ff.m1.sm')
    with pytest.raises(XmlError, match="differs from the object id"):
        xml_k461.decode(document)


def test_encode_refuses_what_the_shape_cannot_carry() -> None:
    with pytest.raises(CosemError, match="meter id"):
        xml_k461.encode(sample(), "a.b")
    with pytest.raises(CosemError, match="class 4"):
        xml_k461.encode(ProfileGeneric(PROFILE_LN, (), (CaptureObject(3, IMPORT, 2),)), "m")
    empty_row = ProfileGeneric(PROFILE_LN, ((NULL,),), (CaptureObject(4, IMPORT, 0),))
    with pytest.raises(CosemError, match="row 1 has no entry"):
        xml_k461.encode(empty_row, "m")
    misplaced = ProfileGeneric(PROFILE_LN, ((cell(EXPORT, 1, T0),),), (CaptureObject(4, IMPORT, 0),))
    with pytest.raises(CosemError, match="in the column of"):
        xml_k461.encode(misplaced, "m")
    unspecified = ProfileGeneric(PROFILE_LN, ((to_structure(ExtendedRegister(IMPORT, NULL)),),),
                                 (CaptureObject(4, IMPORT, 0),))
    with pytest.raises(CosemError, match="unspecified"):
        xml_k461.encode(unspecified, "m")


def test_capture_times_keep_hundredths_and_pad_years() -> None:
    early = datetime(5, 1, 2, 3, 4, 5, 670_000, tzinfo=timezone.utc)
    profile = ProfileGeneric(PROFILE_LN, ((cell(IMPORT, 1, early),),), (CaptureObject(4, IMPORT, 0),),
                             entries_in_use=1, profile_entries=1)
    document = xml_k461.encode(profile, "m")
    assert b"<ns2:capture_time>0005-01-02T03:04:05.67Z</ns2:capture_time>" in document
    assert xml_k461.decode(document) == ("m", profile)
