"""Key custody and revocation in the lab PKI: CA keys encrypted at rest, a CRL that openssl and smgwd both honour.

``openssl`` is the independent judge: it decrypts the CA keys with the
passphrase (and not without), names their PBES2 parameters, and refuses a
revoked certificate with ``-crl_check``. Then the gateway and the lab EMP are
shown to refuse the same certificates over real mutual TLS and CMS.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography import x509

from smgwd.emp.main import open_emp
from smgwd.emp.config import load_emp_config
from smgwd.demo import EMP_TOML
from smgwd.gateway.store import OutboxEntry, Store, StoreReader
from smgwd.wan.chain import ChainError, load_certs, verify_chain
from smgwd.wan.credentials import CredentialError, check_emp
from smgwd.wan.delivery import EmpDelivery
from smgwd.wan.pki import PkiError, init_pki, issue
from smgwd.wan.pki_revocation import load_crls, publish_crl, revoke
from tests.wan.test_delivery import Clock, emp_config, readings

SECRET = b"correct horse battery"


def smgwctl(*words: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "smgwd.cli.main", "pki", *words], capture_output=True, text=True,
                          timeout=60)


def openssl(*words: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", *words], capture_output=True, text=True, timeout=60)


def secret_file(tmp_path: Path, mode: int = 0o600) -> Path:
    path = tmp_path / "ca.pass"
    path.write_bytes(SECRET + b"\n")
    path.chmod(mode)
    return path


def test_ca_keys_are_encrypted_and_openssl_opens_them_only_with_the_passphrase(tmp_path: Path) -> None:
    lab = tmp_path / "lab"
    done = smgwctl("init", str(lab), "--passphrase-file", str(secret_file(tmp_path)))
    assert done.returncode == 0, done.stderr
    for key in ("private/root.key", "private/subca.key"):
        assert (lab / key).read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
        assert openssl("pkey", "-in", str(lab / key), "-passin", f"file:{tmp_path / 'ca.pass'}", "-noout").returncode == 0
        assert openssl("pkey", "-in", str(lab / key), "-passin", "pass:wrong-guess", "-noout").returncode != 0
        parsed = openssl("asn1parse", "-in", str(lab / key)).stdout
        assert "PBES2" in parsed and "PBKDF2" in parsed and "aes-256-cbc" in parsed and "hmacWithSHA256" in parsed
    for participant in ("smgw/smgw/sig.key", "emp/emp/enc.key", "gwa/gwa/tls.key"):
        text = (lab / participant).read_bytes()
        assert text.startswith(b"-----BEGIN PRIVATE KEY-----")  # the daemons start unattended
        assert (lab / participant).stat().st_mode & 0o077 == 0
    assert "CA keys are encrypted" in (lab / "README").read_text()


def test_the_sub_ca_is_used_only_with_the_right_passphrase(tmp_path: Path) -> None:
    lab = tmp_path / "lab"
    init_pki(lab, passphrase=SECRET)
    missing = smgwctl("issue", str(lab), "--role", "emp", "grid")
    assert missing.returncode == 1 and "subca.key is encrypted: give its passphrase" in missing.stderr
    wrong = tmp_path / "wrong.pass"
    wrong.write_text("not the passphrase\n")
    wrong.chmod(0o600)
    assert "wrong passphrase" in smgwctl("issue", str(lab), "--role", "emp", "grid", "--passphrase-file",
                                         str(wrong)).stderr
    assert not (lab / "emp/grid").exists()
    loose = secret_file(tmp_path, 0o644)
    refused = smgwctl("issue", str(lab), "--role", "emp", "grid", "--passphrase-file", str(loose))
    assert refused.returncode == 1 and "chmod 600" in refused.stderr, refused.stderr
    loose.chmod(0o600)
    assert smgwctl("issue", str(lab), "--role", "emp", "grid", "--passphrase-file", str(loose)).returncode == 0
    with pytest.raises(PkiError, match="shorter than 8"):
        init_pki(tmp_path / "short", passphrase=b"1234")


def test_a_revoked_certificate_is_refused_by_openssl_and_by_the_chain_check(tmp_path: Path) -> None:
    lab = tmp_path / "lab"
    init_pki(lab, passphrase=SECRET)
    done = smgwctl("revoke", str(lab), "--role", "emp", "emp", "--kind", "enc", "--reason", "key lost",
                   "--passphrase-file", str(secret_file(tmp_path)))
    assert done.returncode == 0 and "revoked CN=emp ENC" in done.stdout, done.stderr
    crl = lab / "crl.pem"
    listed = openssl("crl", "-in", str(crl), "-noout", "-text").stdout
    serial = f"{x509.load_pem_x509_certificate((lab / 'emp/emp/enc.pem').read_bytes()).serial_number:X}"
    assert serial in listed.replace(":", "").upper()
    judged = openssl("verify", "-crl_check", "-CAfile", str(lab / "ca-chain.pem"), "-CRLfile", str(crl),
                     str(lab / "emp/emp/enc.pem"))
    assert judged.returncode != 0 and "certificate revoked" in judged.stdout + judged.stderr
    assert openssl("verify", "-crl_check", "-CAfile", str(lab / "ca-chain.pem"), "-CRLfile", str(crl),
                   str(lab / "emp/emp/tls.pem")).returncode == 0
    cas = load_certs((lab / "ca-chain.pem").read_bytes())
    roots = [c for c in cas if c.issuer == c.subject]
    crls = load_crls(crl.read_bytes())
    with pytest.raises(ChainError, match="revoked: 'CN=emp ENC"):
        verify_chain(load_certs((lab / "emp/emp/enc.pem").read_bytes())[0], cas, roots, purpose="encryption",
                     crls=crls)
    verify_chain(load_certs((lab / "emp/emp/tls.pem").read_bytes())[0], cas, roots, purpose="tls", crls=crls)


def test_an_expired_or_foreign_crl_is_refused(tmp_path: Path) -> None:
    lab, other = tmp_path / "lab", tmp_path / "other"
    init_pki(lab)
    init_pki(other)  # the same names, other keys
    cas = load_certs((lab / "ca-chain.pem").read_bytes())
    roots = [c for c in cas if c.issuer == c.subject]
    leaf = load_certs((lab / "smgw/smgw/sig.pem").read_bytes())[0]
    old = datetime.now(timezone.utc) - timedelta(days=3)
    publish_crl(lab, now=old, days=1)
    with pytest.raises(ChainError, match="expired CRL"):
        verify_chain(leaf, cas, roots, purpose="signature", crls=load_crls((lab / "crl.pem").read_bytes()))
    with pytest.raises(ChainError, match="bad CRL"):
        verify_chain(leaf, cas, roots, purpose="signature", crls=load_crls((other / "crl.pem").read_bytes()))


def test_a_revoked_emp_gets_nothing_and_the_reason_is_clear(tmp_path: Path) -> None:
    base = tmp_path / "base"
    init_pki(base / "lab")
    revoke(base / "lab", "emp", "emp", ("enc",))
    emp = emp_config(base, 1, crl=base / "lab/crl.pem")
    with pytest.raises(CredentialError) as caught:
        check_emp(emp, "emps[0]")
    assert caught.value.key == "emps[0].recipient" and "revoked: 'CN=emp ENC" in caught.value.problem
    revoke(base / "lab", "smgw", "smgw", ("sig",))
    with pytest.raises(CredentialError, match="emps\\[0\\].recipient"):
        check_emp(emp, "emps[0]")  # the first problem is named first
    issue(base / "lab", "emp", "emp", force=True)  # the EMP gets new certificates: its delivery may start again
    assert "sig_cert" in _problem(emp)  # ... but now the gateway's own signature certificate is the revoked one


def _problem(emp: object) -> str:
    try:
        check_emp(emp, "emps[0]")  # type: ignore[arg-type]
    except CredentialError as error:
        return error.key
    return ""


class LabEmp:
    """The lab EMP of the demo's configuration with ``[tls] crl``, serving in this process."""

    def __init__(self, base: Path) -> None:
        (base / "pki").symlink_to(base / "lab")
        config = base / "emp.toml"
        config.write_text(EMP_TOML.format(port=0, meters='"*"').replace('client_ca = "pki/ca-chain.pem"',
                                                                        'client_ca = "pki/ca-chain.pem"\ncrl = "pki/crl.pem"'))
        self.service, self.server = open_emp(load_emp_config(config))
        self.server.serve_in_thread()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.service.store.close()


