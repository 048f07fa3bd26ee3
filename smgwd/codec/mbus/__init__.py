"""EN 13757-3 M-Bus application layer (data records), shared by wireless and wired M-Bus.

Public surface:

- :func:`decode_records` for a record area, :func:`record_headers` and
  :func:`decode_compact` for compact frames (headers remembered from a full frame);
- :class:`Record` (one data record), :class:`Function`, :class:`MbusDateTime`;
- :func:`decode_long_frame` / :class:`LongFrame` for wired long frames (CI 0x72 / 0x7A);
- the :class:`MbusError` family.

Quantity names, canonical units and value kinds are documented in :mod:`.tables` and
:mod:`.records`.
"""

from smgwd.codec.mbus.dates import MbusDateTime, decode_date_time
from smgwd.codec.mbus.errors import (
    MbusCompactError,
    MbusError,
    MbusExtensionError,
    MbusFrameError,
    MbusReservedError,
    MbusTruncatedError,
)
from smgwd.codec.mbus.records import Function, RawValue, Record, decode_compact, decode_records, record_headers
from smgwd.codec.mbus.wired import LongFrame, decode_long_frame, manufacturer_code

__all__ = [
    "Function",
    "LongFrame",
    "MbusCompactError",
    "MbusDateTime",
    "MbusError",
    "MbusExtensionError",
    "MbusFrameError",
    "MbusReservedError",
    "MbusTruncatedError",
    "RawValue",
    "Record",
    "decode_compact",
    "decode_date_time",
    "decode_long_frame",
    "decode_records",
    "manufacturer_code",
    "record_headers",
]
