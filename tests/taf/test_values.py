"""Register values at instants from a real store: taken, interpolated (exact, rounded down) or a gap."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from smgwd.cosem.obis import Obis
from smgwd.gateway.store import Store, StoreReader
from smgwd.meters.value_status import GAP, INTERPOLATED
from smgwd.reading import MeterTime, MeterTimeKind, Reading, TimeQuality
from smgwd.taf.values import Capture, value_at

T = datetime(2026, 3, 23, 11, 0, tzinfo=timezone.utc)
E180 = Obis(1, 0, 1, 8, 0)
WH = 30  # DLMS unit Wh
SYNC, DRIFT, UNSYNC = TimeQuality.SYNCHRONISED, TimeQuality.DRIFTING, TimeQuality.UNSYNCHRONISED
_METERS = itertools.count()


@dataclass
class Register:
    """One meter's register in a real store: put readings at seconds from T, ask for values at T + seconds."""

    store: Store
    meter: str

    def put(self, seconds: float, raw: int, quality: TimeQuality = SYNC, scaler: int = -1, unit: int | None = WH,
            status: int | None = 0x1C0104) -> None:
        self.store.on_reading(Reading(self.meter, E180, raw, scaler, unit, status,
                                      MeterTime(MeterTimeKind.SEC_INDEX, 5000), T + timedelta(seconds=seconds),
                                      quality))

    def at(self, seconds: float, capture: Capture, like: Reading | None = None) -> Reading:
        assert self.store.flush(10)
        with StoreReader(self.store.path) as reader:
            return value_at(reader, self.meter, E180, T + timedelta(seconds=seconds), capture, like)


def running(path: Path) -> Iterator[Store]:
    store = Store(path, flush_interval=0.05)
    store.start()
    try:
        yield store
    finally:
        assert store.stop(10)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """One store for the module; every test writes its own meter."""
    yield from running(tmp_path_factory.mktemp("values") / "gw.db")


@pytest.fixture
def register(store: Store) -> Register:
    return Register(store, f"m{next(_METERS)}")


def new_register(store: Store) -> Register:
    return Register(store, f"h{next(_METERS)}")


TAKE = Capture(tolerance=10.0)
BOTH = Capture(tolerance=10.0, interpolate_within=600.0)


# --- taken ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("before", "after", "taken"), [(-4, 6, -4), (-6, 4, 4), (-5, 5, 5), (-10, 11, -10),
                                                        (-11, 10, 10), (0, 3, 0), (-3, 0, 0)])
def test_the_nearest_reading_within_tolerance_is_taken_on_a_tie_the_later(
        register: Register, before: int, after: int, taken: int) -> None:
    register.put(before, 1000 + before)
    register.put(after, 1000 + after)
    value = register.at(0, TAKE)
    assert value.raw == 1000 + taken
    assert value.quirks == ()


def test_a_taken_value_keeps_the_reading_and_is_stamped_at_the_instant(register: Register) -> None:
    register.put(3.5, 123_456, DRIFT, scaler=-2, unit=33, status=0x1C0184)
    value = register.at(0, TAKE)
    assert value == Reading(register.meter, E180, 123_456, -2, 33, 0x1C0184, None, T, DRIFT, ())


@pytest.mark.parametrize("offset", [10.000001, -10.000001, 3600.0])
def test_outside_tolerance_is_a_gap(register: Register, offset: float) -> None:
    register.put(offset, 77)
    assert register.at(0, TAKE) == Reading(register.meter, E180, 0, 0, None, None, None, T, SYNC, (GAP,))


def test_a_gap_takes_scaler_and_unit_from_like(register: Register) -> None:
    like = Reading("other", E180, 5, -3, 31)
    assert register.at(0, TAKE, like) == Reading(register.meter, E180, 0, -3, 31, None, None, T, SYNC, (GAP,))


def test_tolerance_zero_takes_only_a_reading_at_the_instant(register: Register) -> None:
    register.put(0, 5)
    register.put(0.000001, 6)
    assert register.at(0, Capture(tolerance=0)).raw == 5
    assert register.at(0.000001, Capture(tolerance=0)).raw == 6
    assert register.at(0.5, Capture(tolerance=0)).quirks == (GAP,)


