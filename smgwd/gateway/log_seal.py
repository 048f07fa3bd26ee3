"""Signed checkpoints of the logs' hash chains (the chain itself: :mod:`smgwd.gateway.store.log_chain`).

How this works: at intervals (``[store] log_checkpoint_interval``) and at
every stop the gateway signs, for each log whose newest entry moved since its
last checkpoint, that entry's id and hash with its signature key
(``[gateway] sig_key``, by default the first EMP's): ECDSA with SHA-256 over

    b"smgwd log checkpoint 1\\0" + kind + b"\\0" + id (8 bytes) + hash (32 bytes) + at (8 bytes, microseconds)

(integers big-endian), stored in ``log_checkpoints`` with the certificate. An
entry removed, edited, inserted or reordered at or before a checkpoint
changes the hash it signs, and whoever changes the chain cannot sign anew
without the key. A gateway without a signature key chains its logs but signs
nothing (logged once at start).
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from smgwd.gateway.private_file import PrivateFileError, read_private
from smgwd.gateway.store import LOG_KINDS, Store, StoreReader
from smgwd.gateway.store.log_chain import Checkpoint
from smgwd.gateway.store.rows import to_us

__all__ = ["LogSeal", "LogSealError", "checkpoint_signer", "payload"]

log = logging.getLogger("smgwd")

MAGIC = b"smgwd log checkpoint 1\0"
_MAX_KEY = 64 * 1024


class LogSealError(Exception):
    """The signature key or certificate cannot be used; one line."""


def payload(kind: str, upto: int, hash_: bytes, at_us: int) -> bytes:
    """The bytes a checkpoint signs (see the module comment)."""
    return MAGIC + kind.encode() + b"\0" + upto.to_bytes(8, "big") + bytes(hash_) + at_us.to_bytes(8, "big", signed=True)


def checkpoint_signer(checkpoint: Checkpoint) -> x509.Certificate:
    """The certificate whose key made ``checkpoint``'s signature; ValueError (one line) when it did not."""
    try:
        cert = x509.load_der_x509_certificate(checkpoint.cert)
    except ValueError as error:
        raise ValueError(f"its certificate is not DER: {error}") from None
    key = cert.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ValueError("its certificate's key is not an EC key")
    try:
        key.verify(checkpoint.signature, payload(checkpoint.kind, checkpoint.upto, checkpoint.hash, checkpoint.at),
                   ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise ValueError(f"its signature does not verify under {cert.subject.rfc4514_string()}") from None
    return cert


class LogSeal:
    """Signs the heads of the logs with one key; see the module comment."""

    def __init__(self, cert_path: Path, key_path: Path, clock: Callable[[], datetime] | None = None) -> None:
        """Load the key (private: mode 0600) and its certificate; LogSealError naming the file if unusable."""
        try:
            key = serialization.load_pem_private_key(read_private(key_path, _MAX_KEY), None)
        except (PrivateFileError, ValueError, TypeError) as error:
            raise LogSealError(f"{key_path}: not a usable signature key: {error}") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise LogSealError(f"{key_path}: not an EC private key")
        try:
            cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        except (OSError, ValueError) as error:
            raise LogSealError(f"{cert_path}: not a usable certificate: {error}") from None
        public = cert.public_key()
        if not isinstance(public, ec.EllipticCurvePublicKey) or public.public_numbers() != key.public_key().public_numbers():
            raise LogSealError(f"{key_path} is not the key of {cert_path}")
        self._key = key
        self._cert = cert.public_bytes(serialization.Encoding.DER)
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self._sealed: dict[str, int] = {}  # kind -> the entry the last checkpoint signed

    def seal(self, store: Store, reader: StoreReader) -> int:
        """Sign each log's newest entry that no checkpoint signs yet (committed ones only); how many were signed.

        Blocking (it reads the store): call it off the event loop; flush the store first to include the newest.
        """
        made = 0
        for kind in LOG_KINDS:
            head = reader.log_head(kind)
            if head is None:
                continue
            if kind not in self._sealed:
                signed = reader.checkpoints(kind)
                self._sealed[kind] = signed[-1].upto if signed else 0
            upto, hash_ = head
            if upto <= self._sealed[kind]:
                continue
            now = self.clock()
            signature = self._key.sign(payload(kind, upto, hash_, to_us(now)), ec.ECDSA(hashes.SHA256()))
            store.add_checkpoint(kind, upto, hash_, now, signature, self._cert)
            self._sealed[kind] = upto
            made += 1
        return made
