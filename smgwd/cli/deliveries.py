"""``smgwctl deliveries``: the delivery outbox, one line per message to an EMP.

Messages in creation order (the order they go out per EMP), optionally of one
state: ``queued`` (waiting, maybe after failed attempts: see ``next`` and
``reason``), ``sent`` (posted, no acknowledgement yet), ``acked`` (the EMP
acknowledged the id: done) or ``failed`` (the EMP refused it, with its
reason). ``--format json`` gives JSON Lines with the payload size.

Without ``--state``, readings the builder set aside because they cannot be
rendered (see :mod:`smgwd.wan.delivery`) follow: a table section
"set aside: N reading(s)" with EMP, meter, OBIS, gateway time and reason, or
in JSON one object per reading with ``"state": "set_aside"``. Then each
EMP's progress: the last reading id taken, the start of the next period a
tariff use case closes (``taf1``/``taf2``/``taf7``), the messages made so far
(the last signed sequence number), when readings were last sent on demand
(TAF6), the id of the EMP's last TAF6 request handled and how many entries of
its requests answers were refused; in JSON one object per EMP with
``"state": "progress"``.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from smgwd.cli.store_common import EXIT_OK, iso, run_on_store, write_table
from smgwd.gateway.store import LogEntry, OutboxEntry, StoreReader
from smgwd.wan.delivery import SET_ASIDE_EVENT

__all__ = ["outbox_record", "progress_records", "run", "set_aside_record"]


def outbox_record(entry: OutboxEntry) -> dict[str, Any]:
    """The JSON object of one outbox message (without the payload itself)."""
    return {"message_id": entry.message_id, "emp": entry.emp, "created_at": iso(entry.created_at),
            "state": entry.state, "attempts": entry.attempts, "next_attempt_at": iso(entry.next_attempt_at),
            "acked_at": iso(entry.acked_at), "reason": entry.last_error, "bytes": len(entry.payload)}


def set_aside_record(entry: LogEntry) -> dict[str, Any]:
    """The JSON object of one reading set aside (from its system log entry)."""
    data = entry.data if isinstance(entry.data, dict) else {}
    return {"state": "set_aside", "emp": data.get("emp"), "meter": entry.meter_id, "obis": entry.obis,
            "gateway_time": data.get("gateway_time"), "set_aside_at": iso(entry.at), "reason": data.get("reason")}


#: gateway_state key (delivery.<emp>.<field>) -> the progress record's key
_PROGRESS = {"seq": "last_reading", "period": "next_period", "sequence": "messages", "taf6": "last_on_demand",
             "request": "last_request", "requests_refused": "requests_refused"}


def progress_records(state: dict[str, str]) -> list[dict[str, Any]]:
    """Each EMP's delivery progress from the gateway state (see the module comment), by EMP id."""
    found: dict[str, dict[str, Any]] = {}
    for key, value in state.items():
        if not key.startswith("delivery."):
            continue
        emp, _, field = key.removeprefix("delivery.").rpartition(".")
        if emp and field in _PROGRESS:
            record = found.setdefault(emp, {"state": "progress", "emp": emp, **dict.fromkeys(_PROGRESS.values())})
            record[_PROGRESS[field]] = int(value) if value.isdigit() else value
    return [found[emp] for emp in sorted(found)]


def show_deliveries(reader: StoreReader, args: argparse.Namespace) -> int:
    entries = reader.outbox(args.state)
    aside = [] if args.state else [set_aside_record(e) for e in reader.log("system", event=SET_ASIDE_EVENT)]
    progress = [] if args.state else progress_records(reader.state())
    if args.format == "json":
        for entry in entries:
            sys.stdout.write(json.dumps(outbox_record(entry), ensure_ascii=False) + "\n")
        for record in [*aside, *progress]:
            sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
        return EXIT_OK
    rows = [(iso(e.created_at, "seconds"), e.emp, e.message_id, e.state, e.attempts,
             iso(e.acked_at if e.state == "acked" else e.next_attempt_at, "seconds"), e.last_error)
            for e in entries]
    write_table(("created", "emp", "message", "state", "attempts", "acked/next", "reason"), rows, sys.stdout,
                right=(4,))
    if aside:
        sys.stdout.write(f"\nset aside: {len(aside)} reading(s) that cannot be rendered (never delivered)\n")
        write_table(("emp", "meter", "obis", "gateway time", "reason"),
                    [(r["emp"], r["meter"], r["obis"], r["gateway_time"], r["reason"]) for r in aside], sys.stdout)
    if progress:
        sys.stdout.write("\nprogress per EMP\n")
        write_table(("emp", "last reading", "next period", "messages", "last on demand", "last request",
                     "refused requests"),
                    [[r[name] for name in ("emp", *_PROGRESS.values())] for r in progress], sys.stdout,
                    right=(1, 3, 5, 6))
    return EXIT_OK


def run(args: argparse.Namespace) -> int:
    return run_on_store(args, lambda reader: show_deliveries(reader, args))
