"""EN 13757-3 data records: a record area in, a tuple of :class:`Record` out.

How this works: one pass with a byte cursor. A record is a header (DIF, up to 10 DIFEs, VIF,
for a plain-text VIF a length byte and the reversed ASCII unit, up to 10 VIFEs) and a
data field whose size the DIF gives (or, for variable length, the LVAR byte in front of it).
The header is first only measured (bytes with the extension bit, which needs no table), then
looked up in a bounded cache of parsed headers: meters repeat the same headers in every
telegram, so the table work is done once per header and decoding is mostly slicing and
``int.from_bytes``. Every read is bounds checked, so any input ends in records or an
:class:`~smgwd.codec.mbus.errors.MbusError` naming the byte offset.

Special DIFs: 0x2F is an idle filler and skipped; 0x0F / 0x1F start manufacturer specific
data that runs to the end of the area and is kept raw in one record (quantity
``manufacturer_data``; 0x1F adds the extension ``more_records_follow``); the other special
DIFs (0x3F..0x7F, 0x8F..0xFF with the low nibble 0xF) are reserved or master-to-slave only and
raise :class:`MbusReservedError`, since their length is unknown.

Values (``Record.raw``): integers as ``int`` (type B signed, or unsigned for identifiers and
flags, see :mod:`.tables`), BCD as ``int`` (a top nibble 0xF means negative: ``F1 23`` read
as 4-digit BCD is -123; other non-decimal digits give ``raw=None``, ``valid=False``), a 32-bit
real as an exact :class:`decimal.Decimal` of the IEEE single value (no float is kept; NaN and
infinities give ``raw=None``, ``valid=False``), LVAR text as ``str`` (ISO 8859-1, last
character first on the wire, as libmbus reads it), LVAR BCD and binary numbers as ``int``
(LVAR byte per EN 13757-3:2013 table 5: 0x00-0xBF text, 0xC0-0xCF / 0xD0-0xDF positive /
negative BCD of ``LVAR & 0x0F`` bytes, 0xE0-0xEF binary of ``LVAR - 0xE0`` bytes, 0xF0-0xF4
binary of ``4 * (LVAR - 0xEC)`` bytes, 0xF5 / 0xF6 binary of 48 / 64 bytes, 0xF7-0xFF
reserved; the 2004 edition's "0xF0-0xFA floating point, to be defined" is not used), dates as
:class:`~smgwd.codec.mbus.dates.MbusDateTime`, "no data" and "selection for readout" as
``None``. The scaler is the VIF's power of ten plus any multiplicative correction VIFE
(0x70-0x77: 10^(n-6), 0x7D: 10^3); the value is ``raw * 10**scaler`` in ``unit``.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from decimal import Decimal
from math import isfinite
from typing import Union

from smgwd.codec.mbus import tables as _t
from smgwd.codec.mbus.dates import MbusDateTime, decode_date_time
from smgwd.codec.mbus.errors import (
    MbusCompactError,
    MbusExtensionError,
    MbusReservedError,
    MbusTruncatedError,
)

__all__ = ["Function", "Record", "RawValue", "decode_records", "decode_compact", "record_headers"]

_MAX_EXTENSIONS = 10
_CACHE_LIMIT = 4096
_UNPACK_F32 = struct.Struct("<f").unpack


class Function(enum.IntEnum):
    """DIF function field (bits 4-5)."""

    INSTANTANEOUS = 0
    MAXIMUM = 1
    MINIMUM = 2
    ERROR = 3


RawValue = Union[int, bytes, str, Decimal, MbusDateTime, None]


@dataclass(frozen=True, slots=True)
class Record:
    """One EN 13757-3 data record.

    Attributes:
        offset: byte offset of the DIF in the decoder's input.
        dif_bytes: DIF and DIFEs as sent.
        vif_bytes: VIF, VIFEs and (plain-text VIF) the length byte and unit text, as sent;
            ``dif_bytes + vif_bytes`` is the record header a compact frame leaves out.
        data: the data field as sent (without the LVAR byte of a variable-length field).
        coding: data field coding: ``none``, ``int8`` .. ``int64``, ``real32``,
            ``bcd2`` .. ``bcd12``, ``selection``, the variable-length ``text``, ``lvar_bcd``,
            ``lvar_binary``, ``lvar_bytes`` (a text-range LVAR under a date/time
            VIF, e.g. type M, or a compact profile VIFE 0x13/0x1E/0x1F), or ``manufacturer`` (DIF 0x0F/0x1F data).
        function: DIF function field.
        storage: storage number (DIF bit 6 and DIFE bits 0-3).
        tariff: tariff (DIFE bits 4-5).
        subunit: subunit / device (DIFE bit 6).
        quantity: stable snake_case name (``energy``, ``volume``, ``date_time``, ...;
            ``vif_0x..`` / ``vif_0xfd_0x..`` for codes not in the tables).
        unit: canonical unit (see :mod:`.tables`), the meter's text for a plain-text VIF,
            or ``None``.
        scaler: power of ten: the value is ``raw * 10**scaler`` in ``unit``.
        raw: the decoded value (see the module docstring).
        valid: False when the data field could not be read as its type (non-decimal BCD
            digit, NaN, date field out of range).
        extensions: meanings of the combinable VIFEs, in order (``accumulation_if_negative``,
            ``per_hour``, ``at_phase_l1``, ``multiplicative_correction_1e-3``, ``vife_0x..``).
    """

    offset: int
    dif_bytes: bytes
    vif_bytes: bytes
    data: bytes
    coding: str
    function: Function
    storage: int
    tariff: int
    subunit: int
    quantity: str
    unit: str | None
    scaler: int
    raw: RawValue
    valid: bool
    extensions: tuple[str, ...]

    @property
    def header(self) -> bytes:
        """DIF/DIFEs and VIF/VIFEs together, as in a compact frame's format signature."""
        return self.dif_bytes + self.vif_bytes


