"""SML decode errors: one root under :class:`smgwd.codec.errors.DecodeError`."""

from __future__ import annotations

from smgwd.codec.errors import DecodeError


class SmlError(DecodeError):
    """Anything the SML codec rejects."""


class SmlSyntaxError(SmlError):
    """A TL field, list or message body that does not follow SML v1.04."""


class SmlRangeError(SmlSyntaxError):
    """An integer field whose value lies outside the range of its SML type (unit, scaler, time, ...)."""


class SmlCrcError(SmlError):
    """A message or frame CRC that matches none of the allowed variants."""


class SmlTransportError(SmlError):
    """A transport v1 frame that is malformed: escape, padding, truncation, size."""


class SmlQuirkError(SmlSyntaxError):
    """A known real-meter deviation that the active dialect does not allow."""
