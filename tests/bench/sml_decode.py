"""SML decode benchmark: smgwd next to smllib 1.7 and pysml 0.1.9 on the same real frames.

What is measured (per frame, best of several repeats, mean per call):
- smgwd: transport decode with the frame CRC, every message decoded with its
  message CRC checked, every list entry built as a typed object;
- smllib: ``SmlStreamReader.add`` + ``get_frame`` (frame CRC) + ``parse_frame``
  (all messages; smllib never checks message CRCs);
- pysml: ``SmlBase.find_frame`` (frame CRC, parses every message, checks message CRCs).
And the same three fed one byte at a time through a dump of all frames, as a
serial port delivers them. Ratios are peer time / smgwd time (higher = smgwd faster).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import timeit
from pathlib import Path
from typing import Callable

from smgwd.codec.crc import CrcPolicy
from smgwd.codec.sml import Frame, SmlTransportDecoder, decode_messages
from smgwd.codec.sml.decoder import SmlDialect

DATA = Path(__file__).resolve().parents[1] / "data" / "sml"
DIALECT = SmlDialect(crc=CrcPolicy.X25)


def load_frames() -> list[tuple[str, bytes]]:
    """Every good X-25 transport frame of the real captures, with a name."""
    frames = []
    for meta_path in sorted(DATA.glob("*.json")):
        meta = json.loads(meta_path.read_text())
        if meta.get("kind") != "frames" or meta.get("crc") != "x25" or meta.get("derived"):
            continue
        if meta.get("expect", {}).get("message_crc_ok") is False:
            continue  # anonymised frames whose message CRCs were broken by their source
        data = bytes.fromhex("".join(meta_path.with_suffix(".hex").read_text().split()))
        decoder = SmlTransportDecoder(CrcPolicy.X25)
        decoder.receive_data(data)
        for event in decoder.events():
            if isinstance(event, Frame):
                frames.append((meta_path.stem, data[event.offset : event.offset + event.size]))
                break  # one frame per capture keeps the table readable
    return frames


def peers_decode(frame: bytes) -> bool:
    """Whether both peers decode the frame (smllib cannot decode AttentionResponse)."""
    try:
        smllib_whole(frame)()
        pysml_whole(frame)()
    except Exception:  # noqa: BLE001 - a peer's failure only excludes the frame
        return False
    return True


def _best(fn: Callable[[], object], number: int) -> float:
    return min(timeit.repeat(fn, number=number, repeat=5)) / number


def ours_whole(frame: bytes) -> Callable[[], object]:
    decoder = SmlTransportDecoder(CrcPolicy.X25)

    def run() -> object:
        decoder.receive_data(frame)
        event = decoder.next_event()
        assert isinstance(event, Frame)
        return decode_messages(event.payload, DIALECT)

    return run


def smllib_whole(frame: bytes) -> Callable[[], object]:
    from smllib import SmlStreamReader

    reader = SmlStreamReader(crc="x25")

    def run() -> object:
        reader.add(frame)
        return reader.get_frame().parse_frame()

    return run


def pysml_whole(frame: bytes) -> Callable[[], object]:
    from sml import SmlBase

    def run() -> object:
        end, parsed = SmlBase.find_frame(frame)
        assert parsed is not None
        return parsed

    return run


def ours_bytewise(dump: bytes) -> Callable[[], int]:
    def run() -> int:
        decoder = SmlTransportDecoder(CrcPolicy.X25)
        n = 0
        for k in range(len(dump)):
            decoder.receive_data(dump[k : k + 1])
            for event in decoder.events():
                if isinstance(event, Frame):
                    decode_messages(event.payload, DIALECT)
                    n += 1
        return n

    return run


def smllib_bytewise(dump: bytes) -> Callable[[], int]:
    from smllib import SmlStreamReader

    def run() -> int:
        reader = SmlStreamReader(crc="x25")
        n = 0
        for k in range(len(dump)):
            reader.add(dump[k : k + 1])
            frame = reader.get_frame()
            if frame is not None:
                frame.parse_frame()
                n += 1
        return n

    return run


def pysml_bytewise(dump: bytes) -> Callable[[], int]:
    from sml import SmlBase

    def run() -> int:
        buf = b""
        n = 0
        for k in range(len(dump)):
            buf += dump[k : k + 1]
            end, frame = SmlBase.find_frame(buf)
            if frame is not None:
                buf = buf[end:]
                n += 1
        return n

    return run


def decode_start_time(sample: Path) -> float:
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "smgwd.cli.main", "decode", "sml", str(sample)],
            check=False, capture_output=True,
        )
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    frames = []
    for name, frame in load_frames():
        if peers_decode(frame):
            frames.append((name, frame))
        else:
            print(f"(skipped {name}: a peer cannot decode it)")
    if not frames:
        raise SystemExit("no real X-25 frames found under tests/data/sml")
    print("SML full decode, whole frames (µs per frame; ratio = peer / smgwd)")
    print(f"{'capture':34} {'bytes':>5} {'smgwd':>8} {'smllib':>8} {'pysml':>8} {'x smllib':>9} {'x pysml':>8}")
    totals = [0.0, 0.0, 0.0]
    for name, frame in frames:
        figures = [_best(make(frame), 200) * 1e6 for make in (ours_whole, smllib_whole, pysml_whole)]
        totals = [a + b for a, b in zip(totals, figures)]
        print(
            f"{name[:34]:34} {len(frame):5} {figures[0]:8.1f} {figures[1]:8.1f} {figures[2]:8.1f}"
            f" {figures[1] / figures[0]:9.2f} {figures[2] / figures[0]:8.2f}"
        )
    print(
        f"{'all frames':34} {'':5} {totals[0]:8.1f} {totals[1]:8.1f} {totals[2]:8.1f}"
        f" {totals[1] / totals[0]:9.2f} {totals[2] / totals[0]:8.2f}   (targets: >= 2x smllib, >= 10x pysml)"
    )

    dump = b"".join(frame for _, frame in frames)
    counts = {}
    per_byte = []
    for label, make in (("smgwd", ours_bytewise), ("smllib", smllib_bytewise), ("pysml", pysml_bytewise)):
        run = make(dump)
        counts[label] = run()
        per_byte.append(_best(run, 1) / len(dump) * 1e6)
    print(f"\nSML 1-byte feeding of a {len(dump)}-byte dump of {len(frames)} frames (µs per byte)")
    print(f"smgwd {per_byte[0]:.2f}  smllib {per_byte[1]:.2f}  pysml {per_byte[2]:.2f}"
          f"   ratio: {per_byte[1] / per_byte[0]:.2f}x smllib, {per_byte[2] / per_byte[0]:.2f}x pysml")
    print(f"frames found: {counts}")

    sample = DATA / f"{frames[0][0]}.hex"
    print(f"\nsmgwctl decode sml start-to-exit on {sample.name}: {decode_start_time(sample):.3f} s (target < 0.3 s)")


if __name__ == "__main__":
    main()
