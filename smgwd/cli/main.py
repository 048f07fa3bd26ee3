"""smgwctl entry point: argument parsing only; each command lives in its own module.

Commands import their modules when they run, so ``smgwctl decode`` loads
only what decoding needs.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Callable

from smgwd.cli.pipes import quiet_on_broken_pipe
from smgwd.arguments import ArgumentParser

__all__ = ["main", "build_parser"]



def build_parser() -> argparse.ArgumentParser:
    """The smgwctl argument parser (also the source of its --help text)."""
    parser = ArgumentParser(
        prog="smgwctl",
        description="Operator tool of the smgwd smart meter gateway.",
    )
    parser.add_argument(
        "--config", default="/etc/smgwd/smgwd.toml", metavar="PATH",
        help="gateway configuration file (default: /etc/smgwd/smgwd.toml)",
    )
    parser.add_argument(
        "--db", metavar="PATH",
        help="the store's database file, instead of the [store] path of the configuration",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    decode = commands.add_parser(
        "decode",
        help="decode meter captures offline and print readings",
        description="Decode captured meter traffic offline and print one reading per line.",
    )
    protocols = decode.add_subparsers(dest="protocol", metavar="PROTOCOL", required=True)
    sml = protocols.add_parser(
        "sml",
        help="SML v1.04: transport frames or bare messages",
        description=(
            "Decode SML v1.04 transport frames or bare SML messages. Input is hex text "
            "(whitespace ignored) unless --binary is given. Prints JSON Lines, one object "
            "per reading; errors go to stderr, one line each. Exit status: 0 all input "
            "decoded, 2 some input rejected (good frames still printed) or no SML frame or "
            "message found (empty input), 1 usage error."
        ),
    )
    sml.add_argument("file", nargs="?", default="-", metavar="FILE", help="capture file, or - for stdin (default)")
    sml.add_argument("--binary", action="store_true", help="input is raw bytes, not hex text")
    sml.add_argument(
        "--crc", choices=("auto", "x25", "kermit", "off"), default=None,
        help="CRC variant of frames and messages (default: the profile's, auto for generic)",
    )
    sml.add_argument("--profile", default="generic", metavar="NAME", help="meter profile (see --list-profiles)")
    sml.add_argument("--list-profiles", action="store_true", help="list the meter profiles and exit")
    sml.add_argument(
        "--format", choices=("jsonl", "table", "xml"), default="jsonl",
        help="output: JSON Lines (default), a table, or COSEM/XML (one logical device per meter)",
    )

    wmbus = protocols.add_parser(
        "wmbus",
        help="wireless M-Bus (OMS) telegrams, or what a receiver delivers",
        description=(
            "Decode wireless M-Bus telegrams: one hex telegram per line, from the L-field, link "
            "CRCs optional (#-comments and blank lines skipped). Telegrams of a meter are read in "
            "order, so compact frames follow their full frame. Prints JSON Lines, one object per "
            "reading; what is rejected goes to stderr, one line each, naming the meter. Exit "
            "status: 0 all decoded, 2 some telegram rejected (bad CRC, wrong or missing key, bad "
            "MAC, truncated) or none found, 1 usage error."
        ),
    )
    wmbus.add_argument("file", nargs="?", default="-", metavar="FILE", help="input file, or - for stdin (default)")
    wmbus.add_argument(
        "--key", action="append", metavar="[ID:]HEX",
        help="AES-128 key (32 hex digits) for every meter, or ID:HEX for one meter (repeatable)",
    )
    wmbus.add_argument(
        "--from", dest="source", choices=("im871a", "amb8465", "rtlwmbus"), default=None,
        help="input is a receiver's output: dongle serial bytes as hex, or rtl_wmbus lines",
    )
    wmbus.add_argument(
        "--link-crc", choices=("auto", "present", "absent"), default="auto",
        help="whether the telegrams still carry their link-layer CRCs (default: detect)",
    )

    hdlc = protocols.add_parser(
        "hdlc",
        help="DLMS/COSEM push frames (HDLC) from a meter's customer port",
        description=(
            "Decode DLMS/COSEM pushes: one HDLC frame per line as hex, flags optional (#-comments and "
            "blank lines skipped); the segments of a message and the blocks of a transfer in order. "
            "Prints JSON Lines, one object per reading; what is refused goes to stderr, one line each. "
            "Exit status: 0 all decoded, 2 some frame or message refused (HCS/FCS, tag, truncation, an "
            "incomplete message) or none found, 1 usage error."
        ),
    )
    hdlc.add_argument("file", nargs="?", default="-", metavar="FILE", help="input file, or - for stdin (default)")
    hdlc.add_argument("--key", metavar="HEX", help="the meter's encryption key (global unicast key, 32 hex digits)")
    hdlc.add_argument("--auth-key", metavar="HEX", help="the authentication key: the GCM tag is then checked")
    hdlc.add_argument("--layout", metavar="NAME", help="the list layout or meter family of a push without OBIS codes "
                                                       "or scalers, e.g. kaifa, kamstrup-no, lg-e450 (default: picked by "
                                                       "the list identifier where that is unambiguous)")
    hdlc.add_argument("--mbus", action="store_true", help="the lines are M-Bus long frames (68 L L 68 …), as Austrian "
                                                          "meters wrap their pushes")

    config = commands.add_parser(
        "config",
        help="work with the gateway configuration",
        description="Work with the gateway configuration file (see --config).",
    )
    config_actions = config.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = config_actions.add_parser(
        "check",
        help="check the configuration as smgwd would load it and summarise it",
        description=(
            "Load the configuration file exactly as smgwd does (password files included), check that each "
            "EMP's keys belong to their certificates and that none has expired (warning for 30 days before), "
            "and print a one-paragraph summary. Exit status: 0 valid, 78 (EX_CONFIG) invalid, with the one-line "
            "error on stderr, 1 usage error."
        ),
    )
    check.add_argument("--config", default=argparse.SUPPRESS, metavar="PATH", help="gateway configuration file")
    _add_store_commands(commands)
    _add_pki_commands(commands)
    _add_cms_commands(commands)
    _add_admin_command(commands)
    return parser


#: store command -> (module, function); imported only when that command runs
STORE_COMMANDS = {
    "status": ("smgwd.cli.status", "run_status"),
    "meters": ("smgwd.cli.status", "run_meters"),
    "readings": ("smgwd.cli.readings", "run"),
    "log": ("smgwd.cli.logs", "run"),
    "export": ("smgwd.cli.export", "run"),
    "deliveries": ("smgwd.cli.deliveries", "run"),
    "store": ("smgwd.cli.store_check", "run"),  # store check (its only action)
    "taf6": ("smgwd.cli.taf6", "run"),
    "pseudonyms": ("smgwd.cli.pseudonyms", "run"),
}


def _emp_command(commands: argparse._SubParsersAction[ArgumentParser], where: ArgumentParser, name: str,
                 summary: str, description: str, meters_help: str, format_help: str) -> None:
    """A command on one EMP and some of its meters: ``NAME EMP [METER ...] [--format table|json]``."""
    command = commands.add_parser(name, parents=[where], help=summary, description=description)
    command.add_argument("emp", metavar="EMP", help="the [[emps]] id")
    command.add_argument("meters", metavar="METER", nargs="*", help=meters_help)
    command.add_argument("--format", choices=("table", "json"), default="table", help=format_help)


def _add_store_commands(commands: argparse._SubParsersAction[ArgumentParser]) -> None:
    """The commands that read the gateway's store (database from --db or the configuration)."""
    time_help = "ISO 8601 time, UTC unless it has an offset"
    where = ArgumentParser(add_help=False)  # --config/--db also after the command; SUPPRESS keeps the global value
    where.add_argument("--config", default=argparse.SUPPRESS, metavar="PATH", help="gateway configuration file")
    where.add_argument("--db", default=argparse.SUPPRESS, metavar="PATH", help="the store's database file")
    status = commands.add_parser(
        "status", parents=[where], help="meters, link states, time quality and the store, as the daemon recorded them",
        description="Show the gateway's meters (link state and since when, last reading, readings and "
                    "errors), its time quality, offset and stratum, and the store's size and schema version.",
    )
    status.add_argument("--format", choices=("table", "json"), default="table", help="output (default: table)")
    meters = commands.add_parser("meters", parents=[where], help="the meters the store knows",
                                 description="List the meters the store knows, one per line.")
    meters.add_argument("--format", choices=("table", "json"), default="table",
                        help="output: a table (default) or JSON Lines")
    readings = commands.add_parser(
        "readings", parents=[where], help="stored readings",
        description="Print stored readings by gateway time (--since inclusive, --until exclusive).",
    )
    readings.add_argument("--meter", metavar="ID", help="only this meter")
    readings.add_argument("--obis", metavar="CODE", help="only this OBIS code, e.g. 1-0:1.8.0*255")
    readings.add_argument("--since", metavar="TIME", help=time_help)
    readings.add_argument("--until", metavar="TIME", help=time_help)
    readings.add_argument("--limit", type=int, metavar="N", help="at most N readings")
    readings.add_argument("--order", choices=("asc", "desc"), default="asc",
                          help="oldest first (asc, default) or newest first (desc)")
    readings.add_argument("--format", choices=("table", "json", "csv"), default="table",
                          help="output: a table (default), JSON Lines or CSV")
    log = commands.add_parser(
        "log", parents=[where], help="the system, calibration or consumer log, or verify their hash chains",
        description="Print entries of one of the three TR-03109 logs, oldest first; or, with verify, check the "
                    "hash chain and signed checkpoints of one log or all three (exit 0 intact, 2 broken).")
    log.add_argument("kind", choices=("system", "calibration", "consumer", "verify"), help="which log, or verify")
    log.add_argument("which", nargs="?", choices=("system", "calibration", "consumer"),
                     help="verify: only this log (default: all three)")
    log.add_argument("--since", metavar="TIME", help=time_help)
    log.add_argument("--limit", type=int, default=100, metavar="N", help="the newest N entries (default 100, 0 = all)")
    log.add_argument("--format", choices=("table", "json"), default="table",
                     help="output: a table (default) or JSON Lines")
    deliveries = commands.add_parser(
        "deliveries", parents=[where], help="the delivery outbox: messages to EMPs and their states",
        description="List the messages to EMPs in creation order: queued, sent, acked (done) or failed, "
                    "with attempts, the next attempt or the acknowledgement time, and the last reason.",
    )
    deliveries.add_argument("--state", choices=("queued", "sent", "acked", "failed"), help="only this state")
    deliveries.add_argument("--format", choices=("table", "json"), default="table",
                            help="output: a table (default) or JSON Lines")
    _emp_command(
        commands, where, "taf6", "readings on demand (TAF6): the running daemon sends an EMP the current values",
        "Ask the running daemon (its control socket, from --config) to send EMP the latest value of "
        "every OBIS code of the meters named (all meters the EMP is given if none) at once. Prints "
        "the message ids; exit status 1 with the daemon's reason if it refuses.",
        "only these meters", "output: message ids one per line (default) or the daemon's JSON answer")
    _emp_command(
        commands, where, "pseudonyms", "the pseudonyms under which an EMP gets the meters (pseudonymize)",
        "Show which pseudonym stands for which meter in the deliveries to EMP (an [[emps]] entry "
        "with pseudonymize = true): of the meters named, else the EMP's, else all configured. "
        "Reads the gateway secret (root or smgwd's user).",
        "only these meter ids", "output: a table (default) or JSON Lines")
    store = commands.add_parser("store", help="check the store's database file",
                                description="Work with the store's database file itself.")
    store_actions = store.add_subparsers(dest="action", metavar="ACTION", required=True)
    store_check = store_actions.add_parser(
        "check", parents=[where], help="would smgwd open this store? (read-only)",
        description="Check the database file as smgwd does before it writes: the path, the SQLite header, "
                    "PRAGMA quick_check, the smgwd marks, the schema version and (with write access) that no "
                    "other process holds its lock. Writes, moves and deletes nothing. Exit status: 0 good (or "
                    "not created yet), 78 refused (the reason as one line on stderr, as smgwd says it), "
                    "1 usage error.",
    )
    store_check.add_argument("--full", action="store_true",
                             help="PRAGMA integrity_check instead of quick_check (also compares every index with "
                                  "its table; slower)")
    export = commands.add_parser(
        "export", parents=[where], help="stored readings as COSEM/XML, or as the CMS message for an EMP",
        description="Write stored readings as COSEM/XML to stdout (or, with --cms --emp NAME, that XML as the "
                    "DER CMS message delivery would send EMP NAME): jOSEF's document (the latest value of "
                    "each OBIS code per meter) or a DKE K461 load profile of one meter.",
    )
    form = export.add_mutually_exclusive_group(required=True)
    form.add_argument("--xml", action="store_true", help="COSEM/XML")
    form.add_argument("--cms", action="store_true",
                      help="the CMS message (DER) for --emp NAME: the XML signed and encrypted as delivery does")
    export.add_argument("--emp", metavar="NAME", help="with --cms: the [[emps]] entry of the configuration")
    export.add_argument("--shape", choices=("josef", "k461"),
                        help="document shape (default josef; with --cms the EMP's)")
    export.add_argument("--meter", metavar="ID", help="only this meter (k461: needed when there are several)")
    export.add_argument("--obis", metavar="CODE", help="only this OBIS code")
    export.add_argument("--since", metavar="TIME", help=time_help)
    export.add_argument("--until", metavar="TIME", help=time_help)


