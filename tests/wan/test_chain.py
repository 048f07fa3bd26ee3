"""Our chain verifier against lab PKI chains: it accepts what ``pki init`` makes and refuses, with the
reason, expired and not-yet-valid certificates, a foreign CA, the wrong usage, a CA:false issuer, tampered
bytes, a path length violation and untrusted self-signed certificates. Bad certificates are made with
``cryptography`` builders; where openssl has an opinion (``openssl verify``), it refuses them too."""

from __future__ import annotations

import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import NamedTuple

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from smgwd.wan.chain import ChainError, load_certs, verify_chain
from smgwd.wan.pki import init_pki

NOW = datetime.now(timezone.utc)
KEYS = {"tls": "digital_signature", "sig": "digital_signature content_commitment", "enc": "key_agreement",
        "ca": "key_cert_sign crl_sign", "none": ""}


class Lab(NamedTuple):
    root: x509.Certificate
    subca: x509.Certificate
    subca_key: ec.EllipticCurvePrivateKey
    dir: Path

    def cert(self, path: str) -> x509.Certificate:
        return load_certs((self.dir / path).read_bytes())[0]

    def key(self, path: str) -> ec.EllipticCurvePrivateKey:
        key = serialization.load_pem_private_key((self.dir / path).read_bytes(), password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return key


def make_lab(directory: Path, curve: str = "brainpool") -> Lab:
    init_pki(directory, curve=curve)
    subca_key = serialization.load_pem_private_key((directory / "private/subca.key").read_bytes(), None)
    assert isinstance(subca_key, ec.EllipticCurvePrivateKey)
    return Lab(*(load_certs((directory / f).read_bytes())[0] for f in ("root.pem", "subca.pem")), subca_key, directory)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Lab:
    return make_lab(tmp_path_factory.mktemp("lab"))


@pytest.fixture(scope="module")
def other_lab(tmp_path_factory: pytest.TempPathFactory) -> Lab:
    return make_lab(tmp_path_factory.mktemp("other"))


def make_cert(
    cn: str, issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey] | None = None,
    *, usage: str = "tls", ca: int | None | bool = False, days: tuple[float, float] = (-1, 30),
    key: ec.EllipticCurvePrivateKey | None = None, digest: hashes.HashAlgorithm | None = hashes.SHA256(),
    extra: x509.ExtensionType | None = None,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A certificate for CN=``cn`` signed by ``issuer`` (None: self-signed); ``ca`` False, True or a path length."""
    key = key or ec.generate_private_key(ec.BrainpoolP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    signer_cert, signer_key = issuer if issuer is not None else (None, key)
    builder = (
        x509.CertificateBuilder().subject_name(subject)
        .issuer_name(signer_cert.subject if signer_cert else subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW + timedelta(days=days[0])).not_valid_after(NOW + timedelta(days=days[1]))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if signer_cert is not None:
        ski = signer_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), False)
    if ca is not None:
        path_length = None if ca is True or ca is False else ca
        builder = builder.add_extension(x509.BasicConstraints(ca=ca is not False, path_length=path_length), True)
    if usage:
        bits = {name: name in KEYS[usage].split() for name in (
            "digital_signature", "content_commitment", "key_encipherment", "data_encipherment", "key_agreement",
            "key_cert_sign", "crl_sign", "encipher_only", "decipher_only")}
        builder = builder.add_extension(x509.KeyUsage(**bits), critical=True)
    if usage == "tls":
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    if extra is not None:
        builder = builder.add_extension(extra, critical=True)
    return builder.sign(signer_key, None if isinstance(signer_key, ed25519.Ed25519PrivateKey) else digest), key


def pem(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def openssl_verify(tmp_path: Path, lab: Lab, leaf: x509.Certificate, *untrusted: x509.Certificate) -> str:
    """openssl's verdict on ``leaf`` with the lab root trusted and the sub-CA (+ ``untrusted``) offered."""
    (tmp_path / "root.pem").write_bytes(pem(lab.root))
    (tmp_path / "untrusted.pem").write_bytes(pem(lab.subca, *untrusted))
    (tmp_path / "leaf.pem").write_bytes(pem(leaf))
    done = subprocess.run(["openssl", "verify", "-CAfile", "root.pem", "-untrusted", "untrusted.pem", "leaf.pem"],
                          cwd=tmp_path, capture_output=True, text=True)
    return done.stdout + done.stderr if done.returncode else "OK"


def refused(leaf: x509.Certificate, lab: Lab, *untrusted: x509.Certificate, purpose: str = "tls",
            at: datetime | None = None) -> str:
    with pytest.raises(ChainError) as caught:
        verify_chain(leaf, [lab.subca, *untrusted], [lab.root], purpose=purpose, at=at)
    assert str(caught.value) == caught.value.reason
    return caught.value.reason


# ---------------------------------------------------------------- accepted


@pytest.mark.parametrize("curve", ["brainpool", "p256"])
def test_accepts_every_lab_certificate_for_its_purpose(tmp_path: Path, curve: str) -> None:
    lab = make_lab(tmp_path, curve)
    for participant in ("smgw/smgw", "emp/emp", "gwa/gwa"):
        for kind, purpose in (("tls", "tls"), ("sig", "signature"), ("enc", "encryption")):
            leaf = lab.cert(f"{participant}/{kind}.pem")
            assert verify_chain(leaf, [lab.subca], [lab.root], purpose=purpose) == [leaf, lab.subca, lab.root]


def test_accepts_chain_given_as_pem_bundles_and_der(lab: Lab) -> None:
    chain = load_certs((lab.dir / "ca-chain.pem").read_bytes())
    assert chain == [lab.subca, lab.root]
    leaf = load_certs(lab.cert("emp/emp/sig.pem").public_bytes(serialization.Encoding.DER))[0]
    assert verify_chain(leaf, chain, chain[1:], purpose="signature")[-1] == lab.root
    # the sub-CA as the trust anchor is enough; the root need not be offered
    assert verify_chain(leaf, [], [lab.subca], purpose="signature") == [leaf, lab.subca]


def test_load_certs_skips_other_pem_blocks_and_rejects_garbage(lab: Lab) -> None:
    mixed = (lab.dir / "emp/emp/tls.key").read_bytes() + (lab.dir / "emp/emp/tls.pem").read_bytes()
    assert load_certs(mixed) == [lab.cert("emp/emp/tls.pem")]
    with pytest.raises(ValueError):
        load_certs((lab.dir / "emp/emp/tls.key").read_bytes())
    with pytest.raises(ValueError):
        load_certs(b"\x30\x03\x02\x01\x00")


def test_time_of_check_is_a_parameter_naive_means_utc(lab: Lab) -> None:
    leaf = lab.cert("smgw/smgw/tls.pem")
    verify_chain(leaf, [lab.subca], [lab.root], purpose="tls", at=NOW.replace(tzinfo=None) + timedelta(days=700))
    assert refused(leaf, lab, at=NOW.replace(tzinfo=None) + timedelta(days=800)).startswith("expired: 'CN=smgw TLS")


def test_renewed_ca_with_the_same_key_the_valid_path_wins(lab: Lab) -> None:
    """Two sub-CA certificates for one key, the first expired: the path through the second verifies."""
    root_key = lab.key("private/root.key")
    old, _ = make_cert("renewed CA", (lab.root, root_key), usage="ca", ca=0, days=(-60, -30), key=lab.subca_key)
    new, _ = make_cert("renewed CA", (lab.root, root_key), usage="ca", ca=0, key=lab.subca_key)
    leaf, _ = make_cert("leaf", (new, lab.subca_key))
    assert verify_chain(leaf, [old, new], [lab.root], purpose="tls") == [leaf, new, lab.root]
    assert refused(leaf, lab, old).startswith("expired: 'CN=renewed CA'")


def test_a_self_signed_certificate_is_accepted_only_as_a_trusted_root() -> None:
    cert, _ = make_cert("self", usage="tls")
    assert verify_chain(cert, [], [cert], purpose="tls") == [cert]
    with pytest.raises(ChainError, match=r"^self-signed certificate 'CN=self' is not trusted$"):
        verify_chain(cert, [cert], [], purpose="tls")


def test_unknown_purpose_is_a_programming_error(lab: Lab) -> None:
    with pytest.raises(ValueError, match="unknown purpose"):
        verify_chain(lab.cert("emp/emp/tls.pem"), [lab.subca], [lab.root], purpose="tls-server")


# ---------------------------------------------------------------- refused, with openssl agreeing


def test_expired_leaf(lab: Lab, tmp_path: Path) -> None:
    leaf, _ = make_cert("old", (lab.subca, lab.subca_key), days=(-30, -1))
    assert refused(leaf, lab).startswith("expired: 'CN=old' was valid until ")
    assert "certificate has expired" in openssl_verify(tmp_path, lab, leaf)


def test_not_yet_valid_leaf(lab: Lab, tmp_path: Path) -> None:
    leaf, _ = make_cert("early", (lab.subca, lab.subca_key), days=(1, 30))
    assert refused(leaf, lab).startswith("not yet valid: 'CN=early' is valid from ")
    assert "certificate is not yet valid" in openssl_verify(tmp_path, lab, leaf)


def test_expired_ca_fails_its_leaves(lab: Lab) -> None:
    leaf, _ = make_cert("long-lived", (lab.subca, lab.subca_key), days=(-1, 365 * 8))
    assert refused(leaf, lab, at=NOW + timedelta(days=365 * 6)).startswith(
        "expired: 'CN=smgwd lab Sub-CA,O=smgwd lab' was valid until ")


def test_certificate_of_another_lab_pki_with_the_same_names(lab: Lab, other_lab: Lab, tmp_path: Path) -> None:
    foreign = other_lab.cert("emp/emp/tls.pem")
    assert refused(foreign, lab) == (
        "wrong issuer / unknown CA: 'CN=emp TLS,OU=EMT,O=smgwd lab' was issued by a CA named "
        "'CN=smgwd lab Sub-CA,O=smgwd lab' whose key is not among the trusted and supplied certificates")
    # its own sub-CA offered along does not help: that one was issued by a foreign root
    assert refused(foreign, lab, other_lab.subca).startswith(
        "wrong issuer / unknown CA: 'CN=smgwd lab Sub-CA,O=smgwd lab' was issued by")
    assert "unable to get local issuer certificate" in openssl_verify(tmp_path, lab, foreign, other_lab.subca)


def test_unknown_ca_and_untrusted_root(lab: Lab, other_lab: Lab) -> None:
    leaf = lab.cert("emp/emp/tls.pem")
    with pytest.raises(ChainError, match=r"^unknown CA: no trusted or supplied certificate for issuer "
                                         r"'CN=smgwd lab Sub-CA,O=smgwd lab' of 'CN=emp TLS"):
        verify_chain(leaf, [], [other_lab.root], purpose="tls")
    with pytest.raises(ChainError, match=r"^unknown CA: the chain ends at the self-signed 'CN=smgwd lab Root CA"):
        verify_chain(leaf, [lab.subca, lab.root], [other_lab.root], purpose="tls")


def test_ca_false_used_as_issuer(lab: Lab, tmp_path: Path) -> None:
    tls = lab.cert("emp/emp/tls.pem")
    leaf, _ = make_cert("issued by a leaf", (tls, lab.key("emp/emp/tls.key")))
    assert refused(leaf, lab, tls) == "CA:false used as issuer: 'CN=emp TLS,OU=EMT,O=smgwd lab' is not a CA certificate"
    assert "invalid CA certificate" in openssl_verify(tmp_path, lab, leaf, tls)
    bare, bare_key = make_cert("no basic constraints", (lab.subca, lab.subca_key), usage="ca", ca=None)
    leaf, _ = make_cert("leaf", (bare, bare_key))
    assert refused(leaf, lab, bare).startswith("CA:false used as issuer: 'CN=no basic constraints'")


def test_ca_without_key_cert_sign(lab: Lab, tmp_path: Path) -> None:
    root_key = lab.key("private/root.key")
    ca, ca_key = make_cert("signing-less CA", (lab.root, root_key), usage="sig", ca=0)
    leaf, _ = make_cert("leaf", (ca, ca_key))
    assert refused(leaf, lab, ca) == "wrong key usage: 'CN=signing-less CA' lacks keyCertSign as issuer"
    assert "key usage does not include certificate signing" in openssl_verify(tmp_path, lab, leaf, ca)


def test_path_length_violation(lab: Lab, tmp_path: Path) -> None:
    below, below_key = make_cert("CA below the sub-CA", (lab.subca, lab.subca_key), usage="ca", ca=True)
    leaf, _ = make_cert("too deep", (below, below_key))
    assert refused(leaf, lab, below) == (
        "path too long: 'CN=smgwd lab Sub-CA,O=smgwd lab' allows 0 CA certificate(s) below it, the chain has 1")
    assert "path length constraint exceeded" in openssl_verify(tmp_path, lab, leaf, below)


@pytest.mark.parametrize("where", ["tbs", "signature"])
def test_tampered_certificate(lab: Lab, tmp_path: Path, where: str) -> None:
    der = bytearray(lab.cert("emp/emp/sig.pem").public_bytes(serialization.Encoding.DER))
    if where == "tbs":
        at = der.index(b"emp SIG")
        der[at + 6] ^= 0x01  # "emp SIF": still a valid certificate, but not the one the sub-CA signed
    else:
        der[-1] ^= 0x01  # the last byte of the signature's s
    tampered = load_certs(bytes(der))[0]
    assert refused(tampered, lab, purpose="signature").startswith(
        "bad signature: 'CN=emp SI")
    assert refused(tampered, lab, purpose="signature").endswith("does not verify with the key of "
                                                                "'CN=smgwd lab Sub-CA,O=smgwd lab'")
    assert "certificate signature failure" in openssl_verify(tmp_path, lab, tampered)


def test_issuer_key_of_another_algorithm_is_refused(lab: Lab) -> None:
    ed_key = ed25519.Ed25519PrivateKey.generate()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Ed25519 CA")])
    ed_ca = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(ed_key.public_key())
             .serial_number(1).not_valid_before(NOW - timedelta(days=1)).not_valid_after(NOW + timedelta(days=1))
             .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
             .add_extension(x509.SubjectKeyIdentifier.from_public_key(ed_key.public_key()), critical=False)
             .sign(ed_key, None))
    leaf, _ = make_cert("leaf", (ed_ca, ed_key))
    with pytest.raises(ChainError, match=r"^unsupported signature: 'CN=leaf' is not signed with ECDSA"):
        verify_chain(leaf, [], [ed_ca], purpose="tls")