def deliver_once(tmp_path: Path, base: Path, emp: LabEmp, **changes: object) -> tuple[OutboxEntry, tuple[int, int]]:
    """One reading built and posted once to ``emp``: the gateway's outbox entry, and what the EMP stored."""
    store = Store(tmp_path / "gw.db", flush_interval=0.05)
    store.start()
    try:
        sender = EmpDelivery(emp_config(base, emp.server.port, **changes), "gw", store, clock=Clock(),
                             backoff=lambda n: 60.0)
        store.on_readings(readings(0, 1))
        sender.build()
        sender.send_next()
        sender.close()
        assert store.flush(10)
        with StoreReader(store.path) as reader:
            (entry,) = reader.outbox()
        return entry, emp.service.store.counts()
    finally:
        store.stop(10)
        emp.stop()


@pytest.mark.parametrize("revoked, refusal", [("tls", "unknown_client"), ("sig", "bad_signature")])
def test_the_lab_emp_refuses_a_revoked_gateway(tmp_path: Path, revoked: str, refusal: str) -> None:
    base = tmp_path / "base"
    base.mkdir()
    init_pki(base / "lab")
    revoke(base / "lab", "smgw", "smgw", (revoked,))
    emp = LabEmp(base)
    entry, stored = deliver_once(tmp_path, base, emp)
    assert emp.service.counters[refusal] == 1 and stored == (0, 0)
    if revoked == "sig":
        assert entry.state == "failed" and "revoked: 'CN=smgw SIG" in (entry.last_error or "")
    else:
        assert entry.state == "queued" and entry.last_error  # refused in the handshake: tried again later


