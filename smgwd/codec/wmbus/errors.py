"""Wireless M-Bus decode errors: one root under :class:`smgwd.codec.errors.DecodeError`.

Offsets count bytes of the input given to :func:`~smgwd.codec.wmbus.decode_telegram`
(link CRCs included when the input has them).
"""

from __future__ import annotations

from smgwd.codec.errors import DecodeError


class WmbusError(DecodeError):
    """Anything the wireless M-Bus codec rejects."""


class FormatError(WmbusError):
    """A field that breaks EN 13757-4/-7 rules: L-field, AFL length, MAC length, ..."""


class TruncatedError(FormatError):
    """The telegram ends before a field or an encrypted block it announces."""


class CrcError(WmbusError):
    """A link-layer block CRC, an ELL payload CRC or a compact-frame CRC that does not match."""


class UnsupportedError(WmbusError):
    """Well-formed but not handled here: a CI field, a security mode, a KDF."""


class UnknownCiError(UnsupportedError):
    """A CI field that is neither standard nor in the manufacturer-specific range 0xA0..0xB7."""

    def __init__(self, ci: int, offset: int | None = None) -> None:
        self.ci = ci
        super().__init__(f"unknown CI field 0x{ci:02X}", offset)


class FragmentedError(UnsupportedError):
    """An AFL fragment of a message split over several telegrams (not reassembled)."""


class SecurityError(WmbusError):
    """Encryption or authentication that cannot be undone or does not verify."""


class MissingKeyError(SecurityError):
    """An encrypted telegram from a meter whose key is unknown."""

    def __init__(self, meter_id: str, what: str, offset: int | None = None) -> None:
        self.meter_id = meter_id
        super().__init__(f"no key for meter {meter_id}: {what}", offset)


class WrongKeyError(SecurityError):
    """Decryption with the given key yields no 0x2F2F check bytes or a bad ELL payload CRC."""

    def __init__(self, meter_id: str, what: str, offset: int | None = None) -> None:
        self.meter_id = meter_id
        super().__init__(f"wrong key for meter {meter_id}: {what}", offset)


class MacError(SecurityError):
    """An AFL message authentication code that does not verify (tampered telegram or wrong key)."""

    def __init__(self, meter_id: str, what: str, offset: int | None = None) -> None:
        self.meter_id = meter_id
        super().__init__(f"MAC mismatch for meter {meter_id}: {what}", offset)
