"""smgw-emp: the lab EMP (external market participant) endpoint.

``smgw-emp --config emp.toml [run]`` serves HTTPS with client certificates
until SIGTERM/SIGINT; ``smgw-emp --config emp.toml readings [--meter] [--obis]
[--format table|json]`` lists what it stored. ``smgw-emp --config emp.toml ask
GATEWAY [METER ...]`` asks a gateway for its current values (TAF6): the request
waits in the store until the gateway next asks for its requests, and
``requests [--gateway] [--format]`` shows each one's state (pending,
answered with the message, declined with the gateway's reason). A bad
configuration stops it with one line and exit status 78; a request the
configuration's ``[gateways]`` does not allow, with one line and status 1.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from datetime import timedelta
from typing import TYPE_CHECKING

from smgwd.arguments import ArgumentParser

if TYPE_CHECKING:
    from smgwd.emp.config import EmpConfig
    from smgwd.emp.server import EmpServer
    from smgwd.emp.service import EmpService

__all__ = ["main", "open_emp"]

EX_CONFIG = 78


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="smgw-emp", description="The lab EMP: receives, verifies, decrypts and stores.")
    parser.add_argument("--config", required=True, metavar="FILE", help="the EMP's TOML configuration")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("run", help="serve (the default)")
    readings = commands.add_parser("readings", help="list stored readings")
    readings.add_argument("--meter")
    readings.add_argument("--obis")
    readings.add_argument("--format", choices=("table", "json"), default="table")
    ask = commands.add_parser("ask", help="ask a gateway for its current values (TAF6)")
    ask.add_argument("gateway", help="the gateway's participant name, as in [gateways] (smgw for CN=smgw TLS)")
    ask.add_argument("meters", nargs="*", metavar="METER", help="meters to ask for (default: all it gives us)")
    requests = commands.add_parser("requests", help="list the TAF6 requests and their answers")
    requests.add_argument("--gateway")
    requests.add_argument("--format", choices=("table", "json"), default="table")
    return parser


def open_emp(config: EmpConfig) -> tuple[EmpService, EmpServer]:
    """The EMP's service (store opened) and its TLS server bound to the configured address, not yet serving."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    from smgwd.emp.server import EmpServer
    from smgwd.emp.service import EmpService
    from smgwd.emp.store import EmpStore
    from smgwd.wan.chain import load_certs
    from smgwd.wan.tls import server_context

    from smgwd.wan.pki_revocation import load_crls

    service = EmpService(
        load_pem_private_key(config.cms_key.read_bytes(), None),  # type: ignore[arg-type]
        x509.load_pem_x509_certificate(config.cms_cert.read_bytes()),
        load_certs(config.trust.read_bytes()),
        load_certs(config.untrusted.read_bytes()) if config.untrusted else [],
        EmpStore(config.store),
        max_body=config.max_body,
        max_age=timedelta(days=config.max_age_days),
        name=config.name or None,
        gateways=config.gateways,
        crls=load_crls(config.crl.read_bytes()) if config.crl else (),
    )
    server = EmpServer((config.host, config.port), service,
                       server_context(config.tls_cert, config.tls_key, config.client_ca, crl=config.crl),
                       request_deadline=config.request_deadline, max_connections=config.max_connections,
                       max_per_peer=config.max_per_peer)
    return service, server


def _serve(config: EmpConfig) -> int:
    service, server = open_emp(config)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    server.serve_in_thread()
    print(f"smgw-emp listening on https://{config.host}:{server.port}/v1/meterdata", flush=True)
    stop.wait()
    server.shutdown()
    server.server_close()
    service.store.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run smgw-emp; returns the exit status."""
    from smgwd.emp.config import EmpConfigError, load_emp_config

    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        config = load_emp_config(args.config)
    except EmpConfigError as error:
        print(f"smgw-emp: {error}", file=sys.stderr)
        return EX_CONFIG
    if args.command in _LISTS:
        from smgwd.cli.pipes import quiet_on_broken_pipe

        return quiet_on_broken_pipe(lambda: _LISTS[args.command](config, args))
    if args.command == "ask":
        return _ask(config, args.config, args.gateway, args.meters)
    return _serve(config)


def _ask(config: EmpConfig, source: str, gateway: str, meters: list[str]) -> int:
    """``smgw-emp ask``: store a pending TAF6 request; print its id."""
    from smgwd.emp.store import EmpStore
    from smgwd.wan.taf6_requests import MAX_METERS, METER_ID

    bound = None if config.gateways is None else config.gateways.get(gateway)
    problem = None
    if not METER_ID.fullmatch(gateway):
        problem = f"{gateway[:70]!r} is not a gateway name"
    elif bad := [m for m in meters if not METER_ID.fullmatch(m)]:
        problem = f"{bad[0][:70]!r} is not a meter id"
    elif len(meters) > MAX_METERS:
        problem = f"{len(meters)} meters, more than {MAX_METERS} in one request"
    elif config.gateways is not None and bound is None:
        problem = f"gateway {gateway} is not in [gateways] of {source}"
    elif bound is not None and "*" not in bound and (foreign := sorted(set(meters) - bound)):
        problem = f"gateway {gateway} may not report meter {foreign[0]} ([gateways] of {source})"
    if problem is not None:
        print(f"smgw-emp: ask: {problem}", file=sys.stderr)
        return 1
    store = EmpStore(config.store)
    try:
        request = store.ask(gateway, meters)
    finally:
        store.close()
    print(f"request {request.id} to gateway {gateway} for {' '.join(request.meters) or 'all meters'}: pending "
          "(the gateway takes it when it next asks for requests)")
    return 0


def _list(config: EmpConfig, args: argparse.Namespace) -> int:
    """``smgw-emp readings``: what the store holds, one line (or JSON object) per reading."""
    from smgwd.emp.store import EmpStore

    store = EmpStore(config.store, readonly=True)
    for reading in store.readings(args.meter, args.obis):
        record = reading.record()
        print(json.dumps(record) if args.format == "json" else
              f"{record['received_at']}  {record['meter']:20} {record['obis']:16} {record['raw']!s:>20}"
              f"  scaler {record['scaler']}  unit {record['unit']}  taken {record['gateway_time'] or '-'}"
              f" ({record['time_quality'] or 'no time'})")
    return 0


def _requests(config: EmpConfig, args: argparse.Namespace) -> int:
    """``smgw-emp requests``: the TAF6 requests, one line (or JSON object) each."""
    from smgwd.emp.store import EmpStore

    import sqlite3

    store = EmpStore(config.store, readonly=True)
    try:
        found = store.requests(args.gateway)
    except sqlite3.OperationalError:  # a store this EMP has not served with since requests came
        found = []
    for request in found:
        record = request.record()
        detail = {"answered": f"by {record['message_id']} ({record['answers']} message(s))",
                  "declined": f"declined: {record['reason']}"}.get(record["state"], "pending")
        print(json.dumps(record) if args.format == "json" else
              f"{record['id']:>6}  {record['asked']}  {record['gateway']:16} "
              f"{' '.join(record['meters']) or 'all':30} {detail}")
    return 0


_LISTS = {"readings": _list, "requests": _requests}


if __name__ == "__main__":
    sys.exit(main())
