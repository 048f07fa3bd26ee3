"""SML v1.04 (BSI TR-03109-1 Anlage IV): messages and transport v1, both directions.

Public surface:

- :class:`SmlTransportDecoder` (``receive_data`` / ``next_event``) and
  :func:`encode_frame` for transport v1 frames;
- :func:`decode_messages` / :func:`decode_message` and
  :func:`encode_messages` / :func:`encode_message` for SML messages;
- the message and value types in :mod:`smgwd.codec.sml.types`;
- :class:`SmlDialect` for the real-meter deviations a meter is allowed.
"""

from smgwd.codec.crc import CrcKind, CrcPolicy
from smgwd.codec.sml.attention import attention_text
from smgwd.codec.sml.decoder import STRICT, TOLERANT, SmlDialect, decode_message, decode_messages
from smgwd.codec.sml.encoder import SmlEncodeError, encode_message, encode_messages
from smgwd.codec.sml.errors import SmlCrcError, SmlError, SmlQuirkError, SmlSyntaxError, SmlTransportError
from smgwd.codec.sml.transport import (
    NEED_DATA,
    BytesDiscarded,
    Frame,
    FrameRejected,
    SmlTransportDecoder,
    encode_frame,
)
from smgwd.codec.sml.types import *  # noqa: F401,F403  (the message and value types)

__all__ = [
    "NEED_DATA",
    "STRICT",
    "TOLERANT",
    "BytesDiscarded",
    "CrcKind",
    "CrcPolicy",
    "Frame",
    "FrameRejected",
    "SmlCrcError",
    "SmlDialect",
    "SmlEncodeError",
    "SmlError",
    "SmlQuirkError",
    "SmlSyntaxError",
    "SmlTransportDecoder",
    "SmlTransportError",
    "attention_text",
    "decode_message",
    "decode_messages",
    "encode_frame",
    "encode_message",
    "encode_messages",
]
