"""HDLC frame format type 3 as DLMS/COSEM meters speak it (IEC 62056-46), sans-I/O.

- :func:`decode_frame` / :func:`encode_frame`: one frame, HCS and FCS checked or set;
- :class:`HdlcDecoder`: bytes from a line in, :class:`Received` frames and :class:`Rejected`
  ones out, with resynchronisation and bounded buffers;
- :class:`Reassembler`: segmented messages joined, LLC header removed;
- errors: the :class:`HdlcError` family.
"""

from smgwd.codec.hdlc.decoder import HdlcDecoder, Received, Rejected
from smgwd.codec.hdlc.errors import HdlcCrcError, HdlcError, HdlcFormatError, HdlcTruncatedError
from smgwd.codec.hdlc.frame import (
    FLAG,
    MAX_LENGTH,
    FrameKind,
    HdlcAddress,
    HdlcFrame,
    control_byte,
    decode_frame,
    encode_frame,
    frame_kind,
)
from smgwd.codec.hdlc.segments import LLC_COMMAND, LLC_RESPONSE, HdlcMessage, Reassembler

__all__ = [
    "FLAG",
    "LLC_COMMAND",
    "LLC_RESPONSE",
    "MAX_LENGTH",
    "FrameKind",
    "HdlcAddress",
    "HdlcCrcError",
    "HdlcDecoder",
    "HdlcError",
    "HdlcFormatError",
    "HdlcFrame",
    "HdlcMessage",
    "HdlcTruncatedError",
    "Reassembler",
    "Received",
    "Rejected",
    "control_byte",
    "decode_frame",
    "encode_frame",
    "frame_kind",
]
