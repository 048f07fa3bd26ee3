"""DLMS/COSEM physical units (IEC 62056-6-2 enumeration, codes 1..72, 253..255).

How this works: one table maps each code to a canonical, mostly ASCII symbol
(``m3`` rather than ``m³``, ``Ohm`` rather than ``Ω``; ``°`` and ``°C`` stay as
they are). :func:`unit_code` reads those symbols back and also accepts the
common Unicode spellings (``m³``, ``Ω``, ``µ``, ``²``, ``·``).
"""

from __future__ import annotations

__all__ = ["UNITS", "UnknownUnitError", "unit_code", "unit_symbol"]


class UnknownUnitError(KeyError):
    """A unit code or symbol that is not in the DLMS enumeration."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


UNITS: dict[int, str] = {
    1: "a", 2: "mo", 3: "wk", 4: "d", 5: "h", 6: "min", 7: "s",
    8: "°", 9: "°C", 10: "currency", 11: "m", 12: "m/s",
    13: "m3", 14: "m3 corr", 15: "m3/h", 16: "m3/h corr", 17: "m3/d", 18: "m3/d corr",
    19: "l", 20: "kg", 21: "N", 22: "Nm", 23: "Pa", 24: "bar", 25: "J", 26: "J/h",
    27: "W", 28: "VA", 29: "var", 30: "Wh", 31: "VAh", 32: "varh", 33: "A", 34: "C",
    35: "V", 36: "V/m", 37: "F", 38: "Ohm", 39: "Ohm m2/m", 40: "Wb", 41: "T", 42: "A/m",
    43: "H", 44: "Hz", 45: "1/(Wh)", 46: "1/(varh)", 47: "1/(VAh)", 48: "V2h", 49: "A2h",
    50: "kg/s", 51: "S", 52: "K", 53: "1/(V2h)", 54: "1/(A2h)", 55: "1/m3", 56: "%",
    57: "Ah", 60: "Wh/m3", 61: "J/m3", 62: "mol %", 63: "g/m3", 64: "Pa s", 65: "J/kg",
    66: "g/cm2", 67: "atm", 70: "dBm", 71: "dBuV", 72: "dB",
    253: "reserved", 254: "other", 255: "count",
}

_CODES: dict[str, int] = {symbol: code for code, symbol in UNITS.items()}
_SPELLINGS = str.maketrans({"³": "3", "²": "2", "Ω": "Ohm", "µ": "u", "μ": "u", "·": " "})


def unit_symbol(code: int) -> str | None:
    """The canonical symbol of a DLMS unit code, or None for codes outside the enumeration."""
    return UNITS.get(code)


def unit_code(symbol: str) -> int:
    """The DLMS unit code of a symbol; raises :class:`UnknownUnitError` if there is none."""
    code = _CODES.get(symbol.translate(_SPELLINGS))
    if code is None:
        raise UnknownUnitError(f"not a DLMS unit symbol: {symbol!r}")
    return code
