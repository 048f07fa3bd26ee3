"""Why a CMS message was refused: one exception root, one subclass per kind of refusal.

How this works: every refusal of :mod:`smgwd.wan.cms` is a :class:`CmsError`
whose ``reason`` (also its ``str()``) is one line an operator can act on. The
parsers of asn1crypto and cryptography raise whatever they like on hostile
input; :func:`malformed_on_error` is the one place that turns those into
:class:`MalformedError`, so no library exception escapes a CMS function.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm

__all__ = [
    "CmsError", "ContentTypeError", "DecryptionError", "DigestMismatchError", "MalformedError",
    "NotForRecipientError", "SignatureError", "UnsupportedError", "UntrustedSignerError",
    "malformed_on_error",
]


class CmsError(Exception):
    """A CMS message that was refused (or could not be built); ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MalformedError(CmsError):
    """Not DER/BER, or not the CMS structure it claims to be."""


class ContentTypeError(CmsError):
    """A content type other than the one TR-03116-3 §8 prescribes at that place."""


class UnsupportedError(CmsError):
    """Well-formed, but an algorithm, curve or option we do not accept."""


class SignatureError(CmsError):
    """The SignedData signature does not verify with the signer's certificate."""


class DigestMismatchError(SignatureError):
    """The message-digest attribute does not match the signed content (content swapped)."""


class UntrustedSignerError(CmsError):
    """The signer certificate does not chain to a trusted root (unknown CA, expired, wrong usage)."""


class NotForRecipientError(CmsError):
    """No recipient info of the message names our certificate."""


class DecryptionError(CmsError):
    """Key unwrap or the AES-GCM tag failed: ciphertext, tag or wrapped key altered."""


#: what asn1crypto and cryptography raise on bad encodings (asn1crypto parses lazily, on access)
_PARSE_ERRORS = (
    ValueError, TypeError, KeyError, IndexError, OverflowError, RecursionError,
    UnsupportedAlgorithm, x509.DuplicateExtension, x509.UnsupportedGeneralNameType, x509.InvalidVersion,
)


@contextmanager
def malformed_on_error(what: str) -> Iterator[None]:
    """Run a parsing block; a parser's exception becomes ``MalformedError("<what>: ...")``."""
    try:
        yield
    except CmsError:
        raise
    except _PARSE_ERRORS as error:
        detail = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise MalformedError(f"malformed {what}: {detail}") from None
