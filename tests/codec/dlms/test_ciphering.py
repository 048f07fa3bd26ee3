"""general-glo/ded-ciphering: the Green Book AES-GCM vector (dlms.md §3) both ways, every security
control the meters use, wrong and missing keys, changed messages, and a wrong key never taken for data.

Expected bytes come from the vector; where a case has none (authentication only), the tag is
computed here with ``cryptography``'s AES-GCM directly, from the rule the reference states
(IV = system title || IC, AAD = SC || AK [|| plaintext], tag cut to 12 bytes).
"""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from smgwd.codec.dlms import (
    Data,
    DataType,
    DlmsFormatError,
    DlmsKeys,
    DlmsTruncatedError,
    DlmsUnsupportedError,
    MissingKeyError,
    TagMismatchError,
    WrongKeyError,
    decode_notification,
    encipher,
    encode_data,
    encode_notification,
)
from smgwd.codec.dlms.ciphering import decipher, parse_ciphered

EK = bytes(range(16))
AK = bytes(range(0xD0, 0xE0))
TITLE = bytes.fromhex("4D4D4D0000BC614E")
IC = 0x01234567
PLAIN = bytes.fromhex("C0010000080000010000FF0200")
SEALED = bytes.fromhex("411312FF935A47566827C467BC7D825C3BE4A77C3FCC056B6B")  # ciphertext (13) + tag (12)
VECTOR = bytes.fromhex("DB08") + TITLE + bytes((1 + 4 + len(SEALED), 0x30)) + IC.to_bytes(4, "big") + SEALED
KEYS = DlmsKeys(EK, AK)


def apdu(sc: int, body: bytes, tag: int = 0xDB, title: bytes = TITLE, ic: int = IC) -> bytes:
    return bytes((tag, 8)) + title + bytes((1 + 4 + len(body), sc)) + ic.to_bytes(4, "big") + body


def test_vector_layout() -> None:
    assert len(SEALED) == len(PLAIN) + 12
    assert VECTOR.hex().upper() == ("DB084D4D4D0000BC614E1E3001234567" "411312FF935A47566827C467BC7D825C3BE4A77C3FCC056B6B")


def test_green_book_vector_enciphers() -> None:
    assert encipher(PLAIN, KEYS, TITLE, IC) == VECTOR
    assert encipher(PLAIN, KEYS, TITLE, IC, security_control=0x30, kind=0xDC) == b"\xdc" + VECTOR[1:]


def test_green_book_vector_deciphers() -> None:
    c = parse_ciphered(VECTOR)
    assert (c.kind, c.system_title, c.security_control, c.invocation_counter) == ("glo", TITLE, 0x30, IC)
    assert c.payload == SEALED[:-12] and c.tag == SEALED[-12:]
    assert c.encrypted and c.authenticated and c.iv == TITLE + IC.to_bytes(4, "big")
    assert decipher(c, KEYS) == (PLAIN, True)
    assert parse_ciphered(b"\xdc" + VECTOR[1:]).kind == "ded"


@pytest.mark.parametrize("keys", [DlmsKeys(EK, bytes(16)), DlmsKeys(EK, AK[:-1] + b"\x00"), DlmsKeys(bytes(16), AK),
                                  DlmsKeys(EK[::-1], AK)], ids=["zero-ak", "ak-changed", "zero-ek", "ek-reversed"])
def test_wrong_key_fails_the_tag(keys: DlmsKeys) -> None:
    with pytest.raises(TagMismatchError):
        decipher(parse_ciphered(VECTOR), keys)


@pytest.mark.parametrize("index", range(2, len(VECTOR)))
def test_changed_byte_fails_the_tag(index: int) -> None:
    if index == 10 or index == 11:  # the content length and the security control: other errors
        return
    bad = bytearray(VECTOR)
    bad[index] ^= 0x01
    with pytest.raises(TagMismatchError):
        decipher(parse_ciphered(bytes(bad)), KEYS)


def test_changed_security_control_is_caught() -> None:
    bad = bytearray(VECTOR)
    bad[11] = 0x31  # suite 1: same algorithm, different AAD
    with pytest.raises(TagMismatchError):
        decipher(parse_ciphered(bytes(bad)), KEYS)


def test_no_authentication_key_decrypts_unchecked() -> None:
    assert decipher(parse_ciphered(VECTOR), DlmsKeys(EK)) == (PLAIN, False)
    assert decipher(parse_ciphered(VECTOR), DlmsKeys(bytes(16)))[1] is False  # nothing to tell a wrong key by


