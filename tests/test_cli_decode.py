"""`smgwctl decode sml` as a user runs it: output contract, exit codes, errors on stderr."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parent / "data" / "sml"
REQUIRED = {"protocol", "meter", "obis", "value", "unit", "raw", "scaler", "status", "time"}


def smgwctl(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "smgwd.cli.main", *args], input=stdin, capture_output=True, timeout=60
    )


def lines(out: bytes) -> list[dict]:
    return [json.loads(line) for line in out.decode().splitlines()]


def test_jsonl_contract_on_a_real_capture() -> None:
    done = smgwctl("decode", "sml", str(DATA / "emh_ehz_vzlogger.hex"))
    assert done.returncode == 0, done.stderr
    records = lines(done.stdout)
    assert records and all(REQUIRED <= set(r) for r in records)
    by_obis = {r["obis"]: r for r in records}
    # vzlogger tests/MeterSML.cpp asserts these scaled values
    assert by_obis["1-0:1.8.1*255"]["value"] == 14796777.1 and by_obis["1-0:1.8.1*255"]["unit"] == "Wh"
    assert by_obis["1-0:1.8.2*255"]["value"] == 2012.4
    assert by_obis["1-0:1.7.0*255"]["value"] == 11.2 and by_obis["1-0:1.7.0*255"]["unit"] == "W"
    assert by_obis["1-0:1.8.1*255"]["raw"] == 147967771 and by_obis["1-0:1.8.1*255"]["scaler"] == -1
    assert all(r["protocol"] == "sml" for r in records)


def test_rejected_frame_exit_2_good_frames_still_printed() -> None:
    bad = (DATA / "efr_sgmc2_bitflip.hex").read_bytes()
    good = (DATA / "efr_sgmc2.hex").read_bytes()
    done = smgwctl("decode", "sml", "-", stdin=bad + b"\n" + good)
    assert done.returncode == 2
    errors = done.stderr.decode().strip().splitlines()
    assert len(errors) == 1 and errors[0].startswith("frame 0 at byte 0") and "CRC" in errors[0]
    records = lines(done.stdout)
    assert records and {r["frame"] for r in records} == {1}
    # olliiiver/sml_parser asserts 1.8.0 = 1608652.2 Wh for this EFR frame
    assert next(r for r in records if r["obis"] == "1-0:1.8.0*255")["value"] == 1608652.2


def test_binary_input_from_stdin_and_kermit() -> None:
    raw = bytes.fromhex("".join((DATA / "holley_dtz541_rs485_kermit.hex").read_text().split()))
    assert smgwctl("decode", "sml", "--binary", "--crc", "kermit", stdin=raw).returncode == 0
    done = smgwctl("decode", "sml", "--binary", "--crc", "x25", stdin=raw)
    assert done.returncode == 2 and "CRC mismatch" in done.stderr.decode()


def test_bare_messages() -> None:
    done = smgwctl("decode", "sml", str(DATA / "hager_edl_jsml.hex"))
    assert done.returncode == 0, done.stderr
    assert len(lines(done.stdout)) == 25


def test_table_and_xml_formats() -> None:
    table = smgwctl("decode", "sml", "--format", "table", str(DATA / "iskra_mt691_1bytecrc.hex"))
    assert table.returncode == 0 and table.stdout.decode().startswith("frame")
    xml = smgwctl("decode", "sml", "--format", "xml", str(DATA / "iskra_mt691_1bytecrc.hex"))
    from smgwd.cosem import xml_josef

    (device,) = xml_josef.decode(xml.stdout)
    assert device.objects


@pytest.mark.parametrize(
    "args",
    [("decode", "sml", "--profile", "no-such-meter", str(DATA / "efr_sgmc2.hex")),
     ("decode", "sml", "--crc", "crc32"),
     ("decode", "sml", str(DATA / "does-not-exist.hex")),
     ("decode",)],
)
def test_usage_errors_exit_1(args: tuple[str, ...]) -> None:
    done = smgwctl(*args)
    assert done.returncode == 1
    assert done.stderr and not done.stdout


def test_non_hex_input_is_rejected_input() -> None:
    done = smgwctl("decode", "sml", "-", stdin=b"1b1b1b1b zz")
    assert done.returncode == 2 and "not hex text" in done.stderr.decode()


def test_decode_imports_only_what_decoding_needs() -> None:
    probe = (
        "import sys, smgwd.cli.main, smgwd.cli.decode_sml; "
        "print(sorted(m for m in ('lxml', 'cryptography', 'serial', 'requests', 'asn1crypto') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, timeout=60, check=True)
    assert done.stdout.decode().strip() == "[]"


def test_tolerated_deviations_are_named_and_strict_rejects_them() -> None:
    capture = str(DATA / "holley_dtz541_zdba.hex")  # valTime sent as a bare Unsigned32
    done = smgwctl("decode", "sml", capture)
    assert done.returncode == 0
    assert all(r["tolerated"] == ["bare_time"] for r in lines(done.stdout))
    strict = smgwctl("decode", "sml", "--profile", "strict", capture)
    assert strict.returncode == 2 and not strict.stdout
    assert strict.stderr.decode().count("bare_time is off") == 3  # one line per frame


def test_output_to_a_closed_pipe_is_quiet() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "smgwd.cli.main", "decode", "sml", str(DATA / "holley_dtz541_zdba.hex")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    with proc:
        proc.stdout.readline()
        proc.stdout.close()
        assert proc.wait(timeout=60) == 0
        assert b"Traceback" not in proc.stderr.read()


# --- issue 9: hostile frames with valid CRCs, empty input --------------------------------

HOSTILE_CASES = ["year_10000", "unit_25118", "scaler_2_62", "status_minus_255", "timestamp_2_64", "offset_30000"]


@pytest.mark.parametrize("fmt", ["jsonl", "table", "xml"])
@pytest.mark.parametrize("case", HOSTILE_CASES)
def test_out_of_range_field_is_reported_not_a_traceback(case: str, fmt: str) -> None:
    from tests.sml.hostile import FIELD_IN_ERROR, HOSTILE, list_frame

    field, part = HOSTILE[case]
    capture = (list_frame(**{field: part}) + list_frame()).hex().encode()
    result = smgwctl("decode", "sml", "--format", fmt, stdin=capture)
    err = result.stderr.decode()
    assert result.returncode == 2, err
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert err.startswith("frame 0 at byte 0") and FIELD_IN_ERROR[case] in err
    assert result.stdout.strip()  # the good frame after it is still printed


@pytest.mark.parametrize("capture", [b"", b"\n  \n"])
def test_empty_input_says_so_and_exits_2(capture: bytes) -> None:
    result = smgwctl("decode", "sml", stdin=capture)
    assert result.returncode == 2
    assert result.stdout == b""
    assert result.stderr.decode().splitlines() == ["smgwctl: no SML frame or message found in the input"]


def test_help_names_the_empty_input_exit_status() -> None:
    result = smgwctl("decode", "sml", "--help")
    assert b"empty input" in b" ".join(result.stdout.split())


def test_padding_count_4_is_named_in_the_output() -> None:
    from tests.sml.test_field_ranges import _frame_with_padding

    done = smgwctl("decode", "sml", "--binary", "-", stdin=_frame_with_padding(4))
    assert done.returncode == 0, done.stderr
    records = lines(done.stdout)
    assert records and all("padding_4" in r["tolerated"] for r in records)
