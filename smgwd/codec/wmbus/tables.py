"""Code tables of EN 13757-3/-4/-7 and OMS Vol. 2: device types, CI fields, manufacturer codes."""

from __future__ import annotations

import enum
from typing import Final

#: Device type (A-field byte 6, "medium") -> name, EN 13757-7 table of device types.
DEVICE_TYPES: Final[dict[int, str]] = {
    0x00: "other",
    0x01: "oil",
    0x02: "electricity",
    0x03: "gas",
    0x04: "heat",
    0x05: "steam",
    0x06: "warm water (30..90 °C)",
    0x07: "water",
    0x08: "heat cost allocator",
    0x09: "compressed air",
    0x0A: "cooling load meter (volume at outlet)",
    0x0B: "cooling load meter (volume at inlet)",
    0x0C: "heat (volume at inlet)",
    0x0D: "heat / cooling load meter",
    0x0E: "bus / system component",
    0x0F: "unknown medium",
    0x15: "hot water (>= 90 °C)",
    0x16: "cold water",
    0x17: "dual register (hot/cold) water",
    0x18: "pressure",
    0x19: "A/D converter",
    0x1A: "smoke detector",
    0x1B: "room sensor",
    0x1C: "gas detector",
    0x20: "breaker (electricity)",
    0x21: "valve (gas or water)",
    0x25: "customer unit (display device)",
    0x28: "waste water",
    0x29: "garbage",
    0x31: "communication controller",
    0x32: "unidirectional repeater",
    0x33: "bidirectional repeater",
    0x36: "radio converter (system side)",
    0x37: "radio converter (meter side)",
}


def device_type_name(device_type: int) -> str:
    """The EN 13757-7 name of a device type; reserved codes are named as such."""
    name = DEVICE_TYPES.get(device_type)
    if name is not None:
        return name
    return f"reserved (0x{device_type:02X})"


class Header(enum.Enum):
    """Which transport-layer header follows a CI field."""

    NONE = "none"
    SHORT = "short"
    LONG = "long"


class Content(enum.Enum):
    """What follows the transport-layer header."""

    APL = "apl"  # EN 13757-3 DIF/VIF records
    COMPACT = "compact"  # format signature, full-frame CRC, values only
    FORMAT = "format"  # format frame (record headers without values)
    OTHER = "other"  # commands, COSEM, alarms, errors...: kept raw
    NOTHING = "nothing"  # transport layer only (an acknowledgement)


#: Transport-layer CI fields (EN 13757-7 table 2 and OMS Vol. 2): CI -> (header, content, name).
TPL_CI: Final[dict[int, tuple[Header, Content, str]]] = {
    0x51: (Header.NONE, Content.OTHER, "command to device"),
    0x53: (Header.LONG, Content.OTHER, "application reset or select to device"),
    0x5A: (Header.SHORT, Content.OTHER, "command to device"),
    0x5B: (Header.LONG, Content.OTHER, "command to device"),
    0x60: (Header.LONG, Content.OTHER, "COSEM data to device"),
    0x61: (Header.SHORT, Content.OTHER, "COSEM data to device"),
    0x69: (Header.NONE, Content.FORMAT, "format frame"),
    0x6A: (Header.SHORT, Content.FORMAT, "format frame"),
    0x6B: (Header.LONG, Content.FORMAT, "format frame"),
    0x6C: (Header.LONG, Content.OTHER, "clock synchronisation (absolute)"),
    0x6D: (Header.LONG, Content.OTHER, "clock synchronisation (relative)"),
    0x6E: (Header.SHORT, Content.OTHER, "application error from device"),
    0x6F: (Header.LONG, Content.OTHER, "application error from device"),
    0x70: (Header.NONE, Content.OTHER, "application error from device"),
    0x71: (Header.NONE, Content.OTHER, "alarm from device"),
    0x72: (Header.LONG, Content.APL, "response"),
    0x73: (Header.LONG, Content.COMPACT, "compact frame"),
    0x74: (Header.SHORT, Content.OTHER, "alarm from device"),
    0x75: (Header.LONG, Content.OTHER, "alarm from device"),
    0x78: (Header.NONE, Content.APL, "response"),
    0x79: (Header.NONE, Content.COMPACT, "compact frame"),
    0x7A: (Header.SHORT, Content.APL, "response"),
    0x7B: (Header.SHORT, Content.COMPACT, "compact frame"),
    0x7C: (Header.LONG, Content.OTHER, "COSEM application layer"),
    0x7D: (Header.SHORT, Content.OTHER, "COSEM application layer"),
    0x80: (Header.LONG, Content.OTHER, "transport layer to device"),
    0x8A: (Header.SHORT, Content.NOTHING, "transport layer only from device"),
    0x8B: (Header.LONG, Content.NOTHING, "transport layer only from device"),
    0xC0: (Header.LONG, Content.OTHER, "image transfer to device"),
    0xC1: (Header.SHORT, Content.OTHER, "image transfer from device"),
    0xC2: (Header.LONG, Content.OTHER, "image transfer from device"),
    0xC3: (Header.LONG, Content.OTHER, "security information transfer to device"),
    0xC4: (Header.SHORT, Content.OTHER, "security information transfer from device"),
    0xC5: (Header.LONG, Content.OTHER, "security information transfer from device"),
}

#: Extended link layer CI -> bytes after the CI (EN 13757-4 ELL I..IV).
ELL_CI: Final[dict[int, int]] = {0x8C: 2, 0x8D: 8, 0x8E: 10, 0x8F: 16}
ELL_VARIABLE_CI: Final = 0x86
AFL_CI: Final = 0x90
NWL_CI: Final = 0x81


def is_manufacturer_specific_ci(ci: int) -> bool:
    """CI fields 0xA0..0xB7 carry manufacturer-specific payloads (kept raw)."""
    return 0xA0 <= ci <= 0xB7


def manufacturer_code(m_field: int) -> str:
    """The three-letter code of an M-field (bit 15, the flag some meters set, is ignored).

    Each letter is 5 bits (letter - 64): ``m = (c1-64)*1024 + (c2-64)*32 + (c3-64)``.
    A field whose letters fall outside A..Z gives "@"/"[" style characters as they are.
    """
    m = m_field & 0x7FFF
    return chr(((m >> 10) & 0x1F) + 64) + chr(((m >> 5) & 0x1F) + 64) + chr((m & 0x1F) + 64)


def manufacturer_field(code: str) -> int:
    """The M-field of a three-letter code such as ``"KAM"`` (0x2C2D). Raises ValueError."""
    if len(code) != 3 or not all("@" <= c <= "_" for c in code.upper()):
        raise ValueError(f"manufacturer code must be 3 letters A..Z, not {code!r}")
    c1, c2, c3 = (ord(c) - 64 for c in code.upper())
    return (c1 << 10) | (c2 << 5) | c3
