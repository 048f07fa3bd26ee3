"""M-Bus application layer errors: one root under :class:`smgwd.codec.errors.DecodeError`."""

from __future__ import annotations

from smgwd.codec.errors import DecodeError


class MbusError(DecodeError):
    """Anything the M-Bus codec (EN 13757-3 records, wired frames) rejects."""


class MbusTruncatedError(MbusError):
    """A record (DIF, DIFE, VIF, VIFE, plain-text unit or data field) that runs past the end of the input."""


class MbusReservedError(MbusError):
    """A reserved code whose length is unknown, so decoding cannot go on (special DIF, LVAR 0xFB-0xFF)."""


class MbusExtensionError(MbusError):
    """More than 10 DIFEs or VIFEs in one record header (EN 13757-3 allows at most 10 of each)."""


class MbusCompactError(MbusError):
    """Headers remembered for a compact frame that do not fit the data fields sent."""


class MbusFrameError(MbusError):
    """A wired M-Bus frame (EN 13757-2) that is malformed: start/stop byte, length, checksum, CI."""
