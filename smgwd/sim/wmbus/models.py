"""What the simulated OMS meters measure, as EN 13757-3 record areas.

How this works: every model integrates its register minute by minute from a rate that
is constant within one simulated minute (seeded noise per minute, as the electricity
meter does), so real, accelerated and stepped time give the same values for the same
seed, and ``records()`` gives the record area a real meter of that medium sends, with
its meter time first (type F, local time, as OMS meters send it).

- electricity (device type 0x02): the :class:`~smgwd.sim.meter.SimMeter` of the same
  id: import and export energy in Wh, import and export power in W (export with the
  "accumulation if negative" VIFE);
- water (0x07 cold, 0x06 warm): volume in litres and flow in l/h; use follows the H0
  load profile's shape scaled to the annual m³ (people draw water when they use power);
- heat (0x04): heat power follows the season (a cosine with its peak in mid January)
  and the time of day; flow and return temperature follow the load, and the volume flow
  is what carries that power at that temperature difference (1.163 kWh per m³ and K).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Protocol

from smgwd.codec.mbus.encoder import date_time_f, encode_record
from smgwd.sim.clock import SimClock
from smgwd.sim.loadprofile.slp import BERLIN, StandardLoadProfile
from smgwd.sim.meter import SimMeter, unit_noise

__all__ = ["ElectricityModel", "HeatModel", "HeatSpec", "RadioModel", "WaterModel", "WaterSpec"]

MINUTE = 60.0
WATER_HEAT_KWH_PER_M3_K = 1.163

# VIF/VIFE bytes (EN 13757-3 table 14) of the records the models send.
VIF_DATE_TIME = b"\x6d"
VIF_ENERGY_WH = b"\x03"
VIF_ENERGY_100WH = b"\x05"
VIF_POWER_W = b"\x2b"
VIF_VOLUME_L = b"\x13"
VIF_VOLUME_10L = b"\x14"
VIF_FLOW_LPH = b"\x3b"
VIF_FLOW_TEMP_01C = b"\x5a"
VIF_RETURN_TEMP_01C = b"\x5e"
VIF_TEMP_DIFF_01K = b"\x62"
VIFE_EXPORT = 0x3C  # accumulation only if negative contributions


def _export(vif: bytes) -> bytes:
    return bytes((vif[0] | 0x80, VIFE_EXPORT))


def _meter_time(t: float) -> bytes:
    local = datetime.fromtimestamp(t, timezone.utc).astimezone(BERLIN)
    return encode_record(VIF_DATE_TIME, date_time_f(local, summer_time=bool(local.dst())))


class RadioModel(Protocol):
    """A simulated meter behind a radio: its medium and what it sends."""

    id: str
    device_type: int

    @property
    def now(self) -> float:
        """The simulated time the model is integrated to."""
        ...

    def records(self) -> bytes:
        """The record area at the clock's current time (brings the model up to it)."""
        ...

    def describe(self) -> str:
        """One line for status views."""
        ...


class ElectricityModel:
    """A :class:`SimMeter`'s registers as OMS electricity records."""

    device_type = 0x02

    def __init__(self, meter: SimMeter) -> None:
        self.meter = meter
        self.id = meter.spec.id

    @property
    def now(self) -> float:
        return self.meter.now

    def records(self) -> bytes:
        m = self.meter
        m.sync()
        net = round(m.net_power_w(m.now))
        return b"".join((
            _meter_time(m.now),
            encode_record(VIF_ENERGY_WH, int(m.import_wh)),
            encode_record(_export(VIF_ENERGY_WH), int(m.export_wh)),
            encode_record(VIF_POWER_W, max(net, 0)),
            encode_record(_export(VIF_POWER_W), max(-net, 0)),
        ))

    def describe(self) -> str:
        m = self.meter
        m.sync()
        return f"import {m.import_wh / 1000:.3f} kWh, export {m.export_wh / 1000:.3f} kWh, power {m.net_power_w(m.now):.0f} W"


@dataclass(frozen=True, slots=True)
class WaterSpec:
    id: str
    serial: int
    manufacturer: str = "SIM"
    annual_m3: float = 50.0
    initial_m3: float = 0.0
    warm: bool = False
    seed: int = 0


@dataclass(frozen=True, slots=True)
class HeatSpec:
    id: str
    serial: int
    manufacturer: str = "SIM"
    annual_kwh: float = 8000.0
    initial_kwh: float = 0.0
    seed: int = 0


