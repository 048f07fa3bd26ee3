"""Pseudonymous delivery (TR-03109): an EMP that gets readings for grid-state use never learns the meter.

How this works: for an EMP with ``pseudonymize = true`` each meter id is
replaced by a pseudonym, ``ps-`` and 13 hex digits (16 characters, the length
of a COSEM logical device name): the start of HMAC-SHA256 keyed with the
gateway secret (:mod:`smgwd.gateway.secret`) over the EMP's id and the meter
id. It is stable for one EMP (its deliveries of one meter can be joined up),
different between EMPs (two EMPs cannot join theirs), and without the secret
it cannot be traced back to the meter. Renaming the EMP's ``id`` in the
configuration gives new pseudonyms.

A meter's id is not only in its name: meters report their server id,
serial and manufacturer among their values (OBIS 0-0:96.1.0, 1-0:0.0.9,
129-129:199.130.3, an M-Bus fabrication number). So such an EMP gets only
physical quantities: integer values whose OBIS code is of a medium
(A = 1..9, not abstract or manufacturer-specific objects) and a measured
quantity (C = 1..94, not the identifiers of C = 0, the service entries of
C = 96, errors, lists, profiles or manufacturer-specific codes). The
meter's own time and the value as it came off the wire are dropped too; the
message's other identities (gateway, EMP, CMS signer and recipient) are the
gateway's and the EMP's own. ``smgwctl pseudonyms EMP`` shows which pseudonym
stands for which meter, for the EMP's ``[gateways]`` list.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Iterable

from smgwd.reading import Reading

__all__ = ["PATTERN", "Pseudonyms", "is_quantity", "pseudonym"]

PREFIX = "ps-"
DIGITS = 13
#: What a pseudonym looks like.
PATTERN = re.compile(rf"{PREFIX}[0-9a-f]{{{DIGITS}}}")
_CONTEXT = b"smgwd pseudonym 1\x00"


def pseudonym(secret: bytes, emp: str, meter: str) -> str:
    """The pseudonym of ``meter`` for ``emp`` under the gateway ``secret``."""
    message = _CONTEXT + emp.encode("utf-8") + b"\x00" + meter.encode("utf-8")
    return PREFIX + hmac.new(secret, message, hashlib.sha256).hexdigest()[:DIGITS]


def is_quantity(reading: Reading) -> bool:
    """Whether ``reading`` is a physical quantity of a medium (see the module comment), not an identifier."""
    obis = reading.obis
    return (isinstance(reading.raw, int) and not isinstance(reading.raw, bool)
            and 1 <= obis.a <= 9 and 1 <= obis.c <= 94)


class Pseudonyms:
    """The pseudonyms of one EMP; remembers which meter each stands for (for the gateway's own logs)."""

    def __init__(self, secret: bytes, emp: str) -> None:
        self._secret = secret
        self._emp = emp
        self._names: dict[str, str] = {}
        self._meters: dict[str, str] = {}

    def of(self, meter: str) -> str:
        """The pseudonym of ``meter``."""
        name = self._names.get(meter)
        if name is None:
            name = self._names[meter] = pseudonym(self._secret, self._emp, meter)
            self._meters[name] = meter
        return name

    def meter(self, name: str) -> str:
        """The meter a pseudonym handed out stands for (``name`` itself if it is none)."""
        return self._meters.get(name, name)

    def apply(self, readings: Iterable[Reading]) -> list[Reading]:
        """The physical quantities of ``readings`` under their meters' pseudonyms, without the meter's time."""
        return [reading._replace(meter_id=self.of(reading.meter_id), meter_time=None, wire_raw=None)
                for reading in readings if is_quantity(reading)]
