"""SML meter profiles: a meter's known deviations, named and explicit, as data.

How this works: a profile names (a) the decoding tolerances the meter needs
(an :class:`SmlDialect` with its CRC variant) and (b) value fixes for known
firmware bugs. Fixes never act silently: each reading they change carries
the fix's name in ``Reading.quirks`` and the wire value in ``wire_raw``.

Facts behind the fixes (see tests/data/sml/README.md and reference/sml.md):

- Direction in a status bit: some meters send power as an absolute value and
  flag feed-in in a bit of the 1-0:1.8.0 status word: bit 11 (DZG, Holley
  DTZ541, Elster AS2020; Tasmota's ``so1`` option), bit 5 (EMH ED300L, which
  sends absolute power as 1-0:15.7.0).
- DZG DVS74 sign bug (libsml ``detect_buggy_dzg_dvs74``): meters with serial
  numbers 42000000..48999999 and 55000000..58999999 send positive 1-0:16.7.0
  values as Integer8/Integer16 without room for the sign, so 0x8025 (328.05 W)
  arrives as -32731; negative values arrive as full Integer32. The fix reads
  such 1- and 2-byte values as unsigned, only for serials in those ranges.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from smgwd.codec.crc import CrcPolicy
from smgwd.codec.sml.decoder import STRICT, TOLERANT, SmlDialect
from smgwd.cosem.obis import Obis
from smgwd.reading import Reading

__all__ = ["DirectionRule", "SmlProfile", "PROFILES", "get_profile", "apply_fixes"]

ENERGY_IMPORT = Obis(1, 0, 1, 8, 0)
POWER_SIGNED = Obis(1, 0, 16, 7, 0)
POWER_ABSOLUTE = Obis(1, 0, 15, 7, 0)
SERIAL = Obis(1, 0, 96, 1, 0)


@dataclass(frozen=True, slots=True)
class DirectionRule:
    """Power sent as an absolute value, feed-in flagged by a status bit.

    When bit ``bit`` of the status word of ``status_obis`` is set, a positive
    ``source`` value means feed-in: the reading for ``target`` gets the
    negative value. With ``target == source`` the reading itself is fixed;
    otherwise a reading for ``target`` is added beside the unchanged source.
    """

    bit: int
    source: Obis = POWER_SIGNED
    target: Obis = POWER_SIGNED
    status_obis: Obis = ENERGY_IMPORT

    @property
    def name(self) -> str:
        return f"direction_bit{self.bit}"


@dataclass(frozen=True, slots=True)
class SmlProfile:
    """Everything meter-specific about decoding an SML meter."""

    name: str
    description: str
    dialect: SmlDialect = TOLERANT
    direction: DirectionRule | None = None
    dzg_dvs74_sign: bool = False

    @property
    def crc(self) -> CrcPolicy:
        return self.dialect.crc


_DZG_BROKEN_SERIALS = ((42_000_000, 48_999_999), (55_000_000, 58_999_999))

PROFILES: dict[str, SmlProfile] = {
    p.name: p
    for p in (
        SmlProfile(
            "generic",
            "any SML v1.04 meter: X-25 or KERMIT CRC, tolerates bare valTime, fill bytes, 1-byte CRC",
        ),
        SmlProfile("strict", "SML v1.04 by the letter: X-25 only, no tolerances", STRICT),
        SmlProfile(
            "holley-dtz541",
            "Holley DTZ541: bare valTime; KERMIT CRC on RS-485; feed-in in bit 11 of the 1.8.0 status",
            direction=DirectionRule(11),
        ),
        SmlProfile(
            "dzg-dvs74",
            "DZG DVS74: positive 16.7.0 sent as a too-short Integer on serials 42..48M and 55..58M",
            dzg_dvs74_sign=True,
        ),
        SmlProfile(
            "elster-as2020",
            "Elster AS2020: absolute 16.7.0, feed-in in bit 11 of the 1.8.0 status",
            direction=DirectionRule(11),
        ),
        SmlProfile(
            "emh-ed300l",
            "EMH ED300L: absolute power as 15.7.0, feed-in in bit 5; adds a signed 16.7.0",
            direction=DirectionRule(5, source=POWER_ABSOLUTE, target=POWER_SIGNED),
        ),
    )
}


def get_profile(name: str) -> SmlProfile:
    """The profile called ``name``; an unknown name raises KeyError listing the known ones."""
    try:
        return PROFILES[name]
    except KeyError:
        raise KeyError(f"unknown SML meter profile {name!r} (known: {', '.join(sorted(PROFILES))})") from None


def _dzg_serial_broken(readings: Iterable[Reading]) -> bool:
    for reading in readings:
        raw = reading.raw
        if reading.obis == SERIAL and isinstance(raw, bytes) and len(raw) == 10 and raw[:5] == b"\x0a\x01DZG":
            serial = int.from_bytes(raw[5:], "big")
            return any(lo <= serial <= hi for lo, hi in _DZG_BROKEN_SERIALS)
    return False


def apply_fixes(profile: SmlProfile, readings: list[Reading], value_types: list[str | None]) -> list[Reading]:
    """Apply the profile's value fixes to the readings of one GetList.Res.

    ``value_types`` gives the wire type (``"i16"``...) of each reading's value.
    """
    out = list(readings)
    if profile.dzg_dvs74_sign and _dzg_serial_broken(out):
        for k, (reading, vtype) in enumerate(zip(out, value_types)):
            raw = reading.raw
            if reading.obis == POWER_SIGNED and vtype in ("i8", "i16") and isinstance(raw, int) and raw < 0:
                bits = int(vtype[1:])
                out[k] = reading._replace(raw=raw + (1 << bits), wire_raw=raw, quirks=reading.quirks + ("dzg_dvs74_sign",))
    rule = profile.direction
    status = None if rule is None else next((r.status for r in out if r.obis == rule.status_obis), None)
    if rule is not None and status is not None:
        feed_in = bool(status >> rule.bit & 1)
        for k, reading in enumerate(list(out)):
            raw = reading.raw
            if reading.obis != rule.source or isinstance(raw, (bool, bytes)):
                continue
            signed = -raw if feed_in and raw > 0 else raw
            fixed = reading._replace(obis=rule.target, raw=signed, wire_raw=raw, quirks=reading.quirks + (rule.name,))
            if rule.target != rule.source:
                out.append(fixed)
            elif signed != raw:
                out[k] = fixed
    return out
