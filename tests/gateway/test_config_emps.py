"""``[[emps]]``: delivery profiles, their defaults, paths, private keys and errors with key paths."""

from __future__ import annotations

import re
import tomllib
from importlib.resources import files
from pathlib import Path

import pytest

from smgwd.gateway.config import ConfigError, EmpConfig, parse_config

EXAMPLE = files("smgwd.gateway") / "smgwd.example.toml"


def emp_files(base: Path) -> str:
    """The keys of one EMP table, with its files made in ``base`` (keys 0600)."""
    for name in ("tls.pem", "tls.key", "ca.pem", "sig.pem", "sig.key", "enc.pem"):
        (base / name).write_text("x")
    for name in ("tls.key", "sig.key"):
        (base / name).chmod(0o600)
    return ('id = "emp"\nurl = "https://127.0.0.1:8443/v1/meterdata"\ntls_cert = "tls.pem"\ntls_key = "tls.key"\n'
            'server_ca = "ca.pem"\nsig_cert = "sig.pem"\nsig_key = "sig.key"\nrecipient = "enc.pem"\n')


def error_of(text: str, base: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "smgwd.toml", base_dir=base)
    return str(caught.value)


def test_defaults_and_relative_paths(tmp_path: Path) -> None:
    emp = parse_config("[[emps]]\n" + emp_files(tmp_path), base_dir=tmp_path).emps[0]
    assert emp == EmpConfig("emp", "https://127.0.0.1:8443/v1/meterdata", tmp_path / "tls.pem", tmp_path / "tls.key",
                            tmp_path / "ca.pem", tmp_path / "sig.pem", tmp_path / "sig.key", tmp_path / "enc.pem")
    assert (emp.interval, emp.shape, emp.timeout, emp.enabled, emp.meters, emp.obis) == (900.0, "josef", 4.0, True,
                                                                                         (), ())
    assert (emp.on_demand, emp.request_poll) == (True, 60.0)
    assert parse_config("[[emps]]\n" + emp_files(tmp_path) + "request_poll = 0\n",
                        base_dir=tmp_path).emps[0].request_poll == 0.0


def test_selection_is_resolved(tmp_path: Path) -> None:
    text = "[[emps]]\n" + emp_files(tmp_path) + 'meters = ["a", "b"]\nobis = ["1-0:1.8.0"]\nshape = "k461"\n'
    emp = parse_config(text, base_dir=tmp_path).emps[0]
    assert (emp.meters, emp.obis, emp.shape) == (("a", "b"), ("1-0:1.8.0*255",), "k461")


@pytest.mark.parametrize(("extra", "message"), [
    ('intervall = 5', "emps[0].intervall: unknown key (did you mean interval?)"),
    ('shape = "xml"', "emps[0].shape: 'xml' is not one of josef, k461"),
    ('obis = ["1.8.0.x"]', "emps[0].obis[0]: '1.8.0.x' is not an OBIS code (expected an OBIS code such as "
                           "\"1-0:1.8.0*255\")"),
    ('meters = ["a", "a"]', "emps[0].meters[1]: 'a' is listed twice (expected each once)"),
    ('interval = 0', "emps[0].interval: 0 is out of range (expected seconds > 0)"),
    ('request_poll = -1', "emps[0].request_poll: -1 is out of range (expected seconds >= 0, "
                          "0 = never ask the EMP for requests)"),
    ('request_poll = "1m"', "emps[0].request_poll: got the string '1m' (expected seconds >= 0, "
                            "0 = never ask the EMP for requests)"),
])
def test_errors(tmp_path: Path, extra: str, message: str) -> None:
    assert error_of("[[emps]]\n" + emp_files(tmp_path) + extra, tmp_path) == f"smgwd.toml: {message}"


@pytest.mark.parametrize("port", ["0", "99999", "http"])
def test_a_url_without_a_valid_port_is_refused(tmp_path: Path, port: str) -> None:
    text = "[[emps]]\n" + emp_files(tmp_path)
    assert error_of(text.replace("127.0.0.1:8443", f"127.0.0.1:{port}"), tmp_path) == (
        f"smgwd.toml: emps[0].url: 'https://127.0.0.1:{port}/v1/meterdata' has no valid port "
        "(expected 1..65535 after the host, or none for 443)")


def test_plain_http_and_missing_keys_are_refused(tmp_path: Path) -> None:
    text = "[[emps]]\n" + emp_files(tmp_path)
    assert error_of(text.replace("https://", "http://"), tmp_path).startswith(
        "smgwd.toml: emps[0].url: 'http://127.0.0.1:8443/v1/meterdata' is not an https URL")
    assert error_of(text.replace('sig_key = "sig.key"\n', ""), tmp_path) == (
        "smgwd.toml: emps[0].sig_key: missing (expected a file path)")
    assert error_of("[emps]\nid = 'x'", tmp_path) == (
        "smgwd.toml: emps: got a table (expected an array of tables: write [[emps]], not [emps])")
    assert error_of(text + "\n[[emps]]\n" + emp_files(tmp_path), tmp_path) == (
        "smgwd.toml: emps[1].id: 'emp' is already the id of emps[0] (expected unique EMP ids)")


@pytest.mark.parametrize("name", ["tls_key", "sig_key"])
def test_private_keys_open_to_others_are_refused(tmp_path: Path, name: str) -> None:
    text = "[[emps]]\n" + emp_files(tmp_path)
    path = tmp_path / name.replace("_", ".")
    path.chmod(0o640)
    assert error_of(text, tmp_path) == (
        f"smgwd.toml: emps[0].{name}: {path} has mode 0640, so group or others can access it "
        f"(expected a file only smgwd's user can read, mode 0600 or 0400: chmod 600 {path})")


def test_example_documents_every_emp_key(tmp_path: Path) -> None:
    text = EXAMPLE.read_text()
    block = "\n".join(line.removeprefix("# ") for line in text[text.index("# [[emps]]"):text.index("# --- tariff calendars")].splitlines()
                      if re.match(r"# (\[\[emps\]\]|\w+ = )", line))
    document = tomllib.loads(block)
    assert set(document["emps"][0]) == set(EmpConfig.__dataclass_fields__)
    defaults = EmpConfig("x", "https://x", *[Path()] * 6)
    for key in ("interval", "shape", "timeout", "enabled"):
        assert document["emps"][0][key] == getattr(defaults, key), key
    for key in EmpConfig.__dataclass_fields__:
        assert re.search(rf"^#.*\n# {key} = ", text, re.MULTILINE), f"{key} has no comment above it"


def test_config_check_names_the_deliveries(tmp_path: Path) -> None:
    from smgwd.cli.config_check import summary

    text = summary(parse_config("[[emps]]\n" + emp_files(tmp_path) + "enabled = false\n", "smgwd.toml",
                                base_dir=tmp_path))
    assert "Deliveries: emp (disabled) every 900 s (josef) to https://127.0.0.1:8443/v1/meterdata." in " ".join(
        text.split())
