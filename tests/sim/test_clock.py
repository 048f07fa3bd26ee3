"""Simulation clocks: accelerated time follows jOSEF's two settings; stepped time only moves forward."""

from __future__ import annotations

import pytest

from smgwd.sim.clock import AcceleratedClock, RealClock, SteppedClock


class FakeMonotonic:
    """Real seconds as the test says they passed (no sleeping on wall time)."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_accelerated_quarter_hour_in_four_seconds() -> None:
    real = FakeMonotonic()
    clock = AcceleratedClock(start=1_735_689_600.0, quarter_hour_seconds=4, resolution_ms=1000, monotonic=real)
    assert clock.speed == 225
    real.t += 4.0
    assert clock.now() - 1_735_689_600.0 == 900.0
    real.t += 0.999  # within one resolution step simulated time stands still
    assert clock.now() - 1_735_689_600.0 == 900.0
    real.t += 0.001
    assert clock.now() - 1_735_689_600.0 == 900.0 + 225.0


def test_accelerated_resolution_steps() -> None:
    real = FakeMonotonic()
    clock = AcceleratedClock(start=0.0, quarter_hour_seconds=900, resolution_ms=250, monotonic=real)
    real.t += 0.6
    assert clock.now() == 0.5  # two 250 ms steps at speed 1


@pytest.mark.parametrize("bad", [{"quarter_hour_seconds": 0}, {"resolution_ms": 0}])
def test_accelerated_rejects_nonsense(bad: dict) -> None:
    with pytest.raises(ValueError):
        AcceleratedClock(start=0.0, **bad)


def test_stepped_only_forward() -> None:
    clock = SteppedClock(100.0)
    assert clock.step(50) == 150.0
    clock.set(200.0)
    assert clock.now() == 200.0
    with pytest.raises(ValueError):
        clock.step(-1)
    with pytest.raises(ValueError):
        clock.set(199.0)


def test_real_clock_is_injected_wall_time() -> None:
    assert RealClock(lambda: 42.0).now() == 42.0
