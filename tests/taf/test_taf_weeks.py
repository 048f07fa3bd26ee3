"""TAF1, TAF2, TAF7 and TAF6 over three simulated weeks (a DST switch, two holidays, a silent meter), delivered
over mutual TLS to a real lab EMP and checked against what the test fed, with its own calendar rules."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Iterator

import pytest

from smgwd.gateway.config import EmpConfig
from smgwd.gateway.store import Store, StoreReader
from smgwd.reading import TimeQuality
from smgwd.calendars.tariff import parse_calendar
from tests.taf.weeks import DST_DAY, END, EXPORT, HOLIDAYS, IMPORT, LOCAL, SILENT, START, Feed, feed, local_quarter_hours
from tests.wan.test_delivery import Emp, drain, emp, emp_config, pki  # noqa: F401 - fixtures
from smgwd.wan.delivery import EmpDelivery

CALENDAR = {
    "zones": ["HT", "NT"],
    "seasons": [{"from": "01-01",
                 "workday": ["00:00 NT", "06:00 HT", "22:00 NT"],
                 "saturday": ["00:00 NT", "06:00 HT", "13:00 NT"],
                 "sunday": ["00:00 NT", "02:30 HT", "04:00 NT"],  # 02:30 does not exist on the DST day
                 "holiday": ["00:00 NT"]}],
}


def zone_of(quarter: datetime) -> int:
    """The test's own rule: 0 (HT) or 1 (NT) for the quarter hour starting at ``quarter``."""
    local = quarter.astimezone(LOCAL)
    minute = local.hour * 60 + local.minute
    if local.date() in HOLIDAYS:
        return 1
    if local.weekday() < 5:
        return 0 if 360 <= minute < 1320 else 1
    if local.weekday() == 5:
        return 0 if 360 <= minute < 780 else 1
    return 0 if 150 <= minute < 240 else 1


class _Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def weeks(tmp_path_factory: pytest.TempPathFactory) -> Feed:
    return feed(tmp_path_factory.mktemp("weeks") / "gw.db")


@pytest.fixture
def store(weeks: Feed, tmp_path: Path) -> Iterator[Store]:
    copy = tmp_path / "gw.db"
    copy.write_bytes(weeks.path.read_bytes())
    store = Store(copy, flush_interval=0.05)
    store.start()
    yield store
    store.stop(30)


_MADE: list[EmpDelivery] = []


@pytest.fixture(autouse=True)
def _close_senders() -> Iterator[None]:
    yield
    while _MADE:
        _MADE.pop().close()


def taf_delivery(pki: Path, emp: Emp, store: Store, taf: str, clock: _Clock,  # noqa: F811
                 quality: TimeQuality | None = None, **changes: object) -> EmpDelivery:
    config: EmpConfig = emp_config(pki, emp.port, taf=taf, shape="k461", **changes)
    _MADE.append(EmpDelivery(config, "smgw-lab-1", store, clock=clock, backoff=lambda n: 60.0,
                             quality=None if quality is None else (lambda: quality)))
    return _MADE[-1]


def at_emp(emp: Emp) -> dict[tuple[str, str, str], tuple[int, list[str]]]:  # noqa: F811
    rows = emp.service.store.readings(limit=1_000_000)
    return {(r.meter, r.obis, str(r.gateway_time)): (int(r.raw), r.marks.split(",") if r.marks else [])
            for r in rows}


def test_taf7_has_every_quarter_hour_with_the_fed_values_and_the_gaps_marked(
        pki: Path, emp: Emp, store: Store, weeks: Feed) -> None:  # noqa: F811
    sender = taf_delivery(pki, emp, store, "taf7", _Clock(END + timedelta(hours=1)), period="day")
    made = sender.build()
    assert len(made) == 21 * 2  # a profile per meter and day
    drain(sender)
    received = at_emp(emp)
    quarters = local_quarter_hours(START, END)
    assert len(quarters) == 21 * 96 - 4  # the DST day has 92
    silent = [q for q in quarters if SILENT[0] <= q < SILENT[1]]
    assert len(silent) == 12
    for name in ("a", "b"):
        meter = weeks.meters[name]
        for obis in (IMPORT, EXPORT):
            for quarter in quarters:
                raw, marks = received[(meter, obis, quarter.isoformat())]
                if name == "b" and quarter in silent:
                    assert marks == ["gap"] and raw == 0
                else:
                    assert (raw, marks) == (weeks.value(name, obis, quarter), []), (name, obis, quarter)
    with StoreReader(store.path) as reader:
        gaps = reader.log("calibration", event="gap")
    assert [(g.meter_id, g.obis, g.data["count"]) for g in gaps] == [
        (weeks.meters["b"], IMPORT, 12), (weeks.meters["b"], EXPORT, 12)]
    dst = [q for q in quarters if q.astimezone(LOCAL).date() == DST_DAY]
    assert len(dst) == 92


