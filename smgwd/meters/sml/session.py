"""SML files over a byte stream: the part of the SML pull protocol both ends share.

How this works: an *SML file* is OpenRequest/OpenResponse, body messages and
CloseRequest/CloseResponse, encoded back to back and wrapped in one transport
v1 frame (X-25 CRCs, the codec's STRICT dialect). :func:`encode_file` and
:func:`decode_file` turn an :class:`SmlFile` into frame bytes and a frame
payload back into an :class:`SmlFile`, checking its shape. :func:`read_event`
pulls transport events from an asyncio stream through a
:class:`SmlTransportDecoder`. The simulator's server (``smgwd.sim.sml_server``)
and the gateway's client (``smgwd.meters.sml.client``) both build on this
module; the request/response contract itself is described in the server's
module docstring.
"""

from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass

from smgwd.codec.crc import CrcKind, CrcPolicy
from smgwd.codec.sml import types as t
from smgwd.codec.sml.attention import attention_number
from smgwd.codec.sml.decoder import STRICT, decode_messages
from smgwd.codec.sml.encoder import encode_messages
from smgwd.codec.sml.errors import SmlSyntaxError
from smgwd.codec.sml.transport import NEED_DATA, Event, SmlTransportDecoder, encode_frame

__all__ = [
    "DEFAULT_PORT",
    "OBJECT_LIST",
    "REG_PERIOD",
    "AttentionCode",
    "SmlFile",
    "SmlFileError",
    "decode_file",
    "encode_file",
    "frame_decoder",
    "octets",
    "read_event",
]

#: The TCP port of the jOSEF meter simulator.
DEFAULT_PORT = 33333
#: 0-0:40.0.0*255, the COSEM association's object list: the treePath of discovery.
OBJECT_LIST = bytes.fromhex("0000280000ff")
#: regPeriod of every GetProfileList.Res (seconds; quarter-hour load profiles).
REG_PERIOD = 900

_READ_CHUNK = 4096


class AttentionCode(enum.IntEnum):
    """The error attention numbers the protocol uses (``81 81 C7 C7 FE code``)."""

    UNKNOWN_ERROR = 0x00
    AUTHENTICATION = 0x02
    SERVER_ID = 0x03
    UNINTERPRETABLE = 0x08
    NOT_EXECUTED = 0x0A
    CHECKSUM = 0x0B
    UNEXPECTED_MESSAGE = 0x0D
    UNKNOWN_PROFILE_OBJECT = 0x0E
    TYPE_NOT_SUPPORTED = 0x0F
    END_BEFORE_START = 0x12
    NO_ENTRIES = 0x13
    NO_CLOSE = 0x14

    @property
    def number(self) -> bytes:
        """The 6-byte attentionNo."""
        return attention_number(self.value)


class SmlFileError(SmlSyntaxError):
    """Well-formed SML messages that do not make an SML file (Open, bodies, Close).

    ``code`` is the attention a server answers with.
    """

    def __init__(self, what: str, code: AttentionCode, offset: int | None = None) -> None:
        super().__init__(what, offset)
        self.code = code


@dataclass(frozen=True, slots=True)
class SmlFile:
    """One SML file: the Open message, the body messages in order, the Close message."""

    open: t.SmlMessage
    messages: tuple[t.SmlMessage, ...]
    close: t.SmlMessage


_SHAPES: dict[bool, tuple[type, type]] = {
    True: (t.OpenRequest, t.CloseRequest),
    False: (t.OpenResponse, t.CloseResponse),
}


def encode_file(file: SmlFile) -> bytes:
    """The file as one transport v1 frame (X-25 message and frame CRCs)."""
    payload = encode_messages((file.open, *file.messages, file.close), CrcKind.X25)
    return encode_frame(payload, CrcKind.X25)


def decode_file(payload: bytes, *, request: bool) -> SmlFile:
    """Decode a frame payload as a request file (``request``) or a response file.

    Raises:
        SmlError: the payload is not valid SML (syntax, message CRC);
        SmlFileError: the messages do not start with Open or do not end with Close.
    """
    messages = decode_messages(payload, STRICT)
    first, last = _SHAPES[request]
    if not messages or not isinstance(messages[0].body, first):
        raise SmlFileError(f"SML file does not start with {first.__name__}", AttentionCode.UNEXPECTED_MESSAGE, 0)
    if len(messages) < 2 or not isinstance(messages[-1].body, last):
        raise SmlFileError(f"SML file does not end with {last.__name__}", AttentionCode.NO_CLOSE, len(payload))
    return SmlFile(messages[0], tuple(messages[1:-1]), messages[-1])


def frame_decoder(max_frame: int) -> SmlTransportDecoder:
    """A transport decoder for this protocol: X-25 frame CRCs, frames up to ``max_frame`` bytes."""
    return SmlTransportDecoder(CrcPolicy.X25, max_frame)


async def read_event(reader: asyncio.StreamReader, decoder: SmlTransportDecoder) -> Event | None:
    """The next transport event from the stream; ``None`` when it has ended and nothing is left."""
    while True:
        event = decoder.next_event()
        if event is not NEED_DATA:
            return event  # type: ignore[return-value]
        data = await reader.read(_READ_CHUNK)
        decoder.receive_data(data)
        if not data:
            event = decoder.next_event()
            return None if event is NEED_DATA else event  # type: ignore[return-value]


def octets(value: str | bytes | None) -> bytes | None:
    """A configured credential or id as an SML octet string (text as UTF-8)."""
    return value.encode() if isinstance(value, str) else value
