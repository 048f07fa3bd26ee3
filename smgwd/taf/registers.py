"""Which of a meter's values are registers a tariff use case works on.

How this works: an EMP profile may list its OBIS codes; then those are the
registers (one the meter has not sent yet still gets its instants, as gaps).
Without a list, every integer value whose unit is a cumulative quantity
(energy Wh, VAh, varh, J; volume m3, m3 corrected) is a register: the meter
counts it up, so a difference between two instants is what was consumed in
between. Each register comes as the meter's latest reading of it, the
template whose scaler and unit a gap takes.
"""

from __future__ import annotations

from typing import Sequence

from smgwd.cosem.obis import Obis
from smgwd.gateway.store.reader import StoreReader
from smgwd.reading import Reading

__all__ = ["CUMULATIVE_UNITS", "registers"]

#: DLMS unit codes of counted-up quantities: m3 (13), corrected m3 (14), J (25), Wh (30), VAh (31), varh (32)
CUMULATIVE_UNITS = frozenset({13, 14, 25, 30, 31, 32})


def _number(reading: Reading) -> bool:
    return isinstance(reading.raw, int) and not isinstance(reading.raw, bool)


def registers(reader: StoreReader, meter: str, obis: Sequence[str] = ()) -> list[Reading]:
    """The registers of ``meter`` (see the module comment), by OBIS code."""
    latest = [r for r in reader.last_readings(meter) if _number(r)]
    if not obis:
        return [r for r in latest if r.unit in CUMULATIVE_UNITS]
    known = {r.obis: r for r in latest}
    wanted = sorted({Obis.parse(code) for code in obis}, key=str)
    return [known.get(code, Reading(meter, code, 0)) for code in wanted]