def test_encryption_only() -> None:
    expected = apdu(0x20, SEALED[:13])  # GCM's ciphertext does not depend on the AAD
    assert encipher(PLAIN, KEYS, TITLE, IC, security_control=0x20) == expected
    assert encipher(PLAIN, DlmsKeys(EK), TITLE, IC, security_control=0x20) == expected
    c = parse_ciphered(expected)
    assert c.tag is None and c.encrypted and not c.authenticated
    assert decipher(c, DlmsKeys(EK)) == (PLAIN, False)
    assert decipher(c, KEYS) == (PLAIN, False)  # no tag to check
    # TINETZ: suite 1, encryption only
    assert decipher(parse_ciphered(apdu(0x21, SEALED[:13])), DlmsKeys(EK)) == (PLAIN, False)
    with pytest.raises(MissingKeyError):
        decipher(c, DlmsKeys(authentication=AK))


def gmac(sc: int, plaintext: bytes, ek: bytes = EK, ak: bytes = AK) -> bytes:
    return AESGCM(ek).encrypt(TITLE + IC.to_bytes(4, "big"), b"", bytes((sc,)) + ak + plaintext)[:12]


def test_authentication_only() -> None:
    expected = apdu(0x10, PLAIN + gmac(0x10, PLAIN))
    assert encipher(PLAIN, KEYS, TITLE, IC, security_control=0x10) == expected
    c = parse_ciphered(expected)
    assert c.payload == PLAIN and c.tag == gmac(0x10, PLAIN) and not c.encrypted and c.authenticated
    assert decipher(c, KEYS) == (PLAIN, True)
    assert decipher(c, DlmsKeys(EK)) == (PLAIN, False)  # no AK: not checked
    with pytest.raises(MissingKeyError):
        decipher(c, DlmsKeys(authentication=AK))
    for index in range(len(PLAIN)):
        bad = bytearray(expected)
        bad[16 + index] ^= 0x80
        with pytest.raises(TagMismatchError):
            decipher(parse_ciphered(bytes(bad)), KEYS)
    with pytest.raises(TagMismatchError):
        decipher(c, DlmsKeys(EK, bytes(16)))


def test_no_security() -> None:
    c = parse_ciphered(apdu(0x00, PLAIN))
    assert decipher(c, DlmsKeys()) == (PLAIN, False)


@pytest.mark.parametrize("sc", [0xB0, 0x80, 0x90, 0x33, 0x3F, 0x13, 0x23])
def test_unsupported_security_control(sc: int) -> None:
    with pytest.raises(DlmsUnsupportedError):
        parse_ciphered(apdu(sc, SEALED))


@pytest.mark.parametrize("cut", range(1, len(VECTOR)))
def test_truncated(cut: int) -> None:
    with pytest.raises(DlmsTruncatedError):
        parse_ciphered(VECTOR[:cut])


def test_malformed() -> None:
    for bad in (b"", b"\x0f" + VECTOR[1:], VECTOR + b"\x00",  # not ciphering, a byte after the content
                b"\xdb\x07" + TITLE[:7] + VECTOR[10:], b"\xdb\x09" + TITLE + b"\x00" + VECTOR[10:]):  # title sizes
        with pytest.raises(DlmsFormatError) as exc:
            parse_ciphered(bad)
        assert not isinstance(exc.value, DlmsTruncatedError), bad.hex()
    # content too short for SC and IC
    with pytest.raises(DlmsFormatError):
        parse_ciphered(b"\xdb\x08" + TITLE + b"\x04\x30\x00\x00\x00")
    # authenticated content shorter than its tag
    with pytest.raises(DlmsTruncatedError):
        parse_ciphered(apdu(0x30, bytes(11)))


def test_long_content_length_form() -> None:
    plain = bytes(300)
    sealed = encipher(plain, KEYS, TITLE, IC)
    assert sealed[10:13] == bytes.fromhex("82013D")  # 1 + 4 + 300 + 12 = 317
    assert decipher(parse_ciphered(sealed), KEYS) == (plain, True)


def test_encipher_needs_its_inputs() -> None:
    with pytest.raises(ValueError):
        encipher(PLAIN, DlmsKeys(authentication=AK), TITLE, IC)
    with pytest.raises(ValueError):
        encipher(PLAIN, KEYS, TITLE[:7], IC)


