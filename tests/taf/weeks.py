"""Three simulated weeks of two SML meters in a real store, on a stepped simulator clock.

From Monday 2026-03-23 00:00 (Europe/Berlin) to Monday 2026-04-13 00:00, across
the switch to summer time (Sunday 2026-03-29, a day of 23 hours) and two
nationwide holidays (Good Friday 2026-04-03 and Easter Monday 2026-04-06,
listed here from the public calendar, not from smgwd). Each meter pushes an
SML frame every 5 minutes, 3 s after the 5-minute mark; the frames are encoded
by the simulator and decoded by the gateway's own SML reader, and each
reading is stamped with the simulated time (synchronised). Meter ``b`` is
silent on Wednesday 2026-04-01 from 05:00 to 08:00 local time (no reading
within reach of the quarter hours from 05:00 to 07:45, nor of the 06:00
switch time).

``Feed.value(meter, obis, instant)`` is the register the test itself fed 3 s
after ``instant``: the oracle the tariff use cases are checked against.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from smgwd.cosem.obis import Obis
from smgwd.gateway.store import Store
from smgwd.meters.sml.profiles import PROFILES
from smgwd.meters.sml.stream import FrameDecoded, SmlFrameReader
from smgwd.reading import TimeQuality
from smgwd.sim.clock import SteppedClock
from smgwd.sim.meter import E_EXPORT, E_IMPORT, MeterSpec, SimMeter
from smgwd.sim.sml_push import push_frame

LOCAL = ZoneInfo("Europe/Berlin")
START = datetime(2026, 3, 23, tzinfo=LOCAL).astimezone(timezone.utc)
END = datetime(2026, 4, 13, tzinfo=LOCAL).astimezone(timezone.utc)
HOLIDAYS = frozenset({date(2026, 4, 3), date(2026, 4, 6)})  # Karfreitag, Ostermontag
DST_DAY = date(2026, 3, 29)
PUSH = 300  # seconds between pushes
LATE = 3  # seconds after the 5-minute mark
SILENT = (datetime(2026, 4, 1, 5, tzinfo=LOCAL).astimezone(timezone.utc),
          datetime(2026, 4, 1, 8, tzinfo=LOCAL).astimezone(timezone.utc))
IMPORT, EXPORT = str(E_IMPORT), str(E_EXPORT)


@dataclass
class Feed:
    """What was fed: per (meter id, OBIS) the raw register by gateway time; the store's path."""

    path: Path
    meters: dict[str, str] = field(default_factory=dict)  # "a"/"b" -> the gateway's meter id
    fed: dict[tuple[str, str], dict[datetime, int]] = field(default_factory=dict)

    def value(self, meter: str, obis: str, instant: datetime) -> int | None:
        """The register fed LATE seconds after ``instant`` (None: none was)."""
        return self.fed[(self.meters[meter], obis)].get(instant + timedelta(seconds=LATE))


def feed(path: Path, until: datetime = END + timedelta(hours=1)) -> Feed:
    """Run the simulation into a new store at ``path`` (see the module comment)."""
    clock = SteppedClock(START.timestamp())
    sims = {name: SimMeter(MeterSpec(name, serial=serial, seed=serial, annual_kwh=4000.0 + 1000 * serial,
                                     objects=(E_IMPORT, E_EXPORT)), clock)
            for name, serial in (("a", 1), ("b", 2))}
    readers = {name: SmlFrameReader(PROFILES["generic"]) for name in sims}
    result = Feed(path)
    store = Store(path, batch_size=5000, flush_interval=0.5)
    store.start()
    try:
        moment = START + timedelta(seconds=LATE)
        sequence = 0
        while moment <= until:
            clock.set(moment.timestamp())
            sequence += 1
            for name, sim in sims.items():
                if name == "b" and SILENT[0] < moment < SILENT[1]:
                    continue
                decoded = [event for event in readers[name].feed(push_frame(sim, sequence))
                           if isinstance(event, FrameDecoded)]
                assert len(decoded) == 1, "the simulator's frame must decode"
                stamped = [r.stamped(r.meter_id, moment, TimeQuality.SYNCHRONISED) for r in decoded[0].readings]
                for reading in stamped:
                    if isinstance(reading.raw, int) and not isinstance(reading.raw, bool):
                        result.meters[name] = reading.meter_id
                        result.fed.setdefault((reading.meter_id, str(reading.obis)), {})[moment] = reading.raw
                store.on_readings(stamped)
            moment += timedelta(seconds=PUSH)
        assert store.flush(60)
    finally:
        store.stop(60)
    return result


def local_quarter_hours(begin: datetime, end: datetime) -> list[datetime]:
    """Every quarter hour in [begin, end), stepped in UTC (the test's own count, DST or not)."""
    count = int((end - begin).total_seconds() // 900)
    return [begin + timedelta(minutes=15 * k) for k in range(count)]


def obis(code: str) -> Obis:
    return Obis.parse(code)
