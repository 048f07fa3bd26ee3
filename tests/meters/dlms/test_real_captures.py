"""Real DLMS/COSEM pushes of 6 makers (tests/data/dlms/captures.json) through the gateway's PushReader.

Expected values come from the sources (their assertions or published decodes) or from
independent decoders (amshan, gurux-dlms, dlms-cosem), never from smgwd: see
tests/data/dlms/README.md. Each capture is read whole, byte by byte, and behind garbage;
the layout a meter needs (lists without OBIS codes or scalers) is what a user would
configure for that meter.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from smgwd.codec.dlms import DlmsKeys
from smgwd.cosem.obis import Obis
from smgwd.cosem.units import unit_symbol
from smgwd.meters.dlms.reader import PushDecoded, PushFailed, PushReader, pending

DATA = Path(__file__).resolve().parents[2] / "data" / "dlms" / "captures.json"
CAPTURES: list[dict[str, Any]] = json.loads(DATA.read_text())["captures"]
ENERGY_UNITS = {"kWh": ("Wh", 3), "kvarh": ("varh", 3)}


def layout_for(capture: dict[str, Any]) -> str | None:
    """The layout (family) a user configures for this meter, as its maker and grid operator document it."""
    maker, country, model = capture["maker"], capture["country"], capture["model"] or ""
    if maker == "Landis+Gyr":
        if country == "AT":
            return "lg-e450-burgenland"
        return next((f"lg-{m.lower()}" for m in ("E450", "E570", "E360") if m in model), None)
    if maker == "Iskraemeco":
        return "iskra-am550-si" if country == "SI" else "iskra-am550"
    if maker == "Kamstrup":
        return "kamstrup-se" if country == "SE" else "kamstrup-no"  # DK and CH: as amsreader reads them
    if maker == "Kaifa" and country in ("NO", "SE"):
        return "kaifa"
    return None


def keys_of(capture: dict[str, Any]) -> DlmsKeys:
    keys = capture["keys"]
    return DlmsKeys(*(bytes.fromhex(keys[k]) if keys[k] else None for k in ("encryption", "authentication")))


def read(capture: dict[str, Any], chunk: int | None = None, garbage: bytes = b"") -> tuple[list[PushDecoded], list[PushFailed], bool]:
    reader = PushReader(keys_of(capture), layout=layout_for(capture),
                        transport="mbus" if capture["transport"] == "mbus" else "hdlc")
    results: list[PushDecoded | PushFailed] = []
    if capture.get("plaintext_apdu"):  # keys never published: the plaintext the meter's reader logged
        results += [r for r in [reader.apdu(bytes.fromhex(capture["plaintext_apdu"]))] if r is not None]
    elif capture["transport"] == "apdu":
        results += [r for r in (reader.apdu(bytes.fromhex(f)) for f in capture["frames"]) if r is not None]
    else:
        data = garbage + b"".join(bytes.fromhex(f) for f in capture["frames"])
        step = chunk or len(data)
        for k in range(0, len(data), step):
            results += reader.feed(data[k : k + step])
    decoded = [r for r in results if isinstance(r, PushDecoded)]
    failed = [r for r in results if isinstance(r, PushFailed)]
    return decoded, failed, pending(reader)


def _text(raw: object) -> str:
    return raw.decode("latin-1") if isinstance(raw, bytes) else str(raw)


def check_expectations(capture: dict[str, Any], message: PushDecoded) -> None:
    readings: dict[Obis, list[Any]] = {}
    for r in message.readings:
        readings.setdefault(r.obis, []).append(r)
    for e in capture["expect"]:
        if e["obis"] is None:
            continue  # a position no public layout names: no reading, by design
        obis = Obis.parse(e["obis"])
        if obis.a == 0 and obis.c == 1 and obis.d == 0:  # a clock (0-0:1.0.0, Kamstrup 0-1:1.0.0): the meter time
            clock = message.clock or message.date_time
            assert clock is not None, "no meter clock"
            assert e["raw"].lower() == clock.data.hex() or e["raw"] == clock.local_isoformat(), (clock, e)
            continue
        assert obis in readings, f"{obis} missing; got {sorted(map(str, readings))}"
        got = readings[obis][0]
        if isinstance(e["raw"], str):
            assert _text(got.raw) == e["raw"] or (isinstance(got.raw, bytes) and got.raw.hex() == e["raw"].lower()), (got, e)
            continue
        assert got.raw == e["raw"], (obis, got.raw, e)
        if e["scaler"] is not None:
            assert got.scaler == e["scaler"], (obis, got.scaler, e)
            # a unit-less 0 in the source means "as sent" (counts, M-Bus channel values): no layout needs to say it
            assert "scaler_unknown" not in got.quirks or (e["scaler"] == 0 and e["unit"] is None), (obis, e)
            unit, shift = ENERGY_UNITS.get(e["unit"], (e["unit"], 0)) if e["unit"] else (None, 0)
            if unit is not None:
                assert unit_symbol(got.unit) == unit, (obis, got.unit, e)
            if e["value"] is not None and not isinstance(e["raw"], str):
                assert float(got.value()) == pytest.approx(float(e["value"]) * 10**shift, rel=1e-9), (obis, got.value(), e)


GOOD = [c for c in CAPTURES if not c["reject"]]
BAD = [c for c in CAPTURES if c["reject"]]


@pytest.mark.parametrize("capture", GOOD, ids=[c["name"] for c in GOOD])
def test_real_capture_decodes_to_the_published_values(capture: dict[str, Any]) -> None:
    decoded, failed, unfinished = read(capture)
    assert decoded, [f.reason for f in failed]
    assert not unfinished
    message = decoded[-1]
    check_expectations(capture, message)
    if capture.get("datetime") and message.date_time is not None and message.date_time.local_isoformat():
        assert message.date_time.local_isoformat() == capture["datetime"][:19]
    if capture["keys"]["authentication"] and capture["keys"]["encryption"] and not capture.get("plaintext_apdu"):
        assert "tag_unchecked" not in message.quirks  # with both keys the tag is always checked


@pytest.mark.parametrize("capture", [c for c in GOOD if c["transport"] == "hdlc"],
                         ids=[c["name"] for c in GOOD if c["transport"] == "hdlc"])
def test_real_capture_byte_by_byte_and_behind_garbage(capture: dict[str, Any]) -> None:
    whole, _, _ = read(capture)
    for chunk, garbage in ((1, b""), (7, b"\x00\x7e\xa0\x05\xff garbage \x7e\x7e")):
        decoded, _, _ = read(capture, chunk, garbage)
        assert [m.readings for m in decoded] == [m.readings for m in whole]


@pytest.mark.parametrize("capture", BAD, ids=[c["name"] for c in BAD])
def test_broken_capture_is_refused_and_named(capture: dict[str, Any]) -> None:
    decoded, failed, unfinished = read(capture)
    assert not decoded, capture["reject"]
    assert failed or unfinished  # refused with a reason, or still waiting for what never came


def test_corpus_covers_what_the_issue_asks() -> None:
    good = [c for c in GOOD if not c["derived"]]
    assert len(good) >= 30
    assert len({c["maker"] for c in good}) >= 5 and len({(c["maker"], c["model"]) for c in good}) >= 10
    notes = " ".join(c["notes"] for c in good)
    assert "segment" in notes and any(len(c["frames"]) > 1 and c["transport"] == "hdlc" for c in good)
    assert sum(1 for c in good if c["keys"]["encryption"] and c["keys"]["authentication"]) >= 3


def test_every_published_layout_is_proven_by_real_captures() -> None:
    """Each layout of layouts.json (but the simulator's own) decodes at least one real capture to its published values."""
    from smgwd.meters.dlms.layouts import LAYOUTS

    used: set[str] = set()
    for capture in GOOD:
        decoded, _, _ = read(capture)
        family = layout_for(capture)
        if family is not None and decoded:
            check_expectations(capture, decoded[-1])
            used.add(family)
    published = set(LAYOUTS.families) - {"smgw-sim-idis"}
    assert published <= used, sorted(published - used)
