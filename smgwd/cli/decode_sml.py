"""``smgwctl decode sml``: decode SML captures offline (hex text or raw bytes)."""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any, BinaryIO

from smgwd.cli.reading_output import reading_record, write_jsonl, write_table
from smgwd.codec.crc import CrcPolicy
from smgwd.codec.sml.attention import attention_text
from smgwd.codec.sml.transport import START
from smgwd.codec.sml.types import AttentionResponse
from smgwd.meters.sml.profiles import PROFILES, get_profile
from smgwd.meters.sml.stream import FrameDecoded, FrameFailed, SmlFrameReader, decode_bare_messages

EXIT_OK, EXIT_USAGE, EXIT_REJECTED = 0, 1, 2
_NOT_HEX = re.compile(rb"[^0-9A-Fa-f\s]")


def _read(path: str, binary: bool) -> bytes:
    stream: BinaryIO
    if path == "-":
        data = sys.stdin.buffer.read()
    else:
        with open(path, "rb") as stream:
            data = stream.read()
    if binary:
        return data
    bad = _NOT_HEX.search(data)
    if bad:
        line = data.count(b"\n", 0, bad.start()) + 1
        raise ValueError(f"not hex text: {bad.group()!r} on line {line} (use --binary for raw bytes)")
    digits = b"".join(data.split())
    if len(digits) % 2:
        raise ValueError(f"odd number of hex digits ({len(digits)})")
    return bytes.fromhex(digits.decode("ascii"))


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Decode the capture named in ``args``; returns the exit status."""
    if args.list_profiles:
        for name in sorted(PROFILES):
            print(f"{name:16} {PROFILES[name].description}")
        return EXIT_OK
    try:
        profile = get_profile(args.profile)
    except KeyError as error:
        parser.error(str(error.args[0]))
    crc = CrcPolicy(args.crc) if args.crc else None
    try:
        data = _read(args.file, args.binary)
    except OSError as error:
        print(f"smgwctl: cannot read {args.file}: {error.strerror}", file=sys.stderr)
        return EXIT_USAGE
    except ValueError as error:
        print(f"smgwctl: {args.file}: {error}", file=sys.stderr)
        return EXIT_REJECTED

    if START in data:
        reader = SmlFrameReader(profile, crc)
        results = reader.feed(data) + reader.feed(b"")
    else:
        results = [decode_bare_messages(data, profile, crc)]

    records: list[dict[str, Any]] = []
    readings = []
    rejected = False
    for result in results:
        if isinstance(result, FrameFailed):
            rejected = True
            where = "stray bytes" if result.index is None else f"frame {result.index}"
            print(f"{where} at byte {result.offset} ({result.size} bytes): {result.reason}", file=sys.stderr)
            continue
        assert isinstance(result, FrameDecoded)
        for problem in result.problems:
            rejected = True
            print(f"frame {result.index} at byte {result.offset}: {problem}", file=sys.stderr)
        for message in result.messages:
            if isinstance(message.body, AttentionResponse):
                number = message.body.attention_no
                print(f"frame {result.index}: attention {number.hex()}: {attention_text(number)}", file=sys.stderr)
        tolerated = sorted({quirk for message in result.messages for quirk in message.quirks} | result.quirks)
        extra: dict[str, Any] = {"frame": result.index}
        if tolerated:
            extra["tolerated"] = tolerated  # deviations from SML v1.04 the profile accepted in this frame
        records.extend(reading_record(r, "sml", **extra) for r in result.readings)
        readings.extend(result.readings)
    if not any(isinstance(result, FrameFailed) or result.messages for result in results):
        # empty input, or only fill bytes: nothing was decoded and nothing was rejected
        print("smgwctl: no SML frame or message found in the input", file=sys.stderr)
        return EXIT_REJECTED
    if args.format == "xml":
        from smgwd.cosem import xml_josef
        from smgwd.meters.cosem_map import logical_devices

        sys.stdout.buffer.write(xml_josef.encode(logical_devices(readings)))
    elif args.format == "table":
        write_table(records, sys.stdout)
    else:
        write_jsonl(records, sys.stdout)
    return EXIT_REJECTED if rejected else EXIT_OK
