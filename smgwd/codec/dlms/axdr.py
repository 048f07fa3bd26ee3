"""A-XDR encoding of COSEM data (the ``Data`` CHOICE of IEC 62056-6-2), both ways.

How this works: every value starts with its type tag; lengths of arrays, structures and
strings are A-XDR lengths (one byte below 0x80, else 0x81/0x82/0x83/0x84 and that many
bytes, big-endian). :func:`decode_data` returns a :class:`Data` (tag and value) and the
position after it; arrays and structures hold tuples of :class:`Data`. Every length is
checked against the bytes that are left before anything is allocated, nesting is limited
to :data:`MAX_DEPTH` and element counts to what the remaining bytes can hold, so any input
decodes or raises :class:`DlmsFormatError` in time linear in its size.

Values: integers as int, booleans as bool, octet strings as bytes, visible and UTF-8
strings as str, bit strings as :class:`BitString`, floats as float, enums as int, BCD as
int, date-time/date/time (tags 25/26/27) as the :mod:`.dates` types, compact arrays raw.
The tags are the COSEM model's :class:`~smgwd.cosem.datatypes.DataType`.
"""

from __future__ import annotations

import struct
from typing import Callable, NamedTuple, Union

from smgwd.codec.dlms.dates import CosemDate, CosemDateTime, CosemTime, decode_date, decode_date_time, decode_time
from smgwd.codec.dlms.errors import DlmsFormatError, DlmsTruncatedError
from smgwd.cosem.datatypes import DataType

__all__ = ["MAX_DEPTH", "BitString", "Data", "DataType", "decode_data", "decode_length", "encode_data", "encode_length"]

MAX_DEPTH = 16


class BitString(NamedTuple):
    bits: int  # number of bits
    data: bytes


Value = Union[None, int, bool, bytes, str, float, BitString, CosemDateTime, CosemDate, CosemTime, tuple["Data", ...]]


class Data(NamedTuple):
    """One A-XDR value: its type tag and its Python value."""

    type: DataType
    value: Value

    @property
    def is_integer(self) -> bool:
        return self.type in _INTEGERS


_INTEGERS = {
    DataType.INTEGER: (1, True), DataType.LONG: (2, True), DataType.DOUBLE_LONG: (4, True), DataType.LONG64: (8, True),
    DataType.UNSIGNED: (1, False), DataType.LONG_UNSIGNED: (2, False), DataType.DOUBLE_LONG_UNSIGNED: (4, False), DataType.LONG64_UNSIGNED: (8, False),
    DataType.ENUM: (1, False),
}
_FIXED_TIME: dict[DataType, tuple[int, Callable[[bytes], CosemDateTime | CosemDate | CosemTime]]] = {
    DataType.DATE_TIME: (12, decode_date_time), DataType.DATE: (5, decode_date), DataType.TIME: (4, decode_time)}
_TAGS = frozenset(int(t) for t in DataType)


def decode_length(data: bytes, pos: int) -> tuple[int, int]:
    """An A-XDR length at ``pos``: (length, position after it)."""
    if pos >= len(data):
        raise DlmsTruncatedError("data ends before a length", pos)
    first = data[pos]
    if first < 0x80:
        return first, pos + 1
    size = first & 0x7F
    if not 1 <= size <= 4:
        raise DlmsFormatError(f"length of {size} bytes (0x{first:02X})", pos)
    if pos + 1 + size > len(data):
        raise DlmsTruncatedError("data ends inside a length", pos)
    return int.from_bytes(data[pos + 1 : pos + 1 + size], "big"), pos + 1 + size


def _need(data: bytes, pos: int, count: int, what: str) -> None:
    if pos + count > len(data):
        raise DlmsTruncatedError(f"{what} needs {count} byte(s), {len(data) - pos} left", pos)


_KINDS = {int(t): t for t in DataType}
_INT_SPECS = {int(kind): (kind, size, signed) for kind, (size, signed) in _INTEGERS.items()}
_new = tuple.__new__  # builds a Data without the named tuple's argument handling (hot path)


def _integer(data: bytes, pos: int, spec: tuple[DataType, int, bool]) -> tuple[Data, int]:
    kind, size, signed = spec
    end = pos + 1 + size
    if end > len(data):
        raise DlmsTruncatedError(f"{kind.name.lower()} needs {size} byte(s), {len(data) - pos - 1} left", pos + 1)
    return _new(Data, (kind, int.from_bytes(data[pos + 1 : end], "big", signed=signed))), end


