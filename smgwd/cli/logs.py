"""``smgwctl log system|calibration|consumer``: the TR-03109 logs kept in the store.

Entries at or after ``--since``, oldest first; ``--limit N`` keeps the newest
N of them (default 100; 0 for all). ``--format json`` gives JSON Lines with
the entry's structured ``data``.

``smgwctl log verify [system|calibration|consumer]`` checks the hash chain and
the signed checkpoints of one log, or of all three
(:mod:`smgwd.gateway.log_verify`): one line each (or a JSON object), exit 0
when all are intact, 2 naming the first broken entry of each broken one.
Checkpoints must be signed by the configured gateway signature certificate
when there is a configuration that names one, or by an earlier one of the same
gateway that chains to its CA (:mod:`smgwd.wan.log_signers`).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from smgwd.cli.store_common import CliError, EXIT_OK, iso, optional_gateway, parse_instant, run_on_store, write_table
from smgwd.gateway.store import LOG_KINDS, LogEntry, StoreReader

if TYPE_CHECKING:
    from smgwd.gateway.log_verify import Verdict

__all__ = ["EXIT_BROKEN", "entry_record", "run"]

EXIT_BROKEN = 2
CHAINED_SINCE = 3  # the schema version that chains the logs


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


def verify_logs(reader: StoreReader, args: argparse.Namespace) -> int:
    """``log verify``: check each chosen log; EXIT_BROKEN when one is broken."""
    from smgwd.gateway.log_verify import verify

    if reader.schema_version < CHAINED_SINCE:
        raise CliError(f"{reader.path}: schema version {reader.schema_version} has no hash chain yet; "
                       "start smgwd once to chain its logs")
    config = optional_gateway(args)
    accept = None
    if config is not None:
        from smgwd.wan.log_signers import gateway_signers

        try:
            accept = gateway_signers(config)
        except (OSError, ValueError) as error:
            raise CliError(f"{config.gateway.sig_cert}: not a usable certificate: {error}") from None
    pinned = accept is not None
    broken = False
    for kind in [args.which] if args.which else LOG_KINDS:
        verdict = verify(reader, kind, accept)
        broken |= not verdict.intact
        if args.format == "json":
            record = {"log": kind, "intact": verdict.intact, "entries": verdict.entries, "first": verdict.first,
                      "last": verdict.last, "cut_before": verdict.anchor, "broken": verdict.broken,
                      "reason": verdict.reason, "signed_up_to": verdict.signed_upto, "unsigned": verdict.unsigned,
                      "signers": list(verdict.signers), "signer_pinned": pinned}
            sys.stdout.write(json.dumps(record) + "\n")
        else:
            sys.stdout.write(_verdict_line(verdict, pinned) + "\n")
    return EXIT_BROKEN if broken else EXIT_OK


def _verdict_line(verdict: Verdict, pinned: bool) -> str:
    if not verdict.intact:
        return f"{verdict.kind}: BROKEN at entry {verdict.broken}: {verdict.reason}"
    if not verdict.entries:
        return f"{verdict.kind}: intact, no entries"
    span = f"{verdict.entries} entries ({verdict.first}..{verdict.last}"
    span += f", older ones cut up to {verdict.anchor})" if verdict.anchor is not None else ")"
    if verdict.signed_upto is None:
        signed = "no signed checkpoint"
    else:
        signed = f"signed up to {verdict.signed_upto} by {', '.join(verdict.signers)}"
        signed += "" if pinned else " (not pinned: no configured sig_cert)"
    unsigned = f"; {verdict.unsigned} newer not signed yet" if verdict.unsigned else ""
    return f"{verdict.kind}: intact, {span}, {signed}{unsigned}"


def run(args: argparse.Namespace) -> int:
    if args.kind == "verify":
        return run_on_store(args, lambda reader: verify_logs(reader, args))
    if args.which:
        raise CliError(f"log {args.kind}: unexpected argument {args.which!r} (only log verify takes a log)")
    return run_on_store(args, lambda reader: show_log(reader, args))
