"""Helpers shared by the store tests (this module holds no tests)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

from smgwd.cosem.obis import Obis
from smgwd.gateway.store import Store
from smgwd.reading import MeterTime, MeterTimeKind, Reading, TimeQuality

T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
E180 = Obis(1, 0, 1, 8, 0)
P1670 = Obis(1, 0, 16, 7, 0)
SERIAL = Obis(0, 0, 96, 1, 0)


def reading(meter: str = "m1", k: int = 0, obis: Obis = E180, **changes: object) -> Reading:
    """A typical register reading number ``k`` of a meter, stamped ``k`` minutes after T0."""
    fields: dict[str, object] = dict(
        meter_id=meter, obis=obis, raw=100_000 + k, scaler=-1, unit=30, status=0x1C0104,
        meter_time=MeterTime(MeterTimeKind.SEC_INDEX, 1000 + 60 * k),
        gateway_time=T0 + timedelta(minutes=k), time_quality=TimeQuality.SYNCHRONISED,
    )
    fields.update(changes)
    return Reading(**fields)  # type: ignore[arg-type]


def readings(meter: str, count: int, obis: Obis = E180, start: int = 0) -> list[Reading]:
    return [reading(meter, k, obis) for k in range(start, start + count)]


@contextmanager
def running(path: Path, **options: object) -> Iterator[Store]:
    """A started Store that is stopped (committing what it holds) on the way out."""
    store = Store(path, **options)  # type: ignore[arg-type]
    store.start()
    try:
        yield store
    finally:
        assert store.stop(10)


class Commits:
    """An on_commit listener tests can wait on (no sleeping on wall time)."""

    def __init__(self) -> None:
        self.acknowledged = 0
        self._cv = threading.Condition()

    def __call__(self, acknowledged: int) -> None:
        with self._cv:
            self.acknowledged = acknowledged
            self._cv.notify_all()

    def wait_for(self, count: int, timeout: float = 10.0) -> bool:
        with self._cv:
            return self._cv.wait_for(lambda: self.acknowledged >= count, timeout)
