"""smgw-emp, the lab EMP endpoint (entry point; not built yet, and it says so)."""

from __future__ import annotations

import sys

from smgwd.daemon import EX_UNAVAILABLE


def main(argv: list[str] | None = None) -> int:
    print("smgw-emp: not implemented yet", file=sys.stderr)
    return EX_UNAVAILABLE


if __name__ == "__main__":
    sys.exit(main())
