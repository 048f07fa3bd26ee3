"""Encode EN 13757-3 data records: what the simulator's meters send.

How this works: :func:`encode_record` writes the DIF (data field coding, function, storage
bit 0), as many DIFEs as the storage number, tariff and subunit need (storage 4 bits, tariff
2 bits, subunit 1 bit per DIFE), the VIF/VIFE bytes as given and the data field (binary
integers little-endian in two's complement, BCD with the low digit first).
:func:`date_time_f` gives the 4 data bytes of a type F date and time. Values that do not fit
their field raise ValueError: encoding is not decoding.
"""

from __future__ import annotations

import datetime as _dt

from smgwd.codec.mbus.records import Function

__all__ = ["CODINGS", "date_time_f", "encode_record"]

#: Data field code and width in bytes of the fixed-length codings.
CODINGS: dict[str, tuple[int, int]] = {
    "int8": (0x1, 1), "int16": (0x2, 2), "int24": (0x3, 3), "int32": (0x4, 4), "int48": (0x6, 6), "int64": (0x7, 8),
    "bcd2": (0x9, 1), "bcd4": (0xA, 2), "bcd6": (0xB, 3), "bcd8": (0xC, 4), "bcd12": (0xE, 6),
}


def _difes(storage: int, tariff: int, subunit: int) -> bytes:
    out = bytearray()
    storage >>= 1
    while storage or tariff or subunit:
        out.append((subunit & 1) << 6 | (tariff & 3) << 4 | (storage & 0x0F))
        storage, tariff, subunit = storage >> 4, tariff >> 2, subunit >> 1
    if len(out) > 10:
        raise ValueError("more than 10 DIFEs")
    for k in range(len(out) - 1):
        out[k] |= 0x80
    return bytes(out)


def _data(coding: str, width: int, value: int) -> bytes:
    if coding.startswith("bcd"):
        digits = 2 * width
        if not 0 <= value < 10**digits:
            raise ValueError(f"{value} does not fit {digits} BCD digits")
        text = f"{value:0{digits}d}"
        return bytes(int(text[k : k + 2], 16) for k in range(digits - 2, -2, -2))
    bits = 8 * width
    if not -(1 << (bits - 1)) <= value < 1 << bits:
        raise ValueError(f"{value} does not fit {bits} bits")
    return (value & ((1 << bits) - 1)).to_bytes(width, "little")


def encode_record(
    vif: bytes,
    value: int | bytes,
    *,
    coding: str = "int32",
    storage: int = 0,
    tariff: int = 0,
    subunit: int = 0,
    function: Function = Function.INSTANTANEOUS,
) -> bytes:
    """One data record: DIF, DIFEs, ``vif`` (VIF and VIFEs) and ``value`` in ``coding``.

    ``value`` may be the data field's bytes themselves (e.g. :func:`date_time_f`), which
    must then be as long as the coding says.
    """
    if coding not in CODINGS:
        raise ValueError(f"unknown coding {coding!r} (known: {', '.join(CODINGS)})")
    if storage < 0 or tariff < 0 or subunit < 0:
        raise ValueError("storage, tariff and subunit are not negative")
    code, width = CODINGS[coding]
    field = value if isinstance(value, bytes) else _data(coding, width, value)
    if len(field) != width:
        raise ValueError(f"{coding} needs {width} data bytes, got {len(field)}")
    difes = _difes(storage, tariff, subunit)
    dif = (0x80 if difes else 0) | (storage & 1) << 6 | int(function) << 4 | code
    return bytes((dif,)) + difes + vif + field


def date_time_f(moment: _dt.datetime, *, summer_time: bool = False) -> bytes:
    """The 4 bytes of a type F date and time (minute resolution, local meter time)."""
    year = moment.year
    if not 1981 <= year <= 2299:
        # 1900..1980 would be written with hundred-years 0, which readers take as 2000..2080
        raise ValueError(f"year {year} is outside what type F says unambiguously (1981..2299)")
    hundred, y = divmod(year - 1900, 100)
    return bytes((
        moment.minute & 0x3F,
        (0x80 if summer_time else 0) | hundred << 5 | moment.hour,
        (y & 0x07) << 5 | moment.day,
        (y & 0x78) << 1 | moment.month,
    ))
