"""``smgwctl pki init|issue|show``: the lab PKI (:mod:`smgwd.wan.pki`) from the command line.

Exit status: 0 done; 1 usage error or a refusal (existing PKI without
``--force``, no PKI in DIR, bad name), with one line on stderr; ``show``
exits 2 when a participant's chain does not verify (its reason is in the
CHECK column).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from smgwd.cli.store_common import iso, write_table
from smgwd.wan.pki import ROLES, CertInfo, PkiError, describe, init_pki, issue

__all__ = ["run"]

EXIT_OK, EXIT_FAILED, EXIT_BAD_CHAIN = 0, 1, 2
#: role -> the ``pki init`` option naming its participants
ROLE_OPTIONS = {"smgw": "gateway", "emp": "emp", "gwa": "gwa"}


def _init(args: argparse.Namespace) -> int:
    participants = [(role, name) for role in ROLES for name in (getattr(args, ROLE_OPTIONS[role]) or [role])]
    index = init_pki(Path(args.dir), curve=args.curve, participants=participants, days=args.days, force=args.force)
    names = ", ".join(f"{role} {name}" for role, name in participants)
    print(f"lab PKI ({args.curve}) in {args.dir}: root CA, sub-CA and {len(index) - 2} participant "
          f"certificates for {names}; see {Path(args.dir) / 'README'}")
    return EXIT_OK


def _issue(args: argparse.Namespace) -> int:
    for entry in issue(Path(args.dir), args.role, args.name, days=args.days, force=args.force):
        print(f"{entry.kind:<4} {Path(args.dir) / entry.cert}  key {Path(args.dir) / entry.key}")
    return EXIT_OK


def _row(info: CertInfo) -> dict[str, str | None]:
    entry = info.entry
    return {"role": entry.role, "name": entry.name, "kind": entry.kind, "curve": info.curve,
            "not_before": iso(info.not_before), "not_after": iso(info.not_after), "check": info.check,
            "subject": entry.subject, "cert": entry.cert, "key": entry.key}


def _show(args: argparse.Namespace) -> int:
    found = describe(Path(args.dir))
    rows = [_row(info) for info in found]
    if args.format == "json":
        for row in rows:
            print(json.dumps(row))
    else:
        columns = ("role", "name", "kind", "curve", "not_before", "not_after", "cert", "check")
        write_table([c.upper().replace("_", "-") for c in columns], ([row[c] for c in columns] for row in rows),
                    sys.stdout)
    bad = any(info.check not in ("ok", "CA", "trust anchor") for info in found)
    return EXIT_BAD_CHAIN if bad else EXIT_OK


_ACTIONS = {"init": _init, "issue": _issue, "show": _show}


def run(args: argparse.Namespace) -> int:
    """Run ``smgwctl pki ACTION``; returns the exit status."""
    try:
        return _ACTIONS[args.action](args)
    except BrokenPipeError:
        raise  # the reader went away: smgwctl stops quietly
    except (PkiError, OSError) as error:
        print(f"smgwctl: pki {args.action}: {error}", file=sys.stderr)
        return EXIT_FAILED

