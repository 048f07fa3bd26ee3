"""The gateway secret: 32 random bytes, made once per gateway, the key of its pseudonyms.

How this works: the secret lives in one file (``[gateway] secret``, by default
``gateway.secret`` beside the store) as 64 hex digits on one line, mode 0600,
owned by smgwd's user. The package makes it at install; :func:`load_or_create`
makes it on first use where no package did (a lab run, the demo). It is
written to a temporary file in the same directory, synced and then linked
into place, so a crash never leaves half a secret and two processes racing
to make it end with the same one. It is never rotated: a new secret gives
every meter new pseudonyms, so an EMP would see new meters.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from smgwd.gateway.private_file import PrivateFileError, read_private

__all__ = ["SECRET_BYTES", "SecretError", "load_or_create", "read_secret"]

SECRET_BYTES = 32


class SecretError(Exception):
    """The gateway secret cannot be read or made; one line naming the file."""


def read_secret(path: Path) -> bytes:
    """The secret in ``path``; SecretError if the file is missing, not private or not 64 hex digits."""
    try:
        text = read_private(path, 4 * SECRET_BYTES)
    except PrivateFileError as error:
        raise SecretError(f"gateway secret: {error}") from None
    try:
        secret = bytes.fromhex(text.decode("ascii").strip())
    except ValueError:  # UnicodeDecodeError is a ValueError
        secret = b""
    if len(secret) != SECRET_BYTES:
        raise SecretError(f"gateway secret: {path} is not {2 * SECRET_BYTES} hex digits on one line "
                          "(remove it to have a new one made: every pseudonym changes)")
    return secret


def load_or_create(path: Path) -> bytes:
    """The secret in ``path``, made first (0600, see the module comment) if there is no such file."""
    if not os.path.lexists(path):
        _create(path)
    return read_secret(path)


def _create(path: Path) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, (secrets.token_hex(SECRET_BYTES) + "\n").encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(temporary, path)  # fails if another process made it first: theirs is kept
        except FileExistsError:
            pass
        directory = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    except OSError as error:
        raise SecretError(f"gateway secret: cannot make {path}: {error.strerror}") from None
    finally:
        try:
            os.unlink(temporary)
        except OSError:
            pass
