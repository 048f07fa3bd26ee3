"""``smgwctl taf6 EMP [METER ...]``: readings on demand (TAF6), asked of the running daemon.

The daemon's delivery to that EMP makes one message with the latest value of
every OBIS code of the meters named (all the EMP is given if none), queues it
and sends it at once; this prints the message ids, or the daemon's reason
(the EMP is not running, may not ask, is not given a meter) with exit status 1.
"""

from __future__ import annotations

import argparse
import json
import sys

from smgwd.cli.store_common import EXIT_FAILED, EXIT_OK, CliError, control_socket
from smgwd.gateway.control import ControlUnavailable, query

__all__ = ["run"]

def run(args: argparse.Namespace) -> int:
    socket = control_socket(args)
    if socket is None:
        raise CliError("taf6 asks the running daemon: give --config (its control socket), not --db alone")
    words = [args.emp, *args.meters]
    if any(not word.isascii() or not word.isprintable() or " " in word or not word for word in words):
        raise CliError("EMP and meter ids are printable ASCII without spaces")
    try:
        reply = query(socket, " ".join(["taf6", *words]))
    except ControlUnavailable as error:
        raise CliError(f"{error} (is smgwd running?)") from None
    if "error" in reply:
        print(f"smgwctl: taf6: {reply['error']}", file=sys.stderr)
        return EXIT_FAILED
    if args.format == "json":
        print(json.dumps(reply))
    else:
        for message in reply.get("messages", []):
            print(message)
    return EXIT_OK
