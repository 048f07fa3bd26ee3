"""A simulated meter's radio: its telegrams decode with the meter's key (security 0, 5, 7, with
and without ELL) to the model's records, carry the configured address, count their access
number and message counter, and refuse wrong and missing keys; bad settings are refused."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from smgwd.codec.mbus import decode_records
from smgwd.codec.wmbus import MacError, MissingKeyError, Telegram, WrongKeyError, decode_telegram
from smgwd.sim.clock import SteppedClock
from smgwd.sim.meter import MeterSpec, SimMeter
from smgwd.sim.wmbus.models import ElectricityModel, HeatModel, HeatSpec, RadioModel, WaterModel, WaterSpec
from smgwd.sim.wmbus.transmitter import RadioSettings, Transmitter

START = datetime(2025, 1, 15, 5, 30, 12, tzinfo=timezone.utc).timestamp()
KEY = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
OTHER = bytes.fromhex("f0e0d0c0b0a090807060504030201000")
SERIAL = 1234567
ID = "01234567"

MODES = [(0, False), (0, True), (5, False), (5, True), (7, False), (7, True)]


def model(kind: str, clock: SteppedClock) -> RadioModel:
    if kind == "water":
        return WaterModel(WaterSpec("w", SERIAL, seed=1), clock)
    if kind == "warm":
        return WaterModel(WaterSpec("ww", SERIAL, warm=True, seed=1), clock)
    if kind == "heat":
        return HeatModel(HeatSpec("h", SERIAL, seed=1), clock)
    return ElectricityModel(SimMeter(MeterSpec(id="e", serial=SERIAL, seed=1), clock))


def transmitter(kind: str, security: int, ell: bool, seed: int = 0) -> tuple[Transmitter, SteppedClock]:
    clock = SteppedClock(START)
    key = KEY if security or ell else None
    tx = Transmitter(model(kind, clock), RadioSettings("m", security, key, ell=ell), "KAM", SERIAL, seed)
    clock.step(3600.0)
    return tx, clock


def decode(frame: bytes, keys: object = None) -> Telegram:
    return decode_telegram(frame, keys if keys is not None else {ID: KEY}, link_crc="absent")  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["water", "warm", "heat", "electricity"])
@pytest.mark.parametrize(("security", "ell"), MODES)
def test_telegram_decodes_to_the_models_records(kind: str, security: int, ell: bool) -> None:
    tx, clock = transmitter(kind, security, ell)
    for _ in range(3):
        frame = tx.telegram()
        assert frame[0] == len(frame) - 1  # L-field first, no link CRCs
        tg = decode(frame)
        assert decode_records(tg.payload) == decode_records(tx.model.records())  # stepped clock: same instant
        assert len(decode_records(tg.payload)) >= 3
        a = tg.dll.address
        assert (a.id, a.manufacturer, a.device_type, a.version) == (ID, "KAM", tx.model.device_type, 1)
        assert tg.dll.c_field == 0x44  # SND_NR
        assert tg.tpl.ci == 0x7A and tg.security_mode == security
        assert tg.encrypted is bool(security or ell) and not tg.already_decrypted
        assert (tg.ell is not None) is ell
        if ell:
            assert tg.ell is not None and tg.ell.encrypted and tg.ell.acc == tg.tpl.access_number
        assert (tg.afl is not None) is (security == 7)
        if security == 7:
            assert tg.mac_verified
        clock.step(61.0)
    assert tx.sent == 3 and tx.wmbus_id == ID


def test_device_types() -> None:
    clock = SteppedClock(START)
    types = {kind: model(kind, clock).device_type for kind in ("water", "warm", "heat", "electricity")}
    assert types == {"water": 0x07, "warm": 0x06, "heat": 0x04, "electricity": 0x02}


def test_encrypted_payload_is_not_in_the_clear() -> None:
    tx, _ = transmitter("heat", 5, False)
    frame = tx.telegram()
    records = tx.model.records()
    assert records[:8] not in frame
    plain, _ = transmitter("heat", 0, False)
    assert plain.model.records()[:8] in plain.telegram()


@pytest.mark.parametrize(("security", "ell"), MODES)
def test_access_number_counts_and_wraps(security: int, ell: bool) -> None:
    tx, clock = transmitter("water", security, ell, seed=250)
    seen = []
    for _ in range(10):
        tg = decode(tx.telegram())
        seen.append(tg.tpl.access_number)
        if ell:
            assert tg.ell is not None and tg.ell.acc == seen[-1]
        clock.step(8.0)
    assert seen == [251, 252, 253, 254, 255, 0, 1, 2, 3, 4]


def test_access_number_starts_from_the_seed() -> None:
    a, _ = transmitter("water", 5, False, seed=0x1234)
    assert decode(a.telegram()).tpl.access_number == 0x35


@pytest.mark.parametrize("ell", [False, True])
def test_mode7_message_counter_counts_up(ell: bool) -> None:
    tx, clock = transmitter("electricity", 7, ell)
    counters = []
    for _ in range(5):
        tg = decode(tx.telegram())
        assert tg.afl is not None and tg.afl.mac is not None and len(tg.afl.mac) == 8
        counters.append(tg.afl.mcr)
        clock.step(8.0)
    assert counters == [1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    ("security", "ell", "error"),
    [(5, False, WrongKeyError), (7, False, MacError), (0, True, WrongKeyError), (5, True, WrongKeyError),
     (7, True, WrongKeyError)],
)
def test_wrong_key(security: int, ell: bool, error: type[Exception]) -> None:
    tx, _ = transmitter("water", security, ell)
    frame = tx.telegram()
    with pytest.raises(error) as caught:
        decode(frame, {ID: OTHER})
    assert caught.value.meter_id == ID  # type: ignore[attr-defined]


@pytest.mark.parametrize(("security", "ell"), [(5, False), (7, False), (0, True), (5, True), (7, True)])
def test_missing_key(security: int, ell: bool) -> None:
    tx, _ = transmitter("heat", security, ell)
    frame = tx.telegram()
    with pytest.raises(MissingKeyError):
        decode_telegram(frame, None, link_crc="absent")
    with pytest.raises(MissingKeyError):
        decode_telegram(frame, {"99999999": KEY}, link_crc="absent")


def test_plain_telegram_needs_no_key() -> None:
    tx, _ = transmitter("water", 0, False)
    tg = decode_telegram(tx.telegram(), None, link_crc="absent")
    assert not tg.encrypted and decode_records(tg.payload) == decode_records(tx.model.records())


@pytest.mark.parametrize(
    "kwargs",
    [
        {"security": 3, "key": KEY},
        {"security": 1, "key": KEY},
        {"security": 5},
        {"security": 7},
        {"security": 0, "ell": True},
        {"security": 5, "key": KEY[:15]},
        {"security": 5, "key": KEY + b"\x00"},
        {"security": 0, "radio_mode": "x"},
        {"security": 0, "radio_mode": "T1"},
    ],
)
def test_radio_settings_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        RadioSettings("m", **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", ["t1", "c1", "s1"])
def test_radio_settings_accepted(mode: str) -> None:
    s = RadioSettings("m", 7, KEY, 4.0, True, mode)
    assert (s.security, s.key, s.interval_seconds, s.ell, s.radio_mode) == (7, KEY, 4.0, True, mode)
    assert RadioSettings("m", 0).key is None


@pytest.mark.parametrize("serial", [100_000_000, -1])
def test_transmitter_refuses_serials_beyond_8_digits(serial: int) -> None:
    clock = SteppedClock(START)
    with pytest.raises(ValueError, match="8 BCD digits"):
        Transmitter(model("water", clock), RadioSettings("m", 0), "SIM", serial)


def test_largest_serial() -> None:
    clock = SteppedClock(START)
    tx = Transmitter(model("water", clock), RadioSettings("m", 0), "SIM", 99_999_999)
    tg = decode_telegram(tx.telegram(), None, link_crc="absent")
    assert tg.dll.address.id == "99999999" and tg.dll.address.manufacturer == "SIM"
