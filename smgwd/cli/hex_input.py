"""The hex-text input of the offline decoders (``smgwctl decode wmbus|hdlc``): a file or stdin."""

from __future__ import annotations

import sys

__all__ = ["read_hex_text"]


def read_hex_text(file: str) -> str | None:
    """The text of ``file`` (``-``: stdin), non-ASCII replaced; None after saying on stderr why it cannot be read."""
    try:
        if file == "-":
            return sys.stdin.read()
        with open(file, encoding="ascii", errors="replace") as stream:
            return stream.read()
    except OSError as error:
        print(f"smgwctl: cannot read {file}: {error.strerror}", file=sys.stderr)
        return None
