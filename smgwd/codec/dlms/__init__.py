"""DLMS/COSEM application layer for push meters, sans-I/O.

- :mod:`.axdr`: the A-XDR ``Data`` values (:func:`decode_data`, :func:`encode_data`);
- :mod:`.dates`: COSEM date-time, date and time with their "not specified" fields;
- :mod:`.apdu`: Data-Notification, plain or ciphered (:func:`decode_notification`);
- :mod:`.ciphering`: general-glo/ded-ciphering with AES-GCM, tag checked with the AK;
- :mod:`.blocks`: general-block-transfer reassembly;
- errors: the :class:`DlmsError` family.
"""

from smgwd.codec.dlms.apdu import DATA_NOTIFICATION, DataNotification, decode_notification, encode_notification
from smgwd.codec.dlms.axdr import BitString, Data, DataType, decode_data, encode_data
from smgwd.codec.dlms.blocks import GBT_TAG, Block, BlockAssembler, encode_blocks, parse_block
from smgwd.codec.dlms.ciphering import DlmsKeys, encipher
from smgwd.codec.dlms.dates import CosemDate, CosemDateTime, CosemTime, decode_date_time
from smgwd.codec.dlms.errors import (
    DlmsBlockError,
    DlmsError,
    DlmsFormatError,
    DlmsSecurityError,
    DlmsTruncatedError,
    DlmsUnsupportedError,
    MissingKeyError,
    TagMismatchError,
    WrongKeyError,
)

__all__ = [
    "DATA_NOTIFICATION", "GBT_TAG", "BitString", "Block", "BlockAssembler", "CosemDate", "CosemDateTime", "CosemTime",
    "Data", "DataNotification", "DataType", "DlmsBlockError", "DlmsError", "DlmsFormatError", "DlmsKeys",
    "DlmsSecurityError", "DlmsTruncatedError", "DlmsUnsupportedError", "MissingKeyError", "TagMismatchError",
    "WrongKeyError", "decode_data", "decode_date_time", "decode_notification", "encipher", "encode_blocks",
    "encode_data", "encode_notification", "parse_block",
]
