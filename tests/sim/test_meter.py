"""The simulated meter: registers are the integral of the power it shows, time modes agree,
seeds reproduce, tariffs split import, PV exports, and the SML view matches the registers."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from smgwd.codec.sml.types import TimeKind
from smgwd.cosem.obis import Obis
from smgwd.sim.clock import AcceleratedClock, SteppedClock
from smgwd.sim.meter import MeterSpec, PvSpec, SimMeter, TariffPeriod

START = datetime(2025, 6, 20, 22, 0, tzinfo=timezone.utc).timestamp()  # local midnight, 21 June
BERLIN = ZoneInfo("Europe/Berlin")


def meter(seed: int = 1, **spec: object) -> tuple[SimMeter, SteppedClock]:
    clock = SteppedClock(START)
    return SimMeter(MeterSpec(id="m", serial=12345678, seed=seed, **spec), clock), clock  # type: ignore[arg-type]


def test_registers_are_the_integral_of_power() -> None:
    m, clock = meter(pv=PvSpec(6000.0))
    integral = 0.0
    for _ in range(6 * 3600):  # six hours around sunrise, one-second steps
        integral += m.net_power_w(clock.now()) / 3600.0
        clock.step(1)
    m.sync()
    assert m.import_wh - m.export_wh == pytest.approx(integral, abs=1e-6)
    assert m.import_wh > 0


def test_one_big_step_equals_many_small_ones() -> None:
    a, clock_a = meter()
    b, clock_b = meter()
    clock_a.step(86_400.0)
    a.sync()
    for _ in range(96 * 4):
        clock_b.step(225.0)
        b.sync()
    assert a.import_wh == pytest.approx(b.import_wh, rel=1e-12)
    assert a.list_entries() == b.list_entries()


def test_accelerated_and_stepped_time_agree() -> None:
    real = [0.0]
    accelerated = AcceleratedClock(START, quarter_hour_seconds=4, resolution_ms=1000, monotonic=lambda: real[0])
    a = SimMeter(MeterSpec(id="a", serial=1, seed=5), accelerated)
    stepped = SteppedClock(START)
    b = SimMeter(MeterSpec(id="a", serial=1, seed=5), stepped)
    real[0] = 64.0  # 64 real seconds = 16 quarter hours = 4 h
    stepped.step(4 * 3600.0)
    assert a.list_entries() == b.list_entries()
    assert a.sec_index() == b.sec_index() == 4 * 3600


def test_same_seed_same_data_other_seed_other_data() -> None:
    a, ca = meter(seed=3)
    b, cb = meter(seed=3)
    c, cc = meter(seed=4)
    for clock in (ca, cb, cc):
        clock.step(7200.0)
    assert a.list_entries() == b.list_entries()
    assert a.list_entries() != c.list_entries()


def test_annual_import_matches_configured_consumption() -> None:
    clock = SteppedClock(datetime(2024, 12, 31, 23, 0, tzinfo=timezone.utc).timestamp())  # local new year 2025
    m = SimMeter(MeterSpec(id="m", serial=1, annual_kwh=3500.0, dynamic=True, seed=9), clock)
    clock.step(365 * 86_400.0)
    m.sync()
    assert m.import_wh / 1000 == pytest.approx(3500.0, rel=0.005)
    assert m.export_wh == 0.0


def test_tariff_registers_split_import_by_local_time() -> None:
    m, clock = meter(tariff=(TariffPeriod(6 * 60, 22 * 60, 1),))
    night = m.tariff_wh[:]
    clock.step(6 * 3600.0)  # 00:00-06:00 local: tariff 2
    m.sync()
    assert m.tariff_wh[0] == night[0] and m.tariff_wh[1] > 0
    t2 = m.tariff_wh[1]
    clock.step(3600.0)  # 06:00-07:00 local: tariff 1
    m.sync()
    assert m.tariff_wh[1] == t2 and m.tariff_wh[0] > 0
    assert sum(m.tariff_wh) == pytest.approx(m.import_wh)


def test_prosumer_exports_at_noon() -> None:
    m, clock = meter(pv=PvSpec(6000.0))
    clock.step(12 * 3600.0 + 1800)  # 12:30 local on midsummer day
    assert m.net_power_w(clock.now()) < 0
    entries = {Obis.from_bytes(e.obj_name): e for e in m.list_entries()}
    assert entries[Obis(1, 0, 16, 7, 0)].value < 0
    assert entries[Obis(1, 0, 1, 8, 0)].status & (1 << 11)  # direction bit: exporting
    assert m.export_wh > 0
    clock.step(12 * 3600.0)  # past midnight: importing again
    entries = {Obis.from_bytes(e.obj_name): e for e in m.list_entries()}
    assert entries[Obis(1, 0, 16, 7, 0)].value > 0
    assert not entries[Obis(1, 0, 1, 8, 0)].status & (1 << 11)


def test_sml_view_matches_registers_and_time() -> None:
    m, clock = meter(initial_import_wh=1_000_000.0)
    clock.step(3600.0)
    entries = {Obis.from_bytes(e.obj_name): e for e in m.list_entries()}
    e180 = entries[Obis(1, 0, 1, 8, 0)]
    assert (e180.unit, e180.scaler) == (30, -1) and e180.value == int(m.import_wh * 10)
    assert e180.val_time.kind is TimeKind.SEC_INDEX and e180.val_time.value == 3600
    clock_entry = entries[Obis(0, 0, 1, 0, 0)].value
    assert clock_entry.kind is TimeKind.TIMESTAMP and clock_entry.value == int(START + 3600)
    phases = [entries[Obis(1, 0, c, 7, 0)].value for c in (36, 56, 76)]
    assert sum(phases) == pytest.approx(entries[Obis(1, 0, 16, 7, 0)].value, abs=2)
    volts = entries[Obis(1, 0, 32, 7, 0)]
    assert volts.unit == 35 and 2250 <= volts.value <= 2350
    assert entries[Obis(1, 0, 96, 1, 0)].value == bytes.fromhex("0a0153494d0000bc614e")


def test_load_profile_rows_every_quarter_hour() -> None:
    m, clock = meter()
    clock.step(3600.0)
    rows = m.load_profile(Obis(1, 0, 1, 8, 0).to_bytes(), None, None)
    assert [r.timestamp - int(START) for r in rows] == [900, 1800, 2700, 3600]
    assert rows[-1].raw == int(m.import_wh * 10)
    assert m.load_profile(Obis(1, 0, 1, 8, 0).to_bytes(), int(START) + 1800, int(START) + 2700)[0].timestamp == int(START) + 1800
    with pytest.raises(KeyError):
        m.load_profile(Obis(1, 0, 16, 7, 0).to_bytes(), None, None)


def test_single_phase_meter_shows_one_phase() -> None:
    m, clock = meter(phases=1)
    clock.step(60.0)
    names = {Obis.from_bytes(e.obj_name) for e in m.list_entries()}
    assert Obis(1, 0, 36, 7, 0) in names and Obis(1, 0, 56, 7, 0) not in names
