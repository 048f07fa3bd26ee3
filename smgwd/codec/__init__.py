"""Sans-I/O protocol codecs: bytes in, typed objects or events out, and back."""

from smgwd.codec.errors import DecodeError

__all__ = ["DecodeError"]