def test_taf2_registers_sum_to_the_meter_delta_and_follow_the_calendar(
        pki: Path, emp: Emp, store: Store, weeks: Feed) -> None:  # noqa: F811
    calendar = parse_calendar("test", CALENDAR, "tariffs.test", LOCAL)
    sender = taf_delivery(pki, emp, store, "taf2", _Clock(END + timedelta(hours=1)), period="week",
                          tariff=calendar, obis=(IMPORT,))
    assert len(sender.build()) == 3 * 2
    drain(sender)
    received = at_emp(emp)
    quarters = local_quarter_hours(START, END)
    # the error register takes the silent meter's day from the last switch with a reading before its gap
    # (Tuesday 22:00) to the first after it (Wednesday 22:00): the 06:00 switch had none
    stretch = (datetime(2026, 3, 31, 22, tzinfo=LOCAL), datetime(2026, 4, 1, 22, tzinfo=LOCAL))
    week_ends = [START + timedelta(days=7 * k) for k in (1, 2, 3)]
    week_ends = [w.astimezone(LOCAL).replace(hour=0).astimezone(w.tzinfo) for w in week_ends]
    for name in ("a", "b"):
        meter = weeks.meters[name]
        zones, error = [0, 0], 0
        quarter_index = 0
        for end in week_ends:
            while quarter_index < len(quarters) and quarters[quarter_index] < end:
                quarter = quarters[quarter_index]
                delta = weeks.value(name, IMPORT, quarter + timedelta(minutes=15)) or 0
                delta -= weeks.value(name, IMPORT, quarter) or 0
                if name == "b" and stretch[0] <= quarter < stretch[1]:
                    inside = True
                else:
                    inside = False
                if name == "b" and (weeks.value(name, IMPORT, quarter) is None
                                    or weeks.value(name, IMPORT, quarter + timedelta(minutes=15)) is None):
                    delta = 0
                if inside:
                    error += delta
                else:
                    zones[zone_of(quarter)] += delta
                quarter_index += 1
            if name == "b" and end > stretch[1]:
                error = weeks.value("b", IMPORT, stretch[1]) - weeks.value("b", IMPORT, stretch[0])  # type: ignore[operator]
            when = end.isoformat()
            got_zones = [received[(meter, f"1-0:1.8.{rate}*255", when)][0] for rate in (1, 2)]
            got_error = received[(meter, "1-0:1.8.63*255", when)][0]
            meter_now = received[(meter, IMPORT, when)][0]
            assert got_zones == zones, (name, when)
            assert got_error == error, (name, when)
            assert sum(got_zones) + got_error == meter_now - weeks.value(name, IMPORT, START), (name, when)
    with StoreReader(store.path) as reader:
        switches = reader.log("calibration", event="tariff_switch")
    expected = sum(1 for before, after in zip(quarters, quarters[1:]) if zone_of(before) != zone_of(after))
    assert len(switches) == expected


def test_taf1_gives_the_registers_at_each_billing_period_end(
        pki: Path, emp: Emp, store: Store, weeks: Feed) -> None:  # noqa: F811
    sender = taf_delivery(pki, emp, store, "taf1", _Clock(END + timedelta(hours=1)), period="week")
    assert len(sender.build()) == 3 * 2
    drain(sender)
    received = at_emp(emp)
    for days in (7, 14, 21):
        end = (START.astimezone(LOCAL) + timedelta(days=days)).replace(hour=0).astimezone(START.tzinfo)
        for name in ("a", "b"):
            for obis in (IMPORT, EXPORT):
                assert received[(weeks.meters[name], obis, end.isoformat())] == (weeks.value(name, obis, end), [])
    assert len(received) == 3 * 2 * 2


def test_no_period_closes_before_its_grace_nor_while_the_time_is_not_trusted(
        pki: Path, emp: Emp, store: Store) -> None:  # noqa: F811
    first_end = datetime(2026, 3, 24, tzinfo=LOCAL)
    clock = _Clock(first_end + timedelta(seconds=119))
    sender = taf_delivery(pki, emp, store, "taf7", clock, period="day")
    assert sender.build() == []
    clock.now = first_end + timedelta(seconds=120)
    assert len(sender.build()) == 2
    untrusted = taf_delivery(pki, emp, store, "taf7", _Clock(END), TimeQuality.UNSYNCHRONISED, period="day",
                             id="other")
    assert untrusted.build() == []


def test_taf6_answers_with_the_latest_values(pki: Path, emp: Emp, store: Store, weeks: Feed) -> None:  # noqa: F811
    sender = taf_delivery(pki, emp, store, "taf7", _Clock(END), period="day")
    assert len(sender.on_demand()) == 2
    drain(sender)
    received = at_emp(emp)
    last = max(t for t in weeks.fed[(weeks.meters["a"], IMPORT)])
    assert received[(weeks.meters["a"], IMPORT, last.isoformat())][0] == weeks.fed[(weeks.meters["a"], IMPORT)][last]
    with pytest.raises(ValueError, match="not given meter"):
        sender.on_demand(("nobody",))
