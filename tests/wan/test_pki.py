"""The lab PKI: ``openssl verify`` accepts every certificate ``pki init`` and ``pki issue`` make, on
brainpool and NIST curves; ``openssl x509 -text`` shows the SM-PKI-shaped profile (curves, hashes, key
usages, constraints, names); keys are 0600 from the moment they exist; an existing PKI is replaced only
with --force; ``smgwctl pki`` does all of it from the command line with the documented exit statuses."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any, Iterator

import pytest

from smgwd.cli.main import main
from smgwd.wan.chain import load_certs, validity, verify_chain
from smgwd.wan.pki import KINDS, PkiError, describe, init_pki, issue, load_index

PARTICIPANTS = ("smgw/smgw", "emp/emp", "gwa/gwa")
CURVES = {"brainpool": ("brainpoolP384r1", "brainpoolP256r1"), "p256": ("secp384r1", "prime256v1")}


@pytest.fixture(scope="module", params=sorted(CURVES))
def pki(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    directory = tmp_path_factory.mktemp(f"pki-{request.param}") / "lab"
    init_pki(directory, curve=request.param)
    yield directory


def openssl(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)


def certificate_text(path: Path) -> dict[str, str]:
    """The fields of ``openssl x509 -text`` a test looks at; an extension maps to its first value line,
    with " critical" appended to the name when openssl marks it so."""
    text = openssl("x509", "-in", str(path), "-noout", "-text", cwd=path.parent).stdout
    lines = text.splitlines()
    fields = {name: re.search(rf"^\s*{name}: (.*)$", text, re.MULTILINE)[1]  # type: ignore[index]
              for name in ("Signature Algorithm", "Issuer", "Subject", "ASN1 OID")}
    for number, line in enumerate(lines):
        found = re.match(r"\s+X509v3 ([A-Za-z ]+):( critical)?\s*$", line)
        if found:
            fields[found[1] + (found[2] or "")] = lines[number + 1].strip()
    return fields


def curve_of(directory: Path) -> str:
    return str(json.loads((directory / "index.json").read_text())["curve"])


# ---------------------------------------------------------------- openssl as the judge


def test_openssl_verifies_every_certificate(pki: Path) -> None:
    assert openssl("verify", "-CAfile", "root.pem", "subca.pem", cwd=pki).stdout == "subca.pem: OK\n"
    leaves = [f"{p}/{kind}.pem" for p in PARTICIPANTS for kind in KINDS]
    done = openssl("verify", "-CAfile", "root.pem", "-untrusted", "subca.pem", *leaves, cwd=pki)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [f"{leaf}: OK" for leaf in leaves]
    # with the chain file as trust store, as a TLS peer would load it
    assert openssl("verify", "-CAfile", "ca-chain.pem", *leaves, cwd=pki).returncode == 0
    tls = openssl("verify", "-CAfile", "root.pem", "-untrusted", "subca.pem", "-purpose", "sslserver",
                  "-verify_hostname", "localhost", "-verify_ip", "127.0.0.1", "emp/emp/tls.pem", cwd=pki)
    assert tls.stdout == "emp/emp/tls.pem: OK\n", tls.stderr


def test_openssl_shows_the_sm_pki_profile(pki: Path) -> None:
    root_curve, curve = CURVES[curve_of(pki)]
    root = certificate_text(pki / "root.pem")
    assert root["Subject"] == root["Issuer"] == "O = smgwd lab, CN = smgwd lab Root CA"
    assert (root["Signature Algorithm"], root["ASN1 OID"]) == ("ecdsa-with-SHA384", root_curve)
    assert root["Basic Constraints critical"] == "CA:TRUE, pathlen:1"
    assert root["Key Usage critical"] == "Certificate Sign, CRL Sign"
    assert "Subject Key Identifier" in root
    subca = certificate_text(pki / "subca.pem")
    assert (subca["Subject"], subca["Issuer"]) == ("O = smgwd lab, CN = smgwd lab Sub-CA", root["Subject"])
    assert (subca["Signature Algorithm"], subca["ASN1 OID"]) == ("ecdsa-with-SHA384", curve)
    assert subca["Basic Constraints critical"] == "CA:TRUE, pathlen:0"
    assert subca["Key Usage critical"] == "Certificate Sign, CRL Sign"
    assert subca["Authority Key Identifier"] == root["Subject Key Identifier"]

    usages = {"tls": "Digital Signature", "sig": "Digital Signature, Non Repudiation", "enc": "Key Agreement"}
    units = {"smgw": "SMGW", "emp": "EMT", "gwa": "GWA"}
    keys_seen = set()
    for participant in PARTICIPANTS:
        role, name = participant.split("/")
        for kind, (label, _) in KINDS.items():
            leaf = certificate_text(pki / participant / f"{kind}.pem")
            assert leaf["Subject"] == f"O = smgwd lab, OU = {units[role]}, CN = {name} {label}"
            assert leaf["Issuer"] == subca["Subject"]
            assert (leaf["Signature Algorithm"], leaf["ASN1 OID"]) == ("ecdsa-with-SHA256", curve)
            assert leaf["Basic Constraints critical"] == "CA:FALSE"
            assert leaf["Key Usage critical"] == usages[kind]
            assert leaf["Authority Key Identifier"] == subca["Subject Key Identifier"]
            keys_seen.add(leaf["Subject Key Identifier"])
            if kind == "tls":
                assert leaf["Extended Key Usage"] == "TLS Web Server Authentication, TLS Web Client Authentication"
                assert leaf["Subject Alternative Name"] == (
                    "DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1")
            else:
                assert "Extended Key Usage" not in leaf and "Subject Alternative Name" not in leaf
    assert len(keys_seen) == 3 * len(PARTICIPANTS)  # a key of its own for every certificate


def test_our_verifier_accepts_what_openssl_accepts(pki: Path) -> None:
    root, subca = (load_certs((pki / f).read_bytes())[0] for f in ("root.pem", "subca.pem"))
    for participant in PARTICIPANTS:
        for kind, (_, purpose) in KINDS.items():
            leaf = load_certs((pki / participant / f"{kind}.pem").read_bytes())[0]
            assert verify_chain(leaf, [subca], [root], purpose=purpose) == [leaf, subca, root]


def test_serials_random_and_keys_match_certificates(pki: Path) -> None:
    index = load_index(pki)
    serials = {load_certs((pki / e.cert).read_bytes())[0].serial_number for e in index}
    assert len(serials) == len(index) and min(serials) > 2**64
    for entry in index:
        done = openssl("x509", "-in", entry.cert, "-noout", "-pubkey", cwd=pki)
        derived = openssl("pkey", "-in", entry.key, "-pubout", cwd=pki)
        assert done.stdout == derived.stdout and done.stdout.startswith("-----BEGIN PUBLIC KEY-----")


# ---------------------------------------------------------------- files


def test_private_keys_are_0600_from_creation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    created: dict[str, int] = {}
    real_open = os.open

    def spy(path: Any, flags: int, mode: int = 0o777, *args: Any, **kwargs: Any) -> int:
        if flags & os.O_CREAT:
            assert flags & os.O_EXCL, path
            created[os.fspath(path)] = mode
        return real_open(path, flags, mode, *args, **kwargs)

    monkeypatch.setattr(os, "open", spy)
    old_umask = os.umask(0)  # the mode must not rely on a friendly umask
    try:
        init_pki(tmp_path / "lab")
    finally:
        os.umask(old_umask)
    key_modes = {path: mode for path, mode in created.items() if ".key." in path}
    assert len(key_modes) == 2 + 9 and set(key_modes.values()) == {0o600}
    assert all(mode == 0o644 for path, mode in created.items() if ".key." not in path)
    for entry in load_index(tmp_path / "lab"):
        assert stat.S_IMODE((tmp_path / "lab" / entry.key).stat().st_mode) == 0o600
        assert stat.S_IMODE((tmp_path / "lab" / entry.cert).stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "lab" / "private").stat().st_mode) == 0o700
    assert not list((tmp_path / "lab").rglob("*.tmp"))


def test_index_and_readme_say_what_is_where(pki: Path) -> None:
    document = json.loads((pki / "index.json").read_text())
    assert document["format"] == "smgwd-lab-pki/1" and document["trust"] == "root.pem"
    rows = document["certificates"]
    assert [(r["role"], r["name"], r["kind"]) for r in rows[:2]] == [("root", "root", "ca"), ("subca", "subca", "ca")]
    assert {(r["role"], r["name"]) for r in rows[2:]} == {("smgw", "smgw"), ("emp", "emp"), ("gwa", "gwa")}
    readme = (pki / "README").read_text()
    for row in rows:
        assert (pki / row["cert"]).is_file() and (pki / row["key"]).is_file()
        assert row["cert"] in readme and row["key"] in readme
    assert load_certs((pki / "ca-chain.pem").read_bytes()) == [
        load_certs((pki / f).read_bytes())[0] for f in ("subca.pem", "root.pem")]
    assert "openssl verify -CAfile root.pem -untrusted subca.pem" in readme


def test_existing_pki_is_refused_unless_forced(tmp_path: Path) -> None:
    lab = tmp_path / "lab"
    init_pki(lab, participants=[("emp", "one"), ("emp", "two")])
    before = (lab / "root.pem").read_bytes()
    with pytest.raises(PkiError, match=r"already holds a PKI \(index.json exists\); use --force"):
        init_pki(lab)
    assert (lab / "root.pem").read_bytes() == before
    init_pki(lab, force=True, participants=[("emp", "one")])
    assert (lab / "root.pem").read_bytes() != before
    assert (lab / "emp/one/tls.pem").exists() and not (lab / "emp/two").exists()
    assert {e.name for e in load_index(lab)} == {"root", "subca", "one"}


def test_a_stray_file_where_the_pki_goes_is_refused_too(tmp_path: Path) -> None:
    (tmp_path / "private").mkdir()
    (tmp_path / "private/root.key").write_text("precious")
    with pytest.raises(PkiError, match=r"\(private/root.key exists\)"):
        init_pki(tmp_path)
    assert (tmp_path / "private/root.key").read_text() == "precious"
    (tmp_path / "notes.txt").write_text("unrelated files are fine")
    init_pki(tmp_path, force=True)
    assert (tmp_path / "notes.txt").exists() and b"PRIVATE KEY" in (tmp_path / "private/root.key").read_bytes()


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"curve": "secp521r1"}, "unknown curve 'secp521r1'"),
    ({"participants": [("emt", "x")]}, "unknown role 'emt'"),
    ({"participants": [("emp", "../x")]}, "bad participant name '../x'"),
    ({"participants": [("emp", "")]}, "bad participant name ''"),
    ({"participants": [("emp", "a"), ("emp", "a")]}, "a participant is named twice"),
    ({"days": 0}, "validity must be at least one day"),
])
def test_bad_requests_are_refused_before_anything_is_written(tmp_path: Path, kwargs: Any, message: str) -> None:
    with pytest.raises(PkiError, match=re.escape(message)):
        init_pki(tmp_path / "lab", **kwargs)
    assert not (tmp_path / "lab").exists()


# ---------------------------------------------------------------- pki issue


def test_issue_adds_a_participant_whose_chain_verifies(tmp_path: Path) -> None:
    lab = tmp_path / "lab"
    init_pki(lab, curve="brainpool")
    entries = issue(lab, "emp", "stadtwerke")
    assert [(e.role, e.name, e.kind) for e in entries] == [("emp", "stadtwerke", k) for k in KINDS]
    files = [e.cert for e in entries]
    done = openssl("verify", "-CAfile", "root.pem", "-untrusted", "subca.pem", *files, cwd=lab)
    assert done.stdout.splitlines() == [f"{f}: OK" for f in files], done.stderr
    assert certificate_text(lab / "emp/stadtwerke/sig.pem")["Subject"] == "O = smgwd lab, OU = EMT, CN = stadtwerke SIG"
    assert all(stat.S_IMODE((lab / e.key).stat().st_mode) == 0o600 for e in entries)
    assert entries[0] in load_index(lab) and "emp/stadtwerke/enc.key" in (lab / "README").read_text()
    assert [i.check for i in describe(lab) if i.entry.name == "stadtwerke"] == ["ok"] * 3

    with pytest.raises(PkiError, match="participant emp 'stadtwerke' exists .*; use --force to re-issue it"):
        issue(lab, "emp", "stadtwerke")
    old = (lab / "emp/stadtwerke/tls.key").read_bytes()
    issue(lab, "emp", "stadtwerke", force=True)
    assert (lab / "emp/stadtwerke/tls.key").read_bytes() != old
    assert len(load_index(lab)) == 2 + 3 * 4  # replaced, not listed twice


def test_issued_certificates_never_outlive_the_sub_ca(tmp_path: Path) -> None:
    init_pki(tmp_path, curve="p256", participants=[])
    entries = issue(tmp_path, "smgw", "gw2", days=100_000)
    subca_end = validity(load_certs((tmp_path / "subca.pem").read_bytes())[0])[1]
    leaf_start, leaf_end = validity(load_certs((tmp_path / entries[0].cert).read_bytes())[0])
    assert leaf_end == subca_end and leaf_start < leaf_end - timedelta(days=365)
    assert certificate_text(tmp_path / entries[0].cert)["ASN1 OID"] == "prime256v1"


def test_issue_needs_a_pki(tmp_path: Path) -> None:
    with pytest.raises(PkiError, match="holds no lab PKI"):
        issue(tmp_path, "emp", "x")
    (tmp_path / "index.json").write_text('{"format": "something else"}')
    with pytest.raises(PkiError, match="not a smgwd lab PKI index"):
        issue(tmp_path, "emp", "x")
    (tmp_path / "index.json").write_text("{not json")
    with pytest.raises(PkiError, match="unreadable"):
        describe(tmp_path)


# ---------------------------------------------------------------- smgwctl pki


def test_smgwctl_pki_init_issue_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lab = str(tmp_path / "lab")
    assert main(["pki", "init", lab, "--curve", "p256", "--gateway", "gw1", "--emp", "e1", "--emp", "e2",
                 "--days", "30"]) == 0
    out = capsys.readouterr().out
    assert "lab PKI (p256)" in out and "smgw gw1, emp e1, emp e2, gwa gwa" in out
    assert main(["pki", "init", lab]) == 1
    assert "already holds a PKI" in capsys.readouterr().err
    assert main(["pki", "issue", lab, "--role", "gwa", "admin2"]) == 0
    assert "gwa/admin2/tls.pem" in capsys.readouterr().out

    assert main(["pki", "show", lab, "--format", "json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 2 + 3 * 5 and {r["check"] for r in rows[2:]} == {"ok"}
    assert rows[0]["curve"] == "secp384r1" and {r["curve"] for r in rows[1:]} == {"secp256r1"}
    e1 = next(r for r in rows if r["name"] == "e1" and r["kind"] == "tls")
    assert e1["not_after"] < rows[1]["not_after"] and e1["subject"] == "CN=e1 TLS,OU=EMT,O=smgwd lab"

    assert main(["pki", "show", lab]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["ROLE", "NAME", "KIND", "CURVE", "NOT-BEFORE", "NOT-AFTER", "CERT", "CHECK"]
    assert table[1].split()[:4] == ["root", "root", "ca", "secp384r1"] and table[1].endswith("trust anchor")


def test_smgwctl_pki_show_reports_a_broken_chain(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    init_pki(tmp_path / "a")
    init_pki(tmp_path / "b")
    (tmp_path / "a/emp/emp/sig.pem").write_bytes((tmp_path / "b/emp/emp/sig.pem").read_bytes())
    assert main(["pki", "show", str(tmp_path / "a")]) == 2
    line = next(line for line in capsys.readouterr().out.splitlines() if "emp/emp/sig.pem" in line)
    assert line.endswith("whose key is not among the trusted and supplied certificates")


def test_smgwctl_pki_refusals_and_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pki", "show", str(tmp_path)]) == 1
    assert capsys.readouterr().err == f"smgwctl: pki show: {tmp_path} holds no lab PKI (index.json is missing)\n"
    assert main(["pki", "init", str(tmp_path), "--emp", "bad name"]) == 1
    assert "bad participant name 'bad name'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        main(["pki", "issue", str(tmp_path), "--role", "emt", "x"])
    assert usage.value.code == 1 and "invalid choice: 'emt'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        main(["pki", "init", str(tmp_path), "--curve", "p521"])
    assert usage.value.code == 1
    assert not (tmp_path / "index.json").exists()
