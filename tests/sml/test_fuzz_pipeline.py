"""Issue 9: bytes through the whole offline pipeline of ``smgwctl decode sml`` in-process.

decoder -> readings_from_messages -> every output format (JSON Lines, table, COSEM/XML);
only DecodeError subclasses may escape (the CLI reports those as one line each). Inputs:
arbitrary bytes, and mutated valid frames (real captures and the hand-built entry), with
and without transport framing. The short variants run in the normal suite; the long ones
behind ``-m fuzz``.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smgwd.cli.reading_output import reading_record, write_jsonl, write_table
from smgwd.codec.errors import DecodeError
from smgwd.codec.sml.decoder import decode_messages
from smgwd.codec.sml.transport import encode_frame
from smgwd.cosem import xml_josef
from smgwd.meters.cosem_map import logical_devices
from smgwd.meters.sml.profiles import get_profile
from smgwd.meters.sml.readings import readings_from_messages
from smgwd.meters.sml.stream import FrameDecoded, SmlFrameReader
from tests.sml.hostile import HOSTILE, list_frame, list_message

DATA = Path(__file__).resolve().parents[1] / "data" / "sml"
SEEDS = [bytes.fromhex("".join(p.read_text().split())) for p in sorted(DATA.glob("*.hex"))]
SEEDS += [list_frame(), list_message()] + [list_frame(**{f: part}) for f, part in HOSTILE.values()]
PROFILE = get_profile("generic")


def _render(readings: list) -> None:
    records = [reading_record(r, "sml", frame=0) for r in readings]
    write_jsonl(records, io.StringIO())
    write_table(records, io.StringIO())
    xml_josef.encode(logical_devices(readings))


def pipeline(data: bytes) -> None:
    """What ``smgwctl decode sml`` does with ``data``, for every output format."""
    try:
        result = readings_from_messages(decode_messages(data, PROFILE.dialect), PROFILE)
        _render(list(result.readings))
    except DecodeError:
        pass
    reader = SmlFrameReader(PROFILE, None)
    for event in reader.feed(data) + reader.feed(b""):
        if isinstance(event, FrameDecoded):
            _render(list(event.readings))


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    wire = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        k = draw(st.integers(0, len(wire) - 1))
        wire[k] = draw(st.integers(0, 255))
    data = bytes(wire)
    if draw(st.booleans()):  # re-frame: a valid frame CRC around the mutated bytes
        data = encode_frame(data)
    return data


inputs = st.one_of(st.binary(max_size=300), mutated())


@given(inputs)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_pipeline_short(data: bytes) -> None:
    pipeline(data)


@pytest.mark.fuzz
@given(inputs)
@settings(max_examples=750_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_pipeline_long(data: bytes) -> None:
    pipeline(data)


def test_seeds_go_through() -> None:
    for seed in SEEDS:
        pipeline(seed)
