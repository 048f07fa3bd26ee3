"""A PV feed-in profile: clear-sky sun on a tilted plane, optional seeded weather.

How this works (there is no standard BDEW feed-in table, so this is a model):

1. Sun: declination and equation of time from Spencer's Fourier series (as in
   NOAA's "General Solar Position Calculations"), evaluated once per UTC day at
   12:00 UTC; the hour angle from the true solar time of the instant. The sun is
   a unit vector (east, north, up), so elevation is asin(up) and the angle of
   incidence on the module plane is one dot product.
2. Clear-sky global horizontal irradiance, Haurwitz: GHI = 1098 cos z exp(-0.059 / cos z)
   W/m2 (z = geometric zenith; no refraction, zero below the horizon).
3. Weather (only with a seed): each UTC day draws a clearness from
   ``random.Random`` seeded with (seed, day), and a smooth within-day factor (three
   slow sine waves with seeded periods and phases, strongest on half-cloudy
   days). GHI is multiplied by it. Same seed, same data, in any query order.
4. Diffuse share from the clearness index kt = GHI / (E0 cos z) with the Erbs,
   Klein & Duffie (1982) correlation; beam = (GHI - diffuse) / cos z.
5. Plane of array, isotropic sky: beam x max(cos AOI, 0) + diffuse (1 + cos tilt) / 2
   + GHI x albedo (1 - cos tilt) / 2, albedo 0.2.
6. AC power is taken proportional to plane-of-array irradiance, scaled per German
   local calendar year so that the year's quarter hours (each sampled at its
   midpoint) sum to ``annual_kwh``; with a seed, the noisy year is what sums to it.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Final

from smgwd.sim.loadprofile.slp import BERLIN, QH_SECONDS, SeriesRow, local_year_bounds

__all__ = ["PvProfile", "clear_sky_ghi", "solar_position"]

_DAY_SECONDS: Final = 86_400
_EPOCH: Final = date(1970, 1, 1)
_SOLAR_CONSTANT: Final = 1361.0  # W/m2
_ALBEDO: Final = 0.2


@dataclass(frozen=True, slots=True)
class _SunDay:
    """What the sun's position needs per UTC day."""

    sin_decl: float
    cos_decl: float
    eqtime_minutes: float
    extraterrestrial: float  # normal irradiance at the top of the atmosphere, W/m2


def _sun_day(epoch_day: int) -> _SunDay:
    day = _EPOCH + timedelta(days=epoch_day)
    days_in_year = (date(day.year + 1, 1, 1) - date(day.year, 1, 1)).days
    day_of_year = day.timetuple().tm_yday
    gamma = 2 * math.pi / days_in_year * (day_of_year - 1)  # the fractional year at 12:00
    c1, s1, c2, s2 = math.cos(gamma), math.sin(gamma), math.cos(2 * gamma), math.sin(2 * gamma)
    eqtime = 229.18 * (0.000075 + 0.001868 * c1 - 0.032077 * s1 - 0.014615 * c2 - 0.040849 * s2)
    decl = (
        0.006918 - 0.399912 * c1 + 0.070257 * s1 - 0.006758 * c2 + 0.000907 * s2
        - 0.002697 * math.cos(3 * gamma) + 0.00148 * math.sin(3 * gamma)
    )
    e0 = _SOLAR_CONSTANT * (1 + 0.033 * math.cos(2 * math.pi * day_of_year / days_in_year))
    return _SunDay(math.sin(decl), math.cos(decl), eqtime, e0)


def _sun_vector(
    sun: _SunDay, seconds_of_day: float, sin_lat: float, cos_lat: float, longitude: float
) -> tuple[float, float, float]:
    """The sun as a unit vector (east, north, up) seen from the site."""
    solar_minutes = seconds_of_day / 60 + sun.eqtime_minutes + 4 * longitude
    hour_angle = math.radians(solar_minutes / 4 - 180)
    cos_h = math.cos(hour_angle)
    east = -sun.cos_decl * math.sin(hour_angle)
    north = cos_lat * sun.sin_decl - sin_lat * sun.cos_decl * cos_h
    up = sin_lat * sun.sin_decl + cos_lat * sun.cos_decl * cos_h
    return east, north, up


