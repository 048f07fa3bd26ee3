"""The PV feed-in model: sun geometry, Haurwitz clear sky, orientation, scaling, seeded weather."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta, timezone

import pytest

from smgwd.sim.loadprofile.pv import PvProfile, clear_sky_ghi, solar_position
from smgwd.sim.loadprofile.slp import BERLIN

BERLIN_SITE = (52.52, 13.405)
UTC = timezone.utc


def _day_rows(plant: PvProfile, day: date) -> list[tuple[datetime, float, float]]:
    return [row for row in plant.series(day.year) if row[0].date() == day]


def test_haurwitz_ghi_berlin_midsummer_matches_pvlib() -> None:
    # ops.md §4.3: pvlib 0.16.1, Location(52.52, 13.405, tz="Europe/Berlin").get_clearsky(model="haurwitz")
    # on 2025-06-21 in 15-minute steps peaks at 13:15 local time with 896.7 W/m2.
    instant = datetime(2025, 6, 21, 13, 15, tzinfo=BERLIN)
    assert clear_sky_ghi(instant, *BERLIN_SITE) == pytest.approx(896.7, rel=0.01)
    day = [datetime(2025, 6, 21, tzinfo=BERLIN) + timedelta(minutes=15 * n) for n in range(96)]
    assert max(day, key=lambda t: clear_sky_ghi(t, *BERLIN_SITE)) == instant


def test_solar_geometry() -> None:
    # At the June solstice the noon elevation is 90 - latitude + 23.44 degrees, due south.
    morning = datetime(2025, 6, 21, 10, tzinfo=UTC)
    elevation, azimuth = max(solar_position(morning + timedelta(minutes=m), *BERLIN_SITE) for m in range(180))
    assert elevation == pytest.approx(90 - 52.52 + 23.44, abs=0.1)
    assert azimuth == pytest.approx(180, abs=1)
    # Morning sun in the east, evening sun in the west, night sun below the horizon.
    assert 45 < solar_position(datetime(2025, 6, 21, 4, tzinfo=UTC), *BERLIN_SITE)[1] < 90
    assert 270 < solar_position(datetime(2025, 6, 21, 18, tzinfo=UTC), *BERLIN_SITE)[1] < 315
    assert solar_position(datetime(2025, 12, 21, 0, tzinfo=UTC), *BERLIN_SITE)[0] < -50
    assert clear_sky_ghi(datetime(2025, 12, 21, 0, tzinfo=UTC), *BERLIN_SITE) == 0.0


def test_zero_at_night() -> None:
    plant = PvProfile(5000, *BERLIN_SITE, tilt_deg=30, azimuth_deg=180, seed=7)
    for start, kw, _ in plant.series(2025):
        if solar_position(start + timedelta(minutes=7.5), *BERLIN_SITE)[0] <= 0:
            assert kw == 0.0
    assert plant.power_kw(datetime(2025, 6, 21, 23, 30, tzinfo=BERLIN)) == 0.0
    assert plant.power_kw(datetime(2025, 12, 21, 12, 0, tzinfo=BERLIN)) > 0


def test_peak_near_solar_noon_and_orientation() -> None:
    # Solar noon in Berlin on 21 June 2025: 12:00 UTC - 4 min/degree x 13.405 degrees
    # - equation of time (-1.7 min) = about 11:08 UTC.
    noon = datetime(2025, 6, 21, 11, 8, tzinfo=UTC)
    peaks = {}
    for azimuth in (90, 180, 270):
        plant = PvProfile(1000, *BERLIN_SITE, tilt_deg=30, azimuth_deg=azimuth)
        start, _, _ = max(_day_rows(plant, date(2025, 6, 21)), key=lambda row: row[1])
        peaks[azimuth] = start + timedelta(minutes=7.5)
    assert abs(peaks[180] - noon) <= timedelta(minutes=15)
    assert peaks[90] < noon - timedelta(hours=1)  # east-facing: morning
    assert peaks[270] > noon + timedelta(hours=1)  # west-facing: afternoon


def test_tilt_toward_the_low_winter_sun_matters() -> None:
    # Each plant is scaled to its own year, so compare December noon with June noon per plant:
    # modules tilted steeply south favour the low winter sun (0.63 here, flat 0.23).
    def winter_to_summer(tilt: float, azimuth: float) -> float:
        plant = PvProfile(1000, *BERLIN_SITE, tilt_deg=tilt, azimuth_deg=azimuth)
        return plant.power_kw(datetime(2025, 12, 21, 11, 10, tzinfo=UTC)) / plant.power_kw(
            datetime(2025, 6, 21, 11, 8, tzinfo=UTC)
        )

    assert winter_to_summer(60, 180) > 2 * winter_to_summer(0, 180)


@pytest.mark.parametrize("seed", [None, 1, 2024])
@pytest.mark.parametrize("year", [2024, 2025])
def test_annual_sum_is_the_configured_infeed(seed: int | None, year: int) -> None:
    plant = PvProfile(950, *BERLIN_SITE, tilt_deg=35, azimuth_deg=200, seed=seed)
    rows = list(plant.series(year))
    assert len(rows) == (35136 if year == 2024 else 35040)
    assert sum(kwh for _, _, kwh in rows) == pytest.approx(950, rel=0.005)
    assert min(kw for _, kw, _ in rows) == 0.0


def test_same_seed_same_data_different_seed_different_data() -> None:
    def kws(seed: int | None) -> list[float]:
        return [kw for _, kw, _ in PvProfile(1000, *BERLIN_SITE, 30, 180, seed=seed).series(2025)]

    assert kws(42) == kws(42)
    assert kws(42) != kws(43)
    assert kws(None) != kws(42)


def test_weather_is_independent_of_query_order() -> None:
    forward = PvProfile(1000, *BERLIN_SITE, 30, 180, seed=5)
    backward = PvProfile(1000, *BERLIN_SITE, 30, 180, seed=5)
    instants = [datetime(2025, 1, 1, 11, tzinfo=UTC) + timedelta(days=d, minutes=7 * d) for d in range(0, 365, 9)]
    assert [forward.power_kw(t) for t in instants] == [backward.power_kw(t) for t in reversed(instants)][::-1]


def test_weather_varies_by_day_and_within_a_day() -> None:
    plant = PvProfile(1000, *BERLIN_SITE, 30, 180, seed=11)
    clear = PvProfile(1000, *BERLIN_SITE, 30, 180)
    daily: dict[date, float] = defaultdict(float)
    for start, _, kwh in plant.series(2025):
        daily[start.date()] += kwh
    june = [daily[date(2025, 6, d)] for d in range(1, 31)]
    assert max(june) > 2 * min(june)  # sunny and cloudy days
    ratios = [
        plant.power_kw(t) / clear.power_kw(t)
        for t in (datetime(2025, 6, 10, 9, tzinfo=UTC) + timedelta(minutes=10 * n) for n in range(30))
    ]
    assert len({round(r, 6) for r in ratios}) > 10  # not one factor for the whole day


def test_power_kw_matches_series_at_mid_quarter() -> None:
    plant = PvProfile(1000, *BERLIN_SITE, 30, 180, seed=3)
    for start, kw, _ in _day_rows(plant, date(2025, 5, 5)):
        assert plant.power_at(start + timedelta(minutes=7.5)) == pytest.approx(kw, rel=1e-12, abs=1e-15)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="tilt"):
        PvProfile(1000, *BERLIN_SITE, tilt_deg=95, azimuth_deg=180)
    with pytest.raises(ValueError, match="latitude"):
        PvProfile(1000, 91, 13.4, 30, 180)
    with pytest.raises(ValueError, match="annual_kwh"):
        PvProfile(-1, *BERLIN_SITE, 30, 180)
    with pytest.raises(ValueError, match="timezone-aware"):
        PvProfile(1000, *BERLIN_SITE, 30, 180).power_kw(datetime(2025, 6, 1, 12))
