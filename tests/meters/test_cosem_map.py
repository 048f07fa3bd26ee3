"""SML results onto COSEM: one logical device per meter, values as the capture's source gives them,
and COSEM/XML that validates and reads back to the same objects."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smgwd.codec.crc import CrcPolicy
from smgwd.cosem import xml_josef
from smgwd.cosem.classes import Data, ExtendedRegister, Register
from smgwd.cosem.cosemtime import UNSPECIFIED_DATE_TIME, cosem_to_datetime
from smgwd.cosem.datatypes import DataType
from smgwd.cosem.obis import Obis
from smgwd.meters.cosem_map import logical_devices
from smgwd.meters.sml.profiles import get_profile
from smgwd.meters.sml.stream import FrameDecoded, SmlFrameReader

DATA = Path(__file__).resolve().parents[1] / "data" / "sml"


def decode(stem: str) -> tuple[dict, list]:
    meta = json.loads((DATA / f"{stem}.json").read_text())
    data = bytes.fromhex("".join((DATA / f"{stem}.hex").read_text().split()))
    reader = SmlFrameReader(get_profile("generic"), CrcPolicy(meta["crc"]))
    frames = [r for r in reader.feed(data) + reader.feed(b"") if isinstance(r, FrameDecoded)]
    return meta, [reading for frame in frames for reading in frame.readings]


@pytest.mark.parametrize("stem", ["emh_ehz_vzlogger", "holley_dtz541_zdba", "easymeter_q3a", "dzg_dvs7420_negative"])
def test_registers_carry_the_sourced_values(stem: str) -> None:
    meta, readings = decode(stem)
    (device,) = logical_devices(readings)
    objects = {obj.logical_name: obj for obj in device.objects}
    last_frame = max(r["frame"] for r in meta["expect"]["readings"])
    for want in meta["expect"]["readings"]:
        if want["frame"] != last_frame:
            continue  # the device holds the latest value of each code
        obj = objects[Obis.parse(want["obis"])]
        raw = want["raw"]
        if isinstance(raw, int) and (want["unit"] is not None or want["scaler"]):
            assert isinstance(obj, Register)
            assert obj.value.value == raw and obj.value.is_numeric()
            assert (obj.scaler, obj.unit) == (want["scaler"] or 0, want["unit"] if want["unit"] is not None else 255)
            assert isinstance(obj, ExtendedRegister) == (want["status"] is not None or bool(want["val_time"] and "timestamp" in want["val_time"]))
        elif isinstance(raw, dict) and "hex" in raw:
            assert isinstance(obj, Data) and obj.value.type is DataType.OCTET_STRING
            assert obj.value.value == bytes.fromhex(raw["hex"])


def test_extended_register_status_and_capture_time() -> None:
    meta, readings = decode("emh_localtime_smllib26")
    (device,) = logical_devices(readings)
    energy = next(o for o in device.objects if o.logical_name == Obis(1, 0, 1, 17, 0))
    assert isinstance(energy, ExtendedRegister)
    want = next(r for r in meta["expect"]["readings"] if r["obis"] == "1-0:1.17.0*255")
    assert energy.status.value == want["status"]
    ts, _, _ = want["val_time"]["local"]
    assert cosem_to_datetime(energy.capture_time).timestamp() == ts
    # a seconds index is not a date: capture time stays "not specified"
    meta, readings = decode("dzg_dvs7412_signbug")
    (device,) = logical_devices(readings)
    e180 = next(o for o in device.objects if o.logical_name == Obis(1, 0, 1, 8, 0))
    assert isinstance(e180, ExtendedRegister) and e180.capture_time == UNSPECIFIED_DATE_TIME


def test_one_logical_device_per_meter_and_xml_roundtrip() -> None:
    readings = decode("emh_ehz_vzlogger")[1] + decode("dzg_dvs7412_signbug")[1]
    devices = logical_devices(readings)
    assert [d.id for d in devices] == ["3032323830383136", "1DZG0042082910"]
    document = xml_josef.encode(devices)
    assert xml_josef.decode(document) == devices  # decode validates against the XSD
    assert b'<object id="1.0.1.8.1.255" class-id="4" version="0">' in document
    assert b"<ulong>147967771</ulong>" in document  # vzlogger's 14796777.1 Wh, raw, as jOSEF's <ulong>


def test_load_profile_in_k461_shape_roundtrip() -> None:
    from datetime import datetime, timedelta, timezone

    from smgwd.cosem import xml_k461
    from smgwd.meters.cosem_map import load_profile
    from smgwd.reading import Reading, TimeQuality

    start = datetime(2026, 3, 29, 0, 0, tzinfo=timezone.utc)
    e180, p1670 = Obis(1, 0, 1, 8, 0), Obis(1, 0, 16, 7, 0)
    readings = []
    synced = TimeQuality.SYNCHRONISED  # clock status 0x00: the only one ISO text carries back
    for k in range(4):
        at = start + timedelta(minutes=15 * k)
        readings.append(Reading("1EMH0012345678", e180, 100_000 + 250 * k, -1, 30, 0x104, gateway_time=at,
                                time_quality=synced))
        if k != 2:  # one missing power value: that cell stays empty
            readings.append(Reading("1EMH0012345678", p1670, 1000 - k, 0, 27, gateway_time=at, time_quality=synced))
    profile = load_profile(readings)
    assert [c.logical_name for c in profile.capture_objects] == [e180, p1670]
    assert len(profile.buffer) == 4 and profile.buffer[2][1].type is DataType.NULL_DATA
    document = xml_k461.encode(profile, "1EMH0012345678")
    meter, back = xml_k461.decode(document)
    assert meter == "1EMH0012345678"
    assert back.buffer == profile.buffer and back.capture_objects == profile.capture_objects
    assert b"0100010800ff.1EMH0012345678.sm" in document
    # the status is the FNN combined word: gateway word 0x05 (identification) over the meter's 0x104
    assert b"<ns2:ulong64>21474836740</ns2:ulong64>" in document and 0x5_0000_0104 == 21474836740


def test_load_profile_refuses_seconds_index_only() -> None:
    _, readings = decode("dzg_dvs7412_signbug")
    from smgwd.meters.cosem_map import load_profile

    with pytest.raises(ValueError, match="seconds index"):
        load_profile(readings)


def test_get_proc_parameter_tree_maps_to_registers() -> None:
    # the jOSEF flow's second step: object details as a GetProcParameter.Res tree
    from smgwd.codec.sml import decode_message, encode_message
    from smgwd.codec.sml import types as t
    from smgwd.meters.sml.readings import readings_from_messages

    e181 = bytes.fromhex("0100010801ff")
    e281 = bytes.fromhex("0100020801ff")
    tree = t.SmlTree(b"\x81\x81\xc7\x82\x03\xff", None, (
        t.SmlTree(e181, t.ProcParValue(t.ProcParKind.PERIOD_ENTRY, t.PeriodEntry(e181, 30, 0, 23051550, None, "u32"))),
        t.SmlTree(e281, t.ProcParValue(t.ProcParKind.LIST_ENTRY, t.ListEntry(e281, 42, 0x182, None, 30, 0, None, "u32"))),
    ))
    wire = encode_message(t.SmlMessage(b"\x01", t.GetProcParameterResponse(b"\x0a\x01UTB\x00\x00\x00\x00\x01", (e181,), tree)))
    message, _ = decode_message(wire)
    result = readings_from_messages([message], get_profile("generic"))
    (device,) = logical_devices(result.readings)
    objects = {o.logical_name: o for o in device.objects}
    assert isinstance(objects[Obis(1, 0, 1, 8, 1)], Register) and objects[Obis(1, 0, 1, 8, 1)].value.value == 23051550
    assert isinstance(objects[Obis(1, 0, 2, 8, 1)], ExtendedRegister) and objects[Obis(1, 0, 2, 8, 1)].status.value == 0x182
    assert not result.problems