class _Header:
    """A parsed record header (cached by its bytes; immutable once built)."""

    __slots__ = (
        "dif_bytes",
        "vif_bytes",
        "dif_code",
        "length",
        "coding",
        "function",
        "storage",
        "tariff",
        "subunit",
        "quantity",
        "unit",
        "scaler",
        "kind",
        "extensions",
    )

    dif_bytes: bytes
    vif_bytes: bytes
    dif_code: int
    length: int
    coding: str
    function: Function
    storage: int
    tariff: int
    subunit: int
    quantity: str
    unit: str | None
    scaler: int
    kind: str
    extensions: tuple[str, ...]


_FUNCTIONS = tuple(Function)
_cache: dict[bytes, _Header] = {}


def _measure(data: bytes, pos: int, end: int) -> int:
    """End offset of the header starting at ``pos`` (the DIF at ``pos`` is not special).

    Order on the wire: DIF, DIFEs, VIF, for a plain-text VIF its length byte and text, then
    the VIFEs (as libmbus reads it, and as the Elvaco CMa10 frames need).
    """
    start = pos
    b = data[pos]
    pos += 1
    count = 0
    while b & 0x80:  # DIFEs
        if pos >= end:
            raise MbusTruncatedError("record header cut in its DIFEs", start)
        count += 1
        if count > _MAX_EXTENSIONS:
            raise MbusExtensionError("more than 10 DIFEs", start)
        b = data[pos]
        pos += 1
    if pos >= end:
        raise MbusTruncatedError("record without VIF", start)
    b = data[pos]
    pos += 1
    if b & 0x7F == 0x7C:  # plain-text unit: length byte, then the characters
        if pos >= end:
            raise MbusTruncatedError("plain-text VIF without its length", start)
        pos += 1 + data[pos]
        if pos > end:
            raise MbusTruncatedError("plain-text VIF unit cut short", start)
    count = 0
    while b & 0x80:  # VIFEs
        if pos >= end:
            raise MbusTruncatedError("record header cut in its VIFEs", start)
        count += 1
        if count > _MAX_EXTENSIONS:
            raise MbusExtensionError("more than 10 VIFEs", start)
        b = data[pos]
        pos += 1
    return pos


