"""Real wireless M-Bus telegrams from public sources (tests/data/wmbus/telegrams.json).

Every telegram is decoded with its published key (or none), its header and security flags
are checked, its records are decoded with smgwd.codec.mbus (compact frames with the headers
of the full frame named in ``needs_previous``), and every value the source publishes is
compared. The expected values come from the sources (wmbusmeters driver JSON, test
assertions, documented examples), never from this decoder; see the README beside the data.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from smgwd.codec.mbus import Function, MbusDateTime
from smgwd.codec.mbus.records import Record
from smgwd.codec.wmbus import (
    CrcError,
    MacError,
    Telegram,
    WmbusError,
    WrongKeyError,
    decode_telegram,
)
from smgwd.meters.wmbus.reader import TelegramReader

DATA = json.loads((Path(__file__).resolve().parents[2] / "data" / "wmbus" / "telegrams.json").read_text())
CORPUS: dict[str, dict[str, Any]] = {t["name"]: t for t in DATA["telegrams"]}
GOOD = sorted(n for n, t in CORPUS.items() if "expect_error" not in t)
KEYED = sorted(n for n in GOOD if CORPUS[n]["key"])
WITH_CRCS = sorted(n for n in GOOD if CORPUS[n]["link_crc"] == "present")

MEDIA = {  # EN 13757-4 device types grouped into the media the issue asks for
    "electricity": {0x02},
    "water": {0x06, 0x07, 0x15, 0x16, 0x17},
    "heat": {0x04, 0x0C, 0x0D},
    "gas": {0x03},
    "hca": {0x08},
}
SECURITY_MODE = {"mode5": 5, "mode7": 7}


def _keys(t: Mapping[str, Any], key_hex: str | None = None) -> dict[str, bytes] | None:
    key_hex = key_hex or t["key"]
    if not key_hex:
        return None
    key = bytes.fromhex(key_hex)
    ids = {t["id"]} | ({t["tpl_id"]} if t.get("tpl_id") else set())
    return {i: key for i in ids}


def _decode(t: Mapping[str, Any], data: bytes | None = None, *, key_hex: str | None = None, link_crc: str | None = None) -> Telegram:
    return decode_telegram(
        bytes.fromhex(t["hex"]) if data is None else data,
        _keys(t, key_hex),
        link_crc=link_crc or t["link_crc"],
        allow_trailing=t["trailing"] > 0,
    )


def _wire_length(t: Mapping[str, Any]) -> int:
    return len(bytes.fromhex(t["hex"])) - t["trailing"]


@cache
def _records(name: str) -> tuple[Record, ...]:
    """The records as the gateway reads them: TelegramReader, the full frame first for a compact one."""
    t = CORPUS[name]
    chain = [CORPUS[t["needs_previous"]], t] if t["needs_previous"] else [t]
    keys: dict[str, bytes] = {}
    for item in chain:
        keys.update(_keys(item) or {})
    reader = TelegramReader(keys, link_crc=t["link_crc"])
    for item in chain:
        result = reader.read(bytes.fromhex(item["hex"]), allow_trailing=item["trailing"] > 0)
        assert result.error is None, f"{item['name']}: {result.error}"
    if t["needs_previous"]:
        assert result.telegram is not None and result.telegram.compact is not None, "compact frame expected"
    return result.records


def _date_text(when: MbusDateTime, want: str) -> str | None:
    """The date fields as text, like wmbusmeters prints them (it ignores the IV flag)."""
    if when.year is None or when.month is None or when.day is None:
        return None
    text = f"{when.year:04d}-{when.month:02d}-{when.day:02d}"
    if when.hour is not None:
        text += f" {when.hour:02d}:{when.minute or 0:02d}"
        if when.second is not None:
            text += f":{when.second:02d}"
    return text[: len(want)]


def _matches(rec: Record, want: Mapping[str, Any]) -> bool:
    """Does ``rec`` carry the published value ``want`` (quantity, unit, storage, value)?"""
    if rec.quantity != want["quantity"]:
        return False
    if "unit" in want and rec.unit != want["unit"]:
        return False
    for key in ("storage", "tariff", "subunit"):
        if key in want and getattr(rec, key) != want[key]:
            return False
    if "function" in want and rec.function is not Function[want["function"]]:
        return False
    for ext in want.get("extensions", ()):
        if ext not in rec.extensions:
            return False
    if "raw" in want:
        return rec.raw == want["raw"]
    if isinstance(want["json"], str):
        return isinstance(rec.raw, MbusDateTime) and _date_text(rec.raw, want["json"]) == want["json"]
    if not isinstance(rec.raw, (int, Decimal)) or isinstance(rec.raw, bool):
        return False
    ours = Decimal(rec.raw) * Decimal(10) ** rec.scaler
    theirs = Decimal(str(want["json"])) * Decimal(str(want["factor"]))
    tolerance = Decimal(str(want.get("tolerance", "1e-9"))) * max(Decimal(1), abs(theirs))
    return abs(ours - theirs) <= tolerance


def _show(rec: Record) -> str:
    return f"{rec.quantity} {rec.unit} raw={rec.raw!r} e{rec.scaler} st={rec.storage} t={rec.tariff} {rec.function.name}"


# ----------------------------------------------------------------------------------------
# the corpus itself


def test_provenance() -> None:
    repos = {s["repo"]: s["commit"] for s in DATA["sources"]}
    for name, t in CORPUS.items():
        src = t["source"]
        assert src["repo"] in repos and len(src["commit"]) == 40 and src["path"] and src["line"] > 0, name
        data = bytes.fromhex(t["hex"])
        assert t["link_crc"] in ("present", "absent") and t["frame_format"] in ("A", "B", None), name
        if t["link_crc"] == "absent" and "expect_error" not in t:
            assert data[0] + 1 + t["trailing"] == len(data), name
        assert t["security"] in ("none", "mode5", "mode7", "ell", "replay"), name
        assert bool(t["key"]) == (t["security"] in ("mode5", "mode7", "ell")), name
        if t["needs_previous"]:
            prev = CORPUS[t["needs_previous"]]
            assert (prev["manufacturer"], prev["device_type"]) == (t["manufacturer"], t["device_type"]), name
            assert list(CORPUS).index(t["needs_previous"]) < list(CORPUS).index(name), "full frame comes first"
        for want in t["expect"]:
            assert "json" in want and "quantity" in want, name
            if not isinstance(want["json"], str) and "raw" not in want:
                assert "factor" in want, (name, want["field"])


def test_coverage() -> None:
    """The corpus targets of the issue: size, makers, media, security kinds, frame formats."""
    good = [CORPUS[n] for n in GOOD]
    assert len(good) >= 40
    assert len({t["manufacturer"] for t in good}) >= 8
    media = {m for t in good for m, types in MEDIA.items() if t["device_type"] in types}
    assert len(media) >= 4, media
    kinds = {t["security"] for t in good}
    assert {"none", "mode5", "mode7", "ell", "replay"} <= kinds
    assert sum(t["security"] == "mode7" and t["key"] is not None for t in good) >= 2
    assert sum(t["security"] == "ell" for t in good) >= 3
    crc_formats = {t["frame_format"] for t in good if t["link_crc"] == "present"}
    assert crc_formats == {"A", "B"}
    compact = [t for t in good if t["needs_previous"]]
    assert len(compact) >= 4
    assert any(t["security"] == "ell" for t in compact)
    assert sum(len(t["expect"]) for t in good) >= 100
    assert len(KEYED) >= 20


# ----------------------------------------------------------------------------------------
# decoding


@pytest.mark.parametrize("name", GOOD)
def test_header_and_security(name: str) -> None:
    t = CORPUS[name]
    tg = _decode(t)
    addr = tg.dll.address
    assert (addr.manufacturer, addr.id, addr.version, addr.device_type) == (
        t["manufacturer"],
        t["id"],
        t["version"],
        t["device_type"],
    )
    assert tg.meter_id == (t["tpl_id"] or t["id"])
    first_ci = tg.ell.ci if tg.ell else (0x90 if tg.afl else tg.tpl.ci)
    assert first_ci == t["ci"]
    assert tg.link_crc == (t["link_crc"] == "present")
    if t["link_crc"] == "present":
        assert tg.frame_format is not None and tg.frame_format.value == t["frame_format"]
    assert len(tg.trailing) == t["trailing"]

    kind = t["security"]
    if kind == "none":
        assert not tg.encrypted and not tg.already_decrypted
        assert not (tg.ell and tg.ell.encrypted) and tg.security_mode == 0
    elif kind == "replay":
        assert tg.already_decrypted and not tg.encrypted
    elif kind == "ell":
        assert tg.ell is not None and tg.ell.encrypted and tg.encrypted
    else:
        assert tg.encrypted and not tg.already_decrypted
        assert tg.security_mode == SECURITY_MODE[kind]
        if kind == "mode7":
            assert tg.afl is not None and tg.afl.mac is not None
            assert tg.mac_verified
    if t["needs_previous"]:
        assert tg.compact is not None


@pytest.mark.parametrize("name", GOOD)
def test_published_values(name: str) -> None:
    t = CORPUS[name]
    if t.get("apl") == "proprietary":
        assert not t["expect"]  # manufacturer-specific application layer: header checks only
        return
    records = _records(name)
    if t.get("records") is not None:
        assert len(records) == t["records"], [_show(r) for r in records]
    for want in t["expect"]:
        if "record" in want:
            rec = records[want["record"]]
            assert _matches(rec, want), (want, _show(rec))
        else:
            assert any(_matches(r, want) for r in records), (want, [_show(r) for r in records])


def test_link_crc_auto_agrees() -> None:
    """``link_crc="auto"`` finds the same frame as the published CRC state."""
    for name in GOOD:
        t = CORPUS[name]
        if t["trailing"]:
            continue
        assert _decode(t, link_crc="auto").payload == _decode(t).payload, name


@pytest.mark.parametrize("name", sorted(n for n, t in CORPUS.items() if "expect_error" in t))
def test_malformed_published_telegram_is_rejected(name: str) -> None:
    with pytest.raises(WmbusError):
        _decode(CORPUS[name])


# ----------------------------------------------------------------------------------------
# negative cases derived from the real telegrams


@pytest.mark.parametrize("name", KEYED)
def test_wrong_key_is_refused(name: str) -> None:
    t = CORPUS[name]
    key = bytearray.fromhex(t["key"])
    key[0] ^= 0x01
    with pytest.raises((WrongKeyError, MacError)):
        _decode(t, key_hex=key.hex())


@pytest.mark.parametrize("name", WITH_CRCS)
@pytest.mark.parametrize("where", ["first_block", "last_block"])
def test_flipped_bit_fails_link_crc(name: str, where: str) -> None:
    t = CORPUS[name]
    data = bytearray.fromhex(t["hex"])
    index = 5 if where == "first_block" else len(data) - 3  # a data byte, not a CRC byte
    data[index] ^= 0x10
    with pytest.raises(CrcError):
        _decode(t, bytes(data))


@pytest.mark.parametrize("name", GOOD)
def test_truncation_raises(name: str) -> None:
    t = CORPUS[name]
    data = bytes.fromhex(t["hex"])[: _wire_length(t)]
    for cut in sorted({1, 5, 10, 11, len(data) // 2, len(data) - 2, len(data) - 1}):
        with pytest.raises(WmbusError):
            decode_telegram(data[:cut], _keys(t), link_crc=t["link_crc"])
