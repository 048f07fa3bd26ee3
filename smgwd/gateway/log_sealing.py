"""When the gateway signs its logs' heads: at intervals and at stop, with the key ``[gateway]`` names.

How this works: :class:`LogSealing` opens a :class:`~smgwd.gateway.log_seal.LogSeal`
from the gateway's signature certificate and key (imported only then, so a
gateway without one never loads the cryptography). A key that cannot be used
is one error line and a ``log_seal_unavailable`` entry in the system log; a
gateway without any key gets one warning line; both go on chaining their
logs unsigned. :meth:`LogSealing.seal_now` commits what the store holds, then
signs each log's newest entry: the gateway calls it every
``[store] log_checkpoint_interval`` seconds and once more after its ``stop``
entry, so the last checkpoint covers the stop.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import TYPE_CHECKING

from smgwd.gateway.logsetup import fields
from smgwd.gateway.store import Store, StoreError, StoreReader

if TYPE_CHECKING:
    from smgwd.gateway.config import GatewayIdentity
    from smgwd.gateway.log_seal import LogSeal

__all__ = ["LogSealing"]

log = logging.getLogger("smgwd")
FLUSH_TIMEOUT = 10.0


class LogSealing:
    """The gateway's log signer, or the reason it has none (:attr:`unsigned`)."""

    def __init__(self, identity: GatewayIdentity, store: Store) -> None:
        self.store = store
        self.seal: LogSeal | None = None
        self.unsigned: str | None = None
        if identity.sig_cert is None or identity.sig_key is None:
            self.unsigned = "no signature key: set [gateway] sig_cert and sig_key, or configure an [[emps]] entry"
            log.warning("logs are hash-chained but not signed: %s", self.unsigned, extra=fields(event="log_unsigned"))
            return
        from smgwd.gateway.log_seal import LogSeal, LogSealError

        try:
            self.seal = LogSeal(identity.sig_cert, identity.sig_key)
        except LogSealError as error:
            self.unsigned = str(error)
            log.error("logs are hash-chained but not signed: %s", error, extra=fields(event="log_seal_unavailable"))
            store.log("system", "log_seal_unavailable", f"the logs' checkpoints cannot be signed: {error}")

    def seal_now(self) -> int:
        """Commit the store, then sign each log's newest entry not signed yet; how many checkpoints. Blocking."""
        if self.seal is None:
            return 0
        try:
            if not self.store.flush(FLUSH_TIMEOUT):
                log.warning("logs not signed now: the store did not commit within %g s", FLUSH_TIMEOUT,
                            extra=fields(event="log_seal_failed"))
                return 0
            with StoreReader(self.store.path) as reader:
                made = self.seal.seal(self.store, reader)
        except (StoreError, sqlite3.Error) as error:
            log.error("logs not signed now: %s", error, extra=fields(event="log_seal_failed"))
            return 0
        if made and not self.store.flush(FLUSH_TIMEOUT):
            log.warning("the logs' checkpoints are not committed yet", extra=fields(event="log_seal_failed"))
        return made
