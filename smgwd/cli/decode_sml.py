"""``smgwctl decode sml``: decode SML captures offline (hex text or raw bytes)."""

from __future__ import annotations

import argparse
import gc
import re
import sys
from typing import Any, BinaryIO, Iterator

from smgwd.cli.reading_output import JsonLines, reading_record, write_table
from smgwd.codec.crc import CrcPolicy
from smgwd.codec.sml.attention import attention_text
from smgwd.codec.sml.transport import START
from smgwd.codec.sml.types import AttentionResponse
from smgwd.meters.sml.profiles import PROFILES, SmlProfile, get_profile
from smgwd.reading import Reading
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


_CHUNK = 1 << 16


def _results(data: bytes, profile: SmlProfile, crc: CrcPolicy | None) -> Iterator[FrameDecoded | FrameFailed]:
    """Frame by frame, so that a long capture is printed as it is decoded, not held."""
    if START not in data:
        yield decode_bare_messages(data, profile, crc)
        return
    reader = SmlFrameReader(profile, crc)
    for start in range(0, len(data), _CHUNK):
        yield from reader.feed(data[start : start + _CHUNK])
    yield from reader.feed(b"")


class _Output:
    """JSON Lines as the frames come; a table or COSEM/XML once all readings are in."""

    def __init__(self, form: str) -> None:
        self.form = form
        self.lines = JsonLines("sml")
        self.held: list[tuple[list[Reading], dict[str, Any]]] = []

    def add(self, readings: list[Reading], extra: dict[str, Any]) -> None:
        if self.form == "jsonl":
            sys.stdout.write(self.lines.lines(readings, **extra))
        else:
            self.held.append((readings, extra))

    def finish(self) -> None:
        if self.form == "xml":
            from smgwd.cosem import xml_josef
            from smgwd.meters.cosem_map import logical_devices

            sys.stdout.buffer.write(xml_josef.encode(logical_devices([r for batch, _ in self.held for r in batch])))
        elif self.form == "table":
            write_table([reading_record(r, "sml", **extra) for batch, extra in self.held for r in batch], sys.stdout)


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

    # decoding makes many short-lived objects and no reference cycles: collect them less often
    gc.set_threshold(50_000, 20, 100)
    out = _Output(args.format)
    decoded = rejected = False
    for result in _results(data, profile, crc):
        if isinstance(result, FrameFailed):
            decoded = rejected = True
            where = "stray bytes" if result.index is None else f"frame {result.index}"
            print(f"{where} at byte {result.offset} ({result.size} bytes): {result.reason}", file=sys.stderr)
            continue
        decoded = decoded or bool(result.messages)
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
        out.add(result.readings, extra)
    if not decoded:
        # empty input, or only fill bytes: nothing was decoded and nothing was rejected
        print("smgwctl: no SML frame or message found in the input", file=sys.stderr)
        return EXIT_REJECTED
    out.finish()
    return EXIT_REJECTED if rejected else EXIT_OK
