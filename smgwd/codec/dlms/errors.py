"""DLMS/COSEM decode errors: one root under :class:`smgwd.codec.errors.DecodeError`.

Offsets count bytes of the APDU given to the decoder.
"""

from __future__ import annotations

from smgwd.codec.errors import DecodeError

__all__ = [
    "DlmsBlockError", "DlmsError", "DlmsFormatError", "DlmsSecurityError", "DlmsTruncatedError", "DlmsUnsupportedError",
    "MissingKeyError", "TagMismatchError", "WrongKeyError",
]


class DlmsError(DecodeError):
    """Anything the DLMS codec rejects."""


class DlmsFormatError(DlmsError):
    """A field that breaks A-XDR or the APDU's layout, or a value out of its range."""


class DlmsTruncatedError(DlmsFormatError):
    """The APDU ends before a field it announces."""


class DlmsUnsupportedError(DlmsError):
    """Well-formed but not handled: an APDU tag, a security suite."""


class DlmsBlockError(DlmsError):
    """General block transfer: a block out of order, missing, or a transfer too large."""


class DlmsSecurityError(DlmsError):
    """Ciphering that cannot be undone or does not verify."""


class MissingKeyError(DlmsSecurityError):
    """An encrypted APDU and no encryption key for it."""


class WrongKeyError(DlmsSecurityError):
    """The key decrypts to something that is no APDU: it is not the meter's key."""


class TagMismatchError(DlmsSecurityError):
    """The GCM authentication tag does not verify (wrong key, or the message was changed)."""
