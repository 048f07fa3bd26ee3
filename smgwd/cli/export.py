"""``smgwctl export --xml``: stored readings as COSEM/XML.

Two shapes: ``josef`` (default) is jOSEF's document, one logical device per
meter holding the latest reading of each OBIS code in the range
(:func:`~smgwd.meters.cosem_map.logical_devices`); ``k461`` is a DKE K461
load profile of one meter, a row per capture time
(:func:`~smgwd.meters.cosem_map.load_profile`), and needs ``--meter`` when
the store knows several meters. The document goes to stdout.

``--cms --emp NAME`` writes, instead, the CMS message (DER) the gateway would
send that EMP for the document: signed with the gateway's signature key and
encrypted for the EMP's certificate, as the ``[[emps]]`` entry NAME of the
configuration names them (shape: the EMP's unless ``--shape`` says otherwise).
``openssl cms -verify -inform DER`` checks it.
"""

from __future__ import annotations

import argparse
import sys

from smgwd.cli.store_common import EXIT_OK, CliError, configured_emp, parse_instant, run_on_store
from smgwd.cosem import xml_josef, xml_k461
from smgwd.gateway.store import StoreReader
from smgwd.meters.cosem_map import load_profile, logical_devices
from smgwd.wan.delivery import DeliveryError, Sealer

__all__ = ["run"]


def _k461_meter(reader: StoreReader, meter: str | None) -> str:
    if meter is not None:
        return meter
    known = [m.id for m in reader.meters()]
    if len(known) == 1:
        return known[0]
    if not known:
        raise CliError("k461 export: the store knows no meter")
    raise CliError(f"k461 export: the store knows {len(known)} meters; name one with --meter")


def export(reader: StoreReader, args: argparse.Namespace) -> int:
    sealer: Sealer | None = None
    shape = args.shape or "josef"
    if args.cms:
        if not args.emp:
            raise CliError("--cms needs --emp NAME (the [[emps]] entry to seal for)")
        emp = configured_emp(args, args.emp)
        shape = args.shape or emp.shape
        try:
            sealer = Sealer(emp)
        except DeliveryError as error:
            raise CliError(f"emp {emp.id}: {error}") from None
    since, until = parse_instant(args.since, "--since"), parse_instant(args.until, "--until")
    if shape == "k461":
        meter = _k461_meter(reader, args.meter)
        found = reader.readings(meter=meter, obis=args.obis, since=since, until=until)
        try:
            document = xml_k461.encode(load_profile(found), meter)
        except ValueError as error:
            raise CliError(f"k461 export: {error}") from None
    else:
        found = reader.readings(meter=args.meter, obis=args.obis, since=since, until=until)
        document = xml_josef.encode(logical_devices(found))
    sys.stdout.buffer.write(document if sealer is None else sealer.seal(document))
    sys.stdout.flush()
    return EXIT_OK


def run(args: argparse.Namespace) -> int:
    return run_on_store(args, lambda reader: export(reader, args))
