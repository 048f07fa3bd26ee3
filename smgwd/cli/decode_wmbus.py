"""``smgwctl decode wmbus``: decode wireless M-Bus telegrams offline.

Input is hex text. Without ``--from``, one telegram per line (from the L-field, link CRCs
optional; ``#`` comments and blank lines skipped; a ``0x`` prefix is accepted). With
``--from im871a`` or ``--from amb8465`` the hex is the dongle's serial byte stream (any line
breaks), with ``--from rtlwmbus`` the lines are rtl_wmbus output. Telegrams of one meter are
read in order, so a compact frame decodes after its full frame.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from typing import Any

from smgwd.cli.hex_input import read_hex_text
from smgwd.cli.reading_output import JsonLines
from smgwd.codec.wmbus import LinkCrc
from smgwd.meters.wmbus.reader import TelegramReader, TelegramResult

EXIT_OK, EXIT_USAGE, EXIT_REJECTED = 0, 1, 2

_Item = tuple[str, bytes | None, float | None, str | None]  # where, telegram, rssi, error


def _keys(values: list[str] | None) -> tuple[dict[str, bytes], bytes | None]:
    """``--key HEX`` (every meter) and ``--key ID:HEX`` (one meter). Raises ValueError."""
    per_meter: dict[str, bytes] = {}
    default = None
    for value in values or ():
        meter, _, key_hex = value.rpartition(":")
        try:
            key = bytes.fromhex(key_hex)
        except ValueError:
            raise ValueError("--key: not hex (give 32 hex digits, or ID:32 hex digits)") from None
        if len(key) != 16:
            raise ValueError(f"--key: an AES-128 key has 16 bytes, not {len(key)}")
        if meter:
            if len(meter) != 8:
                raise ValueError(f"--key: a meter ID has 8 digits, not {meter!r}")
            per_meter[meter.lower()] = key
        else:
            default = key
    return per_meter, default


def _hex_lines(text: str) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if line:
            yield number, line


def _telegram_lines(text: str) -> Iterator[_Item]:
    for number, line in _hex_lines(text):
        digits = line[2:] if line[:2].lower() == "0x" else line
        try:
            yield f"line {number}", bytes.fromhex(digits), None, None
        except ValueError:
            yield f"line {number}", None, None, "not hex text"


def _stream(text: str) -> bytes:
    digits = "".join(line.replace(" ", "") for _, line in _hex_lines(text))
    return bytes.fromhex(digits)


def _from_dongle(decoder: Any, text: str, bad: str) -> Iterator[_Item]:
    """Telegrams out of a dongle's serial stream (frames that are not telegrams are skipped)."""
    from smgwd.codec.wmbus import WmbusError

    decoder.feed(_stream(text))
    for n, frame in enumerate(decoder, 1):
        if frame.is_telegram:
            try:
                yield f"frame {n}", frame.telegram(), frame.rssi_dbm, None
            except WmbusError as error:
                yield f"frame {n}", None, None, str(error)
    errors = getattr(decoder, bad)
    if errors or decoder.skipped:
        yield "stream", None, None, f"{errors} frames with a bad {bad.split('_')[0]}, {decoder.skipped} bytes skipped"


def _from_im871a(text: str) -> Iterator[_Item]:
    from smgwd.codec.wmbus.im871a import Im871aDecoder

    return _from_dongle(Im871aDecoder(), text, "crc_errors")


def _from_amb8465(text: str) -> Iterator[_Item]:
    from smgwd.codec.wmbus.amb8465 import Amb8465Decoder

    return _from_dongle(Amb8465Decoder(), text, "checksum_errors")


def _from_rtlwmbus(text: str) -> Iterator[_Item]:
    from smgwd.codec.wmbus.rtlwmbus import RtlWmbusError, parse_line

    for number, line in _hex_lines(text):
        try:
            event = parse_line(line)
        except RtlWmbusError as error:
            yield f"line {number}", None, None, str(error)
            continue
        if not event.crc_ok:
            yield f"line {number}", None, None, "rtl_wmbus reports a bad CRC"
            continue
        yield f"line {number}", event.telegram, event.packet_rssi, None


_SOURCES = {None: _telegram_lines, "im871a": _from_im871a, "amb8465": _from_amb8465, "rtlwmbus": _from_rtlwmbus}


def _extra(result: TelegramResult, where: str, rssi: float | None) -> dict[str, Any]:
    tel = result.telegram
    assert tel is not None
    extra: dict[str, Any] = {"medium": tel.meter.medium, "manufacturer": tel.meter.manufacturer}
    if result.meter_datetime is not None:
        extra["meter_datetime"] = result.meter_datetime.isoformat()
    extra["telegram"] = where
    if rssi is not None:
        extra["rssi"] = rssi
    return extra


def run(args: argparse.Namespace) -> int:
    """Decode the telegrams named in ``args``; returns the exit status."""
    try:
        per_meter, default = _keys(args.key)
    except ValueError as error:
        print(f"smgwctl: {error}", file=sys.stderr)
        return EXIT_USAGE
    text = read_hex_text(args.file)
    if text is None:
        return EXIT_USAGE

    reader = TelegramReader(lambda meter: per_meter.get(meter, default), link_crc=LinkCrc(args.link_crc))
    lines = JsonLines("wmbus")
    rejected = decoded = False
    out = sys.stdout
    try:
        items = list(_SOURCES[args.source](text))
    except ValueError as error:
        print(f"smgwctl: {args.file}: {error}", file=sys.stderr)
        return EXIT_REJECTED
    for where, data, rssi, problem in items:
        if data is None:
            rejected = True
            print(f"{where}: {problem}", file=sys.stderr)
            continue
        result = reader.read(data)
        if result.error is not None:
            rejected = True
            print(f"{where}: {result.error}", file=sys.stderr)
            continue
        decoded = True
        if result.problem is not None:
            rejected = True
            print(f"{where}: meter {result.meter_id}: {result.problem} (the records before it are kept)", file=sys.stderr)
        extra = _extra(result, where, rssi)
        for item in result.readings:
            rec = item.record
            fields = {"quantity": rec.quantity, "storage": rec.storage, "tariff": rec.tariff, "subunit": rec.subunit,
                      "function": rec.function.name.lower(), **extra}
            out.write(lines.lines([item.reading], **fields))
    if not decoded and not rejected:
        print("smgwctl: no telegram found in the input", file=sys.stderr)
        return EXIT_REJECTED
    return EXIT_REJECTED if rejected else EXIT_OK
