"""libmbus' error frames are rejected for the same reason libmbus names; on arbitrary bytes the
decoder returns records or raises MbusError, nothing else; encoded records decode back."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smgwd.codec.mbus import (
    MbusError,
    MbusExtensionError,
    MbusTruncatedError,
    decode_compact,
    decode_long_frame,
    decode_records,
    record_headers,
)

ERRORS = Path(__file__).resolve().parents[2] / "data" / "mbus" / "libmbus_errors"
EXPECTED = {
    "premature_end_of_data1": MbusTruncatedError,
    "premature_end_of_data2": MbusTruncatedError,
    "premature_end_of_dif1": MbusTruncatedError,
    "premature_end_of_dif2": MbusTruncatedError,
    "premature_end_of_var_vif1": MbusTruncatedError,
    "premature_end_of_vif1": MbusTruncatedError,
    "too_long_var_vif": MbusTruncatedError,
    "too_many_dife": MbusExtensionError,
    "too_many_vife": MbusExtensionError,
}


@pytest.mark.parametrize("stem", sorted(EXPECTED))
def test_libmbus_error_frames(stem: str) -> None:
    fr = decode_long_frame(bytes.fromhex("".join((ERRORS / f"{stem}.hex").read_text().split())))
    with pytest.raises(EXPECTED[stem]) as exc:
        fr.records()
    assert exc.value.offset is not None and 0 <= exc.value.offset < len(fr.records_data)


@settings(max_examples=3000, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes(data: bytes) -> None:
    try:
        recs = decode_records(data)
    except MbusError:
        return
    # what decoded is consistent: records tile the input apart from fillers
    assert all(0 <= r.offset < len(data) for r in recs)
    headers = record_headers(data)
    assert headers == b"".join(r.header for r in recs)


@settings(max_examples=1000, deadline=None)
@given(st.binary(max_size=60), st.binary(max_size=120))
def test_arbitrary_compact(headers: bytes, data: bytes) -> None:
    try:
        decode_compact(headers, data)
    except MbusError:
        pass


@settings(max_examples=500, deadline=None)
@given(st.binary(min_size=1, max_size=260))
def test_arbitrary_long_frames(body: bytes) -> None:
    frame = bytes([0x68, len(body) & 0xFF, len(body) & 0xFF, 0x68]) + body + bytes([sum(body) & 0xFF, 0x16])
    try:
        decode_long_frame(frame).records()
    except MbusError:
        pass


# --- round trip: records built by a tiny encoder here decode to what was encoded ---------

_INT_CODES = {1: 1, 2: 2, 3: 3, 4: 4, 6: 6, 8: 7}  # bytes -> DIF code
_BCD_CODES = {1: 9, 2: 10, 3: 11, 4: 12, 6: 14}


@st.composite
def records(draw: st.DrawFn) -> tuple[bytes, dict[str, object]]:
    storage = draw(st.integers(0, (1 << 9) - 1))
    tariff = draw(st.integers(0, 3))
    subunit = draw(st.integers(0, 1))
    function = draw(st.integers(0, 3))
    vif = draw(st.sampled_from([0x03, 0x13, 0x2B, 0x3B, 0x5A, 0x6E]))  # signed quantities
    kind = draw(st.sampled_from(["int", "bcd", "text"]))
    # two DIFEs: storage bits 1-4 / 5-8, tariff bits 0-1, subunit bit 0
    difes = [((storage >> 1) & 0xF) | (tariff << 4) | (subunit << 6), (storage >> 5) & 0xF]
    if kind == "int":
        size = draw(st.sampled_from(sorted(_INT_CODES)))
        raw = draw(st.integers(-(1 << (8 * size - 1)), (1 << (8 * size - 1)) - 1))
        code, field = _INT_CODES[size], raw.to_bytes(size, "little", signed=True)
    elif kind == "bcd":
        size = draw(st.sampled_from(sorted(_BCD_CODES)))
        raw = draw(st.integers(0, 10 ** (2 * size) - 1))
        code, field = _BCD_CODES[size], bytes.fromhex(f"{raw:0{2 * size}d}")[::-1]
    else:
        text = draw(st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=20))
        code, field = 0x0D, bytes([len(text)]) + text.encode("latin-1")[::-1]
    dif = code | (function << 4) | ((storage & 1) << 6) | 0x80
    head = bytes([dif, difes[0] | 0x80, difes[1], vif])
    want: dict[str, object] = {"storage": storage, "tariff": tariff, "subunit": subunit, "function": function}
    want["raw"] = text if kind == "text" else raw
    return head + field, want


@settings(max_examples=300, deadline=None)
@given(st.lists(records(), max_size=8), st.integers(0, 3))
def test_round_trip(items: list[tuple[bytes, dict[str, object]]], fill: int) -> None:
    area = b"\x2f" * fill + b"".join(b for b, _ in items) + b"\x2f" * fill
    got = decode_records(area)
    assert len(got) == len(items)
    for rec, (_, want) in zip(got, items):
        assert (rec.storage, rec.tariff, rec.subunit, int(rec.function), rec.raw) == (
            want["storage"], want["tariff"], want["subunit"], want["function"], want["raw"],
        )  # fmt: skip
    headers = record_headers(area)
    data = b"".join(b[len(b"....") :] for b, _ in items)
    assert [r.raw for r in decode_compact(headers, data)] == [w["raw"] for _, w in items]
