"""Wireless M-Bus: telegrams decoded + decrypted per second, and the application layer next to pyMeterBus.

Input: the real telegrams of tests/data/wmbus/telegrams.json (keys as published), grouped by
security: mode 5 (AES-CBC), mode 7 (KDF + CMAC + AES-CBC), ELL (AES-CTR, Kamstrup), and
plain (unencrypted or logged plaintext). Work per telegram:

- "layers": ``decode_telegram`` (link layer, ELL, AFL, TPL, decryption, checks);
- "to readings": ``TelegramReader.read`` (the above, the EN 13757-3 records, OBIS mapping:
  what the gateway does per telegram heard). No duplicate suppression (no time given).

No peer decrypts these layers in Python (pyMeterBus's wM-Bus decryption uses a hard-coded
key table, see the reference notes), so the telegram figures stand against the issue's
target: >= 2,000 mode-5 telegrams/s on one core here.

The application layer alone is compared with pyMeterBus 0.8.5 on the same decrypted record
areas: each wrapped in the same wired long frame (CI 0x72) for both, as in
``tests/bench/mbus_records.py``; areas pyMeterBus cannot read are left out and counted.
Target: ours >= 5x. Best of 5 repeats, mean per telegram.
"""

from __future__ import annotations

import json
import timeit
from pathlib import Path
from typing import Any, Callable

from smgwd.codec.mbus import decode_long_frame
from smgwd.codec.wmbus import decode_telegram
from smgwd.meters.wmbus.reader import TelegramReader

DATA = Path(__file__).resolve().parents[1] / "data" / "wmbus" / "telegrams.json"
KINDS = ("mode5", "mode7", "ell", "plain")


def _corpus() -> dict[str, list[tuple[bytes, dict[str, bytes], bool]]]:
    groups: dict[str, list[tuple[bytes, dict[str, bytes], bool]]] = {kind: [] for kind in KINDS}
    for t in json.loads(DATA.read_text())["telegrams"]:
        if "expect_error" in t or t["needs_previous"]:
            continue
        keys = {}
        if t["key"]:
            keys = {t["id"]: bytes.fromhex(t["key"])}
            if t.get("tpl_id"):
                keys[t["tpl_id"]] = keys[t["id"]]
        kind = t["security"] if t["security"] in ("mode5", "mode7", "ell") else "plain"
        groups[kind].append((bytes.fromhex(t["hex"]), keys, t["trailing"] > 0))
    return groups


def _per_item(fn: Callable[[Any], object], items: list[Any], number: int = 50) -> float:
    def run() -> None:
        for item in items:
            fn(item)

    return min(timeit.repeat(run, number=number, repeat=5)) / number / len(items)


def _long_frame(records: bytes) -> bytes:
    """A wired RSP_UD long frame around a record area (C 0x08, A 1, CI 0x72, a fixed header)."""
    body = bytes.fromhex("0801" "72" "78563412" "2d2c" "01" "07" "2a" "00" "0000") + records
    return bytes((0x68, len(body), len(body), 0x68)) + body + bytes((sum(body) & 0xFF, 0x16))


def _peer(frame: bytes) -> int:
    import meterbus

    return len([(record.value, record.unit) for record in meterbus.load(frame).records])


def _ours(frame: bytes) -> int:
    return len(decode_long_frame(frame).records())


def main() -> None:
    groups = _corpus()
    print("wM-Bus telegrams (real, keys as published): µs per telegram, telegrams/s")
    for kind in KINDS:
        items = groups[kind]
        if not items:
            continue
        layers = _per_item(lambda i: decode_telegram(i[0], i[1], allow_trailing=i[2]), items)
        readers = {id(i): TelegramReader(i[1]) for i in items}
        full = _per_item(lambda i: readers[id(i)].read(i[0], allow_trailing=i[2]), items)
        target = "   (target >= 2000/s)" if kind == "mode5" else ""
        print(f"  {kind:6} {len(items):3} telegrams: layers {layers * 1e6:6.1f} µs ({1 / layers:7.0f}/s), "
              f"to readings {full * 1e6:6.1f} µs ({1 / full:7.0f}/s){target}")

    frames, left_out = [], 0
    for items in groups.values():
        for data, keys, trailing in items:
            tel = decode_telegram(data, keys, allow_trailing=trailing)
            if tel.tpl.content.value != "apl" or not tel.payload:
                continue
            frame = _long_frame(tel.payload)
            try:
                _ours(frame)
                _peer(frame)
            except Exception:  # noqa: BLE001 - an area either side rejects is left out of the comparison
                left_out += 1
                continue
            frames.append(frame)
    ours, peer = _per_item(_ours, frames, 20), _per_item(_peer, frames, 20)
    print(f"application layer: {len(frames)} decrypted record areas ({left_out} left out: one side rejects them), "
          f"µs per area: smgwd {ours * 1e6:.1f}, pyMeterBus 0.8.5 {peer * 1e6:.1f}; "
          f"ratio {peer / ours:.1f}x   (target >= 5x)")


if __name__ == "__main__":
    main()