# --- trusted time only -----------------------------------------------------------------------------------

def test_an_untrusted_reading_nearer_does_not_beat_a_trusted_one(register: Register) -> None:
    register.put(1, 100, UNSYNC)
    register.put(-8, 90, SYNC)
    value = register.at(0, TAKE)
    assert (value.raw, value.time_quality, value.quirks) == (90, SYNC, ())


def test_only_an_untrusted_reading_near_gives_its_value_marked_as_gap(register: Register) -> None:
    register.put(-2, 100, UNSYNC, scaler=-1, unit=WH, status=0x1C0104)
    assert register.at(0, TAKE) == Reading(register.meter, E180, 100, -1, WH, 0x1C0104, None, T, UNSYNC, (GAP,))
    assert register.at(13, TAKE) == Reading(register.meter, E180, 0, 0, None, None, None,
                                            T + timedelta(seconds=13), SYNC, (GAP,))  # 15 s away: none near


def test_of_untrusted_readings_on_both_sides_the_nearest_is_given(register: Register) -> None:
    register.put(-3, 100, UNSYNC)
    register.put(8, 108, UNSYNC)
    assert register.at(0, TAKE).raw == 100


def test_untrusted_neighbours_are_never_interpolated(register: Register) -> None:
    register.put(-100, 0, SYNC)
    register.put(200, 300, UNSYNC)
    assert register.at(0, BOTH) == Reading(register.meter, E180, 0, 0, None, None, None, T, SYNC, (GAP,))


# --- interpolated ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("before", "after", "expected"), [
    (0, 10, 3),  # 10/3 = 3.33: down
    (0, 2, 0),  # 0.67: down to the earlier reading
    (1000, 1001, 1000),
    (10**18 + 1, 10**18 + 11, 10**18 + 4),  # beyond 2**53: a float would say 10**18 (or + 128)
    (2**63 - 1, 2**63 + 299, 2**63 + 99),  # across int64: the store keeps the larger as text
    (10, 0, 6),  # a falling register: 6.67 rounds down too
])
def test_an_interpolated_value_is_exact_and_rounded_down(
        register: Register, before: int, after: int, expected: int) -> None:
    register.put(-100, before)
    register.put(200, after)
    value = register.at(0, BOTH)
    assert value == Reading(register.meter, E180, expected, -1, WH, None, None, T, SYNC, (INTERPOLATED,))


def test_interpolation_counts_microseconds(register: Register) -> None:
    register.put(-1.5, 0)
    register.put(1.499999, 3_000_000)
    assert register.at(0, Capture(tolerance=1, interpolate_within=5)).raw == 1_500_000  # 1_500_000.5: down


def test_interpolation_takes_the_worse_time_quality(register: Register) -> None:
    register.put(-100, 0, DRIFT)
    register.put(200, 300, SYNC)
    value = register.at(0, BOTH)
    assert (value.raw, value.time_quality, value.quirks) == (100, DRIFT, (INTERPOLATED,))


@pytest.mark.parametrize(("capture", "marks"), [
    (Capture(tolerance=10, interpolate_within=300), (INTERPOLATED,)),  # exactly interpolate_within apart
    (Capture(tolerance=10, interpolate_within=299.999999), (GAP,)),
    (Capture(tolerance=10, interpolate_within=0), (GAP,)),  # 0: never
])
def test_interpolation_needs_neighbours_at_most_interpolate_within_apart(
        register: Register, capture: Capture, marks: tuple[str, ...]) -> None:
    register.put(-100, 0)
    register.put(200, 300)
    assert register.at(0, capture).quirks == marks


@pytest.mark.parametrize(("scaler", "unit"), [(-2, WH), (-1, 31), (-1, None)])
def test_neighbours_disagreeing_in_scaler_or_unit_are_a_gap(register: Register, scaler: int, unit: int) -> None:
    register.put(-100, 0)
    register.put(200, 300, scaler=scaler, unit=unit)
    value = register.at(0, BOTH)
    assert (value.raw, value.quirks) == (0, (GAP,))


