"""TAF2: the gateway's own tariff registers, one per time-of-use zone, from the meter's register.

How this works: the calendar (:class:`~smgwd.calendars.tariff.TariffCalendar`)
cuts each billing period at its switch times into intervals of one zone. At
every cut the meter's register value is taken (:func:`~smgwd.taf.values.value_at`).
The consumption between two consecutive cuts, ``value(b) - value(a)`` in the
meter's raw integer, goes to the zone of that interval. When a cut has no
value (a gap), the consumption from the last cut with a value to the next one
cannot be split between zones and goes to the error register (tariff rate 63,
our choice of number). So for any stretch between two cuts with values,
zone registers plus error register grow by exactly the meter's register
difference: integer sums, no rounding anywhere. A register that goes down (a
meter replaced or reset) or changes its scaler or unit is not counted across:
the gateway starts again from the new value and logs why.

The registers are cumulative from the first value the gateway took and are
kept in gateway_state (``taf2.<emp>``: per meter and OBIS the last cut with a
value, its raw value, scaler, unit and the registers), committed with the
period's messages. At each period's end they go out as readings stamped at
the end: the zone registers under the meter's OBIS code with value group E =
1, 2, ... (the zone's number), the error register under E = 63, and the
meter's own register as taken at the end, so an EMP can check the sum. A
register fed by an interpolated value carries that mark. Every switch goes to
the calibration log (``tariff_switch``), every gap as TAF7's do (``gap``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Mapping

from smgwd.cosem.obis import Obis
from smgwd.gateway.store import StoreReader, SystemNote
from smgwd.meters.value_status import GAP, INTERPOLATED
from smgwd.reading import Reading, TimeQuality
from smgwd.taf.registers import registers
from smgwd.taf.use_case import PeriodValues, gap_note, meters_of
from smgwd.taf.values import capture_of, value_at

if TYPE_CHECKING:
    from smgwd.gateway.config import EmpConfig

__all__ = ["ERROR_RATE", "SWITCH_EVENT", "TariffRegisters", "state_key", "tariff_obis"]

ERROR_RATE = 63
SWITCH_EVENT = "tariff_switch"
RESTART_EVENT = "tariff_register_restart"


def state_key(emp: str) -> str:
    """The gateway_state key of an EMP's tariff registers."""
    return f"taf2.{emp}"


def tariff_obis(obis: Obis, rate: int) -> Obis:
    """The OBIS code of tariff rate ``rate`` (1.., or ERROR_RATE) of register ``obis``."""
    return Obis(obis.a, obis.b, obis.c, obis.d, rate, obis.f)


@dataclass
class _Register:
    """One meter register's tariff registers and the last cut with a value."""

    at: str | None = None  # ISO instant of the last cut with a value
    raw: int = 0
    scaler: int = 0
    unit: int | None = None
    zones: list[int] = field(default_factory=list)
    error: int = 0
    substitute: bool = False  # fed by an interpolated value

    @classmethod
    def load(cls, data: Any, zones: int) -> _Register:
        known = {name: value for name, value in data.items() if name in cls.__dataclass_fields__} \
            if isinstance(data, dict) else {}
        register = cls(**known)
        register.zones = (list(register.zones) + [0] * zones)[:zones]
        return register


