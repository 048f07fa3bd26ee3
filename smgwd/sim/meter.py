"""A simulated electricity meter: load profile in, registers and instantaneous values out.

How this works: net power is consumption (a BDEW standard load profile
scaled to the annual kWh, with seeded noise per minute) minus PV feed-in
(when configured). Within one simulated minute it is constant, so the
energy registers integrate it exactly, minute segment by minute segment:
import (1.8.0) takes positive net power, export (2.8.0) negative, and the
tariff registers (1.8.1/1.8.2) take the import of the time-of-use period the
segment falls in. Everything follows from ``advance(now)`` with the clock's
simulated time, so real, accelerated and stepped time give the same data for
the same seed. The seconds index counts from the meter's start and is never
a date; the meter's clock object (0-0:1.0.0) carries the date.

Values on the wire keep the integer-and-scaler form real meters use: energy
in 0.1 Wh (scaler -1), power in W, voltage in 0.1 V, current in 0.01 A,
frequency in 0.01 Hz.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from smgwd.codec.crc import CrcKind
from smgwd.codec.sml.types import ListEntry, SmlTime, TimeKind
from smgwd.cosem.obis import Obis
from smgwd.sim.loadprofile.pv import PvProfile
from smgwd.sim.loadprofile.slp import StandardLoadProfile
from smgwd.sim.clock import SimClock
from smgwd.sim.model import ProfileRow

__all__ = ["MeterSpec", "PvSpec", "SimMeter", "TariffPeriod", "DEFAULT_OBJECTS", "unit_noise"]

LOCAL = ZoneInfo("Europe/Berlin")
MINUTE = 60.0
QUARTER = 900
HISTORY_QUARTERS = 96 * 40  # 40 days of quarter-hour register values

# OBIS codes the simulator can serve, with (unit, scaler, SML value type).
E_IMPORT, E_EXPORT = Obis(1, 0, 1, 8, 0), Obis(1, 0, 2, 8, 0)
E_T1, E_T2 = Obis(1, 0, 1, 8, 1), Obis(1, 0, 1, 8, 2)
P_TOTAL = Obis(1, 0, 16, 7, 0)
P_PHASE = (Obis(1, 0, 36, 7, 0), Obis(1, 0, 56, 7, 0), Obis(1, 0, 76, 7, 0))
U_PHASE = (Obis(1, 0, 32, 7, 0), Obis(1, 0, 52, 7, 0), Obis(1, 0, 72, 7, 0))
I_PHASE = (Obis(1, 0, 31, 7, 0), Obis(1, 0, 51, 7, 0), Obis(1, 0, 71, 7, 0))
FREQUENCY = Obis(1, 0, 14, 7, 0)
MANUFACTURER = Obis(1, 0, 96, 50, 1, 1)
SERVER_ID = Obis(1, 0, 96, 1, 0)
CLOCK = Obis(0, 0, 1, 0, 0)

DEFAULT_OBJECTS = (
    MANUFACTURER, SERVER_ID, CLOCK, E_IMPORT, E_EXPORT, E_T1, E_T2, P_TOTAL,
    *P_PHASE, *U_PHASE, *I_PHASE, FREQUENCY,
)
ENERGY_REGISTERS = (E_IMPORT, E_EXPORT, E_T1, E_T2)
STATUS_BASE = 0x0000_0104  # "meter running, load present"
STATUS_EXPORT = 1 << 11  # energy direction -A, as DZG and Holley meters flag it


@dataclass(frozen=True, slots=True)
class TariffPeriod:
    """Local time of day [start, end) in minutes when import counts on tariff register 1 or 2.

    Outside every period import counts on the other register (register 1 when
    no tariff is configured).
    """

    start_minute: int
    end_minute: int
    register: int


@dataclass(frozen=True, slots=True)
class PvSpec:
    """A PV plant behind the meter."""

    annual_kwh: float
    latitude: float = 48.52  # Tübingen, jOSEF's home
    longitude: float = 9.06
    tilt_deg: float = 30.0
    azimuth_deg: float = 180.0


@dataclass(frozen=True, slots=True)
class MeterSpec:
    """Everything that defines one simulated meter (from the XML configuration)."""

    id: str
    serial: int
    manufacturer: str = "SIM"
    profile: str = "h0"
    annual_kwh: float = 3500.0
    dynamic: bool = True
    pv: PvSpec | None = None
    phases: int = 3
    tariff: tuple[TariffPeriod, ...] = ()
    seed: int = 0
    objects: tuple[Obis, ...] = DEFAULT_OBJECTS
    initial_import_wh: float = 0.0
    initial_export_wh: float = 0.0
    crc: CrcKind = CrcKind.X25
    bare_valtime: bool = False  # imitate Holley: valTime as a bare Unsigned32

    @property
    def server_id(self) -> bytes:
        """DIN 43863-5 server id: 0a, sparte 1 (electricity), FLAG id, fabrication block, serial."""
        return b"\x0a\x01" + self.manufacturer.encode("ascii") + b"\x00" + self.serial.to_bytes(4, "big")


def unit_noise(seed: int, key: int) -> float:
    """A deterministic number in [-1, 1) from (seed, key): splitmix64, no Random object per call."""
    z = (seed * 0x9E3779B97F4A7C15 + key * 0xBF58476D1CE4E5B9 + 0x94D049BB133111EB) & 0xFFFF_FFFF_FFFF_FFFF
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFF_FFFF_FFFF_FFFF
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFF_FFFF_FFFF_FFFF
    z ^= z >> 31
    return (z >> 11) / float(1 << 52) - 1.0


class SimMeter:
    """One simulated meter; implements :class:`smgwd.sim.model.SmlMeterModel`.

    Args:
        spec: what the meter is.
        clock: the simulation clock; the meter starts (seconds index 0) at its current time.
    """

    NOISE = 0.05  # ±5 % per minute on consumption

    def __init__(self, spec: MeterSpec, clock: SimClock) -> None:
        self.spec = spec
        self.clock = clock
        start = clock.now()
        self.start = start
        self._t = start
        # dynamisation exists for H0 only; other profiles ignore the setting
        self._slp = StandardLoadProfile(spec.profile, spec.annual_kwh, dynamic=spec.dynamic and spec.profile == "h0")
        self._pv = (
            PvProfile(spec.pv.annual_kwh, spec.pv.latitude, spec.pv.longitude, spec.pv.tilt_deg,
                      spec.pv.azimuth_deg, seed=spec.seed)
            if spec.pv else None
        )
        self.import_wh = spec.initial_import_wh
        self.export_wh = spec.initial_export_wh
        self.tariff_wh = [0.0, 0.0]
        self._quarter_cache: tuple[int, float, int] = (-1, 0.0, 1)  # (quarter, consumption W, register)
        self._minute_cache: tuple[int, float] = (-1, 0.0)
        self._history: dict[Obis, deque[ProfileRow]] = {o: deque(maxlen=HISTORY_QUARTERS) for o in ENERGY_REGISTERS}
        self._phase_weights = self._weights()
        # outside every configured period import counts on the register no period names
        self._off_register = 2 if any(p.register == 1 for p in spec.tariff) else 1

    # --- the physics ----------------------------------------------------------------

    def _weights(self) -> tuple[float, ...]:
        if self.spec.phases == 1:
            return (1.0,)
        raw = [1.0 + 0.3 * unit_noise(self.spec.seed, 10_000 + k) for k in range(3)]
        total = sum(raw)
        return tuple(w / total for w in raw)

    def _quarter(self, quarter: int) -> tuple[float, int]:
        """Consumption in W (before noise) and tariff register of a UTC quarter-hour index."""
        cached = self._quarter_cache
        if cached[0] != quarter:
            instant = datetime.fromtimestamp(quarter * QUARTER, timezone.utc)
            watts = self._slp.power_at(instant) * 1000.0
            local = instant.astimezone(LOCAL)
            minute = local.hour * 60 + local.minute
            register = next(
                (p.register for p in self.spec.tariff if p.start_minute <= minute < p.end_minute), self._off_register
            )
            cached = self._quarter_cache = (quarter, watts, register)
        return cached[1], cached[2]

    def net_power_w(self, t: float) -> float:
        """Net power in W at simulated time ``t`` (positive: import, negative: feed-in)."""
        minute = int(t // MINUTE)
        if self._minute_cache[0] == minute:
            return self._minute_cache[1]
        consumption, _ = self._quarter(int(t // QUARTER))
        net = consumption * (1.0 + self.NOISE * unit_noise(self.spec.seed, minute))
        if self._pv is not None:
            net -= self._pv.power_kw(datetime.fromtimestamp(minute * MINUTE, timezone.utc)) * 1000.0
        self._minute_cache = (minute, net)
        return net

    def sync(self) -> None:
        """Bring the registers up to the clock's current time."""
        self.advance(self.clock.now())

    def advance(self, now: float) -> None:
        """Integrate the registers up to simulated time ``now`` (earlier times are ignored)."""
        t = self._t
        while t < now:
            end = min(now, (math.floor(t / MINUTE) + 1) * MINUTE)
            watts = self.net_power_w(t)
            wh = watts * (end - t) / 3600.0
            if wh >= 0:
                self.import_wh += wh
                _, register = self._quarter(int(t // QUARTER))
                self.tariff_wh[register - 1] += wh
            else:
                self.export_wh -= wh
            if end % QUARTER == 0:
                self._record(end)
            t = end
        self._t = max(self._t, now)

    def _record(self, t: float) -> None:
        sec_index = int(t - self.start)
        status = self.status()
        for obis, wh in zip(ENERGY_REGISTERS, (self.import_wh, self.export_wh, *self.tariff_wh)):
            self._history[obis].append(ProfileRow(int(t), sec_index, status, int(wh * 10), -1, 30))

    # --- what the meter shows ----------------------------------------------------------

    @property
    def server_id(self) -> bytes:
        return self.spec.server_id

    @property
    def now(self) -> float:
        """The simulated time the registers are integrated to."""
        return self._t

    def sec_index(self) -> int:
        self.sync()
        return int(self._t - self.start)

    def status(self) -> int:
        return STATUS_BASE | (STATUS_EXPORT if self.net_power_w(self._t) < 0 else 0)

    def phase_values(self) -> list[tuple[int, int, int]]:
        """Per phase: (power W, voltage 0.1 V, current 0.01 A), with seeded noise per minute."""
        minute = int(self._t // MINUTE)
        net = self.net_power_w(self._t)
        values = []
        for k, weight in enumerate(self._phase_weights):
            watts = net * weight
            volts = 230.0 + 2.0 * unit_noise(self.spec.seed, minute * 8 + k + 1)
            amps = abs(watts) / volts
            values.append((round(watts), round(volts * 10), round(amps * 100)))
        return values

    def frequency_centihertz(self) -> int:
        return round((50.0 + 0.02 * unit_noise(self.spec.seed, int(self._t // MINUTE) * 8 + 7)) * 100)

    def list_entries(self) -> tuple[ListEntry, ...]:
        spec = self.spec
        sec = self.sec_index()  # syncs
        val_time = SmlTime(TimeKind.SEC_INDEX, sec, bare=spec.bare_valtime)
        status = self.status()
        phases = self.phase_values()
        values: dict[Obis, ListEntry] = {}

        def energy(obis: Obis, wh: float) -> None:
            values[obis] = ListEntry(obis.to_bytes(), int(wh * 10), status, val_time, 30, -1, None, "u64")

        def number(obis: Obis, raw: int, unit: int, scaler: int, vtype: str) -> None:
            values[obis] = ListEntry(obis.to_bytes(), raw, None, None, unit, scaler, None, vtype)

        values[MANUFACTURER] = ListEntry(MANUFACTURER.to_bytes(), spec.manufacturer.encode("ascii"), value_type="octets")
        values[SERVER_ID] = ListEntry(SERVER_ID.to_bytes(), spec.server_id, value_type="octets")
        values[CLOCK] = ListEntry(CLOCK.to_bytes(), SmlTime(TimeKind.TIMESTAMP, int(self._t)), value_type="time")
        energy(E_IMPORT, self.import_wh)
        energy(E_EXPORT, self.export_wh)
        energy(E_T1, self.tariff_wh[0])
        energy(E_T2, self.tariff_wh[1])
        number(P_TOTAL, round(self.net_power_w(self._t)), 27, 0, "i32")
        for k, (watts, decivolts, centiamps) in enumerate(phases):
            number(P_PHASE[k], watts, 27, 0, "i32")
            number(U_PHASE[k], decivolts, 35, -1, "u16")
            number(I_PHASE[k], centiamps, 33, -2, "u16")
        number(FREQUENCY, self.frequency_centihertz(), 44, -2, "u16")
        return tuple(values[o] for o in spec.objects if o in values)

    def load_profile(self, obj_name: bytes, begin: int | None, end: int | None) -> list[ProfileRow]:
        self.sync()
        history = self._history.get(Obis.from_bytes(obj_name)) if len(obj_name) == 6 else None
        if history is None:
            raise KeyError(obj_name.hex())
        return [
            row for row in history
            if (begin is None or row.timestamp >= begin) and (end is None or row.timestamp <= end)
        ]

    def registers_kwh(self) -> dict[str, float]:
        """Register values in kWh for status views."""
        return {
            "1.8.0": self.import_wh / 1000, "2.8.0": self.export_wh / 1000,
            "1.8.1": self.tariff_wh[0] / 1000, "1.8.2": self.tariff_wh[1] / 1000,
        }
