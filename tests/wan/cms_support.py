"""A test PKI made by the ``openssl`` binary (the independent judge) and openssl cms helpers.

How this works: :func:`make_pki` runs ``openssl genpkey``/``req``/``x509`` to
make an SM-PKI-shaped hierarchy: root CA (brainpoolP384r1, SHA-384), sub-CA
(brainpoolP256r1), and for each curve of :data:`CURVES` a signature
certificate (digitalSignature, nonRepudiation) and an encryption certificate
(keyAgreement). Besides: a second recipient, an expired signer
(``-days -1``), and a foreign root with its own signer. The ``pki`` fixture
makes it once per test session; test modules import it from here.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_private_key

CURVES = ("brainpoolP256r1", "brainpoolP384r1", "prime256v1")
_HASH = {"brainpoolP256r1": "sha256", "brainpoolP384r1": "sha384", "prime256v1": "sha256"}
_CA_EXT = "basicConstraints=critical,CA:TRUE,pathlen:{pathlen}\nkeyUsage=critical,keyCertSign,cRLSign\n" \
          "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n"
_LEAF_EXT = "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,{usage}\n" \
            "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n"
SIGNATURE, ENCRYPTION = "digitalSignature,nonRepudiation", "keyAgreement"


def openssl(*args: str | Path, stdin: bytes | None = None) -> bytes:
    """Run the openssl binary; its stdout (raises with its stderr on failure)."""
    done = subprocess.run(["openssl", *map(str, args)], input=stdin, capture_output=True, timeout=60)
    if done.returncode != 0:
        raise AssertionError(f"openssl {' '.join(map(str, args))} failed ({done.returncode}): "
                             f"{done.stderr.decode(errors='replace')}")
    return done.stdout


@dataclass(frozen=True)
class Party:
    """A certificate and its key, as files and as objects."""

    cert_path: Path
    key_path: Path
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey


@dataclass
class LabPki:
    directory: Path
    root: Party
    sub: Party
    trust_path: Path  # root and sub-CA in one file, for openssl cms -verify -CAfile
    parties: dict[str, Party] = field(default_factory=dict)

    def sig(self, curve: str) -> Party:
        return self.parties[f"sig-{curve}"]

    def enc(self, curve: str) -> Party:
        return self.parties[f"enc-{curve}"]


def _party(directory: Path, name: str) -> Party:
    cert_path, key_path = directory / f"{name}.pem", directory / f"{name}.key"
    key = load_pem_private_key(key_path.read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return Party(cert_path, key_path, x509.load_pem_x509_certificate(cert_path.read_bytes()), key)


def _key(directory: Path, name: str, curve: str) -> Path:
    path = directory / f"{name}.key"
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", f"ec_paramgen_curve:{curve}",
            "-pkeyopt", "ec_param_enc:named_curve", "-out", path)
    return path


def _root(directory: Path, name: str, curve: str) -> Party:
    key = _key(directory, name, curve)
    openssl("req", "-new", "-x509", "-key", key, f"-{_HASH[curve]}", "-days", "3650", "-subj", f"/CN=Lab {name}",
            "-addext", "basicConstraints=critical,CA:TRUE,pathlen:1",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            "-addext", "subjectKeyIdentifier=hash", "-out", directory / f"{name}.pem")
    return _party(directory, name)


def issue(directory: Path, name: str, curve: str, issuer: Party, extensions: str, *, days: int = 365) -> Party:
    """A certificate for a fresh key on ``curve``, signed by ``issuer`` (``days`` -1: already expired)."""
    key = _key(directory, name, curve)
    csr, ext = directory / f"{name}.csr", directory / f"{name}.ext"
    ext.write_text(extensions)
    openssl("req", "-new", "-key", key, "-subj", f"/CN=Lab {name}", "-out", csr)
    issuer_curve = issuer.key.curve.name
    openssl("x509", "-req", "-in", csr, "-CA", issuer.cert_path, "-CAkey", issuer.key_path, "-set_serial",
            str(int.from_bytes(name.encode(), "big") % 2**63), f"-{_HASH.get(issuer_curve, 'sha256')}",
            "-days", str(days), "-extfile", ext, "-out", directory / f"{name}.pem")
    return _party(directory, name)


def make_pki(directory: Path) -> LabPki:
    """The whole test PKI in ``directory`` (see the module docstring)."""
    root = _root(directory, "root", "brainpoolP384r1")
    sub = issue(directory, "subca", "brainpoolP256r1", root, _CA_EXT.format(pathlen=0), days=1000)
    trust = directory / "trust.pem"
    trust.write_bytes(root.cert_path.read_bytes() + sub.cert_path.read_bytes())
    pki = LabPki(directory, root, sub, trust)
    for curve in CURVES:
        pki.parties[f"sig-{curve}"] = issue(directory, f"sig-{curve}", curve, sub, _LEAF_EXT.format(usage=SIGNATURE))
        pki.parties[f"enc-{curve}"] = issue(directory, f"enc-{curve}", curve, sub, _LEAF_EXT.format(usage=ENCRYPTION))
    leaf = _LEAF_EXT.format(usage=SIGNATURE)
    pki.parties["enc-other"] = issue(directory, "enc-other", "brainpoolP256r1", sub, _LEAF_EXT.format(usage=ENCRYPTION))
    pki.parties["sig-expired"] = issue(directory, "sig-expired", "brainpoolP256r1", sub, leaf, days=-1)
    foreign = _root(directory, "foreign-root", "brainpoolP256r1")
    pki.parties["foreign-root"] = foreign
    pki.parties["sig-foreign"] = issue(directory, "sig-foreign", "brainpoolP256r1", foreign, leaf)
    return pki


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> LabPki:
    return make_pki(tmp_path_factory.mktemp("cms-pki"))


def tlv(tag: int, body: bytes) -> bytes:
    """One DER TLV (written here by hand, independent of the code under test)."""
    if len(body) < 0x80:
        return bytes([tag, len(body)]) + body
    size = len(body).to_bytes((len(body).bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + body


#: DER of OID id-ct-authEnvelopedData (1.2.840.113549.1.9.16.1.23)
AUTH_ENVELOPED_OID = bytes.fromhex("060b2a864886f70d0109100117")


def wrap_auth_enveloped(aed: bytes) -> bytes:
    """ContentInfo{id-ct-authEnvelopedData, [0] aed}: what ``openssl cms -decrypt`` wants after ``-verify``."""
    return tlv(0x30, AUTH_ENVELOPED_OID + tlv(0xA0, aed))


def inner_of_content_info(path: Path, out: Path) -> Path:
    """The content of a ContentInfo (the SEQUENCE inside ``[0]``), cut out by ``openssl asn1parse -strparse``."""
    listing = openssl("asn1parse", "-inform", "DER", "-in", path).decode()
    offset = next(int(line.split(":")[0]) for line in listing.splitlines() if "d=2" in line)
    openssl("asn1parse", "-inform", "DER", "-in", path, "-strparse", str(offset), "-noout", "-out", out)
    return out


def openssl_seal(pki: LabPki, directory: Path, content: bytes, signer: Party, recipients: list[Party], *,
                 extra: tuple[str, ...] = ("-keyopt", "ecdh_kdf_md:sha256"), outform: str = "DER",
                 sign_options: tuple[str, ...] = ()) -> bytes:
    """TR-03116-3 §8 by the openssl CLI: ``cms -encrypt -aes-128-gcm``, then ``cms -sign`` of the AuthEnvelopedData."""
    plain, envelope, inner = directory / "plain.bin", directory / "ossl_aed.der", directory / "ossl_aed_inner.der"
    plain.write_bytes(content)
    recips = [arg for party in recipients for arg in ("-recip", str(party.cert_path), *extra)]
    openssl("cms", "-encrypt", "-binary", "-aes-128-gcm", "-in", plain, *recips, "-outform", "DER", "-out", envelope)
    inner_of_content_info(envelope, inner)
    return openssl_sign(pki, inner, signer, outform=outform, options=sign_options)


def openssl_sign(pki: LabPki, econtent: Path, signer: Party, *, outform: str = "DER",
                 econtent_type: str = "id-smime-ct-authEnvelopedData", options: tuple[str, ...] = ()) -> bytes:
    """``openssl cms -sign`` of the file ``econtent`` with the given eContentType, sub-CA sent along."""
    return openssl("cms", "-sign", "-binary", "-nodetach", *options, "-md", "sha256", "-econtent_type", econtent_type,
                   "-in", econtent, "-signer", signer.cert_path, "-inkey", signer.key_path,
                   "-certfile", pki.sub.cert_path, "-outform", outform)


def openssl_open(pki: LabPki, directory: Path, message: bytes, recipient: Party) -> bytes:
    """``openssl cms -verify`` (root and sub-CA as CAfile), then ``openssl cms -decrypt``: the content."""
    signed, inner, wrapped = directory / "msg.p7m", directory / "verified.der", directory / "verified_ci.der"
    signed.write_bytes(message)
    openssl("cms", "-verify", "-inform", "DER", "-in", signed, "-CAfile", pki.trust_path, "-out", inner)
    wrapped.write_bytes(wrap_auth_enveloped(inner.read_bytes()))
    return openssl("cms", "-decrypt", "-inform", "DER", "-in", wrapped, "-recip", recipient.cert_path,
                   "-inkey", recipient.key_path)
