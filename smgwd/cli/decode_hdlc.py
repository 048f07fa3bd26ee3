"""``smgwctl decode hdlc``: decode DLMS/COSEM push frames offline.

Input is hex text, one HDLC frame per line (with or without its 0x7E flags; ``#``
comments and blank lines skipped), or a byte stream split anyhow (``xxd -p`` of a serial
capture); the segments of one message and the blocks of one transfer follow each other in
order. Output: JSON Lines of readings with ``protocol``
"dlms"; what is refused goes to stderr, one line each. A capture that begins in the middle
of a message loses that first message with a note (not an error); a message still
incomplete at the end of the input is an error.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from smgwd.cli.hex_input import read_hex_text
from smgwd.cli.reading_output import JsonLines
from smgwd.codec.dlms import DlmsKeys
from smgwd.cosem.obis import Obis
from smgwd.meters.dlms.layouts import LAYOUTS
from smgwd.meters.dlms.reader import PushDecoded, PushFailed, PushReader, pending
from smgwd.reading import octets_text

EXIT_OK, EXIT_USAGE, EXIT_REJECTED = 0, 1, 2
METER_IDS = (Obis(0, 0, 96, 1, 0, 255), Obis(0, 0, 96, 1, 1, 255), Obis(0, 0, 42, 0, 0, 255))


def _key(text: str | None, option: str) -> bytes | None:
    if text is None:
        return None
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise ValueError(f"{option}: not hex (give 32 hex digits)") from None
    if len(key) not in (16, 32):
        raise ValueError(f"{option}: an AES key has 16 (or 32) bytes, not {len(key)}")
    return key


def _with_flags(data: bytes) -> bytes:
    """A whole frame gets the flags it lacks (its length field decides); anything else is a piece
    of a byte stream (``xxd -p`` lines) and passes as it is."""
    if len(data) >= 2 and data[0] & 0xF0 == 0xA0 and (data[0] << 8 | data[1]) & 0x7FF == len(data):
        return b"\x7e" + data + b"\x7e"
    if len(data) >= 3 and data[0] == 0x7E and (data[1] << 8 | data[2]) & 0x7FF == len(data) - 1:
        return data + b"\x7e"
    return data


def _meter(result: PushDecoded, source: str) -> str:
    for reading in result.readings:
        if reading.obis in METER_IDS and isinstance(reading.raw, bytes):
            return octets_text(reading.raw)
    return result.system_title.hex() if result.system_title is not None else source


def run(args: argparse.Namespace) -> int:
    """Decode the frames named in ``args``; returns the exit status."""
    try:
        keys = DlmsKeys(_key(args.key, "--key"), _key(args.auth_key, "--auth-key"))
        if args.layout is not None and args.layout not in LAYOUTS:
            raise ValueError(f"--layout: no list layout {args.layout!r} (known: {', '.join(LAYOUTS.names())})")
    except ValueError as error:
        print(f"smgwctl: {error}", file=sys.stderr)
        return EXIT_USAGE
    text = read_hex_text(args.file)
    if text is None:
        return EXIT_USAGE

    reader = PushReader(keys, layout=args.layout, transport="mbus" if args.mbus else "hdlc")
    lines = JsonLines("dlms")
    rejected = decoded = False
    out = sys.stdout
    frames = 0
    for number, line in enumerate(text.splitlines(), 1):
        digits = "".join(line.split("#", 1)[0].split())
        if not digits:
            continue
        try:
            data = bytes.fromhex(digits)
        except ValueError:
            print(f"line {number}: not hex text", file=sys.stderr)
            rejected = True
            continue
        frames += 1
        data = _with_flags(data)
        for result in reader.feed(data):
            if isinstance(result, PushFailed):
                if not reader.started and "without block 1" in result.reason:
                    print(f"line {number}: note: {result.reason}: the capture began inside a transfer; "
                          "that message is dropped", file=sys.stderr)
                    continue
                print(f"line {number}: {result.reason}", file=sys.stderr)
                rejected = True
                continue
            decoded = True
            meter = _meter(result, f"line {number}")
            extra: dict[str, Any] = {"layout": result.layout, "list_id": result.list_id,
                                     "meter_datetime": result.meter_datetime, "security": result.security,
                                     "frames": result.frames}
            out.write(lines.lines([r._replace(meter_id=meter) for r in result.readings], **extra))
    if pending(reader):
        print("end of input: a frame or message is incomplete (its end, last segment or last block is missing)", file=sys.stderr)
        rejected = True
    if not decoded and not rejected:
        print("smgwctl: no HDLC frame found in the input" if not frames else "smgwctl: no message in the frames",
              file=sys.stderr)
        return EXIT_REJECTED
    return EXIT_REJECTED if rejected else EXIT_OK
