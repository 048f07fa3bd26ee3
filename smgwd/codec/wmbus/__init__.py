"""Wireless M-Bus (EN 13757-4/-7, OMS Vol. 2) below the application layer, sans-I/O.

``decode_telegram`` takes one telegram (starting with L, link CRCs present or not) and
returns a :class:`Telegram`: link layer, extended link layer, authentication and
fragmentation layer, transport layer, decrypted and checked, with the application-layer
bytes (EN 13757-3 records, decoded elsewhere) in ``payload``. ``encode_telegram`` is its
inverse for the simulator. Errors are :class:`WmbusError` subclasses.
"""

from smgwd.codec.wmbus.compact import format_signature, full_frame_crc
from smgwd.codec.wmbus.decoder import KeySource, decode_telegram
from smgwd.codec.wmbus.encoder import config_word, encode_telegram
from smgwd.codec.wmbus.errors import (
    CrcError,
    FormatError,
    FragmentedError,
    MacError,
    MissingKeyError,
    SecurityError,
    TruncatedError,
    UnknownCiError,
    UnsupportedError,
    WmbusError,
    WrongKeyError,
)
from smgwd.codec.wmbus.link import add_link_crcs, strip_link_crcs, with_l_field
from smgwd.codec.wmbus.tables import Content, Header, device_type_name, manufacturer_code, manufacturer_field
from smgwd.codec.wmbus.types import (
    Address,
    AuthFragment,
    CompactHeader,
    ExtendedLink,
    FrameFormat,
    LinkCrc,
    LinkHeader,
    Telegram,
    TransportHeader,
)

__all__ = [
    "Address",
    "AuthFragment",
    "CompactHeader",
    "Content",
    "CrcError",
    "ExtendedLink",
    "FormatError",
    "FragmentedError",
    "FrameFormat",
    "Header",
    "KeySource",
    "LinkCrc",
    "LinkHeader",
    "MacError",
    "MissingKeyError",
    "SecurityError",
    "Telegram",
    "TransportHeader",
    "TruncatedError",
    "UnknownCiError",
    "UnsupportedError",
    "WmbusError",
    "WrongKeyError",
    "add_link_crcs",
    "config_word",
    "decode_telegram",
    "device_type_name",
    "encode_telegram",
    "format_signature",
    "full_frame_crc",
    "manufacturer_code",
    "manufacturer_field",
    "strip_link_crcs",
    "with_l_field",
]