def _add_pki_commands(commands: argparse._SubParsersAction[ArgumentParser]) -> None:
    """``pki init|issue|show``: the lab PKI (Smart-Metering-PKI-shaped CAs and participant certificates)."""
    pki = commands.add_parser(
        "pki", help="make and inspect a lab PKI shaped like the Smart-Metering PKI",
        description="A lab PKI: root CA, sub-CA and, per participant, TLS, signature and encryption certificates.",
    )
    actions = pki.add_subparsers(dest="action", metavar="ACTION", required=True)
    days_help = "validity of participant certificates in days (default 730)"
    init = actions.add_parser(
        "init", help="make a new lab PKI in DIR",
        description="Make a root CA (brainpoolP384r1), a sub-CA (brainpoolP256r1) and TLS, signature and encryption "
                    "certificates for each participant (default: gateway smgw, EMP emp, administrator gwa) in DIR, "
                    "with DIR/README and DIR/index.json saying what is where. Private keys are mode 0600. "
                    "Exit status: 0 made, 1 refused (DIR already holds a PKI) or usage error.",
    )
    init.add_argument("dir", metavar="DIR", help="directory for the PKI (created when missing)")
    init.add_argument("--curve", choices=("brainpool", "p256"), default="brainpool",
                      help="brainpool (default), or p256: a NIST P-384 root and P-256 otherwise, for peers "
                           "without brainpool")
    init.add_argument("--gateway", action="append", metavar="NAME", help="a gateway (repeatable; default smgw)")
    init.add_argument("--emp", action="append", metavar="NAME", help="a market participant (repeatable; default emp)")
    init.add_argument("--gwa", action="append", metavar="NAME",
                      help="a gateway administrator (repeatable; default gwa)")
    init.add_argument("--days", type=int, default=730, metavar="N", help=days_help)
    init.add_argument("--force", action="store_true", help="replace a PKI that is already in DIR")
    issue = actions.add_parser(
        "issue", help="add a participant to the PKI in DIR",
        description="Add a participant's TLS, signature and encryption certificates, signed by DIR's sub-CA "
                    "(never valid beyond it). Exit status: 0 issued, 1 refused or usage error.",
    )
    _participant_arguments(issue)
    issue.add_argument("--days", type=int, default=730, metavar="N", help=days_help)
    issue.add_argument("--force", action="store_true", help="re-issue a participant that exists, with new keys")
    revoke = actions.add_parser(
        "revoke", help="revoke a participant's certificates and publish the CRL",
        description="Put a participant's certificates (all three, or those of --kind) on the sub-CA's CRL and "
                    "publish DIR/crl.pem at once. Exit status: 0 done, 1 refused or usage error.",
    )
    _participant_arguments(revoke)
    revoke.add_argument("--kind", choices=("tls", "sig", "enc"), action="append",
                        help="only this certificate (repeatable; default: all three)")
    revoke.add_argument("--reason", default="", help="why (kept in DIR/revoked.json)")
    crl = actions.add_parser(
        "crl", help="publish the CRL again (before it expires)",
        description="Sign DIR/crl.pem anew with every revoked certificate and a new nextUpdate.",
    )
    crl.add_argument("dir", metavar="DIR", help="directory of the PKI")
    crl.add_argument("--days", type=int, metavar="N", help="days until its nextUpdate (default 30)")
    sign = actions.add_parser(
        "sign", help="certify a participant's new key from its certificate request (CSR)",
        description="Sign a PKCS#10 request with DIR's sub-CA, for the participant's certificate of --kind (the "
                    "request's subject must be that certificate's); the certificate goes to stdout. A gateway "
                    "rotating its key makes the request (smgwctl admin key-new).",
    )
    _participant_arguments(sign)
    sign.add_argument("--kind", choices=("tls", "sig", "enc"), required=True, help="which certificate")
    sign.add_argument("request", metavar="REQUEST", help="the request, PEM (- for stdin)")
    sign.add_argument("--days", type=int, default=730, metavar="N", help=days_help)
    for action in (init, issue, revoke, crl, sign):
        secret = action.add_mutually_exclusive_group()
        secret.add_argument("--passphrase-file", metavar="FILE",
                            help="the CA keys' passphrase: the first line of FILE (mode 0600)"
                                 + ("; encrypts the CA keys" if action is init else ""))
        secret.add_argument("--ask-passphrase", action="store_true", help="type the CA keys' passphrase")
    show = actions.add_parser(
        "show", help="list the certificates of the PKI in DIR",
        description="List the PKI's certificates with role, curve and validity, and check each participant's "
                    "chain now. Exit status: 0 all chains verify, 2 some do not (reason in CHECK), 1 no PKI.",
    )
    show.add_argument("dir", metavar="DIR", help="directory of the PKI")
    show.add_argument("--format", choices=("table", "json"), default="table",
                      help="output: a table (default) or JSON Lines")


