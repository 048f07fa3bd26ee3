"""smgwd, the gateway daemon (entry point).

The daemon itself (meters, NTP timebase, store, systemd integration) is not built yet; until
it is, this entry point says so instead of pretending to run.
"""

from __future__ import annotations

import sys

EX_UNAVAILABLE = 69


def main(argv: list[str] | None = None) -> int:
    print("smgwd: the gateway daemon is not implemented yet; use `smgwctl decode` for captures", file=sys.stderr)
    return EX_UNAVAILABLE


if __name__ == "__main__":
    sys.exit(main())