def _combinable(vifes: bytes, scaler: int, kind: str) -> tuple[tuple[str, ...], int, str]:
    """Meanings of the combinable VIFEs; returns (extensions, scaler, kind)."""
    out: list[str] = []
    i, n = 0, len(vifes)
    while i < n:
        c = vifes[i] & 0x7F
        i += 1
        if 0x70 <= c <= 0x77:
            scaler += c - 0x76
            out.append(f"multiplicative_correction_1e{c - 0x76}")
        elif c == 0x7D:
            scaler += 3
            out.append("multiplicative_correction_1e3")
        elif 0x78 <= c <= 0x7B:
            out.append(f"additive_correction_1e{c - 0x7B}")
        elif c == 0x7C:
            if i < n:
                e = vifes[i] & 0x7F
                i += 1
                out.append(_t.COMBINABLE_FC.get(e) or f"vife_0xfc_0x{e:02x}")
            else:
                out.append("vife_0x7c")
        elif c == 0x7F:
            out.append("manufacturer_specific")
            out.extend(f"manufacturer_vife_0x{b:02x}" for b in vifes[i:])
            break
        else:
            name = _t.COMBINABLE.get(c)
            out.append(name or f"vife_0x{c:02x}")
            if c in _t.DATE_VIFES:
                kind = "datetime"
            elif c in _t.PROFILE_VIFES:
                kind = "profile"
    return tuple(out), scaler, kind


def _parse_header(hb: bytes) -> _Header:
    """Parse a measured header (DIF is not special)."""
    dif = hb[0]
    h = _Header()
    h.dif_code = code = dif & 0x0F
    h.length = _t.DATA_LENGTH[code]
    h.coding = _t.CODING[code]
    h.function = _FUNCTIONS[(dif >> 4) & 0x03]
    storage = (dif >> 6) & 0x01
    tariff = subunit = 0
    i = 1
    n = 0
    b = dif
    while b & 0x80:
        b = hb[i]
        storage |= (b & 0x0F) << (1 + 4 * n)
        tariff |= ((b >> 4) & 0x03) << (2 * n)
        subunit |= ((b >> 6) & 0x01) << n
        i += 1
        n += 1
    h.storage, h.tariff, h.subunit = storage, tariff, subunit
    h.dif_bytes = hb[:i]
    h.vif_bytes = vb = hb[i:]
    vif = vb[0]
    base = vif & 0x7F
    vifes = vb[1:] if base != 0x7C else vb[2 + vb[1] :]
    unit: str | None
    if vif == 0xFB or vif == 0xFD:
        e = vifes[0] & 0x7F
        meaning = (_t.FB if vif == 0xFB else _t.FD).get(e)
        rest = vifes[1:]
        if meaning is None:
            quantity, unit, scaler, kind = f"vif_0x{vif:02x}_0x{e:02x}", None, 0, "signed"
        else:
            quantity, unit, scaler, kind = meaning
    elif vif == 0xEF:  # third extension table (reserved): keep its code in the name
        e = vifes[0] & 0x7F
        quantity, unit, scaler, kind, rest = f"vif_0xef_0x{e:02x}", None, 0, "signed", vifes[1:]
    elif base == 0x7C:
        text = vb[2 : 2 + vb[1]]
        quantity, unit, scaler, kind, rest = "plain_text", text[::-1].decode("latin-1"), 0, "signed", vifes
    elif base == 0x7F:
        quantity, unit, scaler, kind = "manufacturer_specific", None, 0, "signed"
        h.extensions = tuple(f"manufacturer_vife_0x{x:02x}" for x in vifes)
        h.quantity, h.unit, h.scaler, h.kind = quantity, unit, scaler, kind
        return h
    else:
        meaning = _t.PRIMARY.get(base)
        rest = vifes
        if meaning is None:
            quantity, unit, scaler, kind = f"vif_0x{base:02x}", None, 0, "signed"
        else:
            quantity, unit, scaler, kind = meaning
    h.extensions, h.scaler, h.kind = _combinable(rest, scaler, kind)
    h.quantity, h.unit = quantity, unit
    return h


