"""``smgwctl pki init|issue|show|revoke|crl``: the lab PKI (:mod:`smgwd.wan.pki`) from the command line.

Exit status: 0 done; 1 usage error or a refusal (existing PKI without
``--force``, no PKI in DIR, bad name, a missing or wrong passphrase), with
one line on stderr; ``show`` exits 2 when a participant's chain does not
verify (its reason is in the CHECK column).

The CA keys' passphrase comes from ``--passphrase-file FILE`` (mode 0600 or
stricter, its first line) or ``--ask-passphrase`` (typed, twice for
``init``); ``init`` without either leaves the CA keys unencrypted.
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


def passphrase(args: argparse.Namespace, *, confirm: bool = False) -> bytes | None:
    """The CA keys' passphrase the options name (None: none given); PkiError when it cannot be had."""
    if getattr(args, "passphrase_file", None):
        from smgwd.gateway.private_file import PrivateFileError, read_private

        try:
            text = read_private(Path(args.passphrase_file), 4096)
        except PrivateFileError as error:
            raise PkiError(str(error)) from None
        return text.splitlines()[0] if text.strip() else b""
    if getattr(args, "ask_passphrase", False):
        import getpass

        typed = getpass.getpass("CA key passphrase: ").encode()
        if confirm and getpass.getpass("the same again: ").encode() != typed:
            raise PkiError("the two passphrases differ")
        return typed
    return None


def _init(args: argparse.Namespace) -> int:
    participants = [(role, name) for role in ROLES for name in (getattr(args, ROLE_OPTIONS[role]) or [role])]
    index = init_pki(Path(args.dir), curve=args.curve, participants=participants, days=args.days, force=args.force,
                     passphrase=passphrase(args, confirm=True))
    names = ", ".join(f"{role} {name}" for role, name in participants)
    print(f"lab PKI ({args.curve}) in {args.dir}: root CA, sub-CA and {len(index) - 2} participant "
          f"certificates for {names}; see {Path(args.dir) / 'README'}")
    return EXIT_OK


def _issue(args: argparse.Namespace) -> int:
    for entry in issue(Path(args.dir), args.role, args.name, days=args.days, force=args.force,
                       passphrase=passphrase(args)):
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


def _revoke(args: argparse.Namespace) -> int:
    from smgwd.wan.pki_revocation import revoke

    kinds = tuple(args.kind) if args.kind else ("tls", "sig", "enc")
    revoked = revoke(Path(args.dir), args.role, args.name, kinds, passphrase=passphrase(args), reason=args.reason)
    for subject in revoked:
        print(f"revoked {subject}")
    if not revoked:
        print(f"{args.role} {args.name}: already revoked")
    print(f"CRL published: {Path(args.dir) / 'crl.pem'} (give it to the gateways and EMPs: [[emps]] crl, [tls] crl)")
    return EXIT_OK


def _crl(args: argparse.Namespace) -> int:
    from smgwd.wan.pki_revocation import CRL_DAYS, publish_crl

    path = publish_crl(Path(args.dir), passphrase(args), days=args.days or CRL_DAYS)
    print(f"CRL published: {path}, valid for {args.days or CRL_DAYS} days")
    return EXIT_OK


def _sign(args: argparse.Namespace) -> int:
    from smgwd.wan.pki_requests import sign_request

    request = sys.stdin.buffer.read() if args.request == "-" else Path(args.request).read_bytes()
    sys.stdout.write(sign_request(Path(args.dir), request, args.role, args.name, args.kind,
                                  passphrase=passphrase(args), days=args.days).decode())
    return EXIT_OK


_ACTIONS = {"init": _init, "issue": _issue, "show": _show, "revoke": _revoke, "crl": _crl, "sign": _sign}


def run(args: argparse.Namespace) -> int:
    """Run ``smgwctl pki ACTION``; returns the exit status."""
    try:
        return _ACTIONS[args.action](args)
    except BrokenPipeError:
        raise  # the reader went away: smgwctl stops quietly
    except (PkiError, OSError) as error:
        print(f"smgwctl: pki {args.action}: {error}", file=sys.stderr)
        return EXIT_FAILED

