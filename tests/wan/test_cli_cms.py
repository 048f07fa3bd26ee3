"""`smgwctl cms seal|open` as a user runs it, next to openssl: output, exit codes, reasons on stderr."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from smgwd.wan.cms_envelope import encrypt
from tests.wan.cms_support import LabPki, openssl_open, openssl_seal, openssl_sign, pki  # noqa: F401

CURVE = "brainpoolP256r1"
CONTENT = b'<?xml version="1.0"?>\n<profile>' + b"1.8.0 " * 500 + b"</profile>\n"


def smgwctl(*args: str | Path, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "smgwd.cli.main", *map(str, args)], input=stdin,
                          capture_output=True, timeout=60)


def seal_args(pki: LabPki, curve: str = CURVE) -> list[str | Path]:
    signer = pki.sig(curve)
    return ["cms", "seal", "--cert", signer.cert_path, "--key", signer.key_path,
            "--recipient", pki.enc(curve).cert_path, "--chain", pki.sub.cert_path]


def open_args(pki: LabPki, *, recipient: str = f"enc-{CURVE}") -> list[str | Path]:
    party = pki.parties[recipient]
    return ["cms", "open", "--key", party.key_path, "--cert", party.cert_path, "--trust", pki.root.cert_path]


def test_seal_from_a_file_opens_with_openssl(pki: LabPki, tmp_path: Path) -> None:
    (tmp_path / "in.xml").write_bytes(CONTENT)
    done = smgwctl(*seal_args(pki, "prime256v1"), tmp_path / "in.xml")
    assert done.returncode == 0, done.stderr
    assert openssl_open(pki, tmp_path, done.stdout, pki.enc("prime256v1")) == CONTENT


def test_seal_stdin_then_open_stdin(pki: LabPki) -> None:
    sealed = smgwctl(*seal_args(pki), "-", stdin=CONTENT)
    assert sealed.returncode == 0, sealed.stderr
    opened = smgwctl(*open_args(pki), stdin=sealed.stdout)
    assert (opened.returncode, opened.stdout, opened.stderr) == (0, CONTENT, b"")


def test_seal_with_the_bsi_oid_opens(pki: LabPki) -> None:
    sealed = smgwctl(*seal_args(pki), "--kari", "bsi", stdin=CONTENT)
    assert sealed.returncode == 0, sealed.stderr
    assert b"\x06\x0b\x04\x00\x7f\x00\x07\x01\x01\x05\x01\x01\x03" in sealed.stdout  # the BSI OID, DER
    assert smgwctl(*open_args(pki), stdin=sealed.stdout).stdout == CONTENT


@pytest.mark.parametrize("outform", ["DER", "PEM"])
def test_open_what_openssl_made_with_the_sub_ca_given_apart(pki: LabPki, tmp_path: Path, outform: str) -> None:
    message = openssl_seal(pki, tmp_path, CONTENT, pki.sig("brainpoolP384r1"), [pki.enc("brainpoolP384r1")],
                           outform=outform)
    (tmp_path / "in.p7m").write_bytes(message)
    done = smgwctl(*open_args(pki, recipient="enc-brainpoolP384r1"), "--untrusted", pki.sub.cert_path,
                   tmp_path / "in.p7m")
    assert (done.returncode, done.stdout) == (0, CONTENT), done.stderr


def _refused(pki: LabPki, message: bytes, reason: bytes, recipient: str = f"enc-{CURVE}") -> None:
    done = smgwctl(*open_args(pki, recipient=recipient), stdin=message)
    assert done.returncode == 2
    assert done.stdout == b""
    assert done.stderr.startswith(b"smgwctl cms open: refused: ") and reason in done.stderr, done.stderr
    assert len(done.stderr.splitlines()) == 1


def test_open_refuses_a_flipped_tag(pki: LabPki, tmp_path: Path) -> None:
    envelope = bytearray(encrypt(CONTENT, [pki.enc(CURVE).cert]))
    envelope[-1] ^= 0x80
    (tmp_path / "aed.der").write_bytes(envelope)
    _refused(pki, openssl_sign(pki, tmp_path / "aed.der", pki.sig(CURVE)), b"authentication tag mismatch")


def test_open_refuses_a_flipped_signature(pki: LabPki) -> None:
    message = bytearray(smgwctl(*seal_args(pki), stdin=CONTENT).stdout)
    message[-1] ^= 0x01
    _refused(pki, bytes(message), b"bad signature")


def test_open_refuses_an_untrusted_signer(pki: LabPki) -> None:
    signer = pki.parties["sig-foreign"]
    done = smgwctl("cms", "seal", "--cert", signer.cert_path, "--key", signer.key_path,
                   "--recipient", pki.enc(CURVE).cert_path, stdin=CONTENT)
    _refused(pki, done.stdout, b"untrusted signer: unknown CA")


def test_open_refuses_an_expired_signer(pki: LabPki) -> None:
    signer = pki.parties["sig-expired"]
    done = smgwctl("cms", "seal", "--cert", signer.cert_path, "--key", signer.key_path,
                   "--recipient", pki.enc(CURVE).cert_path, "--chain", pki.sub.cert_path, stdin=CONTENT)
    _refused(pki, done.stdout, b"untrusted signer: expired")


def test_open_refuses_another_recipients_message(pki: LabPki) -> None:
    _refused(pki, smgwctl(*seal_args(pki), stdin=CONTENT).stdout, b"not for this recipient", recipient="enc-other")


def test_open_refuses_garbage(pki: LabPki) -> None:
    _refused(pki, b"\x30\x80 not CMS", b"malformed")


def test_seal_refuses_a_signature_certificate_as_recipient(pki: LabPki) -> None:
    signer = pki.sig(CURVE)
    done = smgwctl("cms", "seal", "--cert", signer.cert_path, "--key", signer.key_path,
                   "--recipient", signer.cert_path, stdin=CONTENT)
    assert (done.returncode, done.stdout) == (2, b"")
    assert b"does not allow keyAgreement" in done.stderr


def test_usage_errors_exit_1(pki: LabPki, tmp_path: Path) -> None:
    missing_trust = smgwctl("cms", "open", "--key", pki.enc(CURVE).key_path, "--cert", pki.enc(CURVE).cert_path)
    assert missing_trust.returncode == 1 and b"--trust" in missing_trust.stderr
    no_key = smgwctl(*seal_args(pki)[:5], tmp_path / "nope.key", *seal_args(pki)[6:], stdin=CONTENT)
    assert no_key.returncode == 1 and b"cannot read" in no_key.stderr and b"nope.key" in no_key.stderr
    (tmp_path / "bad.pem").write_bytes(b"hello")
    bad_cert = smgwctl("cms", "open", "--key", pki.enc(CURVE).key_path, "--cert", tmp_path / "bad.pem",
                       "--trust", pki.root.cert_path, stdin=b"")
    assert bad_cert.returncode == 1 and b"bad.pem: not a certificate" in bad_cert.stderr
    key_as_cert = smgwctl("cms", "open", "--key", pki.enc(CURVE).cert_path, "--cert", pki.enc(CURVE).cert_path,
                          "--trust", pki.root.cert_path, stdin=b"")
    assert key_as_cert.returncode == 1 and b"not a private key" in key_as_cert.stderr


def test_open_with_a_signer_role_applies_the_emps_rule(tmp_path: Path) -> None:
    """--signer-role SMGW: what the lab EMP demands, a gateway's signature certificate (OU=SMGW in the lab PKI)."""
    from smgwd.wan.pki import init_pki

    lab = tmp_path / "lab"
    init_pki(lab)
    (tmp_path / "in.xml").write_bytes(CONTENT)

    def sealed_by(who: str) -> bytes:
        done = smgwctl("cms", "seal", "--cert", lab / who / "sig.pem", "--key", lab / who / "sig.key",
                       "--recipient", lab / "emp/emp/enc.pem", "--chain", lab / "subca.pem", tmp_path / "in.xml")
        assert done.returncode == 0, done.stderr
        return done.stdout

    opening = ["cms", "open", "--key", lab / "emp/emp/enc.key", "--cert", lab / "emp/emp/enc.pem",
               "--trust", lab / "root.pem", "--signer-role", "SMGW"]
    taken = smgwctl(*opening, stdin=sealed_by("smgw/smgw"))
    assert taken.returncode == 0 and taken.stdout == CONTENT, taken.stderr
    refused = smgwctl(*opening, stdin=sealed_by("gwa/gwa"))
    assert refused.returncode == 2, refused.stderr
    assert b"refused: the signer is gwa (GWA, SIG certificate), not a SMGW signature certificate" in refused.stderr
    anyone = smgwctl(*opening[:-2], stdin=sealed_by("gwa/gwa"))
    assert anyone.returncode == 0 and anyone.stdout == CONTENT
