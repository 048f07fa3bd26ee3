"""The gateway's SQLite store: readings, meters, the three TR-03109 logs, gateway state, outbox.

One process writes (:class:`Store`: one thread, one connection, batched
commits in WAL mode with ``synchronous=FULL``); any number read
(:class:`StoreReader`, read-only, while the daemon writes).

Loss bound: on kill -9 or power loss at any moment, what is lost is at most
the readings not yet committed: those queued since the last commit (at most
``batch_size`` readings or ``flush_interval`` seconds of readings, whichever
comes first) plus the one batch in flight (at most ``batch_size``); the
database always opens afterwards (WAL recovery). A reading counts in
:attr:`Store.acknowledged` only once its transaction is on disk. If the disk
falls behind, up to ``max_queue`` readings wait in memory; beyond that new
readings are dropped, counted and noted in the system log.

gateway_state keys written by the daemon: ``time.<name>`` from the NTP
timebase (quality, offset, stratum, ...), shown by ``smgwctl status``;
``delivery.<emp>.seq``, the id of the last reading an EMP's delivery has taken
(committed with the outbox messages that hold them, see :meth:`Store.enqueue`);
reading ids only grow, in the order the writer committed the readings.
"""

from smgwd.gateway.store.reader import LogEntry, MeterInfo, OutboxEntry, StoreReader
from smgwd.gateway.store.errors import SchemaError, StoreError
from smgwd.gateway.store.schema import LOG_KINDS, MIGRATIONS
from smgwd.gateway.store.writer import Store, StoreStats, SystemNote

__all__ = [
    "LOG_KINDS", "LogEntry", "MIGRATIONS", "MeterInfo", "OutboxEntry", "SchemaError", "Store",
    "StoreError", "StoreReader", "StoreStats", "SystemNote", "SCHEMA_VERSION",
]

#: The schema version this code writes.
SCHEMA_VERSION = len(MIGRATIONS)
