"""Limits on a configuration file, enforced before a TOML parser sees it.

How this works: :func:`read_limited` reads only a regular file (``os.stat``
before opening, so a FIFO, a device such as ``/dev/zero`` or a directory is
refused without being opened; the file is opened ``O_NONBLOCK`` and checked
again with ``fstat``, in case it was swapped meanwhile) and at most
:data:`MAX_BYTES`. :func:`check_shape` is one linear pass over the text that
follows TOML's lexical rules just far enough to know what lies inside a
string or a comment; outside them it bounds how deeply arrays and inline
tables nest (``tomllib`` recurses once per level and raises RecursionError
near 1000) and how many parts a dotted key has (``tomllib`` is quadratic in
them: 40,000 parts took 27 s). The pass stops at the first excess, so it costs
at most one look at each character. Should the pass ever misjudge a file, the
parser's own RecursionError is still turned into one line.

:func:`load_toml` and :func:`parse_toml` put it together for every
configuration file of the project (the gateway's, the lab EMP's): limits,
UTF-8, shape, then ``tomllib``. Each refusal, a syntax error included, is a
:class:`LimitError`: where (``line N``, ``line N, column M`` or empty) and what.
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from typing import Any

__all__ = ["LimitError", "MAX_BYTES", "MAX_DEPTH", "MAX_KEY_PARTS", "check_shape", "load_toml", "parse_toml",
           "read_limited"]

#: Largest configuration file read (a gateway with 200 meters needs about 40 KiB).
MAX_BYTES = 1024 * 1024
#: Deepest nesting of arrays and inline tables in a value.
MAX_DEPTH = 32
#: Most parts of one dotted key (``a.b.c`` has 3), in a key/value line or a table header.
MAX_KEY_PARTS = 16

_KINDS = {stat.S_IFIFO: "a FIFO", stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
          stat.S_IFSOCK: "a socket", stat.S_IFDIR: "a directory"}

# Strings and comments first (their insides are skipped whole), then the characters that matter.
_TOKENS = re.compile(
    r'"""(?:[^"\\]|\\[\s\S]|"(?!""))*"""(?:"{0,2})'  # multi-line basic string
    r"|'''(?:[^']|'(?!''))*'''(?:'{0,2})"  # multi-line literal string
    r'|"(?:[^"\\\n]|\\.)*"'  # basic string
    r"|'[^'\n]*'"  # literal string
    r"|#[^\n]*"  # comment
    r"|[\[\]{},=.\n]"
)


class LimitError(Exception):
    """A file beyond the limits: ``where`` ("line N" or "") and ``problem``, one line."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}" if where else problem)
        self.where = where
        self.problem = problem


def _kind(mode: int) -> str:
    return _KINDS.get(stat.S_IFMT(mode), "not a regular file")


def read_limited(path: str | os.PathLike[str], limit: int = MAX_BYTES) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them; OSError or LimitError."""
    info = os.stat(path)
    if not stat.S_ISREG(info.st_mode):
        raise LimitError("", f"is {_kind(info.st_mode)}, not a regular file (expected a TOML file)")
    if info.st_size > limit:
        raise LimitError("", f"is {info.st_size} bytes, more than {limit} (expected a configuration file)")
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        opened = os.fstat(fd)
        if not stat.S_ISREG(opened.st_mode):
            raise LimitError("", f"is {_kind(opened.st_mode)}, not a regular file (expected a TOML file)")
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, limit + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    if size > limit:
        raise LimitError("", f"is more than {limit} bytes (expected a configuration file)")
    return b"".join(chunks)


def check_shape(text: str, *, max_depth: int = MAX_DEPTH, max_key_parts: int = MAX_KEY_PARTS) -> None:
    """Raise LimitError if ``text`` nests values deeper than ``max_depth`` or has a longer dotted key.

    Linear in ``len(text)``. Follows TOML where it matters: brackets and dots inside
    strings and comments do not count; a key starts a line (outside arrays), follows
    ``{`` or ``,`` in an inline table, or fills a ``[table]`` / ``[[array]]`` header.
    """
    stack: list[str] = []  # open '[' and '{' of values
    line = 1
    in_key, in_header, parts = True, False, 1
    for token in _TOKENS.finditer(text):
        char = token.group()
        if len(char) > 1:  # a string or a comment
            line += char.count("\n")
            continue
        if char == "\n":
            line += 1
            if not stack:
                in_key, in_header, parts = True, False, 1
        elif char == ".":
            if in_key:
                parts += 1
                if parts > max_key_parts:
                    raise LimitError(f"line {line}", f"a dotted key of more than {max_key_parts} parts "
                                                     f"(expected a shorter key)")
        elif char == "=":
            in_key = False
        elif char == "[" and in_key and not stack:
            in_header = True  # "[table]" or "[[array of tables]]": the key follows
        elif char == "]" and in_header:
            in_key = False  # the header's key has ended; only "]" or a comment may follow
        elif char in "[{":
            stack.append(char)
            if len(stack) > max_depth:
                raise LimitError(f"line {line}", f"arrays or inline tables nested more than {max_depth} deep "
                                                 f"(expected a flatter value)")
            in_key, parts = char == "{", 1
        elif char in "]}":
            if stack:
                stack.pop()
            in_key = False
        elif char == ",":
            in_key, parts = bool(stack) and stack[-1] == "{", 1


def load_toml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The TOML document in the file ``path``, read within the limits; LimitError (one line) if not."""
    try:
        data = read_limited(path)
    except OSError as error:
        raise LimitError("", f"cannot read the file: {error.strerror or error}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise LimitError(f"line {line}", "not UTF-8 text (expected a UTF-8 TOML file)") from None
    return parse_toml(text)


def parse_toml(text: str) -> dict[str, Any]:
    """The TOML document ``text``, checked for size and shape first; LimitError (one line) if not."""
    if len(text) > MAX_BYTES:
        raise LimitError("", f"is more than {MAX_BYTES} characters (expected a configuration file)")
    check_shape(text)
    try:
        return tomllib.loads(text)
    except RecursionError:  # check_shape bounds nesting; this is the parser's own guard, kept as one line
        raise LimitError("", "values nested too deeply (expected a flatter file)") from None
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        at = re.search(r"\s*\(at (line \d+, column \d+|end of document)\)$", message)
        where = at.group(1) if at else "syntax"
        if where == "end of document":
            where = f"line {text.count(chr(10)) + 1} (end of document)"
        problem = message[: at.start()] if at else message
        raise LimitError(where, f"{problem[:1].lower()}{problem[1:]} (expected valid TOML)") from None
