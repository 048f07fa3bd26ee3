"""``smgwctl deliveries``: the delivery outbox, one line per message to an EMP.

Messages in creation order (the order they go out per EMP), optionally of one
state: ``queued`` (waiting, maybe after failed attempts: see ``next`` and
``reason``), ``sent`` (posted, no acknowledgement yet), ``acked`` (the EMP
acknowledged the id: done) or ``failed`` (the EMP refused it, with its
reason). ``--format json`` gives JSON Lines with the payload size.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from smgwd.cli.store_common import EXIT_OK, iso, run_on_store, write_table
from smgwd.gateway.store import OutboxEntry, StoreReader

__all__ = ["outbox_record", "run"]


def outbox_record(entry: OutboxEntry) -> dict[str, Any]:
    """The JSON object of one outbox message (without the payload itself)."""
    return {"message_id": entry.message_id, "emp": entry.emp, "created_at": iso(entry.created_at),
            "state": entry.state, "attempts": entry.attempts, "next_attempt_at": iso(entry.next_attempt_at),
            "acked_at": iso(entry.acked_at), "reason": entry.last_error, "bytes": len(entry.payload)}


def show_deliveries(reader: StoreReader, args: argparse.Namespace) -> int:
    entries = reader.outbox(args.state)
    if args.format == "json":
        for entry in entries:
            sys.stdout.write(json.dumps(outbox_record(entry), ensure_ascii=False) + "\n")
        return EXIT_OK
    rows = [(iso(e.created_at, "seconds"), e.emp, e.message_id, e.state, e.attempts,
             iso(e.acked_at if e.state == "acked" else e.next_attempt_at, "seconds"), e.last_error)
            for e in entries]
    write_table(("created", "emp", "message", "state", "attempts", "acked/next", "reason"), rows, sys.stdout,
                right=(4,))
    return EXIT_OK


def run(args: argparse.Namespace) -> int:
    return run_on_store(args, lambda reader: show_deliveries(reader, args))