class _Integrated:
    """Base: a register integrated minute by minute from ``rate`` (per hour)."""

    def __init__(self, clock: SimClock) -> None:
        self.clock = clock
        self._t = clock.now()

    def rate(self, minute: int) -> float:
        raise NotImplementedError

    def _add(self, minute: int, hours: float) -> None:
        raise NotImplementedError

    def sync(self) -> None:
        now = self.clock.now()
        t = self._t
        while t < now:
            end = min(now, (math.floor(t / MINUTE) + 1) * MINUTE)
            self._add(int(t // MINUTE), (end - t) / 3600.0)
            t = end
        self._t = max(self._t, now)

    @property
    def now(self) -> float:
        return self._t


class WaterModel(_Integrated):
    """A water meter: litres from the H0 shape scaled to the annual volume."""

    NOISE = 0.6  # water use is bursty: ±60 % per minute

    def __init__(self, spec: WaterSpec, clock: SimClock) -> None:
        super().__init__(clock)
        self.spec = spec
        self.id = spec.id
        self.device_type = 0x06 if spec.warm else 0x07
        self._slp = StandardLoadProfile("h0", spec.annual_m3 * 1000.0)  # "kW" = litres per hour
        self.litres = spec.initial_m3 * 1000.0

    def rate(self, minute: int) -> float:
        """Litres per hour during ``minute``."""
        base = self._slp.power_at(datetime.fromtimestamp(minute * MINUTE, timezone.utc))
        return max(0.0, base * (1.0 + self.NOISE * unit_noise(self.spec.seed, minute)))

    def _add(self, minute: int, hours: float) -> None:
        self.litres += self.rate(minute) * hours

    def records(self) -> bytes:
        self.sync()
        flow = min(round(self.rate(int(self._t // MINUTE))), 0x7FFF)
        return b"".join((
            _meter_time(self._t),
            encode_record(VIF_VOLUME_L, int(self.litres)),
            encode_record(VIF_FLOW_LPH, flow, coding="int16"),
        ))

    def describe(self) -> str:
        self.sync()
        return f"volume {self.litres / 1000:.3f} m³, flow {self.rate(int(self._t // MINUTE)):.0f} l/h"


class HeatModel(_Integrated):
    """A heat meter on a heating circuit: energy, volume, power, flow, temperatures."""

    NOISE = 0.05

    def __init__(self, spec: HeatSpec, clock: SimClock) -> None:
        super().__init__(clock)
        self.spec = spec
        self.id = spec.id
        self.device_type = 0x04
        self.kwh = spec.initial_kwh
        self.m3 = 0.0

    def _season(self, t: float) -> float:
        """0.1 (mid July) .. 1.9 (mid January); its mean over a year is 1."""
        day = (t / 86400.0) % 365.25
        return 1.0 + 0.9 * math.cos(2 * math.pi * (day - 15.0) / 365.25)

    def rate(self, minute: int) -> float:
        """Heat power in kW during ``minute``."""
        t = minute * MINUTE
        hour = (t / 3600.0 + 1.0) % 24.0  # local standard time is close enough for the shape
        daily = 1.0 + 0.25 * math.cos(2 * math.pi * (hour - 7.0) / 24.0)
        mean_kw = self.spec.annual_kwh / 8766.0
        return max(0.0, mean_kw * self._season(t) * daily * (1.0 + self.NOISE * unit_noise(self.spec.seed, minute)))

    def temperatures(self, minute: int) -> tuple[float, float]:
        """Flow and return temperature in °C: hotter and wider apart in winter."""
        season = self._season(minute * MINUTE)
        flow = 40.0 + 15.0 * (season - 0.1) / 1.8 + 0.5 * unit_noise(self.spec.seed, minute * 3 + 1)
        spread = 5.0 + 10.0 * (season - 0.1) / 1.8
        return flow, flow - spread

    def volume_flow_m3h(self, minute: int) -> float:
        flow, back = self.temperatures(minute)
        return self.rate(minute) / (WATER_HEAT_KWH_PER_M3_K * (flow - back))

    def _add(self, minute: int, hours: float) -> None:
        self.kwh += self.rate(minute) * hours
        self.m3 += self.volume_flow_m3h(minute) * hours

    def records(self) -> bytes:
        self.sync()
        minute = int(self._t // MINUTE)
        flow, back = self.temperatures(minute)
        return b"".join((
            _meter_time(self._t),
            encode_record(VIF_ENERGY_100WH, int(self.kwh * 10)),
            encode_record(VIF_VOLUME_10L, int(self.m3 * 100)),
            encode_record(VIF_POWER_W, round(self.rate(minute) * 1000)),
            encode_record(VIF_FLOW_LPH, min(round(self.volume_flow_m3h(minute) * 1000), 0x7FFF), coding="int16"),
            encode_record(VIF_FLOW_TEMP_01C, round(flow * 10), coding="int16"),
            encode_record(VIF_RETURN_TEMP_01C, round(back * 10), coding="int16"),
            encode_record(VIF_TEMP_DIFF_01K, round((flow - back) * 10), coding="int16"),
        ))

    def describe(self) -> str:
        self.sync()
        return f"energy {self.kwh:.1f} kWh, volume {self.m3:.3f} m³, power {self.rate(int(self._t // MINUTE)):.2f} kW"
