"""Valid-CRC SML frames whose fields are out of their SML type's range (hand-built, sealed).

Each frame is one GetListResponse with one ListEntry; only the named field differs from a
well-formed entry, so a decoder that checks the field's range must reject exactly that.
"""

from __future__ import annotations

from smgwd.codec.crc import CrcPolicy, crc16_x25, match_sml_crc
from smgwd.codec.sml.transport import encode_frame

_OK = {
    "status": b"\x01",
    "valTime": b"\x01",
    "unit": b"\x62\x1e",
    "scaler": b"\x52\xff",
    "value": b"\x65\x00\x00\x00\x64",
}


def _seal(message: bytes) -> bytes:
    """Append the message CRC (``63 xx xx``) and the end-of-message byte."""
    crc = crc16_x25(message)
    for wire in (crc, ((crc & 0xFF) << 8) | (crc >> 8)):
        if match_sml_crc(CrcPolicy.X25, message, wire) is not None:
            return message + b"\x63" + wire.to_bytes(2, "big") + b"\x00"
    raise AssertionError("no CRC byte order matches")


def list_message(**fields: bytes) -> bytes:
    """A GetListResponse message with one entry; ``fields`` replace parts of a good entry."""
    f = {**_OK, **fields}
    entry = b"\x77\x07\x01\x00\x01\x08\x00\xff" + f["status"] + f["valTime"] + f["unit"] + f["scaler"] + f["value"] + b"\x01"
    body = b"\x77\x01\x0b" + bytes(range(10)) + b"\x01\x01\x71" + entry + b"\x01\x01"
    return _seal(b"\x76\x05\x01\x02\x03\x04\x62\x00\x62\x00\x72\x63\x07\x01" + body)


def list_frame(**fields: bytes) -> bytes:
    return encode_frame(list_message(**fields))


#: field name in the error -> entry part with an out-of-range value (valid CRCs throughout)
HOSTILE = {
    "year_10000": ("valTime", b"\x72\x62\x02\x69" + (253402300800).to_bytes(8, "big")),
    "unit_25118": ("unit", b"\x63\x62\x1e"),
    "scaler_21247": ("scaler", b"\x53\x52\xff"),
    "scaler_2_62": ("scaler", b"\x59" + (2**62).to_bytes(8, "big", signed=True)),
    "status_minus_255": ("status", b"\x53\xff\x01"),
    "timestamp_2_64": ("valTime", b"\x72\x62\x02\x69" + b"\xff" * 8),
    "offset_30000": ("valTime", b"\x72\x62\x03\x73\x65\x60\x00\x00\x00\x53\x75\x30\x53\x00\x00"),
}
FIELD_IN_ERROR = {
    "year_10000": "ListEntry.valTime",
    "unit_25118": "ListEntry.unit",
    "scaler_21247": "ListEntry.scaler",
    "scaler_2_62": "ListEntry.scaler",
    "status_minus_255": "ListEntry.status",
    "timestamp_2_64": "ListEntry.valTime",
    "offset_30000": "ListEntry.valTime.localOffset",
}
