"""SML v1.04 message decoder: bytes of one or more SML messages -> SmlMessage objects.

How this works: a single pass over the bytes with a position cursor. Each
reader takes ``(data, pos)`` and returns ``(value, new_pos)``; the common
one-byte TL forms are handled inline, the rest goes through ``_tl``. Every
read checks its bounds against the end of the input, lists carry a fixed
field count, and tree nesting is limited, so any input ends in a result or
an :class:`SmlError` subclass naming the byte offset.

TL byte: bit 7 = another TL byte follows, bits 6..4 = type (000 octet string,
100 boolean, 101 signed, 110 unsigned, 111 list), bits 3..0 = length nibble.
For non-list types the length counts the TL bytes too; for lists it is the
number of elements. ``01`` is an absent optional field, ``00`` ends a message.

Deviations of real meters are accepted only when the :class:`SmlDialect`
allows them, and each one accepted is named in ``SmlMessage.quirks``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from smgwd.codec.crc import CrcPolicy, match_sml_crc
from smgwd.codec.sml import types as t
from smgwd.codec.sml.errors import SmlCrcError, SmlQuirkError, SmlRangeError, SmlSyntaxError

__all__ = ["SmlDialect", "decode_message", "decode_messages", "STRICT", "TOLERANT"]

_MAX_TREE_DEPTH = 16
# A TL field of at most 4 bytes carries a 16-bit length (65535), more than any frame the
# transport layer accepts (16 KiB); a longer TL is an error after reading at most 4 bytes,
# which also keeps the decode linear on hostile input (no length integer grows unbounded).
_MAX_TL_BYTES = 4

# Value ranges of typed integer fields (SML v1.04 / BSI TR-03109-1 Anlage IIIa). The rule is
# by VALUE, not by byte width: some meters send e.g. a unit as Unsigned16 ``63 00 1e``; that
# is accepted as long as the value fits the declared type. Offsets are minutes; the spec
# type is Integer16, the value rule is |offset| <= one day (24*60).
_U8 = (0, 0xFF)
_I8 = (-0x80, 0x7F)
_U16 = (0, 0xFFFF)
_U32 = (0, 0xFFFF_FFFF)
_U64 = (0, 0xFFFF_FFFF_FFFF_FFFF)
_DAY_MINUTES = 24 * 60
_OFFSET = (-_DAY_MINUTES, _DAY_MINUTES)  # each part; their sum must be a UTC offset (under a day)
_UNIT, _SCALER, _STATUS, _TIME = _U8, _I8, _U64, _U32
_INT_TYPES = {tl: ("i" if tl < 0x60 else "u") + str(8 * ((tl & 0x0F) - 1)) for tl in (*range(0x52, 0x5A), *range(0x62, 0x6A))}
_TYPE_NAMES = {0x00: "octet string", 0x40: "boolean", 0x50: "integer", 0x60: "unsigned", 0x70: "list"}


@dataclass(frozen=True, slots=True)
class SmlDialect:
    """Which real-meter deviations the decoder accepts.

    Attributes:
        crc: message CRC policy (``x25``, ``kermit``, ``auto``, ``off``).
        bare_time: accept an SML_Time sent as a bare Unsigned32 (Holley DTZ541).
        fill_bytes: accept 0x00 fill bytes between messages.
        short_crc: accept a message CRC sent as one byte (``62 xx``).
        list_tl_type: accept a multi-byte list TL whose continuation byte repeats
            the list type bits (``f1 79`` for 25 entries, Hager EDL).
    """

    crc: CrcPolicy = CrcPolicy.AUTO
    bare_time: bool = True
    fill_bytes: bool = True
    short_crc: bool = True
    list_tl_type: bool = True


TOLERANT = SmlDialect()
STRICT = SmlDialect(crc=CrcPolicy.X25, bare_time=False, fill_bytes=False, short_crc=False, list_tl_type=False)


# --- TL primitives --------------------------------------------------------------------


class SmlListTypeQuirkError(SmlQuirkError):
    """A multi-byte list TL whose continuation byte repeats the list type bits."""


def _tl(d: bytes, p: int, relaxed: bool = False) -> tuple[int, int, int]:
    """Read a TL field: (type bits, length, position after TL).

    For non-list types the returned length is the number of data bytes.
    ``relaxed`` accepts list continuation bytes that repeat the type bits (Hager EDL).
    """
    start = p
    try:
        b = d[p]
    except IndexError:
        raise SmlSyntaxError("truncated: expected a TL field", p) from None
    typ = b & 0x70
    n = b & 0x0F
    p += 1
    while b & 0x80:
        if p - start >= _MAX_TL_BYTES:
            raise SmlSyntaxError(f"TL field longer than {_MAX_TL_BYTES} bytes", start)
        try:
            b = d[p]
        except IndexError:
            raise SmlSyntaxError("truncated inside a multi-byte TL field", p) from None
        if b & 0x70:
            if not (typ == 0x70 and b & 0x70 == 0x70):
                raise SmlSyntaxError(f"bad TL continuation byte 0x{b:02x}", p)
            if not relaxed:
                raise SmlListTypeQuirkError(
                    f"list TL continuation byte 0x{b:02x} repeats the type bits"
                    " (dialect option list_tl_type is off)", p
                )
        n = (n << 4) | (b & 0x0F)
        p += 1
    if typ == 0x70:
        return typ, n, p
    n -= p - start
    if n < 0:
        raise SmlSyntaxError(f"TL length shorter than the TL field itself (0x{d[start]:02x})", start)
    if p + n > len(d):
        raise SmlSyntaxError(f"truncated: {_TYPE_NAMES.get(typ, 'field')} of {n} bytes", start)
    return typ, n, p


def _list(d: bytes, p: int, count: int, name: str) -> int:
    """Read a list TL of exactly ``count`` elements; return the position after it."""
    b = d[p] if p < len(d) else -1
    if b & 0xF0 == 0x70:
        n = b & 0x0F
        p += 1
    else:
        typ, n, q = _tl(d, p)
        if typ != 0x70:
            raise SmlSyntaxError(f"{name}: expected a list, got {_TYPE_NAMES.get(typ, 'type 0x%02x' % typ)}", p)
        p = q
    if n != count:
        raise SmlSyntaxError(f"{name}: expected a list of {count}, got {n}", p - 1)
    return p


def _octets(d: bytes, p: int, name: str) -> tuple[bytes, int]:
    """A mandatory octet string (``01`` reads as empty)."""
    typ, n, q = _tl(d, p)
    if typ != 0x00:
        raise SmlSyntaxError(f"{name}: expected an octet string, got {_TYPE_NAMES.get(typ, 'type 0x%02x' % typ)}", p)
    return d[q : q + n], q + n


def _opt_octets(d: bytes, p: int, name: str) -> tuple[bytes | None, int]:
    if p < len(d) and d[p] == 0x01:
        return None, p + 1
    return _octets(d, p, name)


def _int(d: bytes, p: int, name: str, limits: tuple[int, int] | None = None) -> tuple[int, int]:
    """An integer of 1..8 bytes, signed (sign-extended) or unsigned per its TL.

    ``limits`` (lo, hi): the value range of the field's SML type; outside it -> SmlRangeError.
    """
    try:
        b = d[p]
    except IndexError:
        raise SmlSyntaxError(f"{name}: truncated, expected an integer", p) from None
    typ = b & 0xF0
    if typ == 0x60 or typ == 0x50:
        n = (b & 0x0F) - 1
        q = p + 1
        if n < 1 or n > 8:
            raise SmlSyntaxError(f"{name}: integer TL 0x{b:02x} gives {max(n, 0)} data bytes (expected 1..8)", p)
        if q + n > len(d):
            raise SmlSyntaxError(f"{name}: truncated integer", p)
    else:
        typ, n, q = _tl(d, p)  # a multi-byte TL integer is legal, if unusual
        if typ not in (0x50, 0x60) or not 1 <= n <= 8:
            raise SmlSyntaxError(f"{name}: expected an integer, got {_TYPE_NAMES.get(typ, 'type 0x%02x' % typ)}", p)
    value = int.from_bytes(d[q : q + n], "big", signed=typ == 0x50)
    if limits is not None and not limits[0] <= value <= limits[1]:
        raise SmlRangeError(f"{name}: {value} outside {limits[0]}..{limits[1]}", p)
    return value, q + n


def _opt_int(d: bytes, p: int, name: str, limits: tuple[int, int] | None = None) -> tuple[int | None, int]:
    if p < len(d) and d[p] == 0x01:
        return None, p + 1
    return _int(d, p, name, limits)


def _opt_bool(d: bytes, p: int, name: str) -> tuple[bool | None, int]:
    if p < len(d) and d[p] == 0x01:
        return None, p + 1
    typ, n, q = _tl(d, p)
    if typ != 0x40 or n != 1:
        raise SmlSyntaxError(f"{name}: expected a boolean", p)
    return d[q] != 0, q + 1


# --- composite types ------------------------------------------------------------------


class _Reader:
    """Composite-type readers bound to one dialect; records the quirks it accepts."""

    __slots__ = ("dialect", "quirks")

    def __init__(self, dialect: SmlDialect) -> None:
        self.dialect = dialect
        self.quirks: set[str] = set()

    def seq(self, d: bytes, p: int, name: str) -> tuple[int, int]:
        """Read a list TL of any length: (element count, position after it)."""
        if p >= len(d):
            raise SmlSyntaxError(f"{name}: truncated, expected a list", p)
        try:
            typ, n, q = _tl(d, p)
        except SmlListTypeQuirkError:
            if not self.dialect.list_tl_type:
                raise
            typ, n, q = _tl(d, p, relaxed=True)
            self.quirks.add("list_tl_type")
        if typ != 0x70:
            raise SmlSyntaxError(f"{name}: expected a list, got {_TYPE_NAMES.get(typ, 'type 0x%02x' % typ)}", p)
        return n, q

    def time(self, d: bytes, p: int, name: str) -> tuple[t.SmlTime, int]:
        b = d[p] if p < len(d) else -1
        if b & 0xF0 == 0x60 or b & 0xF0 == 0x50:
            if not self.dialect.bare_time:
                raise SmlQuirkError(f"{name}: SML_Time sent as a bare integer (dialect option bare_time is off)", p)
            value, p = _int(d, p, name, _TIME)
            self.quirks.add("bare_time")
            return t.SmlTime(t.TimeKind.SEC_INDEX, value, bare=True), p
        p = _list(d, p, 2, name)
        tag, q = _int(d, p, name + ".choice")
        if tag == 1 or tag == 2:
            value, q = _int(d, q, name, _TIME)
            return t.SmlTime(t.TimeKind(tag), value), q
        if tag == 3:
            q = _list(d, q, 3, name + ".localTimestamp")
            ts, q = _int(d, q, name + ".timestamp", _TIME)
            off, q = _int(d, q, name + ".localOffset", _OFFSET)
            season, q = _int(d, q, name + ".seasonTimeOffset", _OFFSET)
            if not -_DAY_MINUTES < off + season < _DAY_MINUTES:
                raise SmlRangeError(
                    f"{name}: localOffset {off} + seasonTimeOffset {season} minutes is not a UTC offset", p
                )
            return t.SmlTime(t.TimeKind.LOCAL_TIMESTAMP, ts, off, season), q
        raise SmlSyntaxError(f"{name}: unknown SML_Time choice {tag}", p)

    def opt_time(self, d: bytes, p: int, name: str) -> tuple[t.SmlTime | None, int]:
        if p < len(d) and d[p] == 0x01:
            return None, p + 1
        return self.time(d, p, name)

    def value(self, d: bytes, p: int, name: str) -> tuple[t.SmlValue, str, int]:
        """SML_Value: implicit choice by TL; returns (value, value_type, position)."""
        b = d[p] if p < len(d) else 0x01
        typ = b & 0xF0
        if (typ == 0x50 or typ == 0x60) and 2 <= b & 0x0F <= 9:
            n = (b & 0x0F) - 1
            q = p + 1
            if q + n > len(d):
                raise SmlSyntaxError(f"{name}: truncated integer", p)
            signed = typ == 0x50
            return int.from_bytes(d[q : q + n], "big", signed=signed), _INT_TYPES[b], q + n
        typ, n, q = _tl(d, p)
        if typ == 0x00:
            return d[q : q + n], "octets", q + n
        if typ == 0x50 or typ == 0x60:
            if not 1 <= n <= 8:
                raise SmlSyntaxError(f"{name}: integer of {n} data bytes (expected 1..8)", p)
            signed = typ == 0x50
            return int.from_bytes(d[q : q + n], "big", signed=signed), ("i" if signed else "u") + str(8 * n), q + n
        if typ == 0x40:
            if n != 1:
                raise SmlSyntaxError(f"{name}: boolean of {n} bytes", p)
            return d[q] != 0, "bool", q + 1
        if typ == 0x70 and n == 2:
            # Either SML_ListType {1, SML_Time} or, as some meters send, an SML_Time itself:
            # choice 1 followed by a list is the wrapper (a bare secIndex is an integer).
            tag, r = _int(d, q, name + ".choice")
            inner = d[r] if r < len(d) else -1
            if tag == 1 and inner & 0xF0 == 0x70:
                time, r = self.time(d, r, name)
                return time, "list-time", r
            time, r = self.time(d, p, name)
            return time, "time", r
        raise SmlSyntaxError(f"{name}: not an SML_Value ({_TYPE_NAMES.get(typ, 'type 0x%02x' % typ)} of {n})", p)

    def list_entry(self, d: bytes, p: int) -> tuple[t.ListEntry, int]:
        # The hot path of every push frame: the usual one-byte encodings are read inline,
        # anything else goes through the general readers. Reads past the end raise
        # IndexError, which decode_message turns into a truncation error.
        if d[p] == 0x77:
            p += 1
        else:
            p = _list(d, p, 7, "ListEntry")
        if d[p] == 0x07 and p + 7 <= len(d):
            obj_name = d[p + 1 : p + 7]
            p += 7
        else:
            obj_name, p = _octets(d, p, "ListEntry.objName")
        b = d[p]
        if b == 0x01:
            status = None
            p += 1
        elif 0x62 <= b <= 0x69 and p + (b & 0x0F) <= len(d):  # Unsigned8..64: always in range
            status = int.from_bytes(d[p + 1 : p + (b & 0x0F)], "big")
            p += b & 0x0F
        else:
            status, p = _int(d, p, "ListEntry.status", _STATUS)
        if d[p] == 0x01:
            val_time = None
            p += 1
        else:
            val_time, p = self.time(d, p, "ListEntry.valTime")
        b = d[p]
        if b == 0x62:
            unit: int | None = d[p + 1]
            p += 2
        elif b == 0x01:
            unit = None
            p += 1
        else:
            unit, p = _int(d, p, "ListEntry.unit", _UNIT)
        b = d[p]
        if b == 0x52:
            scaler: int | None = d[p + 1] - 256 if d[p + 1] > 127 else d[p + 1]
            p += 2
        elif b == 0x01:
            scaler = None
            p += 1
        else:
            scaler, p = _int(d, p, "ListEntry.scaler", _SCALER)
        value, vtype, p = self.value(d, p, "ListEntry.value")
        if d[p] == 0x01:
            sig = None
            p += 1
        else:
            sig, p = _opt_octets(d, p, "ListEntry.valueSignature")
        return t.ListEntry(obj_name, value, status, val_time, unit, scaler, sig, vtype), p

    def period_entry(self, d: bytes, p: int) -> tuple[t.PeriodEntry, int]:
        p = _list(d, p, 5, "PeriodEntry")
        obj_name, p = _octets(d, p, "PeriodEntry.objName")
        unit, p = _int(d, p, "PeriodEntry.unit", _UNIT)
        scaler, p = _int(d, p, "PeriodEntry.scaler", _SCALER)
        value, vtype, p = self.value(d, p, "PeriodEntry.value")
        sig, p = _opt_octets(d, p, "PeriodEntry.valueSignature")
        return t.PeriodEntry(obj_name, unit, scaler, value, sig, vtype), p

    def tupel_entry(self, d: bytes, p: int) -> tuple[t.TupelEntry, int]:
        p = _list(d, p, 23, "TupelEntry")
        server_id, p = _octets(d, p, "TupelEntry.serverId")
        sec_index, p = self.time(d, p, "TupelEntry.secIndex")
        status, p = _int(d, p, "TupelEntry.status", _STATUS)
        # (unit, scaler, value) for pA, R1, R4, a signature, then for mA, R2, R3, a signature
        regs: list[int] = []
        for _ in range(9):
            value, p = _int(d, p, "TupelEntry.register")
            regs.append(value)
        sig_a, p = _octets(d, p, "TupelEntry.signature_pA_R1_R4")
        for _ in range(9):
            value, p = _int(d, p, "TupelEntry.register")
            regs.append(value)
        sig_b, p = _octets(d, p, "TupelEntry.signature_mA_R2_R3")
        u = regs
        return t.TupelEntry(
            server_id, sec_index, status, u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], sig_a,
            u[9], u[10], u[11], u[12], u[13], u[14], u[15], u[16], u[17], sig_b,
        ), p

    def proc_par_value(self, d: bytes, p: int) -> tuple[t.ProcParValue, int]:
        p = _list(d, p, 2, "ProcParValue")
        tag, q = _int(d, p, "ProcParValue.choice")
        if tag == 1:
            value, vtype, q = self.value(d, q, "ProcParValue.value")
            return t.ProcParValue(t.ProcParKind.VALUE, value, vtype), q
        if tag == 2:
            period, q = self.period_entry(d, q)
            return t.ProcParValue(t.ProcParKind.PERIOD_ENTRY, period), q
        if tag == 3:
            tupel, q = self.tupel_entry(d, q)
            return t.ProcParValue(t.ProcParKind.TUPEL_ENTRY, tupel), q
        if tag == 4:
            time, q = self.time(d, q, "ProcParValue.time")
            return t.ProcParValue(t.ProcParKind.TIME, time), q
        if tag == 5:
            entry, q = self.list_entry(d, q)
            return t.ProcParValue(t.ProcParKind.LIST_ENTRY, entry), q
        raise SmlSyntaxError(f"ProcParValue: unknown choice {tag}", p)

    def tree(self, d: bytes, p: int, depth: int = 0) -> tuple[t.SmlTree, int]:
        if depth > _MAX_TREE_DEPTH:
            raise SmlSyntaxError(f"SML_Tree nested deeper than {_MAX_TREE_DEPTH}", p)
        p = _list(d, p, 3, "Tree")
        name, p = _octets(d, p, "Tree.parameterName")
        value = None
        if p < len(d) and d[p] == 0x01:
            p += 1
        else:
            value, p = self.proc_par_value(d, p)
        children = None
        if p < len(d) and d[p] == 0x01:
            p += 1
        else:
            count, p = self.seq(d, p, "Tree.childList")
            kids = []
            for _ in range(count):
                child, p = self.tree(d, p, depth + 1)
                kids.append(child)
            children = tuple(kids)
        return t.SmlTree(name, value, children), p

    def opt_tree(self, d: bytes, p: int) -> tuple[t.SmlTree | None, int]:
        if p < len(d) and d[p] == 0x01:
            return None, p + 1
        return self.tree(d, p)

    def tree_path(self, d: bytes, p: int, name: str = "TreePath") -> tuple[tuple[bytes, ...], int]:
        count, p = self.seq(d, p, name)
        path = []
        for _ in range(count):
            entry, p = _octets(d, p, name + " entry")
            path.append(entry)
        return tuple(path), p

    def opt_octet_list(self, d: bytes, p: int, name: str) -> tuple[tuple[bytes, ...] | None, int]:
        if p < len(d) and d[p] == 0x01:
            return None, p + 1
        return self.tree_path(d, p, name)

    # --- message bodies -----------------------------------------------------------

    def open_request(self, d: bytes, p: int) -> tuple[t.OpenRequest, int]:
        p = _list(d, p, 7, "OpenRequest")
        codepage, p = _opt_octets(d, p, "OpenRequest.codepage")
        client_id, p = _octets(d, p, "OpenRequest.clientId")
        req_file_id, p = _octets(d, p, "OpenRequest.reqFileId")
        server_id, p = _opt_octets(d, p, "OpenRequest.serverId")
        username, p = _opt_octets(d, p, "OpenRequest.username")
        password, p = _opt_octets(d, p, "OpenRequest.password")
        version, p = _opt_int(d, p, "OpenRequest.smlVersion", _U8)
        return t.OpenRequest(client_id, req_file_id, codepage, server_id, username, password, version), p

    def open_response(self, d: bytes, p: int) -> tuple[t.OpenResponse, int]:
        p = _list(d, p, 6, "OpenResponse")
        codepage, p = _opt_octets(d, p, "OpenResponse.codepage")
        client_id, p = _opt_octets(d, p, "OpenResponse.clientId")
        req_file_id, p = _octets(d, p, "OpenResponse.reqFileId")
        server_id, p = _octets(d, p, "OpenResponse.serverId")
        ref_time, p = self.opt_time(d, p, "OpenResponse.refTime")
        version, p = _opt_int(d, p, "OpenResponse.smlVersion", _U8)
        return t.OpenResponse(req_file_id, server_id, codepage, client_id, ref_time, version), p

    def close_request(self, d: bytes, p: int) -> tuple[t.CloseRequest, int]:
        p = _list(d, p, 1, "CloseRequest")
        sig, p = _opt_octets(d, p, "CloseRequest.globalSignature")
        return t.CloseRequest(sig), p

    def close_response(self, d: bytes, p: int) -> tuple[t.CloseResponse, int]:
        p = _list(d, p, 1, "CloseResponse")
        sig, p = _opt_octets(d, p, "CloseResponse.globalSignature")
        return t.CloseResponse(sig), p

    def get_list_request(self, d: bytes, p: int) -> tuple[t.GetListRequest, int]:
        p = _list(d, p, 5, "GetListRequest")
        client_id, p = _octets(d, p, "GetListRequest.clientId")
        server_id, p = _opt_octets(d, p, "GetListRequest.serverId")
        username, p = _opt_octets(d, p, "GetListRequest.username")
        password, p = _opt_octets(d, p, "GetListRequest.password")
        list_name, p = _opt_octets(d, p, "GetListRequest.listName")
        return t.GetListRequest(client_id, server_id, username, password, list_name), p

    def get_list_response(self, d: bytes, p: int) -> tuple[t.GetListResponse, int]:
        p = _list(d, p, 7, "GetListResponse")
        client_id, p = _opt_octets(d, p, "GetListResponse.clientId")
        server_id, p = _octets(d, p, "GetListResponse.serverId")
        list_name, p = _opt_octets(d, p, "GetListResponse.listName")
        sensor_time, p = self.opt_time(d, p, "GetListResponse.actSensorTime")
        count, p = self.seq(d, p, "GetListResponse.valList")
        entries = []
        list_entry = self.list_entry
        for _ in range(count):
            entry, p = list_entry(d, p)
            entries.append(entry)
        sig, p = _opt_octets(d, p, "GetListResponse.listSignature")
        gateway_time, p = self.opt_time(d, p, "GetListResponse.actGatewayTime")
        return t.GetListResponse(server_id, tuple(entries), client_id, list_name, sensor_time, sig, gateway_time), p

    def get_proc_parameter_request(self, d: bytes, p: int) -> tuple[t.GetProcParameterRequest, int]:
        p = _list(d, p, 5, "GetProcParameterRequest")
        server_id, p = _opt_octets(d, p, "GetProcParameterRequest.serverId")
        username, p = _opt_octets(d, p, "GetProcParameterRequest.username")
        password, p = _opt_octets(d, p, "GetProcParameterRequest.password")
        path, p = self.tree_path(d, p, "GetProcParameterRequest.parameterTreePath")
        attribute, p = _opt_octets(d, p, "GetProcParameterRequest.attribute")
        return t.GetProcParameterRequest(path, server_id, username, password, attribute), p

    def get_proc_parameter_response(self, d: bytes, p: int) -> tuple[t.GetProcParameterResponse, int]:
        p = _list(d, p, 3, "GetProcParameterResponse")
        server_id, p = _octets(d, p, "GetProcParameterResponse.serverId")
        path, p = self.tree_path(d, p, "GetProcParameterResponse.parameterTreePath")
        tree, p = self.tree(d, p)
        return t.GetProcParameterResponse(server_id, path, tree), p

    def set_proc_parameter_request(self, d: bytes, p: int) -> tuple[t.SetProcParameterRequest, int]:
        p = _list(d, p, 5, "SetProcParameterRequest")
        server_id, p = _opt_octets(d, p, "SetProcParameterRequest.serverId")
        username, p = _opt_octets(d, p, "SetProcParameterRequest.username")
        password, p = _opt_octets(d, p, "SetProcParameterRequest.password")
        path, p = self.tree_path(d, p, "SetProcParameterRequest.parameterTreePath")
        tree, p = self.tree(d, p)
        return t.SetProcParameterRequest(path, tree, server_id, username, password), p

    def _profile_request(self, d: bytes, p: int, cls: type, name: str) -> tuple[t._ProfileRequest, int]:
        p = _list(d, p, 9, name)
        server_id, p = _opt_octets(d, p, name + ".serverId")
        username, p = _opt_octets(d, p, name + ".username")
        password, p = _opt_octets(d, p, name + ".password")
        with_raw, p = _opt_bool(d, p, name + ".withRawdata")
        begin, p = self.opt_time(d, p, name + ".beginTime")
        end, p = self.opt_time(d, p, name + ".endTime")
        path, p = self.tree_path(d, p, name + ".parameterTreePath")
        objects, p = self.opt_octet_list(d, p, name + ".object_List")
        details, p = self.opt_tree(d, p)
        return cls(path, server_id, username, password, with_raw, begin, end, objects, details), p

    def get_profile_pack_request(self, d: bytes, p: int) -> tuple[t._ProfileRequest, int]:
        return self._profile_request(d, p, t.GetProfilePackRequest, "GetProfilePackRequest")

    def get_profile_list_request(self, d: bytes, p: int) -> tuple[t._ProfileRequest, int]:
        return self._profile_request(d, p, t.GetProfileListRequest, "GetProfileListRequest")

    def get_profile_list_response(self, d: bytes, p: int) -> tuple[t.GetProfileListResponse, int]:
        name = "GetProfileListResponse"
        p = _list(d, p, 9, name)
        server_id, p = _octets(d, p, name + ".serverId")
        act_time, p = self.time(d, p, name + ".actTime")
        reg_period, p = _int(d, p, name + ".regPeriod", _U32)
        path, p = self.tree_path(d, p, name + ".parameterTreePath")
        val_time, p = self.time(d, p, name + ".valTime")
        status, p = _int(d, p, name + ".status", _STATUS)
        count, p = self.seq(d, p, name + ".period_List")
        periods = []
        for _ in range(count):
            entry, p = self.period_entry(d, p)
            periods.append(entry)
        raw, p = _opt_octets(d, p, name + ".rawdata")
        sig, p = _opt_octets(d, p, name + ".periodSignature")
        return t.GetProfileListResponse(server_id, act_time, reg_period, path, val_time, status, tuple(periods), raw, sig), p

    def get_profile_pack_response(self, d: bytes, p: int) -> tuple[t.GetProfilePackResponse, int]:
        name = "GetProfilePackResponse"
        p = _list(d, p, 8, name)
        server_id, p = _octets(d, p, name + ".serverId")
        act_time, p = self.time(d, p, name + ".actTime")
        reg_period, p = _int(d, p, name + ".regPeriod", _U32)
        path, p = self.tree_path(d, p, name + ".parameterTreePath")
        count, p = self.seq(d, p, name + ".header_List")
        headers = []
        for _ in range(count):
            p = _list(d, p, 3, "ProfObjHeaderEntry")
            obj_name, p = _octets(d, p, "ProfObjHeaderEntry.objName")
            unit, p = _int(d, p, "ProfObjHeaderEntry.unit", _UNIT)
            scaler, p = _int(d, p, "ProfObjHeaderEntry.scaler", _SCALER)
            headers.append(t.ProfObjHeaderEntry(obj_name, unit, scaler))
        count, p = self.seq(d, p, name + ".period_List")
        periods = []
        for _ in range(count):
            p = _list(d, p, 4, "ProfObjPeriodEntry")
            val_time, p = self.time(d, p, "ProfObjPeriodEntry.valTime")
            status, p = _int(d, p, "ProfObjPeriodEntry.status", _STATUS)
            n_values, p = self.seq(d, p, "ProfObjPeriodEntry.value_List")
            values = []
            for _ in range(n_values):
                p = _list(d, p, 2, "ValueEntry")
                value, vtype, p = self.value(d, p, "ValueEntry.value")
                sig, p = _opt_octets(d, p, "ValueEntry.valueSignature")
                values.append(t.ValueEntry(value, sig, vtype))
            psig, p = _opt_octets(d, p, "ProfObjPeriodEntry.periodSignature")
            periods.append(t.ProfObjPeriodEntry(val_time, status, tuple(values), psig))
        raw, p = _opt_octets(d, p, name + ".rawdata")
        sig, p = _opt_octets(d, p, name + ".profileSignature")
        return t.GetProfilePackResponse(server_id, act_time, reg_period, path, tuple(headers), tuple(periods), raw, sig), p

    def attention_response(self, d: bytes, p: int) -> tuple[t.AttentionResponse, int]:
        p = _list(d, p, 4, "AttentionResponse")
        server_id, p = _octets(d, p, "AttentionResponse.serverId")
        number, p = _octets(d, p, "AttentionResponse.attentionNo")
        msg, p = _opt_octets(d, p, "AttentionResponse.attentionMsg")
        details, p = self.opt_tree(d, p)
        return t.AttentionResponse(server_id, number, msg, details), p


_BODY_READERS: dict[int, Callable[[_Reader, bytes, int], tuple[Any, int]]] = {
    0x0100: _Reader.open_request,
    0x0101: _Reader.open_response,
    0x0200: _Reader.close_request,
    0x0201: _Reader.close_response,
    0x0300: _Reader.get_profile_pack_request,
    0x0301: _Reader.get_profile_pack_response,
    0x0400: _Reader.get_profile_list_request,
    0x0401: _Reader.get_profile_list_response,
    0x0500: _Reader.get_proc_parameter_request,
    0x0501: _Reader.get_proc_parameter_response,
    0x0600: _Reader.set_proc_parameter_request,
    0x0700: _Reader.get_list_request,
    0x0701: _Reader.get_list_response,
    0xFF01: _Reader.attention_response,
}


def decode_message(data: bytes, pos: int = 0, dialect: SmlDialect = TOLERANT) -> tuple[t.SmlMessage, int]:
    """Decode one SML_Message starting at ``pos``.

    Returns:
        The message and the position after its end-of-message byte.

    Raises:
        SmlSyntaxError: the bytes are not a well-formed message.
        SmlCrcError: the message CRC matches no variant the dialect allows.
    """
    try:
        return _decode_message(data, pos, dialect)
    except IndexError:
        raise SmlSyntaxError("truncated message", pos) from None


def _decode_message(data: bytes, pos: int, dialect: SmlDialect) -> tuple[t.SmlMessage, int]:
    reader = _Reader(dialect)
    start = pos
    p = _list(data, pos, 6, "SML_Message")
    transaction_id, p = _octets(data, p, "SML_Message.transactionId")
    if data[p] == 0x62 and data[p + 2] == 0x62:  # the usual Unsigned8 encodings, read inline
        group_no, abort_on_error, p = data[p + 1], data[p + 3], p + 4
    else:
        group_no, p = _int(data, p, "SML_Message.groupNo", _U8)
        abort_on_error, p = _int(data, p, "SML_Message.abortOnError", _U8)
    tag_pos = _list(data, p, 2, "SML_MessageBody")
    tag, q = _int(data, tag_pos, "SML_MessageBody.tag")
    body_reader = _BODY_READERS.get(tag)
    if body_reader is None:
        raise SmlSyntaxError(f"unknown message body tag 0x{tag:04x}", tag_pos)
    body, p = body_reader(reader, data, q)
    crc_pos = p
    if p < len(data) and data[p] == 0x62:
        if not dialect.short_crc:
            raise SmlQuirkError("message CRC sent as one byte (dialect option short_crc is off)", p)
        reader.quirks.add("short_crc")
    wire, p = _int(data, p, "SML_Message.crc16", _U16)
    if p >= len(data) or data[p] != 0x00:
        raise SmlSyntaxError("SML_Message: missing endOfSmlMsg (00)", p)
    kind = match_sml_crc(dialect.crc, data[start:crc_pos], wire)
    if kind is None:
        raise SmlCrcError(
            f"message CRC mismatch: {type(body).__name__} carries 0x{wire:04x} ({dialect.crc.value})", crc_pos
        )
    message = t.SmlMessage(transaction_id, body, group_no, abort_on_error, kind, frozenset(reader.quirks))
    return message, p + 1


def decode_messages(data: bytes, dialect: SmlDialect = TOLERANT) -> list[t.SmlMessage]:
    """Decode every SML_Message in ``data`` (a transport payload or bare messages).

    Fill bytes (0x00) between and after messages are skipped when the dialect
    allows them; the message that follows is marked with the ``fill_bytes`` quirk.
    """
    messages: list[t.SmlMessage] = []
    p = 0
    end = len(data)
    filled = False
    while p < end:
        if data[p] == 0x00:
            if not dialect.fill_bytes:
                raise SmlQuirkError("fill byte 0x00 between messages (dialect option fill_bytes is off)", p)
            p += 1
            filled = True
            continue
        message, p = decode_message(data, p, dialect)
        if filled:
            message = t.SmlMessage(
                message.transaction_id,
                message.body,
                message.group_no,
                message.abort_on_error,
                message.crc_kind,
                message.quirks | {"fill_bytes"},
            )
        filled = False
        messages.append(message)
    return messages
