"""smgw-sim's DLMS pushes: what the frames carry, how they are split, enciphered and configured."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from smgwd.codec.dlms import DlmsKeys
from smgwd.codec.hdlc import HdlcDecoder, Received
from smgwd.cosem.obis import Obis
from smgwd.meters.dlms.reader import PushDecoded, PushReader
from smgwd.sim.clock import SteppedClock
from smgwd.sim.config import SimConfigError, parse_config
from smgwd.sim.dlms_push import DlmsPushSettings, cosem_date_time, push_frames
from smgwd.sim.meter import MeterSpec, SimMeter

KEYS = DlmsKeys(bytes(range(16)), bytes(range(16, 32)))
TITLE = b"KFM\x00\x00\x00\x30\x39"
START = datetime(2025, 7, 1, 10, 0, tzinfo=timezone.utc).timestamp()  # 12:00 CEST


def meter() -> SimMeter:
    return SimMeter(MeterSpec("m", 12345, initial_import_wh=5_000_000.0, seed=3), SteppedClock(START))


def decode(frames: list[bytes], keys: DlmsKeys = KEYS, layout: str | None = None) -> PushDecoded:
    results = PushReader(keys, layout=layout).feed(b"".join(frames))
    assert len(results) == 1 and isinstance(results[0], PushDecoded), results
    return results[0]


def test_registers_push_carries_the_meter_registers_with_their_scalers() -> None:
    m = meter()
    message = decode(push_frames(m, 1, DlmsPushSettings("registers"), TITLE))
    got = {r.obis: r for r in message.readings}
    assert got[Obis(1, 0, 1, 8, 0)].raw == int(m.import_wh) and got[Obis(1, 0, 1, 8, 0)].unit == 30
    volts = got[Obis(1, 0, 32, 7, 0)]
    assert volts.scaler == -1 and 2250 <= volts.raw <= 2350 and volts.unit == 35
    assert message.layout == "registers" and message.security is None
    assert message.date_time is not None and message.date_time.local_isoformat() == "2025-07-01T12:00:00"
    assert message.date_time.deviation == -120 and message.date_time.to_datetime() == datetime.fromtimestamp(START, timezone.utc)


def test_encrypted_idis_push_in_blocks_and_segments() -> None:
    m = meter()
    frames = push_frames(m, 7, DlmsPushSettings("idis", KEYS, block_size=40, max_info=48), TITLE)
    decoder = HdlcDecoder()
    decoder.feed(b"".join(frames))
    parsed = [e.frame for e in decoder if isinstance(e, Received)]
    assert len(parsed) == len(frames) > 4
    assert all(len(f.info) <= 48 for f in parsed)
    assert sum(1 for f in parsed if not f.segmented) == sum(1 for f in parsed if f.info[3:4] == b"\xe0" or f.info[:1] == b"\xe0")
    message = decode(frames, layout="smgw-sim-idis")
    assert message.security == "glo" and message.system_title == TITLE and "tag_unchecked" not in message.quirks
    assert {r.obis: r for r in message.readings}[Obis(1, 0, 1, 8, 0)].raw == int(m.import_wh)
    without = decode(frames)  # no layout: IDIS pushes carry no scalers, and say so
    assert all("scaler_unknown" in r.quirks for r in without.readings if isinstance(r.raw, int))
    wrong = PushReader(DlmsKeys(KEYS.encryption, bytes(16))).feed(b"".join(frames))
    assert [type(r).__name__ for r in wrong] == ["PushFailed"] and "TagMismatchError" in wrong[0].reason


def test_invocation_counter_counts_up() -> None:
    from smgwd.codec.dlms.ciphering import parse_ciphered
    from smgwd.codec.hdlc import Reassembler

    m = meter()
    counters = []
    for n in (1, 2, 3):
        decoder, segments = HdlcDecoder(), Reassembler()
        decoder.feed(b"".join(push_frames(m, n, DlmsPushSettings("registers", KEYS), TITLE)))
        messages = [segments.add(e.frame) for e in decoder if isinstance(e, Received)]
        apdu = next(msg.apdu for msg in messages if msg is not None)
        counters.append(parse_ciphered(apdu).invocation_counter)
    assert counters == [2, 3, 4]  # never reused: the IV (system title + counter) stays unique


def test_cosem_date_time_in_winter() -> None:
    raw = cosem_date_time(datetime(2025, 1, 15, 6, 30, 5, tzinfo=timezone.utc).timestamp())
    assert raw == bytes.fromhex("07E9010F03") + bytes((7, 30, 5, 0xFF)) + bytes.fromhex("FFC400")


XML = """<simulator><listeners>{listener}</listeners><meters>
<meter id="m" serial="1"><consumption annual-kwh="3500"/></meter><water id="w" serial="2" annual-m3="50"/></meters></simulator>"""


def test_config_takes_a_dlms_listener() -> None:
    config = parse_config(XML.format(listener='<dlms id="h" device="pty" meter="m" layout="idis" key="' + "00" * 16
                                     + '" block-size="64" interval-seconds="5"/>'
                                     + '<wmbus id="r" device="pty" dongle="im871a"><meter ref="w" security="0"/></wmbus>').encode())
    (han,) = config.dlms
    assert (han.layout, han.key, han.auth_key, han.block_size, han.max_info, han.baud, han.parity, han.interval_seconds) == \
        ("idis", bytes(16), None, 64, 128, 2400, "E", 5.0)


@pytest.mark.parametrize(("listener", "problem"), [
    ('<dlms id="h" device="pty" meter="m" auth-key="' + "00" * 16 + '"/>', "auth-key without key"),
    ('<dlms id="h" device="pty" meter="w"/><wmbus id="r" device="pty" dongle="im871a"><meter ref="w" security="0"/></wmbus>',
     "water meter 'w' sends wM-Bus only"),
    ('<dlms id="h" device="pty" meter="m" layout="kaifa"/>', "not valid"),
])
def test_config_errors(listener: str, problem: str) -> None:
    with pytest.raises(SimConfigError, match=problem):
        parse_config(XML.format(listener=listener).encode())
