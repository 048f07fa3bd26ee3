"""CRC-16 variants used on meter links.

How this works: both SML variants are the reflected CCITT polynomial 0x1021.
The standard library's ``binascii.crc_hqx`` computes the *non-reflected*
CCITT CRC in C; feeding it bit-reversed bytes and bit-reversing the 16-bit
result yields the reflected CRC, so no Python-level loop runs per byte.

- CRC-16/X-25 (SML standard, also HDLC FCS): init 0xFFFF, xorout 0xFFFF,
  check("123456789") = 0x906E, sent low byte first.
- CRC-16/KERMIT (Holley DTZ541 over RS-485): init 0, xorout 0,
  check("123456789") = 0x2189, sent high byte first.
- CRC-16/EN-13757 (wireless and wired M-Bus): polynomial 0x3D65, init 0,
  xorout 0xFFFF, not reflected, check("123456789") = 0xC2B7. No C routine in
  the standard library has this polynomial, so it runs a 256-entry table over
  the bytes (the link-layer blocks it guards are at most 126 bytes).
"""

from __future__ import annotations

import enum
from binascii import crc_hqx

_BIT_REVERSE = bytes(int(f"{i:08b}"[::-1], 2) for i in range(256))


def _reverse16(value: int) -> int:
    return (_BIT_REVERSE[value & 0xFF] << 8) | _BIT_REVERSE[value >> 8]


def crc16_x25(data: bytes | bytearray) -> int:
    """CRC-16/X-25 of ``data`` (the register value, before wire byte order)."""
    return _reverse16(crc_hqx(data.translate(_BIT_REVERSE), 0xFFFF)) ^ 0xFFFF


def crc16_kermit(data: bytes | bytearray) -> int:
    """CRC-16/KERMIT of ``data`` (the register value, before wire byte order)."""
    return _reverse16(crc_hqx(data.translate(_BIT_REVERSE), 0))


def _en13757_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        reg = byte << 8
        for _ in range(8):
            reg = ((reg << 1) ^ 0x3D65) if reg & 0x8000 else (reg << 1)
        table.append(reg & 0xFFFF)
    return tuple(table)


_EN13757 = _en13757_table()


def crc16_en13757(data: bytes | bytearray | memoryview) -> int:
    """CRC-16/EN-13757 of ``data`` (the register value; M-Bus link blocks send it high byte first)."""
    table = _EN13757
    reg = 0
    for byte in data:
        reg = ((reg << 8) & 0xFF00) ^ table[(reg >> 8) ^ byte]
    return reg ^ 0xFFFF


class CrcPolicy(enum.Enum):
    """Which CRC a meter uses: per-meter setting, ``auto`` tries X-25 then KERMIT."""

    X25 = "x25"
    KERMIT = "kermit"
    AUTO = "auto"
    OFF = "off"


class CrcKind(enum.Enum):
    """The CRC variant that matched a frame or message."""

    X25 = "x25"
    KERMIT = "kermit"
    UNCHECKED = "unchecked"


def sml_wire_value(kind: CrcKind, register: int) -> int:
    """The 16-bit value as SML puts it on the wire, read big-endian.

    X-25 is sent low byte first, KERMIT high byte first; reading the two wire
    bytes as a big-endian number gives the byte-swapped X-25 register or the
    KERMIT register unchanged.
    """
    if kind is CrcKind.X25:
        return ((register & 0xFF) << 8) | (register >> 8)
    return register


def match_sml_crc(policy: CrcPolicy, data: bytes | bytearray, wire: int) -> CrcKind | None:
    """Check the CRC ``wire`` (the wire bytes read as a big-endian number) over ``data``.

    Returns the kind that matched (``UNCHECKED`` with policy ``off``), or None.
    A message CRC sent in the one-byte form (``62 xx``) is just a number below
    0x100 and compares the same way.
    """
    if policy is CrcPolicy.OFF:
        return CrcKind.UNCHECKED
    kinds = (
        (CrcKind.X25, CrcKind.KERMIT)
        if policy is CrcPolicy.AUTO
        else ((CrcKind.X25,) if policy is CrcPolicy.X25 else (CrcKind.KERMIT,))
    )
    for kind in kinds:
        register = crc16_x25(data) if kind is CrcKind.X25 else crc16_kermit(data)
        if sml_wire_value(kind, register) == wire:
            return kind
    return None