def _participant_arguments(action: ArgumentParser) -> None:
    """``DIR --role ROLE NAME``: one participant of a PKI."""
    action.add_argument("dir", metavar="DIR", help="directory of the PKI")
    action.add_argument("--role", choices=("emp", "smgw", "gwa"), required=True, help="the participant's role")
    action.add_argument("name", metavar="NAME", help="the participant's name (letters, digits, '.', '_', '-')")


def _add_cms_commands(commands: argparse._SubParsersAction[ArgumentParser]) -> None:
    """``cms seal|open``: TR-03116-3 CMS messages (encrypt for recipients, then sign), like ``openssl cms``."""
    cms = commands.add_parser(
        "cms", help="seal and open TR-03116-3 CMS messages (AuthEnvelopedData inside SignedData)",
        description="Seal (encrypt with AES-128-GCM for recipients' encryption certificates, then sign with ECDSA) "
                    "and open (verify, check the signer's chain, decrypt) CMS messages as TR-03116-3 §8 "
                    "prescribes; openssl cms reads and writes the same messages.",
    )
    actions = cms.add_subparsers(dest="action", metavar="ACTION", required=True)
    status = "Exit status: 0 done, 2 refused (reason on stderr), 1 usage error or unreadable file."
    seal = actions.add_parser(
        "seal", help="encrypt for recipients, then sign; DER to stdout",
        description=f"Encrypt IN for every --recipient, sign it, and write the DER message to stdout. {status}",
    )
    seal.add_argument("file", nargs="?", default="-", metavar="IN", help="content file, or - for stdin (default)")
    seal.add_argument("--cert", required=True, metavar="SIGNER.pem", help="the sender's signature certificate")
    seal.add_argument("--key", required=True, metavar="SIGNER.key", help="the sender's signature key")
    seal.add_argument("--recipient", action="append", required=True, metavar="ENC.pem",
                      help="a recipient's encryption certificate (repeatable)")
    seal.add_argument("--chain", action="append", metavar="CA.pem",
                      help="certificates to send along, e.g. the sub-CA (repeatable)")
    seal.add_argument("--kari", choices=("rfc5753", "bsi"), default="rfc5753",
                      help="key agreement OID: RFC 5753 dhSinglePass-stdDH-sha256kdf-scheme (default, what openssl "
                           "reads) or BSI ecka-eg-X963KDF-SHA256")
    opener = actions.add_parser(
        "open", help="verify, check the signer, decrypt; content to stdout",
        description=f"Verify the message IN (DER or PEM), check that its signer chains to a --trust root, decrypt "
                    f"it with --key and write the content to stdout. {status}",
    )
    opener.add_argument("file", nargs="?", default="-", metavar="IN", help="message file, or - for stdin (default)")
    opener.add_argument("--key", required=True, metavar="ENC.key", help="our encryption key")
    opener.add_argument("--cert", required=True, metavar="ENC.pem", help="our encryption certificate")
    opener.add_argument("--trust", action="append", required=True, metavar="ROOT.pem",
                        help="trusted root certificate(s) (repeatable)")
    opener.add_argument("--untrusted", action="append", metavar="SUBCA.pem",
                        help="intermediate certificates to build the signer's chain (repeatable)")
    opener.add_argument("--signer-role", metavar="ROLE", default=None,
                        help="refuse unless the signer's certificate is a signature certificate of this SM-PKI role "
                             "(its OU: SMGW for a gateway, as the lab EMP demands; EMT, GWA); default: any signer")


