"""Meter-profile fixes act only where their profile says, and say so on the reading.

Facts: libsml sml/src/sml_list.c (DZG DVS74 serial ranges, ``53 80 25`` meaning 328.05 W
on buggy meters, negatives as full Integer32); Tasmota's so1 option and reference/sml.md §2.6
(direction in bit 11 for DZG/Holley/AS2020, bit 5 for EMH ED300L)."""

from __future__ import annotations

import pytest

from smgwd.codec.sml import types as t
from smgwd.cosem.obis import Obis
from smgwd.meters.sml.profiles import PROFILES, get_profile
from smgwd.meters.sml.readings import meter_id, readings_from_messages

E180 = bytes.fromhex("0100010800ff")
P1670 = bytes.fromhex("0100100700ff")
P1570 = bytes.fromhex("01000f0700ff")
SERIAL = bytes.fromhex("0100600100ff")


def dzg_list(serial: int, power: int, power_type: str) -> list[t.SmlMessage]:
    server = b"\x0a\x01DZG\x00" + serial.to_bytes(4, "big")
    entries = (
        t.ListEntry(SERIAL, server, value_type="octets"),
        t.ListEntry(E180, 123456, status=0x1C0104, unit=30, scaler=-1, value_type="u32"),
        t.ListEntry(P1670, power, unit=27, scaler=-2, value_type=power_type),
    )
    return [t.SmlMessage(b"\x01", t.GetListResponse(server, entries))]


def power_of(result) -> tuple[int, tuple[str, ...]]:
    (reading,) = [r for r in result.readings if r.obis == Obis(1, 0, 16, 7, 0)]
    return reading.raw, reading.quirks


def test_dzg_sign_fix_on_broken_serial_range() -> None:
    msgs = dzg_list(42082910, -32731, "i16")
    assert power_of(readings_from_messages(msgs, get_profile("generic"))) == (-32731, ())
    raw, quirks = power_of(readings_from_messages(msgs, get_profile("dzg-dvs74")))
    assert raw == 0x8025 == 32805 and quirks == ("dzg_dvs74_sign",)


@pytest.mark.parametrize(
    ("serial", "power", "ptype"),
    [
        (42082910, -126061, "i32"),  # genuine negative, sent as full Integer32
        (60000123, -32731, "i16"),  # serial >= 60000000: bug fixed in firmware
        (49500000, -5, "i8"),  # between the ranges
    ],
)
def test_dzg_sign_fix_leaves_other_values(serial: int, power: int, ptype: str) -> None:
    assert power_of(readings_from_messages(dzg_list(serial, power, ptype), get_profile("dzg-dvs74"))) == (power, ())


def direction_list(status: int, obis: bytes, power: int) -> list[t.SmlMessage]:
    entries = (
        t.ListEntry(E180, 1000, status=status, unit=30, scaler=-1, value_type="u32"),
        t.ListEntry(obis, power, unit=27, scaler=-1, value_type="u32"),
    )
    return [t.SmlMessage(b"\x01", t.GetListResponse(b"\x0a\x01EMH\x00\x00\x00\x00\x01", entries))]


def test_direction_bit11_negates_power_only_when_set() -> None:
    profile = get_profile("holley-dtz541")
    assert power_of(readings_from_messages(direction_list(1 << 11 | 0x104, P1670, 2160), profile)) == (
        -2160,
        ("direction_bit11",),
    )
    assert power_of(readings_from_messages(direction_list(0x104, P1670, 2160), profile)) == (2160, ())
    # the generic profile never rewrites
    assert power_of(readings_from_messages(direction_list(1 << 11, P1670, 2160), get_profile("generic"))) == (2160, ())


def test_ed300l_adds_signed_power_beside_absolute() -> None:
    profile = get_profile("emh-ed300l")
    delivering = readings_from_messages(direction_list(0x1B0, P1570, 1055), profile)
    assert power_of(delivering) == (-1055, ("direction_bit5",))
    (absolute,) = [r for r in delivering.readings if r.obis == Obis(1, 0, 15, 7, 0)]
    assert absolute.raw == 1055 and not absolute.quirks
    consuming = readings_from_messages(direction_list(0x182, P1570, 1055), profile)
    assert power_of(consuming) == (1055, ("direction_bit5",))


def test_unknown_profile_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="generic"):
        get_profile("nope")
    assert {"generic", "strict", "holley-dtz541", "dzg-dvs74", "emh-ed300l"} <= set(PROFILES)


def test_meter_id_din43863() -> None:
    # pysml decodes 0a 01 'DZG' 00 0282225e as "1 DZG00 4208 2910"
    assert meter_id(bytes.fromhex("0a01445a47000282225e")) == "1DZG0042082910"
    assert meter_id(bytes.fromhex("0102")) == "0102"


def test_non_obis_obj_name_reported_not_guessed() -> None:
    entries = (t.ListEntry(b"\x01\x02", 5, value_type="u8"),)
    result = readings_from_messages([t.SmlMessage(b"\x01", t.GetListResponse(b"\x01", entries))], get_profile("generic"))
    assert not result.readings and "not a 6-byte OBIS" in result.problems[0]