@settings(max_examples=100)
@given(st.binary(max_size=600), st.sampled_from([0x30, 0x20, 0x10, 0x00, 0x31, 0x22]), st.integers(0, 2**32 - 1),
       st.sampled_from([16, 32]))
def test_round_trip(plain: bytes, sc: int, ic: int, key_size: int) -> None:
    keys = DlmsKeys(bytes(range(key_size)), AK)
    sealed = encipher(plain, keys, TITLE, ic, security_control=sc)
    assert (plain in sealed) == (not sc & 0x20) or len(plain) < 4
    assert decipher(parse_ciphered(sealed), keys) == (plain, bool(sc & 0x10))


# --- Data-Notification inside ciphering --------------------------------------------------------

BODY = encode_data(Data(DataType.STRUCTURE, (Data(DataType.OCTET_STRING, bytes.fromhex("0100010800FF")),
                                             Data(DataType.DOUBLE_LONG_UNSIGNED, 123456))))
NOTE = encode_notification(BODY, 0x40000001, bytes.fromhex("07E50713010F2E2300FF8880"))
SEALED_NOTE = encipher(NOTE, KEYS, TITLE, 7)


def test_ciphered_notification() -> None:
    note = decode_notification(SEALED_NOTE, KEYS)
    assert note.invoke_id == 0x40000001 and note.body.value[1] == Data(DataType.DOUBLE_LONG_UNSIGNED, 123456)  # type: ignore[index]
    assert (note.security, note.system_title, note.tag_checked) == ("glo", TITLE, True)
    note = decode_notification(SEALED_NOTE, DlmsKeys(EK))
    assert (note.security, note.tag_checked) == ("glo", False)
    ded = decode_notification(encipher(NOTE, KEYS, TITLE, 7, kind=0xDC), KEYS)
    assert ded.security == "ded"


def test_missing_key() -> None:
    for keys in (None, DlmsKeys(), DlmsKeys(authentication=AK)):
        with pytest.raises(MissingKeyError):
            decode_notification(SEALED_NOTE, keys)


def test_wrong_key_with_authentication_key_is_a_tag_mismatch() -> None:
    with pytest.raises(TagMismatchError):
        decode_notification(SEALED_NOTE, DlmsKeys(bytes(16), AK))


def _keystream_first_byte(key: bytes, counter: int) -> int:
    iv = TITLE + counter.to_bytes(4, "big") + b"\x00\x00\x00\x02"
    encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return (encryptor.update(iv) + encryptor.finalize())[0]


def test_wrong_key_that_decrypts_to_a_ciphering_tag() -> None:
    """About 1 wrong key in 128 turns the first byte into 0xDB or 0xDC ("ciphering inside ciphering")."""
    first = SEALED_NOTE[16]  # the first ciphertext byte
    key = next(k for k in (n.to_bytes(16, "big") for n in range(1, 100_000))
               if first ^ _keystream_first_byte(k, 7) in (0xDB, 0xDC))
    with pytest.raises(WrongKeyError):
        decode_notification(SEALED_NOTE, DlmsKeys(key))


@settings(max_examples=200)
@given(st.binary(min_size=16, max_size=16).filter(lambda k: k != EK))
def test_wrong_key_never_taken_for_data(key: bytes) -> None:
    with pytest.raises(WrongKeyError):
        decode_notification(SEALED_NOTE, DlmsKeys(key))


def test_ciphering_inside_ciphering() -> None:
    double = encipher(SEALED_NOTE, KEYS, TITLE, 8)
    with pytest.raises(DlmsFormatError) as exc:
        decode_notification(double, KEYS)
    assert not isinstance(exc.value, WrongKeyError)


def test_keys_do_not_show() -> None:
    keys = DlmsKeys(bytes.fromhex("A1B2C3D4E5F60718293A4B5C6D7E8F90"), bytes.fromhex("0F1E2D3C4B5A69788796A5B4C3D2E1F0"))
    for text in (repr(keys), str(keys), f"{keys}", f"{keys!r}", repr([keys]), repr({"k": keys})):
        for key in keys:
            assert key.hex() not in text.lower()
            assert repr(key) not in text
            assert key.hex()[:8] not in text.lower()
    assert "set" in repr(keys)
    assert repr(DlmsKeys()) == "DlmsKeys(encryption=None, authentication=None)"
    try:
        decipher(parse_ciphered(VECTOR), DlmsKeys(keys.encryption, keys.authentication))
    except TagMismatchError as error:
        assert keys.encryption.hex() not in str(error).lower()  # type: ignore[union-attr]
