"""``smgwctl log system|calibration|consumer``: the TR-03109 logs kept in the store.

Entries at or after ``--since``, oldest first; ``--limit N`` keeps the newest
N of them (default 100; 0 for all). ``--format json`` gives JSON Lines with
the entry's structured ``data``.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from smgwd.cli.store_common import EXIT_OK, iso, parse_instant, run_on_store, write_table
from smgwd.gateway.store import LogEntry, StoreReader

__all__ = ["entry_record", "run"]


def entry_record(entry: LogEntry) -> dict[str, Any]:
    """The JSON object of one log entry."""
    return {"id": entry.id, "at": iso(entry.at), "event": entry.event, "meter": entry.meter_id,
            "obis": entry.obis, "message": entry.message, "data": entry.data}


def show_log(reader: StoreReader, args: argparse.Namespace) -> int:
    entries = reader.log(args.kind, since=parse_instant(args.since, "--since"), limit=args.limit or None)
    if args.format == "json":
        for entry in entries:
            sys.stdout.write(json.dumps(entry_record(entry), ensure_ascii=False) + "\n")
        return EXIT_OK
    rows = [(iso(e.at, "milliseconds"), e.event, e.meter_id, e.obis, e.message) for e in entries]
    write_table(("at", "event", "meter", "obis", "message"), rows, sys.stdout)
    return EXIT_OK


def run(args: argparse.Namespace) -> int:
    return run_on_store(args, lambda reader: show_log(reader, args))
