"""``smgw-sim profile``: print a year of quarter-hour load or PV values.

How this works: ``add_profile_arguments`` declares the options on any parser
(smgw-sim mounts it as a subcommand), ``run`` checks what argparse cannot,
builds a :class:`StandardLoadProfile` or :class:`PvProfile` and writes its
``series`` as CSV (header ``timestamp,kw,kwh``) or as one JSON array of
objects. Timestamps are the UTC start of each quarter hour, ISO 8601 with
``Z``; numbers have six decimals.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator, Sequence
from typing import TextIO

from smgwd.sim.loadprofile.pv import PvProfile
from smgwd.sim.loadprofile.slp import KINDS, SeriesRow, StandardLoadProfile

__all__ = ["add_profile_arguments", "run", "run_profile"]

_DECIMALS = 6
_PV_DEFAULTS = {"lat": 52.52, "lon": 13.405, "tilt": 30.0, "azimuth": 180.0}  # Berlin, 30 degrees south


def add_profile_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``smgw-sim profile`` on ``parser`` (and its description, if it has none)."""
    parser.description = parser.description or (
        "Print the quarter hours of one German local calendar year of a BDEW standard load "
        "profile (h0, g0-g6, l0-l2; 1999 VDEW tables) or of a modelled PV feed-in (pv): "
        "timestamp (UTC start of the quarter hour), average kW, kWh. The year sums to "
        "--annual-kwh. DST days have 92 or 100 quarter hours."
    )
    parser.add_argument("--kind", required=True, type=str.lower, choices=(*KINDS, "pv"),
                        help="profile: h0, g0..g6, l0..l2, or pv")
    parser.add_argument("--annual-kwh", required=True, type=float, metavar="KWH",
                        help="energy of the year in kWh (consumption, or PV feed-in)")
    parser.add_argument("--year", required=True, type=int, help="calendar year (German local time)")
    parser.add_argument("--dynamic", action="store_true", help="apply the BDEW H0 dynamisation (h0 only)")
    pv = parser.add_argument_group("pv options")
    pv.add_argument("--lat", type=float, help="latitude in degrees (default 52.52, Berlin)")
    pv.add_argument("--lon", type=float, help="longitude in degrees east (default 13.405)")
    pv.add_argument("--tilt", type=float, help="module tilt in degrees, 0 = flat (default 30)")
    pv.add_argument("--azimuth", type=float,
                    help="direction the modules face, degrees clockwise from north (default 180, south)")
    pv.add_argument("--seed", type=int, help="seeded weather; without it every day is clear sky")
    parser.add_argument("--format", choices=("csv", "json"), default="csv", help="output format (default csv)")


def run(args: argparse.Namespace, parser: argparse.ArgumentParser, out: TextIO | None = None) -> int:
    """Print the series the parsed options describe; option errors go through ``parser.error``."""
    out = sys.stdout if out is None else out
    if args.dynamic and args.kind != "h0":
        parser.error("--dynamic applies to --kind h0 only")
    if args.kind != "pv":
        for name in (*_PV_DEFAULTS, "seed"):
            if getattr(args, name) is not None:
                parser.error(f"--{name} applies to --kind pv only")
    if not args.annual_kwh >= 0:
        parser.error(f"--annual-kwh must be >= 0, not {args.annual_kwh}")
    if not 1900 <= args.year <= 2199:  # the span the holiday and DST rules are meant for
        parser.error(f"--year must be 1900..2199, not {args.year}")
    try:
        rows = _rows(args)
    except ValueError as exc:
        parser.error(str(exc))
    writer = _write_json if args.format == "json" else _write_csv
    writer(rows, out)
    return 0


def run_profile(argv: Sequence[str] | None = None) -> int:
    """``smgw-sim profile`` on its own: parse ``argv``, print, return the exit status."""
    parser = argparse.ArgumentParser(prog="smgw-sim profile")
    add_profile_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args, parser)
    except BrokenPipeError:  # the reader went away (``| head``): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _rows(args: argparse.Namespace) -> Iterator[SeriesRow]:
    if args.kind == "pv":
        site = {name: default if getattr(args, name) is None else getattr(args, name)
                for name, default in _PV_DEFAULTS.items()}
        plant = PvProfile(args.annual_kwh, site["lat"], site["lon"], site["tilt"], site["azimuth"], args.seed)
        return plant.series(args.year)
    return StandardLoadProfile(args.kind, args.annual_kwh, args.dynamic).series(args.year)


def _fields(rows: Iterator[SeriesRow]) -> Iterator[tuple[str, float, float]]:
    for start, kw, kwh in rows:
        yield start.strftime("%Y-%m-%dT%H:%M:%SZ"), round(kw, _DECIMALS), round(kwh, _DECIMALS)


def _write_csv(rows: Iterator[SeriesRow], out: TextIO) -> None:
    out.write("timestamp,kw,kwh\n")
    for stamp, kw, kwh in _fields(rows):
        out.write(f"{stamp},{kw:.{_DECIMALS}f},{kwh:.{_DECIMALS}f}\n")


def _write_json(rows: Iterator[SeriesRow], out: TextIO) -> None:
    out.write("[")
    separator = "\n"
    for stamp, kw, kwh in _fields(rows):
        out.write(separator + json.dumps({"timestamp": stamp, "kw": kw, "kwh": kwh}))
        separator = ",\n"
    out.write("\n]\n")
