"""``smgwctl config check`` loads the EMPs' keys and certificates as delivery does.

A lab PKI (``smgwd.wan.pki``, the one ``smgwctl pki init`` makes) and real smgwctl
processes: a garbage key, a key of another certificate (TLS and signature), an
expired certificate are one line naming the key path, exit 78; a certificate that
expires within 30 days is a warning; the lab PKI itself passes.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from smgwd.demo import EMPS_TOML
from smgwd.gateway.config import load_config
from smgwd.wan.credentials import CredentialError, check_credentials
from smgwd.wan.pki import init_pki

EX_CONFIG = 78
PARTICIPANTS = [("smgw", "smgw"), ("smgw", "other"), ("emp", "emp")]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("lab")
    init_pki(base / "pki", participants=PARTICIPANTS)
    return base


def workdir(lab: Path, tmp_path: Path) -> Path:
    """A copy of the lab PKI and a gateway config delivering with it."""
    shutil.copytree(lab / "pki", tmp_path / "pki")
    (tmp_path / "smgwd.toml").write_text(
        f'[store]\npath = "{tmp_path}/smgwd.db"\n[time]\nservers = []\n'
        + EMPS_TOML.format(emp_port=8443, emp_interval=60))
    return tmp_path


def config_check(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "smgwd.cli.main", "config", "check", "--config",
                           str(folder / "smgwd.toml")], capture_output=True, text=True, timeout=60)


def refused(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == EX_CONFIG, (done.returncode, done.stdout, done.stderr)
    assert done.stdout == "" and len(done.stderr.splitlines()) == 1 and "Traceback" not in done.stderr
    return done.stderr.strip()


def test_the_lab_pki_passes(lab: Path, tmp_path: Path) -> None:
    done = config_check(workdir(lab, tmp_path))
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert ": OK." in done.stdout and "Deliveries: emp every 60 s" in done.stdout


@pytest.mark.parametrize("name", ["tls", "sig"])
def test_a_garbage_key_is_refused_naming_it(lab: Path, tmp_path: Path, name: str) -> None:
    folder = workdir(lab, tmp_path)
    key = folder / "pki" / "smgw" / "smgw" / f"{name}.key"
    key.write_text("-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n")
    line = refused(config_check(folder))
    assert line.startswith(f"smgwctl: {folder / 'smgwd.toml'}: emps[0].{name}_key: {key}: not a usable private key")


@pytest.mark.parametrize("name", ["tls", "sig"])
def test_a_key_of_another_certificate_is_refused(lab: Path, tmp_path: Path, name: str) -> None:
    folder = workdir(lab, tmp_path)
    key = folder / "pki" / "smgw" / "smgw" / f"{name}.key"
    shutil.copy(folder / "pki" / "smgw" / "other" / f"{name}.key", key)
    key.chmod(0o600)
    cert = folder / "pki" / "smgw" / "smgw" / f"{name}.pem"
    assert refused(config_check(folder)) == (
        f"smgwctl: {folder / 'smgwd.toml'}: emps[0].{name}_key: {key} does not belong to the certificate {cert} "
        f"(their public keys differ; expected that certificate's key)")


def test_a_garbage_certificate_is_refused(lab: Path, tmp_path: Path) -> None:
    folder = workdir(lab, tmp_path)
    recipient = folder / "pki" / "emp" / "emp" / "enc.pem"
    recipient.write_bytes(b"\x30\x03\x02\x01\x00")
    assert refused(config_check(folder)).startswith(
        f"smgwctl: {folder / 'smgwd.toml'}: emps[0].recipient: {recipient}: not a usable certificate")


def test_an_expired_certificate_is_refused(tmp_path: Path) -> None:
    init_pki(tmp_path / "pki", participants=PARTICIPANTS, days=1, now=datetime.now(timezone.utc) - timedelta(days=3))
    (tmp_path / "smgwd.toml").write_text('[time]\nservers = []\n' + EMPS_TOML.format(emp_port=8443, emp_interval=60))
    line = refused(config_check(tmp_path))
    assert f"emps[0].tls_cert: {tmp_path / 'pki/smgw/smgw/tls.pem'}: the certificate expired on " in line


def test_a_certificate_expiring_soon_is_a_warning(tmp_path: Path) -> None:
    init_pki(tmp_path / "pki", participants=PARTICIPANTS, days=40,
             now=datetime.now(timezone.utc) - timedelta(days=20))
    (tmp_path / "smgwd.toml").write_text('[time]\nservers = []\n' + EMPS_TOML.format(emp_port=8443, emp_interval=60))
    done = config_check(tmp_path)
    assert done.returncode == 0 and ": OK." in done.stdout
    warnings = done.stderr.splitlines()
    assert warnings and all(w.startswith(f"smgwctl: warning: {tmp_path / 'smgwd.toml'}: emps[0].") for w in warnings)
    assert any("tls.pem: the certificate expires on " in w and "in 19 days: issue a new one" in w for w in warnings)


def test_disabled_emps_are_not_checked_and_time_is_the_callers(lab: Path, tmp_path: Path) -> None:
    folder = workdir(lab, tmp_path)
    config = load_config(folder / "smgwd.toml")
    assert check_credentials(config.emps) == []
    later = datetime.now(timezone.utc) + timedelta(days=3650)
    with pytest.raises(CredentialError, match=r"^emps\[0\]\.tls_cert: .* expired on "):
        check_credentials(config.emps, now=later)
    (folder / "pki" / "smgw" / "smgw" / "sig.key").write_text("x")
    text = (folder / "smgwd.toml").read_text().replace('shape = "josef"', 'shape = "josef"\nenabled = false')
    (folder / "smgwd.toml").write_text(text)
    assert check_credentials(load_config(folder / "smgwd.toml").emps) == []
