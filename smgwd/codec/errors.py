"""The one exception root of every codec.

Each codec subclasses :class:`DecodeError`; on any input a decoder yields its
results or raises one of those subclasses, nothing else.
"""

from __future__ import annotations


class DecodeError(ValueError):
    """Input that a codec cannot decode.

    Args:
        what: what is wrong, in words.
        offset: byte offset in the decoder's input where it was found, if known.
    """

    def __init__(self, what: str, offset: int | None = None) -> None:
        self.what = what
        self.offset = offset
        super().__init__(what if offset is None else f"{what} (at byte {offset})")
