"""`smgwctl decode hdlc` as a user runs it on real pushes: JSON Lines, keys, layouts, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

CAPTURES = {c["name"]: c for c in json.loads(
    (Path(__file__).resolve().parent / "data" / "dlms" / "captures.json").read_text())["captures"]}


def smgwctl(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "smgwd.cli.main", "decode", "hdlc", *args],
                          input=stdin.encode(), capture_output=True, timeout=60)


def lines(out: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.decode().splitlines()]


def frames(name: str) -> str:
    return "\n".join(CAPTURES[name]["frames"]) + "\n"


def by_obis(out: bytes) -> dict[str, dict[str, Any]]:
    return {r["obis"]: r for r in lines(out)}


def test_kamstrup_push_gives_the_published_values() -> None:
    """roarfred/AmsToMqttBridge Samples/Kamstrup: 1468 W, 5.64 A, 232 V (the `09 0C` date-time of 2017 firmware)."""
    done = smgwctl("--layout", "kamstrup-no", stdin=frames("kamstrup_omnipower_2017_list1"))
    assert done.returncode == 0, done.stderr.decode()
    got = by_obis(done.stdout)
    assert got["1-1:1.7.0*255"]["value"] == 1468 and got["1-1:1.7.0*255"]["unit"] == "W"
    assert got["1-1:31.7.0*255"]["value"] == 5.64 and got["1-1:32.7.0*255"]["value"] == 232
    first = lines(done.stdout)[0]
    assert first["protocol"] == "dlms" and first["layout"] == "pairs" and first["list_id"] == "Kamstrup_V0001"


def test_kaifa_list_without_obis_codes_needs_its_layout() -> None:
    name = "kaifa_ma304h3e_2017_list2"
    plain = smgwctl(stdin=frames(name))
    assert plain.returncode == 0 and by_obis(plain.stdout)["1-0:1.7.0*255"]["unit"] == "W"  # KFM_001 is recognised
    expect = {e["obis"]: e for e in CAPTURES[name]["expect"] if e["obis"]}
    got = by_obis(plain.stdout)
    assert got["1-0:31.7.0*255"]["raw"] == expect["1-0:31.7.0.255"]["raw"]


def test_segmented_iskra_and_meter_id() -> None:
    done = smgwctl("--layout", "iskra-am550", stdin=frames("iskra_am550_ch_2026_vse_segmented"))
    assert done.returncode == 0, done.stderr.decode()
    records = lines(done.stdout)
    assert records and {r["frames"] for r in records} == {len(CAPTURES["iskra_am550_ch_2026_vse_segmented"]["frames"])}


def test_encrypted_push_with_both_keys_and_a_wrong_one() -> None:
    name = "lg_e450_at_burgenland_2023_encrypted_ek_ak"
    keys = CAPTURES[name]["keys"]
    done = smgwctl("--key", keys["encryption"], "--auth-key", keys["authentication"], "--layout", "lg-e450-burgenland",
                   stdin=frames(name))
    assert done.returncode == 0, done.stderr.decode()
    records = lines(done.stdout)
    meter_id = next(e["raw"] for e in CAPTURES[name]["expect"] if e["obis"] == "0-0:96.1.0.255")
    assert records[0]["security"] == "glo" and records[0]["meter"] == meter_id  # the id the push names
    wrong = smgwctl("--key", keys["encryption"], "--auth-key", "00" * 16, stdin=frames(name))
    assert wrong.returncode == 2 and not wrong.stdout
    assert "TagMismatchError" in wrong.stderr.decode() and "00" * 16 not in wrong.stderr.decode()
    missing = smgwctl(stdin=frames(name))
    assert missing.returncode == 2 and "no encryption key" in missing.stderr.decode()


def test_bad_frame_is_named_while_the_good_ones_print() -> None:
    good = frames("kamstrup_omnipower_2018_list1")
    bad = frames("kamstrup_omnipower_no_2022_bad_fcs")
    done = smgwctl("--layout", "kamstrup-no", stdin=bad + good)
    assert done.returncode == 2
    assert "frame check sequence" in done.stderr.decode() and "line 1" in done.stderr.decode()
    assert by_obis(done.stdout)  # the good push still printed


def test_capture_beginning_inside_a_transfer_is_a_note() -> None:
    name = "lg_e450_ch_2021_gbt"
    blocks = CAPTURES[name]["frames"]
    text = "\n".join(blocks[1:] + blocks) + "\n"  # starts with block 2 of a transfer, then a whole one
    done = smgwctl("--layout", "lg-e450", stdin=text)
    assert done.returncode == 0, done.stderr.decode()
    assert "note:" in done.stderr.decode() and "began inside a transfer" in done.stderr.decode()
    assert lines(done.stdout)


def test_mbus_wrapped_austrian_push() -> None:
    name = "kaifa_ma309m_at_tinetz_2021_mbus_encrypted"
    done = smgwctl("--mbus", "--key", CAPTURES[name]["keys"]["encryption"], stdin=frames(name))
    assert done.returncode == 0, done.stderr.decode()
    records = lines(done.stdout)
    assert records and records[0]["layout"] == "registers" and records[0]["security"] == "glo"
    assert records[0]["meter"].startswith("1KFM")  # the meter id the push carries under 0-0:96.1.0


def test_incomplete_input_and_empty_input() -> None:
    first = CAPTURES["iskra_am550_ch_2026_vse_segmented"]["frames"][0]
    done = smgwctl(stdin=first + "\n")
    assert done.returncode == 2 and "incomplete" in done.stderr.decode()
    empty = smgwctl(stdin="# nothing here\n\n")
    assert empty.returncode == 2 and "no HDLC frame found" in empty.stderr.decode()
    usage = smgwctl("--key", "zz")
    assert usage.returncode == 1 and "--key: not hex" in usage.stderr.decode()


def test_a_raw_serial_capture_as_xxd_lines() -> None:
    """`xxd -p` of a serial capture: 30 bytes a line, frames split anywhere, noise before the first flag."""
    stream = "0012ff" + "".join(f.lower() for f in CAPTURES["iskra_am550_ch_2026_vse_segmented"]["frames"])
    text = "\n".join(stream[k : k + 60] for k in range(0, len(stream), 60)) + "\n"
    whole = smgwctl("--layout", "iskra-am550", stdin=frames("iskra_am550_ch_2026_vse_segmented"))
    split = smgwctl("--layout", "iskra-am550", stdin=text)
    assert split.returncode == 0, split.stderr.decode()
    assert [{k: v for k, v in r.items() if k != "meter"} for r in lines(split.stdout)] == \
        [{k: v for k, v in r.items() if k != "meter"} for r in lines(whole.stdout)]
