"""``smgwctl cms seal`` and ``smgwctl cms open``: TR-03116-3 CMS messages, like ``openssl cms``.

How this works: ``seal`` reads the content (a file, or stdin for ``-``),
encrypts it for every ``--recipient`` encryption certificate and signs the
result with ``--cert``/``--key`` (:func:`smgwd.wan.cms.seal`), and writes the
DER message to stdout. ``open`` reads a message (DER or PEM), verifies the
signature and the signer's chain up to a ``--trust`` root (``--untrusted``
certificates may complete it) and decrypts it with ``--key``/``--cert``
(:func:`smgwd.wan.cms.open_`), writing the content to stdout. Certificates
are PEM (several per file allowed) or DER; keys are unencrypted PEM or DER.

Exit status: 0 done; 1 usage error, or a file, key or certificate that cannot
be read; 2 the message (or a certificate given for sealing) was refused, with
the reason on stderr and nothing on stdout.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_private_key, load_pem_private_key

from smgwd.wan.chain import load_certs
from smgwd.wan.cms import KARI_BSI, KARI_RFC5753, CmsError, UntrustedSignerError, open_, seal
from smgwd.wan.roles import participant

__all__ = ["KARI_CHOICES", "run_open", "run_seal"]

EXIT_OK, EXIT_USAGE, EXIT_REFUSED = 0, 1, 2
#: --kari value -> key agreement OID
KARI_CHOICES = {"rfc5753": KARI_RFC5753, "bsi": KARI_BSI}


class _InputError(Exception):
    """A file, key or certificate that cannot be used (exit status 1)."""


def _read(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        with open(path, "rb") as stream:
            return stream.read()
    except OSError as error:
        raise _InputError(f"cannot read {path}: {error.strerror}") from None


def _certs(paths: Sequence[str]) -> list[x509.Certificate]:
    found: list[x509.Certificate] = []
    for path in paths:
        try:
            found.extend(load_certs(_read(path)))
        except ValueError as error:
            raise _InputError(f"{path}: not a certificate: {error}") from None
    return found


def _key(path: str) -> ec.EllipticCurvePrivateKey:
    data = _read(path)
    try:
        key = load_pem_private_key(data, None) if b"-----BEGIN" in data else load_der_private_key(data, None)
    except TypeError:
        raise _InputError(f"{path}: the key is encrypted; give an unencrypted key") from None
    except (ValueError, UnsupportedAlgorithm) as error:
        raise _InputError(f"{path}: not a private key: {error}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise _InputError(f"{path}: not an EC private key")
    return key


def _run(args: argparse.Namespace, command: str) -> int:
    try:
        output = _seal(args) if command == "seal" else _open(args)
    except _InputError as error:
        print(f"smgwctl cms {command}: {error}", file=sys.stderr)
        return EXIT_USAGE
    except CmsError as error:
        print(f"smgwctl cms {command}: refused: {error.reason}", file=sys.stderr)
        return EXIT_REFUSED
    sys.stdout.buffer.write(output)
    sys.stdout.flush()
    return EXIT_OK


def _seal(args: argparse.Namespace) -> bytes:
    signer = _certs([args.cert])[0]
    key = _key(args.key)
    recipients = _certs(args.recipient)
    chain = _certs(args.chain or [])
    return seal(_read(args.file), signer_cert=signer, signer_key=key, recipient_certs=recipients, chain=chain,
                kari_oid=KARI_CHOICES[args.kari])


def _open(args: argparse.Namespace) -> bytes:
    cert = _certs([args.cert])[0]
    key = _key(args.key)
    trust = _certs(args.trust)
    untrusted = _certs(args.untrusted or [])
    opened = open_(_read(args.file), recipient_key=key, recipient_cert=cert, trust=trust, untrusted=untrusted)
    signer = participant(opened.signer_cert)
    if args.signer_role is not None and (signer.role != args.signer_role or signer.kind != "SIG"):
        raise UntrustedSignerError(f"the signer is {signer.describe()}, not a {args.signer_role} signature certificate")
    return opened.content


def run_seal(args: argparse.Namespace) -> int:
    """``smgwctl cms seal``; returns the exit status."""
    return _run(args, "seal")


def run_open(args: argparse.Namespace) -> int:
    """``smgwctl cms open``; returns the exit status."""
    return _run(args, "open")