def _header(hb: bytes) -> _Header:
    h = _cache.get(hb)
    if h is None:
        h = _parse_header(hb)
        if len(_cache) >= _CACHE_LIMIT:
            _cache.clear()
        _cache[hb] = h
    return h


def _bcd(field: bytes) -> int | None:
    """BCD, least significant byte first; a top nibble 0xF means negative."""
    text = field[::-1].hex()
    if text.isdigit():
        return int(text)
    if text[:1] == "f" and text[1:].isdigit():
        return -int(text[1:]) if len(text) > 1 else None
    return None


def _value(h: _Header, field: bytes) -> tuple[str, RawValue, bool]:
    """Decode a fixed-length data field: (coding, raw, valid)."""
    code = h.dif_code
    if code in (1, 2, 3, 4, 6, 7):
        kind = h.kind
        if kind == "date" or kind == "datetime":
            when = decode_date_time(field)
            if when is not None:
                return h.coding, when, when.valid
        return h.coding, int.from_bytes(field, "little", signed=kind != "unsigned"), True
    if code >= 9:  # 9, 10, 11, 12, 14: BCD
        number = _bcd(field)
        return h.coding, number, number is not None
    if code == 5:
        real = _UNPACK_F32(field)[0]
        if isfinite(real):
            return h.coding, Decimal(real), True
        return h.coding, None, False
    return h.coding, None, True  # 0 no data, 8 selection for readout


def _lvar(h: _Header, lvar: int, field: bytes) -> tuple[str, RawValue, bool]:
    """Decode a variable-length data field whose LVAR byte was ``lvar``."""
    if lvar < 0xC0:
        if h.kind in _BYTES_KINDS:  # type M dates, compact profiles: kept as sent
            return "lvar_bytes", field, True
        return "text", field[::-1].decode("latin-1"), True
    if lvar < 0xE0:
        number = _bcd(field)
        if number is None or (number < 0 and lvar >= 0xD0):
            return "lvar_bcd", None, False
        return "lvar_bcd", -number if lvar >= 0xD0 else number, True
    return "lvar_binary", int.from_bytes(field, "little", signed=h.kind != "unsigned"), True


def _lvar_length(lvar: int, at: int) -> int:
    """Data bytes after a LVAR byte (EN 13757-3:2013 table 5)."""
    if lvar < 0xC0:
        return lvar
    if lvar < 0xE0:
        return lvar & 0x0F
    if lvar < 0xF0:
        return lvar - 0xE0
    if lvar <= 0xF4:
        return 4 * (lvar - 0xEC)
    if lvar == 0xF5:
        return 48
    if lvar == 0xF6:
        return 64
    raise MbusReservedError(f"reserved LVAR 0x{lvar:02x}", at)


_MORE = ("more_records_follow",)
_BYTES_KINDS = frozenset({"date", "datetime", "profile"})


def _manufacturer(at: int, dif: int, rest: bytes) -> Record:
    """The record of a DIF 0x0F/0x1F: manufacturer data up to the end of the area."""
    if dif != 0x0F and dif != 0x1F:
        raise MbusReservedError(f"reserved special DIF 0x{dif:02x}", at)
    return Record(
        at, bytes((dif,)), b"", rest, "manufacturer", Function.INSTANTANEOUS,
        0, 0, 0, "manufacturer_data", None, 0, rest, True, _MORE if dif == 0x1F else (),
    )  # fmt: skip


def _record(h: _Header, at: int, field: bytes, coding: str, raw: RawValue, valid: bool) -> Record:
    return Record(
        at, h.dif_bytes, h.vif_bytes, field, coding, h.function, h.storage, h.tariff, h.subunit,
        h.quantity, h.unit, h.scaler, raw, valid, h.extensions,
    )  # fmt: skip


