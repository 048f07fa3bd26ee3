"""SML attention numbers (AttentionResponse.attentionNo) and their meaning.

The numbers are 6-byte octet strings ``81 81 C7 C7 Fx yy``; the table follows
the SML v1.04 specification's list (as collected in reference/sml.md §2.4).
"""

from __future__ import annotations

__all__ = ["ATTENTION_OK", "ATTENTION_LATER", "attention_text", "attention_number"]

_PREFIX = bytes.fromhex("8181c7c7")

ATTENTION_OK = _PREFIX + b"\xfd\x00"
ATTENTION_LATER = _PREFIX + b"\xfd\x01"

_ERRORS = {
    0x00: "error unknown",
    0x01: "unknown SML designator",
    0x02: "insufficient authentication, user name/password combination not permitted",
    0x03: "destination address (serverId) not available",
    0x04: "request (reqFileId) not available",
    0x05: "one or more destination attribute(s) cannot be written",
    0x06: "one or more destination attribute(s) cannot be read",
    0x07: "communication with measuring point disturbed",
    0x08: "raw data cannot be interpreted",
    0x09: "value obtained is outside the permitted value range",
    0x0A: "request not executed (e.g. because the provided parameter tree path is not present)",
    0x0B: "checksum incorrect",
    0x0C: "broadcast not supported",
    0x0D: "unexpected SML message",
    0x0E: "unknown object in the load profile",
    0x0F: "data type not supported",
    0x10: "optional element not supported",
    0x11: "requested load profile has no entry",
    0x12: "end limit before start limit",
    0x13: "no entries in the requested area",
    0x14: "SML file ended without close",
    0x15: "load profile cannot be presented at this time",
}


def attention_number(code: int) -> bytes:
    """The attention number of error ``code`` (``81 81 C7 C7 FE code``)."""
    return _PREFIX + bytes((0xFE, code))


def attention_text(number: bytes) -> str:
    """A readable meaning of an attention number (unknown ones are named as such)."""
    if number == ATTENTION_OK:
        return "ok, positive acknowledgement"
    if number == ATTENTION_LATER:
        return "order will be executed later, result in a response or the list of attention numbers"
    if len(number) == 6 and number[:4] == _PREFIX:
        if number[4] == 0xFE and number[5] in _ERRORS:
            return "error: " + _ERRORS[number[5]]
        if 0xE0 <= number[4] <= 0xFC:
            return f"application-specific attention {number.hex()}"
    return f"unknown attention number {number.hex()}"
