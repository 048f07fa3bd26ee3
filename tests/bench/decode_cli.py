"""``smgwctl decode sml --binary`` as a whole process, next to a minimal smllib 1.7 script.

Same input for both: every real X-25 capture under tests/data/sml that both
decoders read, one frame each, repeated to about 3,000 frames (a day of a push
meter at one frame per 30 s), as one binary file. The peer reads it in 4 KiB
chunks through ``SmlStreamReader`` and prints one JSON line per entry of
``get_obis()`` (obis, value, unit, scaler, status); ours prints its JSON Lines
contract (13 keys per reading, message CRCs checked). Both write to /dev/null.
Figures: best of 7 runs of the whole process (wall time), minus the best of 7
runs on a one-frame file (start-up: interpreter and imports), so that the ratio
is that of the decoding and printing work. Target: ours >= 2x the smllib script.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.bench.sml_decode import load_frames, peers_decode

REPEATS = 7
TARGET_FRAMES = 3000

SMLLIB_SCRIPT = """
import json, sys
from smllib import SmlStreamReader
reader = SmlStreamReader(crc="x25")
out = sys.stdout
with open(sys.argv[1], "rb") as source:
    while chunk := source.read(4096):
        reader.add(chunk)
        while (frame := reader.get_frame()) is not None:
            for entry in frame.get_obis():
                value = entry.value
                if hasattr(value, "isoformat"):
                    value = value.isoformat()
                out.write(json.dumps({"obis": entry.obis, "value": value, "unit": entry.unit,
                                      "scaler": entry.scaler, "status": entry.status}) + "\\n")
"""


def _best(command: list[str]) -> tuple[float, int]:
    """(best wall seconds, output lines) of ``command`` over REPEATS runs."""
    best = float("inf")
    lines = 0
    for _ in range(REPEATS):
        started = time.perf_counter()
        done = subprocess.run(command, check=False, capture_output=True)
        best = min(best, time.perf_counter() - started)
        lines = done.stdout.count(b"\n")
    return best, lines


def main() -> None:
    frames = [frame for _, frame in load_frames() if peers_decode(frame)]
    with tempfile.TemporaryDirectory() as tmp:
        stream, one, script = Path(tmp, "stream.bin"), Path(tmp, "one.bin"), Path(tmp, "smllib_decode.py")
        stream.write_bytes(b"".join(frames) * max(1, TARGET_FRAMES // len(frames)))
        one.write_bytes(frames[0])
        script.write_text(SMLLIB_SCRIPT)
        ours_cmd = [sys.executable, "-m", "smgwd.cli.main", "decode", "sml", "--binary"]
        peer_cmd = [sys.executable, str(script)]
        ours, ours_lines = _best([*ours_cmd, str(stream)])
        peer, peer_lines = _best([*peer_cmd, str(stream)])
        ours_start, _ = _best([*ours_cmd, str(one)])
        peer_start, _ = _best([*peer_cmd, str(one)])
    work, peer_work = ours - ours_start, peer - peer_start
    count = len(frames) * max(1, TARGET_FRAMES // len(frames))
    print(f"smgwctl decode sml --binary, {count} real frames ({len(frames)} captures), whole process")
    print(f"smgwd  {ours:.3f} s ({ours_lines} lines), start-up {ours_start:.3f} s, work {work:.3f} s")
    print(f"smllib {peer:.3f} s ({peer_lines} lines), start-up {peer_start:.3f} s, work {peer_work:.3f} s")
    print(f"ratio smllib/smgwd (work): {peer_work / work:.2f}x, per line {peer_work / peer_lines * 1e6:.1f} / "
          f"{work / ours_lines * 1e6:.1f} µs   (target >= 2x)")


if __name__ == "__main__":
    main()
