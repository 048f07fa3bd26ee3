"""The error of everything XML in smgwd, apart from the parser so that writing XML needs no XML library."""

from __future__ import annotations

__all__ = ["XmlError"]


class XmlError(ValueError):
    """Malformed, unsafe, invalid or unwritable XML.

    Args:
        what: what is wrong, in words.
        line: the line of the document where it was found, if known.
    """

    def __init__(self, what: str, line: int | None = None) -> None:
        self.what = what
        self.line = line
        super().__init__(what if line is None else f"line {line}: {what}")
