"""general-glo-ciphering / general-ded-ciphering (AES-GCM, security suite 0/1) undone.

How this works: ``DB|DC, system title (A-XDR octet string), length, SC, IC (4), ciphertext
[tag]``. The IV is system title || IC. The security control byte says what was applied:
0x10 authentication (a 12-byte GCM tag; AAD = SC || AK, plus the plaintext when it is not
encrypted), 0x20 encryption; its low nibble is the security suite (0..2: AES-GCM; the key
length picks AES-128 or -256), bit 0x80 compression (not supported). With an authentication
key the tag is always checked and a mismatch is :class:`TagMismatchError`; without one an
encrypted payload is still decrypted (AES-CTR from counter 2, which is what GCM encrypts
with) and the result says the tag was not checked — as real installations need whose
operator hands out only the encryption key.
"""

from __future__ import annotations

from typing import NamedTuple

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from smgwd.codec.dlms.axdr import decode_length, encode_length
from smgwd.codec.dlms.errors import (
    DlmsFormatError,
    DlmsTruncatedError,
    DlmsUnsupportedError,
    MissingKeyError,
    TagMismatchError,
)

__all__ = ["CIPHERING_TAGS", "Ciphered", "DlmsKeys", "TAG_LENGTH", "decipher", "encipher", "parse_ciphered"]

GLO_CIPHERING = 0xDB
DED_CIPHERING = 0xDC
CIPHERING_TAGS = {GLO_CIPHERING: "glo", DED_CIPHERING: "ded"}
TAG_LENGTH = 12
SC_AUTH = 0x10
SC_ENC = 0x20
SC_COMPRESSED = 0x80


class DlmsKeys(NamedTuple):
    """A meter's keys: the (global unicast) encryption key and the authentication key."""

    encryption: bytes | None = None
    authentication: bytes | None = None

    def __repr__(self) -> str:  # keys never appear in logs or tracebacks
        return (f"DlmsKeys(encryption={'set' if self.encryption else None}, "
                f"authentication={'set' if self.authentication else None})")


class Ciphered(NamedTuple):
    kind: str  # glo | ded
    system_title: bytes
    security_control: int
    invocation_counter: int
    payload: bytes  # ciphertext (or plaintext when only authenticated)
    tag: bytes | None

    @property
    def encrypted(self) -> bool:
        return bool(self.security_control & SC_ENC)

    @property
    def authenticated(self) -> bool:
        return bool(self.security_control & SC_AUTH)

    @property
    def iv(self) -> bytes:
        return self.system_title + self.invocation_counter.to_bytes(4, "big")


def parse_ciphered(apdu: bytes) -> Ciphered:
    """Split a general-glo/ded-ciphering APDU into its fields."""
    if not apdu or apdu[0] not in CIPHERING_TAGS:
        raise DlmsFormatError("not a general-glo/ded-ciphering APDU", 0)
    title_len, pos = decode_length(apdu, 1)
    if title_len != 8:
        raise DlmsFormatError(f"system title of {title_len} bytes (8 are defined)", 1)
    if pos + 8 > len(apdu):
        raise DlmsTruncatedError("APDU ends inside the system title", pos)
    title = apdu[pos : pos + 8]
    length, pos = decode_length(apdu, pos + 8)
    if pos + length > len(apdu):
        raise DlmsTruncatedError(f"ciphered content of {length} bytes announced, {len(apdu) - pos} there", pos)
    if length < 5:
        raise DlmsFormatError(f"ciphered content of {length} bytes has no room for SC and IC", pos)
    sc = apdu[pos]
    if sc & SC_COMPRESSED:
        raise DlmsUnsupportedError(f"security control 0x{sc:02X}: compression is not supported", pos)
    if sc & 0x0F > 2:
        raise DlmsUnsupportedError(f"security suite {sc & 0x0F} (0, 1 and 2 are AES-GCM)", pos)
    ic = int.from_bytes(apdu[pos + 1 : pos + 5], "big")
    body = apdu[pos + 5 : pos + length]
    tag = None
    if sc & SC_AUTH:
        if len(body) < TAG_LENGTH:
            raise DlmsTruncatedError("authenticated content shorter than its tag", pos + 5)
        body, tag = body[:-TAG_LENGTH], body[-TAG_LENGTH:]
    if pos + length != len(apdu):
        raise DlmsFormatError(f"{len(apdu) - pos - length} byte(s) after the ciphered content", pos + length)
    return Ciphered(CIPHERING_TAGS[apdu[0]], bytes(title), sc, ic, bytes(body), tag)