def _haurwitz(cos_zenith: float) -> float:
    return 1098.0 * cos_zenith * math.exp(-0.059 / cos_zenith) if cos_zenith > 0 else 0.0


def _erbs_diffuse_fraction(kt: float) -> float:
    if kt <= 0.22:
        return 1.0 - 0.09 * kt
    if kt <= 0.80:
        return 0.9511 + kt * (-0.1604 + kt * (4.388 + kt * (-16.638 + kt * 12.336)))
    return 0.165


def _split(instant_utc: datetime) -> tuple[int, float]:
    if instant_utc.tzinfo is None:
        raise ValueError(f"instant must be timezone-aware, got naive {instant_utc.isoformat()}")
    day, seconds = divmod(instant_utc.timestamp(), _DAY_SECONDS)
    return int(day), seconds


def solar_position(instant_utc: datetime, latitude: float, longitude: float) -> tuple[float, float]:
    """(elevation, azimuth) of the sun in degrees; azimuth clockwise from north (180 = south)."""
    day, seconds = _split(instant_utc)
    phi = math.radians(latitude)
    east, north, up = _sun_vector(_sun_day(day), seconds, math.sin(phi), math.cos(phi), longitude)
    return math.degrees(math.asin(max(-1.0, min(1.0, up)))), math.degrees(math.atan2(east, north)) % 360


def clear_sky_ghi(instant_utc: datetime, latitude: float, longitude: float) -> float:
    """Haurwitz clear-sky global horizontal irradiance in W/m2 (0 with the sun below the horizon)."""
    elevation, _ = solar_position(instant_utc, latitude, longitude)
    return _haurwitz(math.sin(math.radians(elevation)))


@dataclass(frozen=True, slots=True)
class _Weather:
    """One day's seeded sky: mean clear-sky index, variability, and sine waves (weight, rad/h, phase)."""

    clearness: float
    amplitude: float
    waves: tuple[tuple[float, float, float], ...]

    @classmethod
    def draw(cls, seed: int, epoch_day: int) -> _Weather:
        rng = random.Random(f"smgwd-pv/{seed}/{epoch_day}")
        clearness = 0.1 + 0.9 * rng.betavariate(1.6, 1.0)
        waves = tuple(
            (rng.uniform(0.5, 1.0), 2 * math.pi / rng.uniform(0.5, 3.0), rng.uniform(0, 2 * math.pi))
            for _ in range(3)
        )
        total = sum(weight for weight, _, _ in waves)
        waves = tuple((weight / total, omega, phase) for weight, omega, phase in waves)
        return cls(clearness, 1.6 * clearness * (1 - clearness), waves)

    def factor(self, hours: float) -> float:
        wobble = sum(w * math.sin(omega * hours + phase) for w, omega, phase in self.waves)
        return min(1.0, max(0.02, self.clearness * (1 + self.amplitude * wobble)))


