"""COSEM date-time octets <-> aware datetime."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given

from smgwd.cosem.cosemtime import UNSPECIFIED_DATE_TIME, cosem_to_datetime, datetime_to_cosem
from smgwd.cosem.errors import CosemError
from tests.cosem.strategies import utc_instants

UTC = timezone.utc


def test_layout_of_a_utc_instant() -> None:
    moment = datetime(2021, 7, 19, 15, 46, 35, 120_000, tzinfo=UTC)  # a Monday
    assert datetime_to_cosem(moment).hex() == "07e50713010f2e230c000000"


def test_local_times_are_written_in_utc() -> None:
    cest = timezone(timedelta(hours=2))
    assert datetime_to_cosem(datetime(2021, 7, 19, 17, 46, 35, tzinfo=cest)) == \
        datetime_to_cosem(datetime(2021, 7, 19, 15, 46, 35, tzinfo=UTC))


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(CosemError, match="naive"):
        datetime_to_cosem(datetime(2021, 7, 19))


def test_deviation_is_utc_minus_local() -> None:
    # dlms.md §3: deviation -60 (0xFFC4) means local time is UTC+01:00.
    octets = bytes.fromhex("07e50713010f2e2300ffc400")
    assert cosem_to_datetime(octets) == datetime(2021, 7, 19, 14, 46, 35, tzinfo=UTC)
    assert cosem_to_datetime(octets).tzinfo == UTC


def test_unspecified_hundredths_read_as_zero() -> None:
    octets = bytes.fromhex("07e50713010f2e23ff000000")
    assert cosem_to_datetime(octets) == datetime(2021, 7, 19, 15, 46, 35, tzinfo=UTC)


@pytest.mark.parametrize("hex_octets", [
    UNSPECIFIED_DATE_TIME.hex(),
    "ffff0713010f2e2300000000",  # year unspecified
    "07e50713010f2e2300800000",  # deviation unspecified
    "07e50d13010f2e2300000000",  # month 13
    "07e50713011a2e2300000000",  # hour 26
    "07e50713010f2e2364000000",  # hundredths 100
    "07e50713010f2e2300030000",  # deviation 768 > 720
    "000101010100000000fd3000",  # deviation -720 puts 0001-01-01 00:00 before year 1
    "07e507130f2e2300000000",  # 11 octets
])
def test_values_without_one_instant_are_refused(hex_octets: str) -> None:
    with pytest.raises(CosemError):
        cosem_to_datetime(bytes.fromhex(hex_octets))


def test_unspecified_constant() -> None:
    assert UNSPECIFIED_DATE_TIME.hex() == "ffffffffffffffffff8000ff"


@given(utc_instants)
def test_round_trip(moment: datetime) -> None:
    assert cosem_to_datetime(datetime_to_cosem(moment)) == moment
