"""Files only smgwd's user may read (keys, passwords, the gateway secret): opened and checked in one step.

How this works: the file is opened first and then checked through its open
descriptor (``fstat``), so what is checked is what is read, and a FIFO or a
device in its place neither blocks nor is read. A file that group or others
can access is refused, with the ``chmod`` that mends it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = ["HINT", "PrivateFileError", "PrivateFileTooLarge", "open_private", "read_private"]

HINT = "a file only smgwd's user can read, mode 0600 or 0400"


class PrivateFileError(Exception):
    """A private file that cannot be used; the message is one line naming it and the fix."""


class PrivateFileTooLarge(PrivateFileError):
    """A private file larger than its reader takes."""


def open_private(path: Path) -> int:
    """An open read-only descriptor of ``path`` if it is a regular file only its owner can access."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as error:
        raise PrivateFileError(f"cannot open {path}: {error.strerror} (expected {HINT})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise PrivateFileError(f"{path} is not a regular file (expected {HINT})")
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o077:
            raise PrivateFileError(f"{path} has mode {mode:04o}, so group or others can access it "
                                   f"(expected {HINT}: chmod 600 {path})")
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_private(path: Path, limit: int) -> bytes:
    """The content of the private file ``path``; PrivateFileError if it is not private or over ``limit`` bytes."""
    fd = open_private(path)
    try:
        chunks: list[bytes] = []
        size = 0
        while chunk := os.read(fd, limit + 1 - size):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                raise PrivateFileTooLarge(f"{path} is larger than {limit} bytes")
    except OSError as error:
        raise PrivateFileError(f"cannot read {path}: {error.strerror} (expected {HINT})") from None
    finally:
        os.close(fd)
    return b"".join(chunks)
