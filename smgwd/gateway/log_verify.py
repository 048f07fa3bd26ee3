"""Checking one log's hash chain and its signed checkpoints (``smgwctl log verify``).

How this works: the entries are read in id order from the anchor (the last
entry retention cut, or none: the chain starts from 32 zero bytes at id 1). Each id
must be the one before plus one, and each hash must be the hash of the entry
over the previous one (:func:`~smgwd.gateway.store.log_chain.entry_hash`);
the first that is not names the first broken entry: an edited entry fails its
own hash, a removed one leaves a missing id, an inserted or reordered one
fails the hash of the entry that follows its old neighbour. Then every
checkpoint (:mod:`smgwd.gateway.log_seal`): its signature must verify under
its certificate, that certificate must pass ``accept`` when it is given (the
gateway's signature certificate, or an earlier one of the same gateway that
chains to its CA: :func:`smgwd.wan.log_signers.gateway_signers`), and the
hash it signs must be the entry's: a checkpoint signing an entry that is no
longer there names that entry as removed. A checkpoint at or before the
anchor is checked against the anchor's hash, where it signs the cut entry.
Entries after the last checkpoint are chained but not yet signed (``unsigned``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from cryptography import x509

from smgwd.gateway.log_seal import checkpoint_signer
from smgwd.gateway.store import StoreReader
from smgwd.gateway.store.log_chain import GENESIS, entry_hash
from smgwd.gateway.store.rows import from_us

__all__ = ["Acceptor", "Verdict", "verify"]


@dataclass(frozen=True)
class Verdict:
    """What :func:`verify` found in one log."""

    kind: str
    entries: int  # entries read
    first: int | None  # their first id
    last: int | None  # their last id
    anchor: int | None  # the last id retention cut (None: nothing cut)
    broken: int | None = None  # the first broken entry's id (None: intact)
    reason: str | None = None
    signed_upto: int | None = None  # the newest entry a valid checkpoint signs
    signers: tuple[str, ...] = ()  # subjects of the checkpoints' certificates

    @property
    def intact(self) -> bool:
        return self.broken is None

    @property
    def unsigned(self) -> int:
        """Entries after the newest one a checkpoint signs."""
        if self.last is None:
            return 0
        return self.last - max(self.signed_upto or 0, (self.first or 1) - 1)


#: (a checkpoint's certificate, when it signed) -> None when it may sign the logs, else why not
Acceptor = Callable[[x509.Certificate, datetime], "str | None"]


def verify(reader: StoreReader, kind: str, accept: Acceptor | None = None) -> Verdict:
    """Check one log of the store (see the module comment)."""
    anchor = reader.log_anchor(kind)
    previous = GENESIS if anchor is None else anchor[1]
    expected = 1 if anchor is None else anchor[0] + 1
    checkpoints = reader.checkpoints(kind)
    wanted = {checkpoint.upto for checkpoint in checkpoints}
    hashes: dict[int, bytes] = {}  # the hashes checkpoints sign, of the entries read
    first = last = None
    count = 0

    def found(**more: object) -> Verdict:
        return Verdict(kind, count, first, last, None if anchor is None else anchor[0], **more)  # type: ignore[arg-type]

    for entry_id, at, event, meter_id, obis, message, data, stored in reader.chain_rows(kind):
        if entry_id != expected:
            return found(broken=expected, reason=f"entry {expected} is missing (the next one is {entry_id})")
        computed = entry_hash(kind, previous, entry_id, at, event, meter_id, obis, message, data)
        if stored is None or bytes(stored) != computed:
            return found(broken=entry_id, reason=f"entry {entry_id} does not match its hash: it was "
                           "changed, or an entry before it was removed, inserted or moved")
        previous = computed
        if entry_id in wanted:
            hashes[entry_id] = computed
        first = entry_id if first is None else first
        last = entry_id
        expected = entry_id + 1
        count += 1
    signed_upto = None
    signers: list[str] = []
    for checkpoint in checkpoints:
        where = f"checkpoint {checkpoint.id} (of entry {checkpoint.upto})"
        try:
            cert = checkpoint_signer(checkpoint)
        except ValueError as error:
            return found(broken=checkpoint.upto, reason=f"{where}: {error}")
        refusal = None if accept is None else accept(cert, from_us(checkpoint.at))
        if refusal is not None:
            return found(broken=checkpoint.upto, reason=f"{where}: {refusal}")
        if anchor is not None and checkpoint.upto < anchor[0]:
            continue  # it signs an entry retention cut before the anchor: nothing left to compare
        signed = anchor[1] if anchor is not None and checkpoint.upto == anchor[0] else hashes.get(checkpoint.upto)
        if signed is None:
            return found(broken=checkpoint.upto,
                           reason=f"entry {checkpoint.upto} is missing: {where} signed it")
        if signed != checkpoint.hash:
            return found(broken=checkpoint.upto,
                           reason=f"entry {checkpoint.upto} is not the one {where} signed: the log was changed up to it")
        signed_upto = max(signed_upto or 0, checkpoint.upto)
        subject = cert.subject.rfc4514_string()
        if subject not in signers:
            signers.append(subject)
    return found(signed_upto=signed_upto, signers=tuple(signers))