def _ctr(key: bytes, iv: bytes, data: bytes) -> bytes:
    decryptor = Cipher(algorithms.AES(key), modes.CTR(iv + b"\x00\x00\x00\x02")).decryptor()
    return decryptor.update(data) + decryptor.finalize()


def _gmac(key: bytes, iv: bytes, aad: bytes) -> bytes:
    encryptor = Cipher(algorithms.AES(key), modes.GCM(iv)).encryptor()
    encryptor.authenticate_additional_data(aad)
    encryptor.finalize()
    return encryptor.tag[:TAG_LENGTH]


def decipher(c: Ciphered, keys: DlmsKeys) -> tuple[bytes, bool]:
    """The plaintext APDU and whether its tag was checked."""
    sc = bytes((c.security_control,))
    ak = keys.authentication
    if c.encrypted:
        if keys.encryption is None:
            raise MissingKeyError(f"{c.kind}-ciphered APDU of system title {c.system_title.hex()}: no encryption key")
        if c.tag is not None and ak is not None:
            decryptor = Cipher(algorithms.AES(keys.encryption), modes.GCM(c.iv, c.tag, min_tag_length=TAG_LENGTH)).decryptor()
            decryptor.authenticate_additional_data(sc + ak)
            plain = decryptor.update(c.payload)
            try:
                return plain + decryptor.finalize(), True
            except InvalidTag:
                raise TagMismatchError(f"authentication tag of system title {c.system_title.hex()} does not verify "
                                       "(wrong encryption or authentication key, or a changed message)") from None
        return _ctr(keys.encryption, c.iv, c.payload), False
    if c.tag is not None and ak is not None:
        if keys.encryption is None:
            raise MissingKeyError("an authenticated APDU needs the encryption key to check its tag")
        if _gmac(keys.encryption, c.iv, sc + ak + c.payload) != c.tag:
            raise TagMismatchError(f"authentication tag of system title {c.system_title.hex()} does not verify")
        return c.payload, True
    return c.payload, False


def encipher(apdu: bytes, keys: DlmsKeys, system_title: bytes, counter: int, *,
             security_control: int = SC_AUTH | SC_ENC, kind: int = GLO_CIPHERING) -> bytes:
    """The ciphering APDU of ``apdu`` (the simulator's encrypted pushes; tests)."""
    if keys.encryption is None or len(system_title) != 8:
        raise ValueError("enciphering needs the encryption key and an 8-byte system title")
    iv = system_title + counter.to_bytes(4, "big")
    sc = bytes((security_control,))
    if security_control & SC_ENC:
        encryptor = Cipher(algorithms.AES(keys.encryption), modes.GCM(iv)).encryptor()
        if security_control & SC_AUTH:
            encryptor.authenticate_additional_data(sc + (keys.authentication or b""))
        body = encryptor.update(apdu) + encryptor.finalize()
        if security_control & SC_AUTH:
            body += encryptor.tag[:TAG_LENGTH]
    else:
        body = apdu + (_gmac(keys.encryption, iv, sc + (keys.authentication or b"") + apdu) if security_control & SC_AUTH else b"")
    content = sc + counter.to_bytes(4, "big") + body
    return bytes((kind, 8)) + system_title + encode_length(len(content)) + content
