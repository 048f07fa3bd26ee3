"""HDLC decode errors: one root under :class:`smgwd.codec.errors.DecodeError`.

Offsets count bytes of the frame from its format field (the opening flag excluded).
"""

from __future__ import annotations

from smgwd.codec.errors import DecodeError

__all__ = ["HdlcCrcError", "HdlcError", "HdlcFormatError", "HdlcTruncatedError"]


class HdlcError(DecodeError):
    """Anything the HDLC codec rejects."""


class HdlcFormatError(HdlcError):
    """A field that breaks frame format type 3: format type, address size, length."""


class HdlcTruncatedError(HdlcFormatError):
    """The frame ends before the part its format field announces."""


class HdlcCrcError(HdlcError):
    """A header (HCS) or frame (FCS) check sequence that does not match."""