def test_one_neighbour_is_a_gap(register: Register) -> None:
    register.put(-100, 0)
    assert register.at(0, BOTH).quirks == (GAP,)
    assert register.at(-200, BOTH).quirks == (GAP,)  # only one after


# --- properties: a model of the module comment -------------------------------------------------------------

Case = tuple[list[tuple[int, int]], list[int]]


@st.composite
def histories(draw: st.DrawFn) -> Case:
    """(milliseconds from T, raw) of a cumulative register (distinct rising times, values never falling),
    and instants in milliseconds, many of them near or between readings."""
    size = draw(st.sampled_from([0, 2, 2, 3]))
    times = sorted(draw(st.sets(st.integers(-400_000, 400_000), min_size=size, max_size=12)))
    value = draw(st.integers(0, 2**70))
    points = []
    for at in times:
        value += draw(st.one_of(st.integers(0, 10), st.integers(0, 10**15)))
        points.append((at, value))
    anywhere = st.integers(-500_000, 500_000)
    if times:
        near = st.builds(lambda at, off: at + off, st.sampled_from(times), st.integers(-120_000, 120_000))
        anywhere = st.one_of(anywhere, near)
    if len(times) > 1:
        between = st.builds(lambda k, part: times[k] + (times[k + 1] - times[k]) * part // 1000,
                            st.integers(0, len(times) - 2), st.integers(0, 1000))
        anywhere = st.one_of(anywhere, between, between)
    return points, draw(st.lists(anywhere, min_size=1, max_size=12))


def model(points: list[tuple[int, int]], at: int, tolerance: int, within: int) -> tuple[int, tuple[str, ...]]:
    """(raw, marks) at ``at`` (all in ms) as the module comment says, for trusted readings of one scaler and unit."""
    reach = max(tolerance, within)
    before = [p for p in points if at - reach <= p[0] <= at][-1:]
    after = [p for p in points if at <= p[0] <= at + reach][:1]
    near = [p for p in after + before if abs(p[0] - at) <= tolerance]
    if near:
        return min(near, key=lambda p: abs(p[0] - at))[1], ()
    if within > 0 and before and after and 0 < after[0][0] - before[0][0] <= within:
        (tb, vb), (ta, va) = before[0], after[0]
        return vb + (va - vb) * (at - tb) // (ta - tb), (INTERPOLATED,)
    return 0, (GAP,)


@settings(max_examples=200)
@given(histories(), st.sampled_from([0, 1, 10_000]), st.sampled_from([0, 60_000, 300_000, 900_000]),
       st.integers(0, 9_999))
def test_values_follow_the_model_and_never_run_ahead_of_the_meter(
        store: Store, case: Case, tolerance: int, within: int, jitter: int) -> None:
    """Values equal the model; interpolated ones lie between their neighbours, below the later; and the values
    that are no gap never fall as the instant rises (a cumulative register)."""
    points, instants = case
    tolerance, within = tolerance + jitter, within and within + jitter  # in ms; within 0 stays 0
    register = new_register(store)
    for at, raw in points:
        register.put(at / 1000, raw)  # whole milliseconds: exact in the store's microseconds
    capture = Capture(tolerance / 1000, within / 1000)
    found = []
    for at in sorted(instants):
        value = register.at(at / 1000, capture)
        assert value.gateway_time == T + timedelta(milliseconds=at)
        assert (value.raw, value.quirks) == model(points, at, tolerance, within), at
        event("gap" if GAP in value.quirks else "interpolated" if value.quirks else "taken")
        assert isinstance(value.raw, int)
        if INTERPOLATED in value.quirks:
            (_, low), (_, high) = ([p for p in points if p[0] < at][-1], [p for p in points if p[0] > at][0])
            assert low <= value.raw <= high and (value.raw < high or low == high)
        if GAP not in value.quirks:
            found.append(value.raw)
    assert found == sorted(found)
