"""TelegramReader: compact formats, duplicates, one report per meter and problem, OBIS mapping."""

from __future__ import annotations

from smgwd.codec.mbus import record_headers
from smgwd.codec.wmbus import (
    Address,
    CompactHeader,
    LinkHeader,
    TransportHeader,
    WrongKeyError,
    config_word,
    encode_telegram,
    format_signature,
    full_frame_crc,
)
from smgwd.cosem.obis import Obis
from smgwd.meters.wmbus.reader import CompactFormatError, TelegramReader

KEY = bytes(range(16))
METER = Address.of("KAM", "12345678", 0x1B, 0x16)
RECORDS = bytes.fromhex("0413" "40e20100" "4413" "a0860100")  # volume now, volume at storage 1


def _full(acc: int = 1, records: bytes = RECORDS, meter: Address = METER) -> bytes:
    tpl = TransportHeader(0x7A, acc, 0x00, config_word(5, 1))
    return encode_telegram(LinkHeader(0x44, meter), tpl, records, key=KEY)


def _compact(acc: int, values: bytes, records: bytes = RECORDS) -> bytes:
    headers = record_headers(records)
    tpl = TransportHeader(0x7B, acc, 0x00, config_word(5, 1))
    compact = CompactHeader(format_signature(headers), full_frame_crc(records))
    return encode_telegram(LinkHeader(0x44, METER), tpl, values, key=KEY, compact=compact)


def test_full_frame_readings() -> None:
    result = TelegramReader({"12345678": KEY}).read(_full())
    assert result.error is None and not result.duplicate
    readings = {r.reading.obis: r.reading for r in result.readings}
    assert readings[Obis(8, 0, 1, 0, 0, 255)].raw == 123456
    assert readings[Obis(8, 0, 1, 0, 0, 255)].scaler == -3
    assert readings[Obis(8, 0, 1, 0, 0, 1)].raw == 100000
    assert all(r.reading.meter_id == "12345678" for r in result.readings)


def test_compact_frame_needs_its_full_frame_first() -> None:
    reader = TelegramReader({"12345678": KEY})
    values = bytes.fromhex("50e20100" "a0860100")
    early = reader.read(_compact(1, values))
    assert isinstance(early.error, CompactFormatError) and early.first
    assert reader.read(_full(2)).error is None
    late = reader.read(_compact(3, values))
    assert late.error is None
    assert [r.reading.raw for r in late.readings] == [123472, 100000]
    assert [r.record.quantity for r in late.readings] == ["volume", "volume"]


def test_duplicates_within_the_window() -> None:
    reader = TelegramReader({"12345678": KEY}, duplicate_window=60)
    first = reader.read(_full(5), now=100.0)
    again = reader.read(_full(5), now=110.0)  # a repeater or a second dongle
    assert first.readings and again.duplicate and not again.readings
    assert reader.read(_full(6), now=111.0).readings  # next access number
    assert reader.read(_full(5), now=200.0).readings  # same content after the window
    assert reader.duplicates == 1
    assert reader.read(_full(5)).readings  # no time given: no suppression


def test_wrong_key_reported_once_per_meter() -> None:
    reader = TelegramReader({"12345678": bytes(16), "87654321": bytes(16)})
    results = [reader.read(_full(n)) for n in range(5)]
    assert all(isinstance(r.error, WrongKeyError) for r in results)
    assert [r.first for r in results] == [True, False, False, False, False]
    other = reader.read(_full(1, meter=Address.of("KAM", "87654321", 0x1B, 0x16)))
    assert other.first and other.meter_id == "87654321"
    assert reader.errors == {"WrongKeyError": 6}
    reader.forget_problem("12345678")
    assert reader.read(_full(9)).first


def test_electricity_import_export_and_phases() -> None:
    meter = Address.of("EBZ", "00000042", 0x01, 0x02)
    # energy 1000 Wh; energy with "accumulation if negative" (export) 100 Wh; power 16 W; power at tariff 1
    records = bytes.fromhex("0403e8030000" "04833c64000000" "042b10000000" "84102b05000000")
    tpl = TransportHeader(0x7A, 1, 0, config_word(0, 0))
    result = TelegramReader().read(encode_telegram(LinkHeader(0x44, meter), tpl, records))
    got = {str(r.reading.obis): r.reading.raw for r in result.readings}
    assert got["1-0:1.8.0*255"] == 1000
    assert got["1-0:2.8.0*255"] == 100
    assert got["1-0:1.7.0*255"] == 16
    assert got["1-0:1.7.1*255"] == 5  # DIFE tariff 1 -> E = 1


def test_heat_and_hca_codes() -> None:
    """The codes the README promises: heat registers from the A = 6 table, HCA units in the private range."""
    heat = Address.of("ZRI", "00000007", 0x01, 0x04)
    records = bytes.fromhex("0406" "39300000" "0413" "10270000" "022b" "e803" "025a" "5802" "025e" "2c01")
    tpl = TransportHeader(0x7A, 1, 0, config_word(0, 0))
    result = TelegramReader().read(encode_telegram(LinkHeader(0x44, heat), tpl, records))
    got = {str(r.reading.obis): (r.reading.raw, r.reading.scaler) for r in result.readings}
    assert got == {"6-0:1.0.0*255": (12345, 3), "6-0:2.0.0*255": (10000, -3), "6-0:8.0.0*255": (1000, 0),
                   "6-0:10.0.0*255": (600, -1), "6-0:11.0.0*255": (300, -1)}
    hca = Address.of("QDS", "00001234", 0x35, 0x08)
    result = TelegramReader().read(encode_telegram(LinkHeader(0x44, hca), tpl, bytes.fromhex("026e" "2a00")))
    assert [(str(r.reading.obis), r.reading.raw, r.record.quantity) for r in result.readings] == [
        ("4-0:139.0.0*255", 42, "hca")]


def test_records_in_the_clear_are_marked_and_a_broken_tail_keeps_the_rest() -> None:
    """Mode 5 with one encrypted block: records after it came in the clear; a cut record ends the area."""
    encrypted = bytes.fromhex("0413" "40e20100" "4413" "a0860100" "2f2f")  # with 2F2F: exactly one block
    plain = bytes.fromhex("0413" "01000000" "0213")  # a whole record in the clear, then one cut short
    tpl = TransportHeader(0x7A, 1, 0, config_word(5, 1))
    wire = encode_telegram(LinkHeader(0x44, METER), tpl, encrypted, key=KEY) + plain
    wire = bytes((len(wire) - 1,)) + wire[1:]
    result = TelegramReader({"12345678": KEY}).read(wire)
    assert result.error is None and result.problem is not None and result.first
    assert [(r.reading.raw, r.reading.quirks) for r in result.readings] == [
        (123456, ()), (100000, ()), (1, ("outside_encryption",))]
