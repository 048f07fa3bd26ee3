"""74 real wired M-Bus frames from libmbus' test suite (tests/data/mbus/libmbus, provenance in
its README): every record matches libmbus' normalised XML, except the records listed in
deviations.json, which must differ exactly as listed and decode as their kind says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smgwd.codec.mbus import MbusDateTime, Record, decode_compact, decode_long_frame, decode_records, record_headers

from .libmbus_xml import compare, libmbus_date, load_norm_xml

DATA = Path(__file__).resolve().parents[2] / "data" / "mbus" / "libmbus"
STEMS = sorted(p.stem for p in DATA.glob("*.hex"))
DEVIATIONS: dict[str, dict[str, str]] = {
    k: v for k, v in json.loads((DATA / "deviations.json").read_text()).items() if not k.startswith("_")
}


def frame(stem: str) -> bytes:
    return bytes.fromhex("".join((DATA / f"{stem}.hex").read_text().split()))


def test_corpus_size() -> None:
    assert len(STEMS) == 74
    makers = {decode_long_frame(frame(s)).manufacturer for s in STEMS}
    assert len(makers) >= 30


def check_deviation(rec: Record, kind: str, want_value: str) -> None:
    raw = rec.raw
    if kind == "invalid_date":
        assert isinstance(raw, MbusDateTime) and not raw.valid and not rec.valid
        assert libmbus_date(raw) == want_value  # same fields, only the verdict differs
    elif kind == "time_invalid":
        assert isinstance(raw, MbusDateTime) and raw.time_invalid and not raw.valid
    elif kind == "bad_bcd":
        assert raw is None and not rec.valid and rec.coding.startswith("bcd")
    elif kind == "date_vife":
        assert isinstance(raw, MbusDateTime) and raw.type == "F"
        assert "last_end_date_of" in rec.extensions
    elif kind == "unknown_vif":
        assert rec.quantity.startswith("vif_0x") and isinstance(raw, int)
    else:  # pragma: no cover - a typo in deviations.json
        raise AssertionError(kind)


@pytest.mark.parametrize("stem", STEMS)
def test_frame_matches_libmbus(stem: str) -> None:
    fr = decode_long_frame(frame(stem))
    records = fr.records()
    expected = load_norm_xml(DATA / f"{stem}.norm.xml")
    assert len(records) == len(expected)
    differing = {}
    for rec, want in zip(records, expected):
        diffs = compare(rec, want)
        key = f"{stem}#{want.index}"
        if diffs:
            differing[key] = diffs
        if key in DEVIATIONS:
            check_deviation(rec, DEVIATIONS[key]["kind"], want.value)
    assert set(differing) == {k for k in DEVIATIONS if k.startswith(stem + "#")}, differing


@pytest.mark.parametrize("stem", STEMS)
def test_fillers_and_offset(stem: str) -> None:
    """Idle fillers before and after, and an offset into a bigger buffer, change nothing."""
    area = decode_long_frame(frame(stem)).records_data
    plain = decode_records(area)
    if plain and plain[-1].quantity == "manufacturer_data":
        return  # manufacturer data runs to the end: a trailing filler would belong to it
    padded = decode_records(b"\xaa\xbb" + b"\x2f" * 3 + area + b"\x2f" * 5, offset=2)
    assert [(r.header, r.data, r.raw) for r in padded] == [(r.header, r.data, r.raw) for r in plain]
    assert [r.offset - 5 for r in padded] == [r.offset for r in plain]


@pytest.mark.parametrize("stem", STEMS)
def test_compact_round_trip(stem: str) -> None:
    """Headers taken from the full area plus the data fields alone decode to the same records."""
    area = decode_long_frame(frame(stem)).records_data
    full = decode_records(area)
    headers = record_headers(area)
    assert headers == b"".join(r.header for r in full)
    data = b"".join((bytes([_lvar_byte(r)]) if r.dif_bytes[0] & 0x0F == 0x0D else b"") + r.data for r in full)
    compact = decode_compact(headers, data)
    assert [(r.quantity, r.storage, r.raw) for r in compact] == [(r.quantity, r.storage, r.raw) for r in full]


def _lvar_byte(rec: Record) -> int:
    if rec.coding == "lvar_binary":
        n = len(rec.data)
        return 0xE0 + n if n < 16 else {16: 0xF0, 20: 0xF1, 24: 0xF2, 28: 0xF3, 32: 0xF4, 48: 0xF5, 64: 0xF6}[n]
    assert rec.coding in ("text", "lvar_bytes")
    return len(rec.data)
