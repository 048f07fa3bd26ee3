"""Compact-frame checks (EN 13757-3 / OMS Vol. 2): the two CRCs a compact frame opens with.

A meter that sends compact frames (CI 0x79/0x7B/0x73) leaves out the DIF/VIF headers and
sends only the values, after two CRC-16/EN-13757 values, little-endian: the format
signature over the header bytes (DIF, DIFEs, VIF, VIFEs of every record, in order) and the
full-frame CRC over the record bytes of the equivalent full frame. A receiver keeps, per
meter, the headers of the last full frame under their signature; the application layer
computes both from a full frame with these functions.
"""

from __future__ import annotations

from smgwd.codec.crc import crc16_en13757

__all__ = ["format_signature", "full_frame_crc"]


def format_signature(headers: bytes) -> int:
    """Format signature of the concatenated DIF/VIF header bytes of a full frame's records."""
    return crc16_en13757(headers)


def full_frame_crc(records: bytes) -> int:
    """CRC over a full frame's record bytes (headers and values, no 0x2F fillers)."""
    return crc16_en13757(records)