def decode_data(data: bytes, pos: int = 0, depth: int = 0) -> tuple[Data, int]:
    """Decode one value at ``pos``; returns it and the position after it."""
    if pos >= len(data):
        raise DlmsTruncatedError("data ends before a value", pos)
    tag = data[pos]
    spec = _INT_SPECS.get(tag)
    if spec is not None:
        return _integer(data, pos, spec)
    kind = _KINDS.get(tag)
    if kind is None:
        raise DlmsFormatError(f"unknown data type tag {tag} (0x{tag:02X})", pos)
    pos += 1
    if kind is DataType.STRUCTURE or kind is DataType.ARRAY:
        if depth >= MAX_DEPTH:
            raise DlmsFormatError(f"nesting deeper than {MAX_DEPTH}", pos - 1)
        count, pos = decode_length(data, pos)
        n = len(data)
        if count > n - pos:  # every element takes at least one byte
            raise DlmsTruncatedError(f"{kind.name.lower()} of {count} elements in {n - pos} bytes", pos)
        items: list[Data] = []
        append = items.append
        for _ in range(count):
            if pos >= n:
                raise DlmsTruncatedError("data ends before a value", pos)
            spec = _INT_SPECS.get(data[pos])
            if spec is not None:  # the common elements inline: integers and short octet strings
                item, pos = _integer(data, pos, spec)
            elif data[pos] == 9 and pos + 1 < n and data[pos + 1] < 0x80 and pos + 2 + data[pos + 1] <= n:
                end = pos + 2 + data[pos + 1]
                item, pos = _new(Data, (DataType.OCTET_STRING, bytes(data[pos + 2 : end]))), end
            else:
                item, pos = decode_data(data, pos, depth + 1)
            append(item)
        return _new(Data, (kind, tuple(items))), pos
    if kind in (DataType.OCTET_STRING, DataType.VISIBLE_STRING, DataType.UTF8_STRING, DataType.BCD):
        if kind is DataType.BCD:
            _need(data, pos, 1, "bcd")
            return Data(kind, data[pos]), pos + 1
        size, pos = decode_length(data, pos)
        _need(data, pos, size, kind.name.lower())
        raw = data[pos : pos + size]
        if kind is DataType.OCTET_STRING:
            return Data(kind, bytes(raw)), pos + size
        try:
            text = raw.decode("ascii" if kind is DataType.VISIBLE_STRING else "utf-8")
        except UnicodeDecodeError:
            raise DlmsFormatError(f"{kind.name.lower()} that is not {'ASCII' if kind is DataType.VISIBLE_STRING else 'UTF-8'}",
                                  pos) from None
        return Data(kind, text), pos + size
    if kind is DataType.BIT_STRING:
        bits, pos = decode_length(data, pos)
        size = (bits + 7) // 8
        _need(data, pos, size, "bit string")
        return Data(kind, BitString(bits, bytes(data[pos : pos + size]))), pos + size
    if kind is DataType.BOOLEAN:
        _need(data, pos, 1, "boolean")
        return Data(kind, data[pos] != 0), pos + 1
    if kind is DataType.NULL_DATA:
        return Data(kind, None), pos
    if kind in (DataType.FLOAT32, DataType.FLOAT64):
        size = 4 if kind is DataType.FLOAT32 else 8
        _need(data, pos, size, kind.name.lower())
        return Data(kind, struct.unpack(">f" if size == 4 else ">d", data[pos : pos + size])[0]), pos + size
    if kind in _FIXED_TIME:
        size, decode = _FIXED_TIME[kind]
        _need(data, pos, size, kind.name.lower())
        return Data(kind, decode(bytes(data[pos : pos + size]))), pos + size
    # compact array: type description then contents as an octet string; kept raw
    end = _skip_type_description(data, pos, depth)
    size, body = decode_length(data, end)
    _need(data, body, size, "compact array")
    return Data(kind, bytes(data[pos : body + size])), body + size


def _skip_type_description(data: bytes, pos: int, depth: int) -> int:
    if depth >= MAX_DEPTH:
        raise DlmsFormatError(f"nesting deeper than {MAX_DEPTH}", pos)
    _need(data, pos, 1, "type description")
    tag = data[pos]
    if tag == DataType.ARRAY:
        _need(data, pos + 1, 2, "array type description")
        return _skip_type_description(data, pos + 3, depth + 1)
    if tag == DataType.STRUCTURE:
        count, pos = decode_length(data, pos + 1)
        for _ in range(count):
            pos = _skip_type_description(data, pos, depth + 1)
        return pos
    if tag not in _TAGS:
        raise DlmsFormatError(f"unknown data type tag {tag} in a type description", pos)
    return pos + 1


def encode_length(length: int) -> bytes:
    if length < 0:
        raise ValueError("negative length")
    if length < 0x80:
        return bytes((length,))
    size = (length.bit_length() + 7) // 8
    if size > 4:
        raise ValueError(f"length {length} does not fit 4 bytes")
    return bytes((0x80 | size,)) + length.to_bytes(size, "big")


def encode_data(item: Data) -> bytes:
    """Encode a :class:`Data` (the simulator's pushes; round trips in tests)."""
    kind, value = item
    head = bytes((int(kind),))
    if kind in _INTEGERS:
        size, signed = _INTEGERS[kind]
        assert isinstance(value, int)
        return head + value.to_bytes(size, "big", signed=signed)
    if kind in (DataType.ARRAY, DataType.STRUCTURE):
        assert isinstance(value, tuple)
        return head + encode_length(len(value)) + b"".join(encode_data(v) for v in value)
    if kind is DataType.OCTET_STRING:
        assert isinstance(value, bytes)
        return head + encode_length(len(value)) + value
    if kind in (DataType.VISIBLE_STRING, DataType.UTF8_STRING):
        assert isinstance(value, str)
        raw = value.encode("ascii" if kind is DataType.VISIBLE_STRING else "utf-8")
        return head + encode_length(len(raw)) + raw
    if kind is DataType.BCD:
        assert isinstance(value, int)
        return head + bytes((value,))
    if kind is DataType.BIT_STRING:
        assert isinstance(value, BitString)
        return head + encode_length(value.bits) + value.data
    if kind is DataType.BOOLEAN:
        return head + (b"\x01" if value else b"\x00")
    if kind is DataType.NULL_DATA:
        return head
    if kind in (DataType.FLOAT32, DataType.FLOAT64):
        assert isinstance(value, float)
        return head + struct.pack(">f" if kind is DataType.FLOAT32 else ">d", value)
    if kind in _FIXED_TIME:
        octets: object = value.data if isinstance(value, (CosemDateTime, CosemDate, CosemTime)) else value
        if not isinstance(octets, bytes) or len(octets) != _FIXED_TIME[kind][0]:
            raise ValueError(f"{kind.name.lower()} needs {_FIXED_TIME[kind][0]} octets")
        return head + octets
    assert isinstance(value, bytes)
    return head + value
