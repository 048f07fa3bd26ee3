"""``smgwctl pseudonyms EMP [METER ...]``: which pseudonym stands for which meter in deliveries to EMP.

For the gateway's operator, who writes them into the EMP's ``[gateways]``
list or traces a question from the EMP back to a meter. It reads the gateway
secret (``[gateway] secret``, readable by smgwd's user and root only) and
never makes one: the daemon makes it when it first starts.
"""

from __future__ import annotations

import argparse
import json
import sys

from smgwd.cli.store_common import EXIT_OK, CliError, configured_emp, configured_gateway, write_table
from smgwd.gateway.secret import SecretError, read_secret
from smgwd.wan.pseudonyms import Pseudonyms

__all__ = ["run"]


def run(args: argparse.Namespace) -> int:
    config = configured_gateway(args, "pseudonyms")
    emp = configured_emp(args, args.emp)
    if not emp.pseudonymize:
        raise CliError(f"emp {emp.id} gets the meters' own ids (pseudonymize = false in {config.source})")
    try:
        secret = read_secret(config.gateway.secret)
    except SecretError as error:
        raise CliError(f"{error} (smgwd makes it when it first starts)") from None
    pseudonyms = Pseudonyms(secret, emp.id)
    meters = list(args.meters) or list(emp.meters) or [meter.id for meter in config.meters]
    rows = [(meter, pseudonyms.of(meter)) for meter in meters]
    if args.format == "json":
        for meter, name in rows:
            print(json.dumps({"emp": emp.id, "meter": meter, "pseudonym": name}))
    else:
        write_table(("meter", "pseudonym"), rows, sys.stdout)
    return EXIT_OK
