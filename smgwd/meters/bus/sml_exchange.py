"""SML inside HDLC I-frames: the GetList request a bus meter is asked, and its reply read.

How this works: the I-frame's information field carries one SML transport v1 frame (escape
sequences, padding, CRC), as on the other SML wires, holding one SML file: OpenRequest,
GetListRequest, CloseRequest; the meter answers with OpenResponse, GetListResponse,
CloseResponse. (TR-03109-1 Anlage IV Teil a, which fixes this framing for the wired LMN, was
not available here; this is the simplest faithful nesting and what the simulator answers.)
"""

from __future__ import annotations

from smgwd.codec.sml import types as t
from smgwd.codec.sml.errors import SmlError
from smgwd.codec.sml.transport import NEED_DATA, Frame, FrameRejected, SmlTransportDecoder
from smgwd.codec.crc import CrcPolicy
from smgwd.meters.sml.profiles import SmlProfile
from smgwd.meters.sml.readings import SmlResult, readings_from_messages
from smgwd.meters.sml.session import SmlFile, decode_file, encode_file

__all__ = ["CLIENT_ID", "get_list_request", "read_reply", "unwrap"]

CLIENT_ID = b"smgwd"
MAX_REPLY = 65536


def get_list_request(number: int) -> bytes:
    """One GetList request file as a transport frame; ``number`` makes its ids unique."""
    ids = [((number * 4 + k) & 0xFFFF_FFFF).to_bytes(4, "big") for k in range(4)]
    opening = t.OpenRequest(CLIENT_ID, ids[0])
    return encode_file(SmlFile(
        t.SmlMessage(ids[1], opening), (t.SmlMessage(ids[2], t.GetListRequest(CLIENT_ID)),), t.SmlMessage(ids[3], t.CloseRequest()),
    ))


def unwrap(data: bytes) -> bytes:
    """The payload of the one transport frame in ``data``; raises SmlError."""
    decoder = SmlTransportDecoder(CrcPolicy.X25, MAX_REPLY)
    decoder.receive_data(data)
    decoder.receive_data(b"")
    while True:
        event = decoder.next_event()
        if isinstance(event, Frame):
            return event.payload
        if isinstance(event, FrameRejected):
            raise event.error
        if event is NEED_DATA:
            raise SmlError("no SML frame in the HDLC message", 0)


def read_reply(data: bytes, profile: SmlProfile) -> SmlResult:
    """The readings of a reply message (an SML file in a transport frame); raises SmlError."""
    reply = decode_file(unwrap(data), request=False)
    return readings_from_messages(reply.messages, profile)
