"""From the bytes of a push meter's line to readings: HDLC, segments, blocks, ciphering, layouts.

How this works: a :class:`PushReader` keeps what a line needs between frames (the HDLC
decoder and reassembler, the block assembler, the meter's keys and list layouts) and turns
each ``feed`` into :class:`PushDecoded` (one message's readings) and :class:`PushFailed`
(a frame or message that was refused, and why) results, in order. Nothing already decoded
is lost when a later frame is bad, and a bad frame never stops the ones after it.

Meter time: the notification's date-time, when its deviation from UTC is given, else the
clock value in the body, is the readings' ``meter_time`` (kind LOCAL with the meter's
offset); a date-time without deviation is local time of unknown zone and is reported
(``meter_datetime``), never used as a time. Values whose scaler neither the push nor the
layout gives carry the quirk ``scaler_unknown`` (scaler 0). Encrypted messages decrypted
without an authentication key carry ``tag_unchecked``; the ``09 0C`` date-time of old
firmware ``datetime_tagged``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from smgwd.codec.dlms import (
    GBT_TAG,
    BlockAssembler,
    CosemDateTime,
    DlmsError,
    DlmsKeys,
    decode_notification,
    parse_block,
)
from smgwd.codec.dlms.mbus_link import MbusLinkDecoder, MbusRejected
from smgwd.codec.hdlc import HdlcDecoder, HdlcMessage, Reassembler, Received
from smgwd.meters.dlms.layouts import LAYOUTS, Layouts
from smgwd.meters.dlms.push import PushValues, list_identifier, push_values
from smgwd.reading import MeterTime, MeterTimeKind, Reading

__all__ = ["PushDecoded", "PushFailed", "PushReader", "notification_readings", "pending"]

SCALER_UNKNOWN = "scaler_unknown"
TAG_UNCHECKED = "tag_unchecked"


@dataclass
class PushDecoded:
    """One message and its readings."""

    readings: list[Reading]
    layout: str
    list_id: str | None
    meter_datetime: str | None  # the meter's local date-time as sent (ISO 8601, no zone)
    frames: int
    security: str | None
    quirks: tuple[str, ...] = ()
    skipped: int = 0
    system_title: bytes | None = None  # of a ciphered message: the meter's identity
    clock: CosemDateTime | None = None  # the meter clock value in the body (0-0:1.0.0), if any
    date_time: CosemDateTime | None = None  # the notification's own date-time, if any


@dataclass
class PushFailed:
    """A frame or message that was refused."""

    reason: str
    kind: str  # frame | message | security


def _meter_time(stamp: CosemDateTime | None) -> MeterTime | None:
    if stamp is None:
        return None
    instant = stamp.to_datetime()
    if instant is None or stamp.deviation is None:
        return None
    return MeterTime(MeterTimeKind.LOCAL, int(instant.timestamp()), -stamp.deviation)


def notification_readings(values: PushValues, stamp: CosemDateTime | None, quirks: tuple[str, ...]) -> list[Reading]:
    """Readings of the values of one message (meter id left empty for the driver)."""
    meter_time = _meter_time(stamp) or _meter_time(values.clock)
    out = []
    for v in values.values:
        q = quirks if v.scaler_known else (*quirks, SCALER_UNKNOWN)
        out.append(Reading("", v.obis, v.raw, v.scaler, v.unit, None, meter_time, quirks=q))
    return out


@dataclass
class PushReader:
    """One push line's state: bytes in, decoded and failed messages out."""

    keys: DlmsKeys = field(default_factory=DlmsKeys)
    layouts: Layouts = LAYOUTS
    layout: str | None = None  # a layout or family name from the configuration (else picked by list id)
    hdlc: HdlcDecoder = field(default_factory=HdlcDecoder)
    segments: Reassembler = field(default_factory=Reassembler)
    blocks: BlockAssembler = field(default_factory=BlockAssembler)
    started: bool = False  # a message decoded already (a capture may begin mid-transfer)
    transport: str = "hdlc"  # hdlc | mbus (EN 13757-2 long frames, as some Austrian meters send)
    mbus: MbusLinkDecoder = field(default_factory=MbusLinkDecoder)

    def feed(self, data: bytes) -> list[PushDecoded | PushFailed]:
        out: list[PushDecoded | PushFailed] = []
        if self.transport == "mbus":
            self.mbus.feed(data)
            for item in self.mbus:
                if isinstance(item, MbusRejected):
                    out.append(PushFailed(f"M-Bus frame refused: {item.error}", "frame"))
                    continue
                result = self.apdu(item.apdu, item.frames)
                if result is not None:
                    out.append(result)
            return out
        self.hdlc.feed(data)
        for event in self.hdlc:
            if not isinstance(event, Received):
                out.append(PushFailed(f"HDLC frame refused: {event.error}", "frame"))
                continue
            message = self.segments.add(event.frame)
            if message is not None:
                result = self.message(message)
                if result is not None:
                    out.append(result)
        return out

    def message(self, message: HdlcMessage) -> PushDecoded | PushFailed | None:
        """One reassembled HDLC message (a whole APDU, or a GBT block)."""
        return self.apdu(message.apdu, message.frames)

    def apdu(self, apdu: bytes, frames: int = 1) -> PushDecoded | PushFailed | None:
        try:
            if apdu[:1] == bytes((GBT_TAG,)):
                dropped = self.blocks.dropped
                whole = self.blocks.add(parse_block(apdu))
                if whole is None:
                    if self.blocks.dropped != dropped:
                        return PushFailed("DlmsBlockError: a new transfer began before the last block of the one "
                                          "before: that message is dropped", "message")
                    return None
                apdu = whole
            note = decode_notification(apdu, self.keys)
        except DlmsError as error:
            kind = "security" if type(error).__name__ in ("WrongKeyError", "TagMismatchError", "MissingKeyError") \
                else "message"
            return PushFailed(f"{type(error).__name__}: {error}", kind)
        list_id, count = list_identifier(note.body)
        values = push_values(note.body, self.layouts.pick(self.layout, list_id, count))
        quirks = note.quirks + ((TAG_UNCHECKED,) if note.security and not note.tag_checked else ())
        stamp = note.date_time
        shown = stamp or values.clock
        self.started = True
        return PushDecoded(notification_readings(values, stamp, quirks), values.layout, values.list_id,
                           shown.local_isoformat() if shown is not None else None, frames, note.security, quirks,
                           values.skipped, note.system_title, values.clock, note.date_time)


def pending(reader: PushReader) -> bool:
    """A message has begun and not ended (its last segment, block or M-Bus frame is missing)."""
    return bool(reader.segments.pending or reader.blocks.pending or reader.mbus.pending or reader.hdlc.buffered > 1)