def test_the_gateway_refuses_an_emp_whose_tls_certificate_is_revoked(tmp_path: Path) -> None:
    base = tmp_path / "base"
    base.mkdir()
    init_pki(base / "lab")
    revoke(base / "lab", "emp", "emp", ("tls",))
    emp = LabEmp(base)
    entry, stored = deliver_once(tmp_path, base, emp, crl=base / "lab/crl.pem")
    assert entry.state == "queued" and "certificate revoked" in (entry.last_error or ""), entry.last_error
    assert stored == (0, 0)


def test_a_certificate_request_is_signed_only_for_its_participant_and_curve(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from smgwd.wan.pki_requests import sign_request

    lab = tmp_path / "lab"
    init_pki(lab, passphrase=SECRET)
    subject = x509.load_pem_x509_certificate((lab / "smgw/smgw/sig.pem").read_bytes()).subject

    def request(name: x509.Name, curve: ec.EllipticCurve = ec.BrainpoolP256R1()) -> bytes:
        key = ec.generate_private_key(curve)
        return x509.CertificateSigningRequestBuilder().subject_name(name).sign(key, hashes.SHA256()).public_bytes(
            serialization.Encoding.PEM)

    good = request(subject)
    cert = x509.load_pem_x509_certificate(sign_request(lab, good, "smgw", "smgw", "sig", passphrase=SECRET))
    assert cert.subject == subject
    (tmp_path / "new.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    assert openssl("verify", "-CAfile", str(lab / "ca-chain.pem"), str(tmp_path / "new.pem")).returncode == 0
    with pytest.raises(PkiError, match="expected CN=smgw TLS"):
        sign_request(lab, good, "smgw", "smgw", "tls", passphrase=SECRET)  # a SIG subject for the TLS kind
    with pytest.raises(PkiError, match="curve"):
        sign_request(lab, request(subject, ec.SECP256R1()), "smgw", "smgw", "sig", passphrase=SECRET)
    with pytest.raises(PkiError, match="is encrypted"):
        sign_request(lab, good, "smgw", "smgw", "sig")
    tampered = good.replace(good.splitlines()[3], good.splitlines()[3][:-4] + b"AAAA")
    with pytest.raises(PkiError):
        sign_request(lab, tampered, "smgw", "smgw", "sig", passphrase=SECRET)
