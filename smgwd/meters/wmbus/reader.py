"""From wireless M-Bus telegrams to readings: keys, compact formats, duplicates, one warning per meter.

How this works: :class:`TelegramReader` owns what a receiver must remember between
telegrams, and nothing else (no I/O, no clock of its own: the caller passes a monotonic
time where duplicates matter).

- Keys: per meter ID, from the config (never logged, never in an error text).
- Compact frames: the record headers of every full frame are remembered under their
  format signature (CRC-16/EN-13757 of the headers) and the meter model (manufacturer,
  version, device type), so a compact frame of that model decodes once one full frame
  was seen. At most ``max_formats`` formats are kept.
- Duplicates: the same meter, access number and decrypted application bytes again within
  ``duplicate_window`` seconds (a repeater, a second dongle, rtl_wmbus decoding twice) is
  a duplicate; a meter that really sends the same values again increments its access
  number, or is heard after the window.
- Problems: each telegram that cannot be read gives a :class:`WmbusError`; ``first`` says
  whether this meter had no problem of this kind before (log that one, count the rest). A
  record area that breaks off keeps the records before the break (``problem`` names it).
- Partial encryption: readings of records after the encrypted blocks of an encrypted
  telegram carry the quirk ``outside_encryption`` (they came in the clear).

Readings carry the meter ID of the telegram (long transport header address, else link
address), an OBIS code from :mod:`.obis_map`, the raw integer, scaler and DLMS unit, the
transport layer's status byte (alarm, battery low, errors: EN 13757-7) as status, and
no meter time: an M-Bus date/time record is local time without a zone, so it is reported
beside the readings (``meter_datetime``), never as their time.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from smgwd.codec.mbus import MbusDateTime, MbusError, Record, decode_compact, decode_records, record_headers
from smgwd.codec.wmbus import Content, KeySource, LinkCrc, Telegram, WmbusError, decode_telegram, format_signature
from smgwd.meters.wmbus.obis_map import record_obis, record_unit
from smgwd.reading import Reading

__all__ = ["OUTSIDE_ENCRYPTION", "CompactFormatError", "TelegramReader", "TelegramResult", "WmbusReading"]

#: quirk of a reading from a record after the encrypted blocks of an encrypted telegram:
#: sent in the clear, so neither secret nor covered by the decryption check
OUTSIDE_ENCRYPTION = "outside_encryption"


class CompactFormatError(WmbusError):
    """A compact frame whose full frame (with the same format signature) was not seen yet."""

    def __init__(self, meter_id: str, signature: int) -> None:
        self.meter_id = meter_id
        super().__init__(f"compact frame from meter {meter_id} with format signature 0x{signature:04X}: no full frame of this format seen yet")


@dataclass(frozen=True, slots=True)
class WmbusReading:
    """A reading and the M-Bus record it came from (quantity, storage, tariff, function)."""

    reading: Reading
    record: Record


@dataclass(slots=True)
class TelegramResult:
    """What one telegram gave: readings, or the problem; ``duplicate`` ones give no readings."""

    telegram: Telegram | None
    records: tuple[Record, ...] = ()
    readings: list[WmbusReading] = field(default_factory=list)
    meter_datetime: MbusDateTime | None = None
    error: WmbusError | MbusError | None = None
    first: bool = False
    duplicate: bool = False
    rssi: float | None = None  # dBm, when the receiver reports it
    problem: MbusError | None = None  # records after this one were not decodable (the ones before are kept)

    @property
    def meter_id(self) -> str | None:
        if self.telegram is not None:
            return self.telegram.meter_id
        return getattr(self.error, "meter_id", None)


_ModelKey = tuple[int, int, int, int]  # m-field, version, device type, signature


class TelegramReader:
    """Decode telegrams of many meters in arrival order (one reader per receiver)."""

    def __init__(
        self,
        keys: KeySource = None,
        *,
        link_crc: LinkCrc | str = LinkCrc.AUTO,
        duplicate_window: float = 60.0,
        max_formats: int = 1024,
        max_recent: int = 4096,
    ) -> None:
        self.keys = keys
        self.link_crc = LinkCrc(link_crc)
        self.duplicate_window = duplicate_window
        self.max_formats = max_formats
        self.max_recent = max_recent
        self._formats: OrderedDict[_ModelKey, bytes] = OrderedDict()
        self._recent: OrderedDict[tuple[str, int | None, bytes], float] = OrderedDict()
        self._problems: set[tuple[str, str]] = set()
        self.telegrams = 0
        self.decoded = 0
        self.duplicates = 0
        self.errors: dict[str, int] = {}

    def read(self, data: bytes, now: float | None = None, *, allow_trailing: bool = False) -> TelegramResult:
        """Decode one telegram (from its L-field). ``now`` (monotonic seconds) enables duplicate suppression."""
        self.telegrams += 1
        try:
            tel = decode_telegram(data, self.keys, link_crc=self.link_crc, allow_trailing=allow_trailing)
        except WmbusError as error:
            return self._failed(None, error)
        problem = None
        try:
            records = self._records(tel)
        except MbusError as error:
            records = self._salvage(tel, error)
            if not records:
                return self._failed(tel, error)
            problem = error
        except WmbusError as error:
            return self._failed(tel, error)
        if now is not None and self._seen(tel, now):
            self.duplicates += 1
            return TelegramResult(tel, records, duplicate=True)
        self.decoded += 1
        readings, when = self._readings(tel, records)
        first = problem is not None and self._count(tel.meter_id, problem)
        return TelegramResult(tel, records, readings, when, problem=problem, first=first)

    @staticmethod
    def _salvage(tel: Telegram, error: MbusError) -> tuple[Record, ...]:
        """The records before an undecodable one (a bad record must not take the good ones with it)."""
        if tel.tpl.content is not Content.APL or error.offset is None or error.offset <= tel.payload_offset:
            return ()
        try:
            return decode_records(tel.frame[: error.offset], offset=tel.payload_offset)
        except MbusError:
            return ()

    def _failed(self, tel: Telegram | None, error: WmbusError | MbusError) -> TelegramResult:
        meter = tel.meter_id if tel is not None else getattr(error, "meter_id", None)
        return TelegramResult(tel, error=error, first=self._count(meter, error))

    def _count(self, meter: str | None, error: Exception) -> bool:
        """Count a problem; True when this meter had none of its kind before."""
        kind = type(error).__name__
        self.errors[kind] = self.errors.get(kind, 0) + 1
        if meter is None or (meter, kind) in self._problems:
            return False
        if len(self._problems) < 65536:
            self._problems.add((meter, kind))
        return True

    def forget_problem(self, meter_id: str) -> None:
        """After a key change: the next problem of this meter is reported again."""
        self._problems = {p for p in self._problems if p[0] != meter_id}

    def _records(self, tel: Telegram) -> tuple[Record, ...]:
        content = tel.tpl.content
        if content is Content.APL:
            records = decode_records(tel.frame, offset=tel.payload_offset)
            headers = record_headers(tel.payload)
            if headers:
                self._remember(tel, format_signature(headers), headers)
            return records
        if content is Content.COMPACT and tel.compact is not None:
            signature = tel.compact.format_signature
            known = self._formats.get(self._model(tel, signature))
            if known is None:
                raise CompactFormatError(tel.meter_id, signature)
            return decode_compact(known, tel.frame, offset=tel.payload_offset)
        return ()

    @staticmethod
    def _model(tel: Telegram, signature: int) -> _ModelKey:
        meter = tel.meter
        return (meter.m_field & 0x7FFF, meter.version, meter.device_type, signature)

    def _remember(self, tel: Telegram, signature: int, headers: bytes) -> None:
        key = self._model(tel, signature)
        if key in self._formats:
            self._formats.move_to_end(key)
            return
        self._formats[key] = headers
        if len(self._formats) > self.max_formats:
            self._formats.popitem(last=False)

    def _seen(self, tel: Telegram, now: float) -> bool:
        key = (tel.meter_id, tel.tpl.access_number, tel.payload)
        last = self._recent.get(key)
        self._recent[key] = now
        self._recent.move_to_end(key)
        while len(self._recent) > self.max_recent:
            self._recent.popitem(last=False)
        return last is not None and now - last <= self.duplicate_window

    @staticmethod
    def _readings(tel: Telegram, records: tuple[Record, ...]) -> tuple[list[WmbusReading], MbusDateTime | None]:
        meter = tel.meter
        out = []
        when = None
        for rec in records:
            if rec.quantity == "date_time" and rec.storage == 0 and when is None and isinstance(rec.raw, MbusDateTime):
                when = rec.raw
                continue
            if not rec.valid:
                continue
            end = rec.offset + len(rec.dif_bytes) + len(rec.vif_bytes) + len(rec.data)
            outside = tel.encrypted_end is not None and end > tel.encrypted_end
            obis = record_obis(meter.device_type, rec)
            if obis is None or not isinstance(rec.raw, int):
                continue
            unit = record_unit(rec)
            if unit is None and rec.unit is not None:
                continue  # a unit DLMS cannot name (ft3, °F, ...): no reading rather than a wrong one
            quirks = (OUTSIDE_ENCRYPTION,) if outside else ()
            out.append(WmbusReading(Reading(meter.id, obis, rec.raw, rec.scaler, unit, tel.tpl.status, quirks=quirks), rec))
        return out, when
