"""M-Bus application layer: records per second next to pyMeterBus 0.8.5 on the same real frames.

Input: every real wired long frame under tests/data/mbus/libmbus that pyMeterBus reads (73
of 74 in the last run). Work per frame, for both: parse the long frame (checksum), then
every data record with its value, unit and scaling (ours: ``decode_long_frame(...).records()``;
pyMeterBus: ``meterbus.load`` and ``value`` + ``unit`` of every record). Best of 5 repeats,
mean per frame. "cold" clears our header cache before each frame: a meter seen for the first
time; "warm" is the steady state of a gateway that hears the same meters again.
Target (issue 10): ours >= 5x pyMeterBus on the application layer.
"""

from __future__ import annotations

import timeit
from pathlib import Path
from typing import Callable

from smgwd.codec.mbus import decode_long_frame
from smgwd.codec.mbus import records as mbus_records

DATA = Path(__file__).resolve().parents[1] / "data" / "mbus" / "libmbus"


def _frames() -> list[bytes]:
    import meterbus

    frames = []
    for path in sorted(DATA.glob("*.hex")):
        frame = bytes.fromhex("".join(path.read_text().split()))
        try:
            decode_long_frame(frame).records()
            _peer(frame)
        except Exception:  # noqa: BLE001 - a frame either side rejects is left out of the comparison
            continue
        frames.append(frame)
    assert meterbus  # imported above so that a missing peer fails before any timing
    return frames


def _peer(frame: bytes) -> int:
    import meterbus

    telegram = meterbus.load(frame)
    return len([(record.value, record.unit) for record in telegram.records])


def _ours(frame: bytes) -> int:
    return len(decode_long_frame(frame).records())


def _cold(frame: bytes) -> int:
    mbus_records._cache.clear()
    return _ours(frame)


def _per_frame(fn: Callable[[bytes], int], frames: list[bytes]) -> float:
    def run() -> None:
        for frame in frames:
            fn(frame)

    return min(timeit.repeat(run, number=20, repeat=5)) / 20 / len(frames)


def main() -> None:
    frames = _frames()
    count = sum(_ours(frame) for frame in frames)
    warm, cold, peer = (_per_frame(fn, frames) for fn in (_ours, _cold, _peer))
    print(f"M-Bus records: {len(frames)} real long frames ({count} records), µs per frame")
    print(f"smgwd warm {warm * 1e6:.1f}, cold {cold * 1e6:.1f}; pyMeterBus 0.8.5 {peer * 1e6:.1f}; "
          f"ratio {peer / warm:.1f}x warm, {peer / cold:.1f}x cold   (target >= 5x)")


if __name__ == "__main__":
    main()
