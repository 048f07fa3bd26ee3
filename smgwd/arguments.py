"""The argument parser every smgwd program uses.

Exit statuses are part of the programs' contracts: 1 is a usage error, 2
means rejected input (``smgwctl decode``), 78 a bad configuration. argparse
exits with 2 on usage errors; this parser exits with 1.
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["EXIT_USAGE", "ArgumentParser"]

EXIT_USAGE = 1


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a usage error exits with status 1."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")