class TariffRegisters:
    """TAF2 for one EMP profile (see the module comment)."""

    def __init__(self, emp: EmpConfig) -> None:
        assert emp.tariff is not None
        self.emp = emp
        self.calendar = emp.tariff
        self.capture = capture_of(emp)

    def values(self, reader: StoreReader, start: datetime, end: datetime, state: Mapping[str, str]) -> PeriodValues:
        result = PeriodValues()
        try:
            kept = json.loads(state.get(state_key(self.emp.id), "{}"))
        except ValueError:
            kept = {}
        kept = kept if isinstance(kept, dict) else {}
        switches = self.calendar.switches(start, end)
        cuts = [at for at, _ in switches] + [end]
        zones = len(self.calendar.zones)
        changes = switches[1:]
        if self.calendar.zone_at(start - timedelta(microseconds=1)) != switches[0][1]:
            changes.insert(0, switches[0])  # a switch right at the period's start
        for at, zone in changes:
            result.notes.append(SystemNote(
                SWITCH_EVENT, f"emp {self.emp.id}: tariff {self.calendar.name} switches to "
                f"{self.calendar.zones[zone]} (register {zone + 1}) at {at.isoformat()}",
                log="calibration", data={"emp": self.emp.id, "at": at.isoformat(), "zone": self.calendar.zones[zone],
                                         "register": zone + 1}))
        for meter in meters_of(self.emp, reader):
            for template in registers(reader, meter, self.emp.obis):
                key = f"{meter}|{template.obis}"
                register = _Register.load(kept.get(key), zones)
                missing: list[datetime] = []
                taken: Reading | None = None
                for index, cut in enumerate(cuts):
                    taken = value_at(reader, meter, template.obis, cut, self.capture, template)
                    if GAP in taken.quirks:
                        if index < len(cuts) - 1:  # the end is the next period's start: noted there
                            missing.append(cut)
                        continue
                    self._count(register, index, cuts, switches, taken, result, template)
                if missing:
                    result.notes.append(gap_note(self.emp.id, template, missing, 0, len(cuts) - 1, "tariff cuts"))
                kept[key] = register.__dict__
                result.readings.extend(self._readings(template, register, end, taken))
        result.state[state_key(self.emp.id)] = json.dumps(kept, separators=(",", ":"), sort_keys=True)
        return result

    def _count(self, register: _Register, index: int, cuts: list[datetime],
               switches: list[tuple[datetime, int]], value: Reading, result: PeriodValues, template: Reading) -> None:
        """Add the consumption up to cut ``index`` (value ``value``) to its zone or the error register."""
        assert isinstance(value.raw, int)
        cut = cuts[index].isoformat()
        if register.at is None or (value.scaler, value.unit) != (register.scaler, register.unit) \
                or value.raw < register.raw:
            if register.at is not None:
                why = (f"it went down from {register.raw} to {value.raw}" if value.raw < register.raw
                       else f"its scaler or unit changed to {value.scaler}, {value.unit}")
                result.notes.append(SystemNote(
                    RESTART_EVENT, f"emp {self.emp.id}: meter {value.meter_id} {value.obis}: tariff registers go on "
                    f"from {value.raw} at {cut}: {why}", meter_id=value.meter_id, obis=str(value.obis),
                    log="calibration", data={"emp": self.emp.id, "at": cut, "from": register.raw, "to": value.raw}))
            register.at, register.raw, register.scaler, register.unit = cut, value.raw, value.scaler, value.unit
            return
        if register.at == cut:
            return
        delta = value.raw - register.raw
        if index > 0 and register.at == cuts[index - 1].isoformat():
            register.zones[switches[index - 1][1]] += delta
        else:
            register.error += delta
        register.substitute = register.substitute or INTERPOLATED in value.quirks
        register.at, register.raw = cut, value.raw

    def _readings(self, template: Reading, register: _Register, end: datetime, taken: Reading | None) -> list[Reading]:
        marks = (INTERPOLATED,) if register.substitute else ()
        scaler, unit = (register.scaler, register.unit) if register.at is not None else (template.scaler, template.unit)

        def rate(number: int, raw: int) -> Reading:
            return Reading(template.meter_id, tariff_obis(template.obis, number), raw, scaler, unit, None, None,
                           end, TimeQuality.SYNCHRONISED, marks)

        values = [rate(number, raw) for number, raw in enumerate(register.zones, start=1)]
        values.append(rate(ERROR_RATE, register.error))
        if taken is not None:
            values.append(taken)
        return values