def _add_admin_command(commands: argparse._SubParsersAction[ArgumentParser]) -> None:
    """``admin``: the GWA's client of a gateway's admin API."""
    admin = commands.add_parser(
        "admin", help="send a signed command to a gateway's admin API (as the gateway administrator)",
        description="Sign a command with the GWA's signature key and POST it over mutual TLS to a gateway's "
                    "admin API. Commands: status, meters, log [limit=N], log-verify, taf6 emp=ID "
                    "[meters='[\"m1\"]'], meter-add meter=TABLE, meter-replace id=ID meter=TABLE, meter-remove "
                    "id=ID, emp-update id=ID set=TABLE, tariff-set name=NAME calendar=TABLE, key-new kind=sig|tls, "
                    "cert-install kind=sig|tls cert=PEM (TABLE: a TOML table as JSON). "
                    "Exit status: 0 done, 1 refused or unreachable.")
    admin.add_argument("name", metavar="COMMAND", help="the command (see above)")
    admin.add_argument("args", metavar="NAME=VALUE", nargs="*", help="the command's arguments (VALUE as JSON or text)")
    admin.add_argument("--url", required=True, help="the gateway's admin API, e.g. https://smgw:8444/v1/admin")
    admin.add_argument("--gateway", required=True, metavar="ID", help="the gateway's [gateway] id")
    admin.add_argument("--cert", required=True, metavar="PEM", help="the GWA's TLS certificate")
    admin.add_argument("--key", required=True, metavar="PEM", help="its private key")
    admin.add_argument("--ca", required=True, metavar="PEM", help="the gateway's CA (pinned)")
    admin.add_argument("--sig-cert", required=True, metavar="PEM", help="the GWA's signature certificate")
    admin.add_argument("--sig-key", required=True, metavar="PEM", help="its private key")
    admin.add_argument("--chain", action="append", metavar="PEM", help="certificates sent along (the sub-CA)")
    admin.add_argument("--valid", type=float, default=300.0, metavar="SECONDS",
                       help="how long the command stays valid (default 300; at most a day)")
    admin.add_argument("--sequence", type=int, metavar="N", help="its sequence (default: now in microseconds)")
    admin.add_argument("--timeout", type=float, default=20.0, metavar="SECONDS", help="per request (default 20)")