def test_unhandled_critical_extension(lab: Lab, tmp_path: Path) -> None:
    odd = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.55555.1"), b"\x05\x00")
    leaf, _ = make_cert("odd", (lab.subca, lab.subca_key), extra=odd)
    assert refused(leaf, lab) == "unhandled critical extension 1.3.6.1.4.1.55555.1 in 'CN=odd'"
    assert "unhandled critical extension" in openssl_verify(tmp_path, lab, leaf)


# ---------------------------------------------------------------- wrong usage


@pytest.mark.parametrize(("kind", "purpose", "reason"), [
    ("tls", "signature", "lacks nonRepudiation for signature"),
    ("tls", "encryption", "lacks keyAgreement for encryption"),
    ("sig", "tls", "has no extended key usage serverAuth or clientAuth for tls"),
    ("sig", "encryption", "lacks keyAgreement for encryption"),
    ("enc", "signature", "lacks digitalSignature, nonRepudiation for signature"),
    ("enc", "tls", "lacks digitalSignature for tls"),
])
def test_lab_certificate_used_for_the_wrong_purpose(lab: Lab, kind: str, purpose: str, reason: str) -> None:
    leaf = lab.cert(f"gwa/gwa/{kind}.pem")
    assert refused(leaf, lab, purpose=purpose) == f"wrong key usage: '{leaf.subject.rfc4514_string()}' {reason}"


def test_leaf_without_key_usage_is_refused_for_every_purpose(lab: Lab) -> None:
    leaf, _ = make_cert("no usage", (lab.subca, lab.subca_key), usage="")
    for purpose in ("tls", "signature", "encryption"):
        assert refused(leaf, lab, purpose=purpose) == (
            f"wrong key usage: 'CN=no usage' has no key usage extension (needed for {purpose})")


def test_hostile_certificates_give_chain_errors_only(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A library error while reading a certificate (unknown curve, duplicate extension) is a ChainError."""
    import smgwd.wan.chain as chain_module
    from smgwd.wan.chain import ChainError as Refused

    def explode(*args: object, **kwargs: object) -> object:
        raise KeyError("subject attribute")

    monkeypatch.setattr(chain_module, "_paths", explode)
    import pytest as _pytest

    with _pytest.raises(Refused, match="unreadable certificate: KeyError"):
        chain_module.verify_chain(object(), [], [], purpose="tls")  # type: ignore[arg-type]
