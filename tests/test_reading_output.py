"""The fast JSON Lines writer prints exactly what the reference record gives, for any reading."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from smgwd.cli.reading_output import JsonLines, _scaled_text, reading_record
from smgwd.cosem.obis import Obis
from smgwd.reading import MeterTime, MeterTimeKind, Reading

_byte = st.integers(0, 255)
obis = st.builds(Obis, _byte, _byte, _byte, _byte, _byte, _byte) | st.sampled_from(
    [Obis.parse("1-0:1.8.0*255"), Obis.parse("1-0:16.7.0*255")]
)
meter_time = st.none() | st.builds(
    MeterTime, st.sampled_from(list(MeterTimeKind)), st.integers(0, 2**32 - 1), st.integers(-1439, 1439)  # a UTC offset
)
raw = st.integers(-(2**64), 2**64) | st.booleans() | st.binary(max_size=12) | st.sampled_from([0, -1, 1, 10, -10])
readings = st.builds(
    Reading,
    meter_id=st.sampled_from(["1EMH0012345678", "0a01454d4800"]) | st.text(max_size=8),
    obis=obis,
    raw=raw,
    scaler=st.integers(-128, 127) | st.integers(-6, 3),
    unit=st.none() | st.integers(0, 300),
    status=st.none() | st.integers(0, 2**64 - 1),
    meter_time=meter_time,
    quirks=st.just(()) | st.just(("dzg_dvs74_sign",)),
    wire_raw=st.none() | st.integers(0, 2**32),
)
extras = st.fixed_dictionaries({"frame": st.integers(0, 10**6)}, optional={"tolerated": st.just(["padding_4"])})


@settings(max_examples=400, deadline=None)
@given(st.lists(readings, max_size=6), extras)
def test_every_line_equals_the_reference_record(batch: list[Reading], extra: dict[str, object]) -> None:
    lines = JsonLines("sml", max_series=3)  # a small cache: refills are exercised too
    text = lines.lines(batch, **extra) + lines.lines(batch, **extra)
    want = "".join(json.dumps(reading_record(r, "sml", **extra), ensure_ascii=False) + "\n" for r in batch) * 2
    assert text == want


def test_scaled_values_are_exact_decimal_numbers() -> None:
    # numbers from the decimal point alone; ambiguous ones are left to the Decimal path
    assert _scaled_text(123456, -1) == "12345.6"
    assert _scaled_text(-5, -3) == "-0.005"
    assert _scaled_text(1200, -2) == "12"
    assert _scaled_text(7, 2) == "700"
    assert _scaled_text(0, -4) == "0"
    assert _scaled_text(1, -7) is None  # a float prints 1e-07: the reference path decides
    assert json.loads(_scaled_text(-15, -1) or "") == -1.5
