"""``smgwctl admin``: the gateway administrator's client for a gateway's admin API (:mod:`smgwd.wan.admin_server`).

How this works: the command and its ``NAME=VALUE`` arguments (a VALUE is
read as JSON where it parses, else as text: ``limit=20``,
``meters='["m1"]'``, ``emp=supplier``) become a command for ``--gateway``
with a fresh id, a sequence (by default the current time in microseconds,
so each command of one GWA is higher than its last) and a validity window
of ``--valid`` seconds from now (300). It is signed with the GWA's
signature key (``--sig-cert``/``--sig-key``, ``--chain`` sent along) and
POSTed over mutual TLS with the GWA's TLS certificate (``--cert``/``--key``;
``--ca`` pins the gateway's CA). The gateway's JSON answer goes to stdout;
exit status 0 when it ran the command, 1 when it refused it (the reason on
stderr) or could not be reached.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

__all__ = ["command_of", "run"]

EXIT_OK, EXIT_FAILED = 0, 1


def _value(text: str) -> object:
    try:
        return json.loads(text)
    except ValueError:
        return text


def command_of(args: argparse.Namespace, now: datetime | None = None) -> object:
    """The AdminCommand the arguments describe."""
    from smgwd.wan.admin_command import AdminCommand

    now = now or datetime.now(timezone.utc)
    values = {}
    for pair in args.args:
        name, equals, text = pair.partition("=")
        if not equals or not name:
            raise ValueError(f"argument {pair!r} is not NAME=VALUE")
        values[name] = _value(text)
    sequence = args.sequence if args.sequence is not None else time.time_ns() // 1000
    return AdminCommand(args.gateway, args.name, uuid.uuid4().hex, sequence, now - timedelta(seconds=30),
                        now + timedelta(seconds=args.valid), values)


def run(args: argparse.Namespace) -> int:
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    from smgwd.wan.admin_command import sign_command
    from smgwd.wan.chain import load_certs
    from smgwd.wan.https import HttpsError, HttpsPoster
    from smgwd.wan.tls import client_context

    try:
        command = command_of(args)
        key = load_pem_private_key(Path(args.sig_key).read_bytes(), None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{args.sig_key}: not an EC private key")
        chain = [cert for path in args.chain or [] for cert in load_certs(Path(path).read_bytes())]
        body = sign_command(command, load_certs(Path(args.sig_cert).read_bytes())[0], key, chain)  # type: ignore[arg-type]
        poster = HttpsPoster(args.url, client_context(Path(args.cert), Path(args.key), Path(args.ca)), args.timeout)
    except (OSError, ValueError) as error:
        print(f"smgwctl: admin: {error}", file=sys.stderr)
        return EXIT_FAILED
    try:
        answer = poster.post(body, {"Content-Type": "application/pkcs7-mime"})
    except HttpsError as error:
        print(f"smgwctl: admin: {args.url}: {error}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        poster.close()
    try:
        document = json.loads(answer.body)
    except ValueError:
        document = {"error": "not_json", "reason": answer.body[:200].decode("utf-8", "replace")}
    if answer.status != 200:
        print(f"smgwctl: admin: refused (HTTP {answer.status}): {document.get('error')}: {document.get('reason')}",
              file=sys.stderr)
        return EXIT_FAILED
    print(json.dumps(document, indent=2))
    return EXIT_OK
