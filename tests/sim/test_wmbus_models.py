"""The simulated OMS meters: water follows the H0 shape, heat sums to its annual energy and
its records are physically consistent, electricity shows its SimMeter's registers, and the
meter time record is the clock's local time; same seed, same records."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from smgwd.codec.mbus import MbusDateTime, Record, decode_records
from smgwd.sim.clock import SteppedClock
from smgwd.sim.loadprofile.slp import StandardLoadProfile
from smgwd.sim.meter import MeterSpec, PvSpec, SimMeter
from smgwd.sim.wmbus.models import ElectricityModel, HeatModel, HeatSpec, WaterModel, WaterSpec

BERLIN = ZoneInfo("Europe/Berlin")
# local midnight starting Monday 10 March 2025 (CET, UTC+1; no DST change that day)
MARCH_10 = datetime(2025, 3, 9, 23, 0, tzinfo=timezone.utc).timestamp()
NEW_YEAR = datetime(2024, 12, 31, 23, 0, tzinfo=timezone.utc).timestamp()  # local 2025-01-01 00:00
JUNE_21 = datetime(2025, 6, 20, 22, 0, tzinfo=timezone.utc).timestamp()  # local 2025-06-21 00:00 (CEST)


def value(rec: Record) -> Decimal:
    assert isinstance(rec.raw, int)
    return Decimal(rec.raw) * Decimal(10) ** rec.scaler


def by_quantity(recs: tuple[Record, ...]) -> dict[str, Record]:
    out: dict[str, Record] = {}
    for r in recs:
        assert r.quantity not in out, f"two {r.quantity} records"
        out[r.quantity] = r
    return out


def check_meter_time(rec: Record, t: float) -> None:
    """A valid type F date_time equal to the local Berlin time of ``t`` at minute resolution."""
    assert rec.quantity == "date_time" and rec.coding == "int32"
    raw = rec.raw
    assert isinstance(raw, MbusDateTime) and raw.type == "F" and raw.valid
    local = datetime.fromtimestamp(t, BERLIN)
    assert raw.to_python() == local.replace(second=0, microsecond=0, tzinfo=None)
    assert raw.summer_time is (local.utcoffset().total_seconds() == 7200)  # type: ignore[union-attr]


# --- water ------------------------------------------------------------------------------------


@pytest.mark.parametrize("steps", [1, 37])
def test_water_day_is_the_sum_of_its_minutes(steps: int) -> None:
    clock = SteppedClock(MARCH_10)
    spec = WaterSpec("w", 12345678, annual_m3=80.0, initial_m3=5.0, seed=3)
    model = WaterModel(spec, clock)
    if steps == 1:
        clock.step(86_400.0)
        model.sync()
    else:  # odd steps that split minutes, and reads in between
        while clock.now() + steps < MARCH_10 + 86_400:
            clock.step(steps)
            model.sync()
        clock.set(MARCH_10 + 86_400)
        model.sync()
    added = model.litres - 5000.0
    first = int(MARCH_10 // 60)
    expected = sum(model.rate(m) / 60.0 for m in range(first, first + 1440))
    assert added == pytest.approx(expected, rel=1e-6)

    # the day's volume follows the H0 share of the annual volume (noise averages out)
    h0 = StandardLoadProfile("h0", 80.0 * 1000.0)
    share = sum(h0.day_powers(date(2025, 3, 10))) * 0.25
    assert 0.95 * share <= added <= 1.05 * share
    assert 150 < share < 300  # sanity: 80 m³/a is about 220 l/day


def test_water_rate_follows_h0_with_bounded_noise() -> None:
    clock = SteppedClock(MARCH_10)
    model = WaterModel(WaterSpec("w", 1, annual_m3=50.0, seed=9), clock)
    h0 = StandardLoadProfile("h0", 50_000.0)
    first = int(MARCH_10 // 60)
    ratios = []
    for m in range(first, first + 1440, 7):
        base = h0.power_at(datetime.fromtimestamp(m * 60.0, timezone.utc))
        ratios.append(model.rate(m) / base)
    assert all(0.4 - 1e-9 <= r <= 1.6 + 1e-9 for r in ratios)
    assert max(ratios) - min(ratios) > 0.5  # there is noise
    again = WaterModel(WaterSpec("w", 1, annual_m3=50.0, seed=9), SteppedClock(MARCH_10 + 3600))
    assert [again.rate(m) for m in range(first, first + 30)] == [model.rate(m) for m in range(first, first + 30)]


@pytest.mark.parametrize(("warm", "device_type"), [(False, 0x07), (True, 0x06)])
def test_water_records(warm: bool, device_type: int) -> None:
    clock = SteppedClock(MARCH_10)
    model = WaterModel(WaterSpec("w", 1, annual_m3=50.0, initial_m3=42.5, warm=warm, seed=2), clock)
    assert model.device_type == device_type
    clock.step(8 * 3600 + 1234.5)
    recs = decode_records(model.records())
    assert [r.quantity for r in recs] == ["date_time", "volume", "volume_flow"]
    check_meter_time(recs[0], clock.now())
    assert recs[1].unit == "m3" and value(recs[1]) == Decimal(int(model.litres)) / 1000
    assert int(model.litres) > 42_500
    minute = int(clock.now() // 60)
    assert recs[2].unit == "m3/h" and value(recs[2]) == Decimal(round(model.rate(minute))) / 1000
    assert "m³" in model.describe()


# --- heat -------------------------------------------------------------------------------------


def test_heat_year_sums_to_annual_energy() -> None:
    clock = SteppedClock(NEW_YEAR)
    model = HeatModel(HeatSpec("h", 1, annual_kwh=8000.0, initial_kwh=100.0, seed=4), clock)
    clock.step(365 * 86_400.0)
    model.sync()
    assert model.kwh - 100.0 == pytest.approx(8000.0, rel=0.015)


def test_heat_winter_and_summer() -> None:
    model = HeatModel(HeatSpec("h", 1, annual_kwh=8000.0, seed=4), SteppedClock(NEW_YEAR))
    first = int(NEW_YEAR // 60)

    def mean_kw(day_from: int, days: int) -> float:
        minutes = range(first + day_from * 1440, first + (day_from + days) * 1440, 60)
        return sum(model.rate(m) for m in minutes) / len(minutes)

    winter, summer = mean_kw(0, 30), mean_kw(181, 30)  # January, July
    assert winter > 3 * summer > 0
    # the mean over a year of hourly samples is the annual energy over 8766 h
    year = mean_kw(0, 365)
    assert year * 8766 == pytest.approx(8000.0, rel=0.015)
    # heating runs hotter in winter
    jan, jul = model.temperatures(first + 10 * 1440), model.temperatures(first + 191 * 1440)
    assert jan[0] > jul[0] and jan[0] - jan[1] > jul[0] - jul[1] > 0


@pytest.mark.parametrize("days", [0.3, 20.7, 100.1, 180.55, 200.9, 330.2])
def test_heat_records_are_physically_consistent(days: float) -> None:
    clock = SteppedClock(NEW_YEAR + days * 86_400.0 - 7200.0)  # the meter runs for two hours
    model = HeatModel(HeatSpec("h", 1, annual_kwh=12_000.0, initial_kwh=3.0, seed=7), clock)
    clock.step(7200.0 + 17.0)
    area = model.records()
    recs = decode_records(area)
    assert [r.quantity for r in recs] == [
        "date_time", "energy", "volume", "power", "volume_flow", "flow_temperature", "return_temperature",
        "temperature_difference",
    ]  # fmt: skip
    check_meter_time(recs[0], clock.now())
    q = by_quantity(recs)
    assert (q["energy"].unit, q["volume"].unit, q["power"].unit, q["volume_flow"].unit) == ("Wh", "m3", "W", "m3/h")
    assert q["flow_temperature"].unit == "°C" and q["temperature_difference"].unit == "K"

    # the registers as sent: 100 Wh and 10 l resolution, truncated
    assert Decimal(model.kwh * 1000) - value(q["energy"]) < 100 and value(q["energy"]) <= Decimal(model.kwh * 1000)
    assert abs(Decimal(model.m3) - value(q["volume"])) < Decimal("0.01")
    assert model.kwh > 3.0 and model.m3 > 0

    flow, back = value(q["flow_temperature"]), value(q["return_temperature"])
    diff = value(q["temperature_difference"])
    assert 20 < back < flow < 80
    assert abs(diff - (flow - back)) <= Decimal("0.1")  # each of the three rounded to 0.1 K

    # power = volume flow x 1.163 kWh/(m³ K) x temperature difference, within the rounding of
    # the flow (1 l/h), the temperatures (0.05 K each: 0.1 K on their difference) and the power (0.5 W)
    v = value(q["volume_flow"])  # m³/h
    p = value(q["power"]) / 1000  # kW
    c = Decimal("1.163")
    low = (v - Decimal("0.0005")) * c * (flow - back - Decimal("0.1")) - Decimal("0.0005")
    high = (v + Decimal("0.0005")) * c * (flow - back + Decimal("0.1")) + Decimal("0.0005")
    assert low <= p <= high
    assert p > 0 and v > 0
    assert "kWh" in model.describe()


def test_heat_registers_integrate_rates_minute_by_minute() -> None:
    clock = SteppedClock(JUNE_21)
    model = HeatModel(HeatSpec("h", 1, annual_kwh=8000.0, seed=1), clock)
    clock.step(6 * 3600.0)
    model.sync()
    first = int(JUNE_21 // 60)
    minutes = range(first, first + 360)
    assert model.kwh == pytest.approx(sum(model.rate(m) for m in minutes) / 60, rel=1e-9)
    # volume: the flow that carries each minute's power at that minute's temperature spread
    expected_m3 = 0.0
    for m in minutes:
        flow, back = model.temperatures(m)
        expected_m3 += model.rate(m) / (1.163 * (flow - back)) / 60
    assert model.m3 == pytest.approx(expected_m3, rel=1e-9)


# --- electricity ------------------------------------------------------------------------------


def electricity(clock: SteppedClock, seed: int = 1) -> ElectricityModel:
    spec = MeterSpec(id="e", serial=1, seed=seed, pv=PvSpec(6000.0), initial_import_wh=1_000_000.0)
    return ElectricityModel(SimMeter(spec, clock))


@pytest.mark.parametrize(("hours", "exporting"), [(2.5, False), (13.2, True), (22.75, False)])
def test_electricity_records(hours: float, exporting: bool) -> None:
    clock = SteppedClock(JUNE_21)
    model = electricity(clock)
    assert model.device_type == 0x02 and model.id == "e"
    clock.step(hours * 3600.0 + 7.0)
    recs = decode_records(model.records())
    meter = model.meter
    assert meter.now == clock.now()
    check_meter_time(recs[0], clock.now())
    energy = [r for r in recs if r.quantity == "energy"]
    power = [r for r in recs if r.quantity == "power"]
    assert len(recs) == 5 and len(energy) == 2 and len(power) == 2
    imp, exp = energy
    assert (imp.unit, imp.scaler, imp.extensions) == ("Wh", 0, ())
    assert imp.raw == int(meter.import_wh) and imp.raw > 1_000_000
    assert exp.extensions == ("accumulation_if_negative",) and exp.unit == "Wh"
    assert exp.raw == int(meter.export_wh)
    p_imp, p_exp = power
    assert p_imp.extensions == () and p_exp.extensions == ("accumulation_if_negative",)
    assert p_imp.unit == p_exp.unit == "W" and p_imp.scaler == p_exp.scaler == 0
    assert isinstance(p_imp.raw, int) and isinstance(p_exp.raw, int)
    assert p_imp.raw >= 0 and p_exp.raw >= 0 and min(p_imp.raw, p_exp.raw) == 0
    net = meter.net_power_w(clock.now())
    assert p_imp.raw - p_exp.raw == round(net)
    assert (net < 0) is exporting
    if exporting:
        assert p_exp.raw > 0 and exp.raw > 0


def test_meter_time_in_winter_and_summer() -> None:
    for start in (MARCH_10, JUNE_21):
        clock = SteppedClock(start)
        model = electricity(clock)
        clock.step(3600 * 5 + 59.9)
        (first, *_) = decode_records(model.records())
        check_meter_time(first, clock.now())
        assert isinstance(first.raw, MbusDateTime)
        assert first.raw.summer_time is (start == JUNE_21)
        assert first.raw.hour == 5 and first.raw.minute == 0


# --- seeds ------------------------------------------------------------------------------------


def make(kind: str, seed: int, clock: SteppedClock) -> ElectricityModel | WaterModel | HeatModel:
    if kind == "water":
        return WaterModel(WaterSpec("w", 1, seed=seed), clock)
    if kind == "heat":
        return HeatModel(HeatSpec("h", 1, seed=seed), clock)
    return electricity(clock, seed)


@pytest.mark.parametrize("kind", ["water", "heat", "electricity"])
def test_same_seed_same_records_other_seed_other_records(kind: str) -> None:
    clock = SteppedClock(MARCH_10)
    a, b, c = make(kind, 5, clock), make(kind, 5, clock), make(kind, 6, clock)
    seen_a, seen_c = [], []
    for _ in range(4):
        clock.step(5400.0 + 13.0)
        ra, rb, rc = a.records(), b.records(), c.records()
        assert ra == rb
        seen_a.append(ra)
        seen_c.append(rc)
    assert seen_a != seen_c
    assert sum(x != y for x, y in zip(seen_a, seen_c)) >= 3  # not a one-off coincidence