class PvProfile:
    """PV feed-in of one plant: a modelled irradiance on its plane, scaled to annual_kwh per year.

    ``tilt_deg`` 0 (flat) .. 90 (vertical); ``azimuth_deg`` the direction the
    modules face, clockwise from north (180 = south, 90 = east); ``seed`` None
    gives clear sky every day, an int gives seeded weather.
    """

    def __init__(
        self,
        annual_kwh: float,
        latitude: float,
        longitude: float,
        tilt_deg: float,
        azimuth_deg: float,
        seed: int | None = None,
    ) -> None:
        if not annual_kwh >= 0:
            raise ValueError(f"annual_kwh must be >= 0, not {annual_kwh!r}")
        if not -90 <= latitude <= 90:
            raise ValueError(f"latitude must be -90..90 degrees, not {latitude!r}")
        if not -180 <= longitude <= 180:
            raise ValueError(f"longitude must be -180..180 degrees, not {longitude!r}")
        if not 0 <= tilt_deg <= 90:
            raise ValueError(f"tilt must be 0..90 degrees, not {tilt_deg!r}")
        if not math.isfinite(azimuth_deg):
            raise ValueError(f"azimuth must be a number of degrees, not {azimuth_deg!r}")
        self.annual_kwh = float(annual_kwh)
        self.latitude, self.longitude = float(latitude), float(longitude)
        self.tilt_deg, self.azimuth_deg = float(tilt_deg), float(azimuth_deg) % 360
        self.seed = seed
        phi, tilt, azimuth = map(math.radians, (latitude, tilt_deg, self.azimuth_deg))
        self._sin_lat, self._cos_lat = math.sin(phi), math.cos(phi)
        self._normal = (math.sin(tilt) * math.sin(azimuth), math.sin(tilt) * math.cos(azimuth), math.cos(tilt))
        self._sky_view = (1 + math.cos(tilt)) / 2
        self._ground_view = _ALBEDO * (1 - math.cos(tilt)) / 2
        self._day_no: int | None = None  # the cached UTC day ...
        self._day: tuple[_SunDay, _Weather | None] | None = None  # ... and its sun and weather
        self._scales: dict[int, float] = {}
        self._year = (0.0, 0.0, 0.0)  # power_kw's current local year: start, end, scale

    def __repr__(self) -> str:
        return (
            f"PvProfile(annual_kwh={self.annual_kwh!r}, latitude={self.latitude!r}, "
            f"longitude={self.longitude!r}, tilt_deg={self.tilt_deg!r}, "
            f"azimuth_deg={self.azimuth_deg!r}, seed={self.seed!r})"
        )

    def power_kw(self, instant_utc: datetime) -> float:
        """AC power in kW at an aware instant."""
        day, seconds = _split(instant_utc)
        ts = day * _DAY_SECONDS + seconds
        start, end, scale = self._year
        if not start <= ts < end:
            year = datetime.fromtimestamp(ts, BERLIN).year
            start, end = (bound.timestamp() for bound in local_year_bounds(year))
            scale = self._scale(year)
            self._year = (start, end, scale)
        return self._irradiance(day, seconds) * scale

    power_at = power_kw  # the name StandardLoadProfile uses, so the simulator can take either

    def series(self, year: int) -> Iterator[SeriesRow]:
        """Every quarter hour of a German local calendar year: (start UTC, kW, kWh), kW at mid-quarter."""
        scale = self._scale(year)
        for ts, irradiance in self._quarter_hours(year):
            kw = irradiance * scale
            yield datetime.fromtimestamp(ts, timezone.utc), kw, kw * 0.25

    def _quarter_hours(self, year: int) -> Iterator[tuple[float, float]]:
        """(start Unix time, plane irradiance at the midpoint in W/m2) of each quarter hour of a local year."""
        start, end = (bound.timestamp() for bound in local_year_bounds(year))
        ts = start
        while ts < end:
            day, seconds = divmod(ts + QH_SECONDS / 2, _DAY_SECONDS)
            yield ts, self._irradiance(int(day), seconds)
            ts += QH_SECONDS

    def _scale(self, year: int) -> float:
        """kW per W/m2 in a local year, so that the year's quarter hours sum to annual_kwh."""
        scale = self._scales.get(year)
        if scale is None:
            energy = sum(irradiance for _, irradiance in self._quarter_hours(year)) * 0.25
            scale = self._scales[year] = self.annual_kwh / energy if energy > 0 else 0.0
        return scale

    def _irradiance(self, epoch_day: int, seconds: float) -> float:
        """Plane-of-array irradiance in W/m2 (weather included) at a UTC day and second."""
        if epoch_day != self._day_no or self._day is None:  # (None only before the first call)
            weather = _Weather.draw(self.seed, epoch_day) if self.seed is not None else None
            self._day, self._day_no = (_sun_day(epoch_day), weather), epoch_day
        sun, weather = self._day
        east, north, up = _sun_vector(sun, seconds, self._sin_lat, self._cos_lat, self.longitude)
        ghi = _haurwitz(up)
        if ghi <= 0:
            return 0.0
        if weather is not None:
            ghi *= weather.factor(seconds / 3600)
        diffuse = _erbs_diffuse_fraction(ghi / (sun.extraterrestrial * up)) * ghi
        beam = (ghi - diffuse) / up
        nx, ny, nz = self._normal
        cos_incidence = east * nx + north * ny + up * nz
        return beam * max(cos_incidence, 0.0) + diffuse * self._sky_view + ghi * self._ground_view
