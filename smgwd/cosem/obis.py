"""OBIS codes (IEC 62056-6-1): six values A-B:C.D.E*F, each 0..255.

How this works: :class:`Obis` is a frozen, ordered dataclass of six ints that
checks its range on construction. :meth:`Obis.parse` accepts the usual text
forms (``1-0:1.8.0*255``, ``1-0:1.8.0``, ``1.0.1.8.0.255``, ``0100010800ff``);
:func:`describe` names a small table of codes that real SML and DLMS meters send.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from smgwd.cosem.errors import CosemError

__all__ = ["Obis", "ObisError", "describe"]


class ObisError(CosemError):
    """Text or bytes that are not an OBIS code."""


_NUM = r"([0-9]{1,3})"
# A-B:C.D.E with an optional *F (or .F / &F, both seen in the wild).
_REDUCED = re.compile(rf"{_NUM}-{_NUM}:{_NUM}\.{_NUM}\.{_NUM}(?:[*.&]{_NUM})?")
_DOTTED = re.compile(rf"{_NUM}\.{_NUM}\.{_NUM}\.{_NUM}\.{_NUM}\.{_NUM}")
_HEX = re.compile(r"[0-9A-Fa-f]{12}")


@dataclass(frozen=True, slots=True, order=True)
class Obis:
    """An OBIS code; ``str()`` gives ``A-B:C.D.E*F``, ``bytes()`` the 6 wire bytes."""

    a: int
    b: int
    c: int
    d: int
    e: int
    f: int = 255
    _text: str = field(init=False, repr=False, compare=False)  # str(self), made once: the store writes it per reading

    def __post_init__(self) -> None:
        for name in ("a", "b", "c", "d", "e", "f"):
            value = getattr(self, name)
            if type(value) is not int or not 0 <= value <= 255:
                raise ObisError(f"OBIS group {name.upper()} must be an int 0..255, got {value!r}")
        object.__setattr__(self, "_text", f"{self.a}-{self.b}:{self.c}.{self.d}.{self.e}*{self.f}")

    @classmethod
    def parse(cls, text: str) -> Obis:
        """Read ``1-0:1.8.0*255``, ``1-0:1.8.0`` (F = 255), ``1.0.1.8.0.255``, ``0100010800ff``."""
        if not isinstance(text, str):
            raise ObisError(f"OBIS code must be text, got {type(text).__name__}")
        stripped = text.strip()
        if _HEX.fullmatch(stripped):
            return cls.from_bytes(bytes.fromhex(stripped))
        match = _REDUCED.fullmatch(stripped) or _DOTTED.fullmatch(stripped)
        if match is None:
            raise ObisError(f"not an OBIS code: {text!r}")
        groups = [int(g) for g in match.groups() if g is not None]
        if any(g > 255 for g in groups):
            raise ObisError(f"not an OBIS code: {text!r} (a group is above 255)")
        return cls(*groups)

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> Obis:
        """Read the 6-byte octet-string form used on the wire.

        Meters send the same few codes in every frame, so the codes read are
        kept (immutable, at most ``_CACHE_SIZE`` of them) and handed out again.
        """
        if not isinstance(data, (bytes, bytearray, memoryview)) or len(data) != 6:
            raise ObisError(f"an OBIS code is exactly 6 bytes, got {data!r}")
        key = bytes(data)
        code = _FROM_BYTES.get(key)
        if code is None:
            code = cls(*key)
            if cls is Obis:
                if len(_FROM_BYTES) >= _CACHE_SIZE:
                    _FROM_BYTES.clear()  # a hostile stream of distinct codes costs a refill, never memory
                _FROM_BYTES[key] = code
        return code

    def to_bytes(self) -> bytes:
        """The 6 wire bytes."""
        return bytes((self.a, self.b, self.c, self.d, self.e, self.f))

    def __bytes__(self) -> bytes:
        return self.to_bytes()

    def __str__(self) -> str:
        return self._text

    def dotted(self) -> str:
        """``A.B.C.D.E.F``, the form jOSEF's COSEM/XML uses for logical names."""
        return f"{self.a}.{self.b}.{self.c}.{self.d}.{self.e}.{self.f}"

    def hex(self) -> str:
        """12 lower-case hex digits, the form of DKE K461 logical names."""
        return self.to_bytes().hex()


_CACHE_SIZE = 4096
_FROM_BYTES: dict[bytes, Obis] = {}


def _names(prefix: str, table: dict[str, str]) -> dict[Obis, str]:
    return {Obis.parse(prefix + code): name for code, name in table.items()}


# Codes seen in real SML and DLMS frames (see shared/reference/sml.md §2.6, dlms.md §4.2).
_WELL_KNOWN: dict[Obis, str] = {
    **_names("1-0:", {
        "1.8.0*255": "active energy import total",
        "1.8.1*255": "active energy import tariff 1",
        "1.8.2*255": "active energy import tariff 2",
        "2.8.0*255": "active energy export total",
        "2.8.1*255": "active energy export tariff 1",
        "2.8.2*255": "active energy export tariff 2",
        "3.8.0*255": "reactive energy import total",
        "4.8.0*255": "reactive energy export total",
        "1.7.0*255": "active power import",
        "2.7.0*255": "active power export",
        "15.7.0*255": "absolute active power",
        "16.7.0*255": "active power total (signed)",
        "36.7.0*255": "active power L1",
        "56.7.0*255": "active power L2",
        "76.7.0*255": "active power L3",
        "31.7.0*255": "current L1",
        "51.7.0*255": "current L2",
        "71.7.0*255": "current L3",
        "32.7.0*255": "voltage L1",
        "52.7.0*255": "voltage L2",
        "72.7.0*255": "voltage L3",
        "13.7.0*255": "power factor",
        "14.7.0*255": "supply frequency",
        "0.0.0*255": "meter number",
        "0.0.9*255": "device identification (server id)",
        "0.2.0*0": "firmware version",
        "96.1.0*255": "device identification (server id)",
        "96.5.0*255": "operating status word",
        "96.50.1*1": "manufacturer identification",
        "96.90.2*1": "firmware checksum",
    }),
    **_names("0-0:", {
        "1.0.0*255": "clock",
        "42.0.0*255": "logical device name",
        "96.1.0*255": "meter serial number",
        "96.1.1*255": "meter identifier",
        "96.1.255*255": "device identification (old EMH)",
    }),
    **_names("129-129:", {
        "199.130.3*255": "manufacturer identification (old)",
        "199.130.5*255": "meter public key",
    }),
}


def describe(obis: Obis) -> str | None:
    """A short English name for a well-known code (exact match, F included), else None."""
    return _WELL_KNOWN.get(obis)
