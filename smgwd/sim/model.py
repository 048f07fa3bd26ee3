"""What the simulator's wire servers need from a simulated meter.

The SML servers (TCP request/response, serial push) talk to meters only
through :class:`SmlMeterModel`, so one server can serve any number of meters
and tests can drive servers with the real meter model on a stepped clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from smgwd.codec.sml.types import ListEntry

__all__ = ["ProfileRow", "SmlMeterModel"]


@dataclass(frozen=True, slots=True)
class ProfileRow:
    """One stored period of a register: its end time and the value then."""

    timestamp: int  # Unix time, UTC, end of the period
    sec_index: int  # the meter's seconds index at that time
    status: int  # status word of the period
    raw: int  # register value (meter's raw integer)
    scaler: int
    unit: int


class SmlMeterModel(Protocol):
    """A meter as SML servers see it."""

    @property
    def server_id(self) -> bytes:
        """The SML serverId (10-byte DIN 43863-5 form for electricity meters)."""
        ...

    def sec_index(self) -> int:
        """The meter's seconds index now (seconds since the meter started; not a date)."""
        ...

    def list_entries(self) -> tuple[ListEntry, ...]:
        """Every current value as an SML list entry (objName, status, valTime, unit, scaler, value)."""
        ...

    def load_profile(self, obj_name: bytes, begin: int | None, end: int | None) -> list[ProfileRow]:
        """Stored periods of one register with timestamps in [begin, end] (None: open end)."""
        ...
