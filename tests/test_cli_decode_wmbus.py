"""`smgwctl decode wmbus` as a user runs it: JSON Lines contract, keys, receivers, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from smgwd.codec.wmbus import Address, LinkHeader, TransportHeader, config_word, encode_telegram

DONGLES = Path(__file__).resolve().parent / "data" / "wmbus" / "dongles"
KEY = bytes(range(16))
REQUIRED = {"protocol", "meter", "obis", "value", "unit", "raw", "scaler", "status", "medium", "manufacturer",
            "quantity", "storage", "tariff"}


def smgwctl(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "smgwd.cli.main", "decode", "wmbus", *args],
        input=stdin.encode(), capture_output=True, timeout=60,
    )


def lines(out: bytes) -> list[dict]:
    return [json.loads(line) for line in out.decode().splitlines()]


def _water(meter: str = "12345678", key: bytes | None = KEY, link_crc: bool = True) -> str:
    """A mode 5 water meter: volume 123.456 m3 now and 100.000 m3 at storage 1, 21.5 °C flow temperature."""
    dll = LinkHeader(0x44, Address.of("KAM", meter, 0x1B, 0x16))
    tpl = TransportHeader(0x7A, 0x21, 0x00, config_word(5, 2))
    records = bytes.fromhex("0413" "40e20100" "4413" "a0860100" "025a" "d700")
    return encode_telegram(dll, tpl, records, key=key, link_crc=link_crc).hex()


def test_rtl_wmbus_lines_give_the_values_wmbusmeters_prints() -> None:
    """Lansen and rfmamb room sensors; expected values from wmbusmeters tests/test_stdin_and_file.sh."""
    data = json.loads((DONGLES / "rtlwmbus.json").read_text())["rtlwmbus"]
    text = "\n".join(item["line"] for item in data[:2])
    done = smgwctl("--from", "rtlwmbus", stdin=text)
    assert done.returncode == 0, done.stderr
    got = lines(done.stdout)
    assert got and all(REQUIRED <= set(r) for r in got)
    by_meter: dict[str, dict[tuple[str, int, str], float]] = {}
    for r in got:
        assert r["protocol"] == "wmbus" and r["rssi"] == 97
        by_meter.setdefault(r["meter"], {})[(r["quantity"], r["storage"], r["function"])] = r["value"]
    lansen = by_meter["00010203"]
    assert lansen[("external_temperature", 0, "instantaneous")] == 21.8
    assert lansen[("external_temperature", 1, "instantaneous")] == 21.79
    assert lansen[("external_temperature", 2, "instantaneous")] == 21.97
    assert lansen[("relative_humidity", 0, "instantaneous")] == 43
    assert lansen[("relative_humidity", 2, "instantaneous")] == 42.5
    rfmamb = by_meter["11772288"]
    assert rfmamb[("external_temperature", 0, "maximum")] == 22.08
    assert rfmamb[("external_temperature", 1, "maximum")] == 23.47
    assert rfmamb[("external_temperature", 1, "minimum")] == 21.29
    assert rfmamb[("relative_humidity", 1, "maximum")] == 50.1
    # wmbusmeters prints minutes ("2019-10-11 19:59"); the type I field also carries 59 seconds
    assert {r["meter_datetime"][:16] for r in got if r["meter"] == "11772288"} == {"2019-10-11T19:59"}


def test_mode5_water_meter_onto_obis() -> None:
    done = smgwctl("--key", KEY.hex(), stdin=_water() + "\n")
    assert done.returncode == 0, done.stderr
    by_obis = {r["obis"]: r for r in lines(done.stdout)}
    assert by_obis["8-0:1.0.0*255"]["value"] == 123.456 and by_obis["8-0:1.0.0*255"]["unit"] == "m3"
    assert by_obis["8-0:1.0.0*1"]["value"] == 100 and by_obis["8-0:1.0.0*1"]["storage"] == 1
    assert by_obis["8-0:3.0.0*255"]["value"] == 21.5 and by_obis["8-0:3.0.0*255"]["unit"] == "°C"
    assert {r["medium"] for r in by_obis.values()} == {"cold water"}
    assert {r["manufacturer"] for r in by_obis.values()} == {"KAM"}


def test_key_per_meter_and_link_crcs_optional() -> None:
    text = _water("11111111", link_crc=True) + "\n" + _water("22222222", key=bytes(16), link_crc=False) + "\n"
    done = smgwctl("--key", f"11111111:{KEY.hex()}", "--key", f"22222222:{bytes(16).hex()}", stdin=text)
    assert done.returncode == 0, done.stderr
    assert {r["meter"] for r in lines(done.stdout)} == {"11111111", "22222222"}


def test_wrong_and_missing_keys_exit_2_naming_the_meter() -> None:
    text = _water("11111111") + "\n" + _water("22222222") + "\n" + _water("33333333") + "\n"
    wrong = bytearray(KEY)
    wrong[0] ^= 1
    done = smgwctl("--key", f"11111111:{KEY.hex()}", "--key", f"22222222:{wrong.hex()}", stdin=text)
    assert done.returncode == 2
    assert {r["meter"] for r in lines(done.stdout)} == {"11111111"}
    err = done.stderr.decode()
    assert "line 2: wrong key for meter 22222222" in err
    assert "line 3: no key for meter 33333333" in err
    assert KEY.hex() not in err and wrong.hex() not in err


def test_flipped_bit_and_truncation_rejected() -> None:
    wire = bytearray(bytes.fromhex(_water()))
    wire[20] ^= 0x04
    done = smgwctl("--key", KEY.hex(), stdin=wire.hex() + "\n" + _water()[:-6] + "\n")
    assert done.returncode == 2 and not done.stdout
    err = done.stderr.decode().splitlines()
    assert err[0].startswith("line 1:") and "CRC" in err[0]
    assert err[1].startswith("line 2:")


def test_dongle_stream_names_the_meter_it_cannot_decrypt() -> None:
    """A real iM871A WMBUSMSG_IND (wmbusmeters issue #1350): encrypted, its key never published."""
    frames = json.loads((DONGLES / "frames.json").read_text())["im871a"]
    indications = [f for f in frames if f.get("hex", "").upper().startswith("A5") and f["hex"][4:6].upper() == "03"]
    assert indications
    done = smgwctl("--from", "im871a", stdin="\n".join(f["hex"] for f in indications))
    assert done.returncode == 2
    assert "no key for meter" in done.stderr.decode()


def test_usage_errors() -> None:
    assert smgwctl("--key", "abcd", stdin=_water()).returncode == 1
    assert smgwctl("--key", "zz" * 16, stdin=_water()).returncode == 1
    assert smgwctl("/nonexistent/file").returncode == 1
    empty = smgwctl(stdin="# nothing here\n\n")
    assert empty.returncode == 2 and b"no telegram" in empty.stderr
    assert smgwctl(stdin="not hex\n").returncode == 2
