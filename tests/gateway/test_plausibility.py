"""Plausibility at ingest: an implausible meter time is kept, flagged, and never sent as a capture time."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from smgwd.cosem import xml_josef, xml_k461
from smgwd.cosem.obis import Obis
from smgwd.gateway.config import ControlConfig, GatewayConfig, GatewayIdentity, StoreConfig, TimeConfig
from smgwd.gateway.core import Gateway
from smgwd.gateway.plausibility import IMPLAUSIBLE_METER_TIME, flag_implausible
from smgwd.gateway.sdnotify import Notifier
from smgwd.gateway.store import StoreReader
from smgwd.meters.cosem_map import load_profile, logical_devices
from smgwd.reading import MeterTime, MeterTimeKind, Reading

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
OBIS = Obis.parse("1-0:1.8.0*255")


def at(kind: MeterTimeKind, moment: datetime | int, offset: int = 0) -> Reading:
    value = moment if isinstance(moment, int) else int(moment.timestamp())
    return Reading("m1", OBIS, 42, -1, 30, status=0, meter_time=MeterTime(kind, value, offset), gateway_time=NOW)


@pytest.mark.parametrize("kind", [MeterTimeKind.UTC, MeterTimeKind.LOCAL])
@pytest.mark.parametrize("moment, flagged", [
    (NOW - timedelta(days=400), False),
    (NOW + timedelta(hours=23), False),
    (datetime(2000, 1, 1, tzinfo=timezone.utc), False),
    (datetime(1999, 12, 31, 23, 59, 59, tzinfo=timezone.utc), True),
    (NOW + timedelta(days=1, seconds=1), True),
    (0, True),
    (253402300800, True),  # year 10000
    (2**40, True),
    (-2**40, True),
])
def test_meter_dates_before_2000_or_over_a_day_ahead_are_flagged(
        kind: MeterTimeKind, moment: datetime | int, flagged: bool) -> None:
    (reading,) = flag_implausible([at(kind, moment, 60 if kind is MeterTimeKind.LOCAL else 0)])
    assert (IMPLAUSIBLE_METER_TIME in reading.quirks) is flagged
    assert reading.meter_time == at(kind, moment, 60 if kind is MeterTimeKind.LOCAL else 0).meter_time  # kept


def test_a_seconds_index_and_no_meter_time_are_left_alone_and_flagging_is_idempotent() -> None:
    plain = [at(MeterTimeKind.SEC_INDEX, 5), at(MeterTimeKind.UTC, 0)._replace(meter_time=None)]
    assert flag_implausible(plain) == plain
    once = flag_implausible([at(MeterTimeKind.UTC, 0)])
    assert flag_implausible(once) == once and once[0].quirks == (IMPLAUSIBLE_METER_TIME,)


def test_a_flagged_meter_time_is_never_a_capture_time() -> None:
    (flagged,) = flag_implausible([at(MeterTimeKind.UTC, 253402300800)])
    # josef: the capture time is left out (Extended Register with the unspecified date)
    josef = xml_josef.encode(logical_devices([flagged])).decode()
    assert "10000" not in josef and "9999" not in josef
    assert xml_josef.encode(logical_devices([flagged._replace(meter_time=None)])).decode() == josef
    # k461: the reading's row is at the gateway's time
    profile = load_profile([flagged])
    assert profile == load_profile([flagged._replace(meter_time=None, quirks=())])
    assert xml_k461.encode(profile, "m1")


def test_the_gateway_flags_at_ingest_and_the_store_keeps_the_flag(tmp_path: Path) -> None:
    config = GatewayConfig(
        gateway=GatewayIdentity("gw"), store=StoreConfig(path=tmp_path / "gw.db", flush_interval=0.05),
        time=TimeConfig(servers=()), control=ControlConfig(socket=tmp_path / "control.sock"),
    )
    good, bad = at(MeterTimeKind.UTC, NOW - timedelta(minutes=1)), at(MeterTimeKind.LOCAL, 2**40, 60)

    async def life() -> None:
        gateway = Gateway(config, notifier=Notifier.disabled())
        await gateway.start()
        gateway.on_readings([good, bad])
        await gateway.stop()

    asyncio.run(life())
    with StoreReader(tmp_path / "gw.db") as reader:
        stored = list(reader.readings())
    assert [r.quirks for r in stored] == [(), (IMPLAUSIBLE_METER_TIME,)]
    assert stored[1].meter_time == bad.meter_time