def _one_line_on_error(command: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """``command(args)``; a CliError it raises becomes one line on stderr and exit status 1."""
    from smgwd.cli.store_common import EXIT_FAILED, CliError

    try:
        return command(args)
    except CliError as error:
        print(f"smgwctl: {args.command}: {error}", file=sys.stderr)
        return EXIT_FAILED


def main(argv: list[str] | None = None) -> int:
    """Run smgwctl; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "decode" and args.protocol == "sml":
        from smgwd.cli.decode_sml import run

        return quiet_on_broken_pipe(lambda: run(args, parser))
    if args.command == "decode" and args.protocol == "hdlc":
        from smgwd.cli.decode_hdlc import run as decode_hdlc

        return quiet_on_broken_pipe(lambda: decode_hdlc(args))
    if args.command == "decode" and args.protocol == "wmbus":
        from smgwd.cli.decode_wmbus import run as decode_wmbus

        return quiet_on_broken_pipe(lambda: decode_wmbus(args))
    if args.command == "config" and args.action == "check":
        from smgwd.cli.config_check import run as check

        return quiet_on_broken_pipe(lambda: check(args))
    if args.command == "pki":
        from smgwd.cli.pki import run as pki

        return quiet_on_broken_pipe(lambda: pki(args))
    if args.command == "cms":
        from smgwd.cli.cms import run_open, run_seal

        command = run_seal if args.action == "seal" else run_open
        return quiet_on_broken_pipe(lambda: command(args))
    if args.command == "admin":
        from smgwd.cli.admin import run as admin

        return quiet_on_broken_pipe(lambda: admin(args))
    if args.command in STORE_COMMANDS:
        module, function = STORE_COMMANDS[args.command]
        command = getattr(importlib.import_module(module), function)
        return quiet_on_broken_pipe(lambda: _one_line_on_error(command, args))
    parser.error("unknown command")  # argparse exits with status 2 here; unreachable otherwise
    return 1


if __name__ == "__main__":
    sys.exit(main())
