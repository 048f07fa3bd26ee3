"""smgwctl entry point: argument parsing only; each command lives in its own module.

Commands import their modules when they run, so ``smgwctl decode`` loads
only what decoding needs.
"""

from __future__ import annotations

import argparse
import sys

from smgwd.cli.pipes import quiet_on_broken_pipe

__all__ = ["main", "build_parser"]

EXIT_USAGE = 1


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error exits with status 1 (2 means rejected input here)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The smgwctl argument parser (also the source of its --help text)."""
    parser = _Parser(
        prog="smgwctl",
        description="Operator tool of the smgwd smart meter gateway.",
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
            "decoded, 2 some input rejected (good frames still printed), 1 usage error."
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
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run smgwctl; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "decode" and args.protocol == "sml":
        from smgwd.cli.decode_sml import run

        return quiet_on_broken_pipe(lambda: run(args, parser))
    parser.error("unknown command")  # argparse exits with status 2 here; unreachable otherwise
    return 1


if __name__ == "__main__":
    sys.exit(main())
