"""The tariff use cases that work in periods: TAF1 billing values, TAF7 load profiles (TAF2: tariff_registers).

How this works: the delivery closes an EMP's periods one after the other
(:mod:`smgwd.wan.delivery`) and asks the EMP's use case for the values of one
period ``[start, end)``, as readings stamped at the instants they stand for
(:func:`~smgwd.taf.values.value_at`), with the calibration log entries the
period brings (its gaps, its tariff switches) and the gateway_state entries
to commit with the messages (the tariff registers). Everything is derived
from the store and the state handed in, so a period built twice (after a
crash before its messages were committed) gives the same values.

* TAF1: each register's value at the period's end, the billing period.
* TAF7: each register's value at every quarter hour from the period's start
  (a day: 92, 96 or 100 of them), each present, taken or interpolated where
  allowed and marked, or marked as a gap; every gap in the calibration log,
  one entry per register and period.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Mapping, Protocol

from smgwd.gateway.store import StoreReader, SystemNote
from smgwd.meters.value_status import GAP, INTERPOLATED
from smgwd.reading import Reading
from smgwd.calendars.periods import starts
from smgwd.taf.registers import registers
from smgwd.taf.values import capture_of, value_at

if TYPE_CHECKING:
    from smgwd.gateway.config import EmpConfig

__all__ = ["BillingValues", "LoadProfile", "PeriodValues", "UseCase", "meters_of", "use_case"]

GAP_EVENT = "gap"
_LISTED_GAPS = 100  # instants named per calibration entry (a day has at most 100 quarter hours)


@dataclass
class PeriodValues:
    """What one period gives: the values, calibration log entries, gateway_state entries."""

    readings: list[Reading] = field(default_factory=list)
    notes: list[SystemNote] = field(default_factory=list)
    state: dict[str, str] = field(default_factory=dict)


class UseCase(Protocol):
    def values(self, reader: StoreReader, start: datetime, end: datetime, state: Mapping[str, str]) -> PeriodValues:
        """The values of the period [start, end)."""


def meters_of(emp: EmpConfig, reader: StoreReader) -> list[str]:
    """The meters an EMP's use case covers: its list, or every meter the store knows."""
    return list(emp.meters) if emp.meters else [meter.id for meter in reader.meters()]


def gap_note(emp: str, reading: Reading, missing: list[datetime], interpolated: int, out_of: int,
             what: str) -> SystemNote:
    """The calibration log entry of a register's gaps in one period."""
    first, last = missing[0].isoformat(), missing[-1].isoformat()
    extra = f", {interpolated} interpolated" if interpolated else ""
    return SystemNote(
        GAP_EVENT, f"emp {emp}: meter {reading.meter_id} {reading.obis}: {len(missing)} of {out_of} {what} "
        f"without a reading{extra} (first {first}, last {last})",
        meter_id=reading.meter_id, obis=str(reading.obis), log="calibration",
        data={"emp": emp, "missing": [m.isoformat() for m in missing[:_LISTED_GAPS]], "count": len(missing),
              "interpolated": interpolated, "of": out_of})


class _Instants:
    """Values of every register of the EMP's meters at a list of instants, with a gap entry per register."""

    what = "instants"

    def __init__(self, emp: EmpConfig) -> None:
        self.emp = emp
        self.capture = capture_of(emp)

    def instants(self, start: datetime, end: datetime) -> list[datetime]:
        raise NotImplementedError

    def values(self, reader: StoreReader, start: datetime, end: datetime, state: Mapping[str, str]) -> PeriodValues:
        result = PeriodValues()
        instants = self.instants(start, end)
        for meter in meters_of(self.emp, reader):
            for register in registers(reader, meter, self.emp.obis):
                missing: list[datetime] = []
                interpolated = 0
                for moment in instants:
                    value = value_at(reader, meter, register.obis, moment, self.capture, register)
                    if GAP in value.quirks:
                        missing.append(moment)
                    interpolated += INTERPOLATED in value.quirks
                    result.readings.append(value)
                if missing:
                    result.notes.append(gap_note(self.emp.id, register, missing, interpolated, len(instants),
                                                 self.what))
        return result


class BillingValues(_Instants):
    """TAF1: the registers at the billing period's end."""

    what = "billing period ends"

    def instants(self, start: datetime, end: datetime) -> list[datetime]:
        return [end]


class LoadProfile(_Instants):
    """TAF7: the registers at every quarter hour of the period."""

    what = "quarter hours"

    def instants(self, start: datetime, end: datetime) -> list[datetime]:
        return list(starts(start, end, "quarter_hour", self.emp.time_zone))


def use_case(emp: EmpConfig) -> UseCase | None:
    """The periodic use case of an EMP profile, None for one that delivers readings as they come."""
    if emp.taf == "taf1":
        return BillingValues(emp)
    if emp.taf == "taf7":
        return LoadProfile(emp)
    if emp.taf == "taf2":
        from smgwd.taf.tariff_registers import TariffRegisters

        return TariffRegisters(emp)
    return None
