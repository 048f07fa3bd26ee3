"""The APDUs a push meter sends: Data-Notification, plain or inside glo/ded ciphering.

How this works: :func:`decode_notification` takes one whole APDU (HDLC segments and GBT
blocks already joined). A ciphering APDU is deciphered with the meter's keys
(:mod:`.ciphering`) and what it holds is decoded in turn (once: ciphering inside ciphering
is refused). A Data-Notification is ``0F, long-invoke-id-and-priority (4), date-time
(A-XDR octet string: 00 = absent, 0C + 12 octets), notification body (one Data)``. Old
Kaifa and Kamstrup firmware writes the date-time with an extra octet-string tag
(``09 0C`` + 12): accepted and named as the quirk ``datetime_tagged``. Bytes after the body
are an error. Without an authentication key an encrypted APDU that does not decode is a
:class:`WrongKeyError`: a wrong key is never taken for data.
"""

from __future__ import annotations

from typing import NamedTuple

from smgwd.codec.dlms.axdr import Data, decode_data
from smgwd.codec.dlms.blocks import GBT_TAG
from smgwd.codec.dlms.ciphering import CIPHERING_TAGS, DlmsKeys, decipher, parse_ciphered
from smgwd.codec.dlms.dates import CosemDateTime, decode_date_time
from smgwd.codec.dlms.errors import DlmsError, DlmsFormatError, DlmsTruncatedError, DlmsUnsupportedError, WrongKeyError

__all__ = ["DATA_NOTIFICATION", "DataNotification", "decode_notification", "encode_notification"]

DATA_NOTIFICATION = 0x0F
_KNOWN = {0x60: "AARQ", 0x61: "AARE", 0x62: "RLRQ", 0x63: "RLRE", 0xC0: "get-request", 0xC1: "set-request",
          0xC2: "event-notification", 0xC3: "action-request", 0xC4: "get-response", 0xC5: "set-response",
          0xC7: "action-response", 0xC8: "glo-get-request", 0xCC: "glo-get-response", 0xD8: "exception-response",
          0x0E: "confirmed-service-error", 0xDD: "general-ciphering", GBT_TAG: "general-block-transfer"}


class DataNotification(NamedTuple):
    invoke_id: int  # long-invoke-id-and-priority
    date_time: CosemDateTime | None
    body: Data
    quirks: tuple[str, ...] = ()
    security: str | None = None  # None, "glo" or "ded"
    system_title: bytes | None = None
    tag_checked: bool = False


def _plain(apdu: bytes) -> DataNotification:
    if not apdu:
        raise DlmsTruncatedError("empty APDU", 0)
    tag = apdu[0]
    if tag != DATA_NOTIFICATION:
        name = _KNOWN.get(tag)
        if name:
            raise DlmsUnsupportedError(f"a {name} APDU (0x{tag:02X}), not a Data-Notification", 0)
        raise DlmsFormatError(f"unknown APDU tag 0x{tag:02X}", 0)
    if len(apdu) < 6:
        raise DlmsTruncatedError("Data-Notification shorter than its invoke id and date-time", len(apdu))
    invoke = int.from_bytes(apdu[1:5], "big")
    pos = 5
    quirks: list[str] = []
    first = apdu[pos]
    if first == 0x09 and pos + 1 < len(apdu) and apdu[pos + 1] == 12:
        quirks.append("datetime_tagged")
        pos += 1
        first = apdu[pos]
    date_time = None
    if first == 0:
        pos += 1
    elif first == 12:
        if pos + 13 > len(apdu):
            raise DlmsTruncatedError("APDU ends inside the notification date-time", pos)
        date_time = decode_date_time(bytes(apdu[pos + 1 : pos + 13]))
        pos += 13
    else:
        raise DlmsFormatError(f"notification date-time of {first} octets (0 or 12 are defined)", pos)
    body, end = decode_data(apdu, pos)
    if end != len(apdu):
        raise DlmsFormatError(f"{len(apdu) - end} byte(s) after the notification body", end)
    return DataNotification(invoke, date_time, body, tuple(quirks))


def decode_notification(apdu: bytes, keys: DlmsKeys | None = None) -> DataNotification:
    """Decode a (maybe ciphered) Data-Notification APDU."""
    apdu = bytes(apdu)
    if apdu[:1] and apdu[0] in CIPHERING_TAGS:
        ciphered = parse_ciphered(apdu)
        plain, checked = decipher(ciphered, keys or DlmsKeys())
        try:
            if plain[:1] and plain[0] in CIPHERING_TAGS:  # inside the try: a wrong key gives DB/DC too
                raise DlmsFormatError("ciphering inside ciphering", 0)
            note = _plain(plain)
        except DlmsError as error:
            if ciphered.encrypted and not checked:
                raise WrongKeyError(f"the encryption key of system title {ciphered.system_title.hex()} gives no APDU "
                                    f"({error.what}): is it the meter's key?") from None
            raise
        return note._replace(security=ciphered.kind, system_title=ciphered.system_title, tag_checked=checked)
    return _plain(apdu)


def encode_notification(body: bytes, invoke_id: int = 0, date_time: bytes | None = None) -> bytes:
    """A Data-Notification APDU around an encoded ``body`` (the simulator's pushes)."""
    if date_time is not None and len(date_time) != 12:
        raise ValueError("a notification date-time has 12 octets")
    stamp = b"\x00" if date_time is None else b"\x0c" + date_time
    return bytes((DATA_NOTIFICATION,)) + invoke_id.to_bytes(4, "big") + stamp + body