def decode_records(data: bytes, *, offset: int = 0) -> tuple[Record, ...]:
    """Decode an EN 13757-3 record area (the application data after CI and header).

    ``offset`` is where the area starts in ``data``; record offsets count from the start of
    ``data``. Idle fillers (0x2F) before, between and after records are skipped.

    Raises:
        MbusError: a truncated record, a reserved code of unknown length, too many extensions.
    """
    data = bytes(data)
    end = len(data)
    pos = offset
    out: list[Record] = []
    append = out.append
    while pos < end:
        dif = data[pos]
        if dif == 0x2F:
            pos += 1
            continue
        if dif & 0x0F == 0x0F:
            append(_manufacturer(pos, dif, data[pos + 1 :]))
            break
        start = pos
        pos = _measure(data, pos, end)
        h = _header(data[start:pos])
        length = h.length
        if length < 0:
            if pos >= end:
                raise MbusTruncatedError("variable-length field without its LVAR byte", start)
            lvar = data[pos]
            length = _lvar_length(lvar, pos)
            pos += 1
            stop = pos + length
            if stop > end:
                raise MbusTruncatedError("variable-length data field cut short", start)
            field = data[pos:stop]
            coding, raw, valid = _lvar(h, lvar, field)
        else:
            stop = pos + length
            if stop > end:
                raise MbusTruncatedError(f"{h.coding} data field cut short", start)
            field = data[pos:stop]
            coding, raw, valid = _value(h, field)
        pos = stop
        append(_record(h, start, field, coding, raw, valid))
    return tuple(out)


def record_headers(data: bytes, *, offset: int = 0) -> bytes:
    """The concatenated DIF/DIFE/VIF/VIFE bytes of every record in ``data``, in order.

    A compact frame's format signature is computed over these bytes; fillers and a
    manufacturer data block (DIF 0x0F/0x1F, kept as its DIF byte only) are as
    :func:`decode_records` sees them.
    """
    parts: list[bytes] = []
    for rec in decode_records(data, offset=offset):
        parts.append(rec.dif_bytes + rec.vif_bytes)
    return b"".join(parts)


def decode_compact(headers: bytes, data: bytes, *, offset: int = 0) -> tuple[Record, ...]:
    """Decode the data fields of a compact frame with ``headers`` from an earlier full frame.

    ``headers`` is what :func:`record_headers` returned for the full frame. Record offsets
    point into ``data``; ``dif_bytes``/``vif_bytes`` are the remembered headers.

    Raises:
        MbusCompactError: the headers are malformed or ask for more data than was sent, or
            data is left over.
        MbusError: a reserved LVAR in the data.
    """
    headers = bytes(headers)
    data = bytes(data)
    hend, end = len(headers), len(data)
    hpos, pos = 0, offset
    out: list[Record] = []
    while hpos < hend:
        dif = headers[hpos]
        if dif == 0x2F:
            hpos += 1
            continue
        if dif & 0x0F == 0x0F:
            if dif != 0x0F and dif != 0x1F:
                raise MbusCompactError(f"reserved special DIF 0x{dif:02x} in headers", hpos)
            out.append(_manufacturer(pos, dif, data[pos:]))
            pos = end
            break
        hstart = hpos
        try:
            hpos = _measure(headers, hpos, hend)
        except MbusTruncatedError as exc:
            raise MbusCompactError("remembered headers " + exc.what, exc.offset) from None
        except MbusExtensionError as exc:
            raise MbusCompactError("remembered headers: " + exc.what, exc.offset) from None
        h = _header(headers[hstart:hpos])
        length = h.length
        start = pos
        lvar = -1
        if length < 0:
            if pos >= end:
                raise MbusCompactError("compact data ends before a LVAR byte", pos)
            lvar = data[pos]
            length = _lvar_length(lvar, pos)
            pos += 1
        stop = pos + length
        if stop > end:
            raise MbusCompactError(f"compact data too short for header {headers[hstart:hpos].hex()}", start)
        field = data[pos:stop]
        coding, raw, valid = _lvar(h, lvar, field) if lvar >= 0 else _value(h, field)
        pos = stop
        out.append(_record(h, start, field, coding, raw, valid))
    while pos < end and data[pos] == 0x2F:
        pos += 1
    if pos != end:
        raise MbusCompactError(f"{end - pos} bytes of compact data left over", pos)
    return tuple(out)


