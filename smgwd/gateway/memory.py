"""The daemon's resident memory on a small board: fewer malloc arenas, freed pages given back.

How this works: glibc gives every thread that allocates its own malloc arena
(up to eight per core), and memory freed in an arena stays resident. The
daemon's threads (store writer, worker threads for serial ports, NTP, delivery)
each touch a few MiB once (a delivery build: XML, CMS), so the resident size
grew by the sum of their peaks. :func:`limit_arenas` caps the arenas at
ARENAS before the first thread starts; :func:`give_back` asks malloc to
return free pages to the kernel (``malloc_trim``), called after work that
allocates much and keeps little (a delivery build). Without glibc (musl, other
systems) both do nothing.
"""

from __future__ import annotations

import ctypes
import logging
from functools import lru_cache

__all__ = ["ARENAS", "give_back", "limit_arenas"]

log = logging.getLogger("smgwd")

ARENAS = 2
_M_ARENA_MAX = -8  # glibc malloc.h


@lru_cache(maxsize=1)
def _glibc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(None)  # the process's own symbols: the C library it runs on
    except OSError:
        return None
    names = ("gnu_get_libc_version", "mallopt", "malloc_trim")
    return libc if all(hasattr(libc, name) for name in names) else None


def limit_arenas(arenas: int = ARENAS) -> bool:
    """Cap glibc's malloc arenas (call before threads start); whether it took effect."""
    libc = _glibc()
    if libc is None or not libc.mallopt(_M_ARENA_MAX, arenas):
        log.debug("malloc arenas not limited (no glibc mallopt)")
        return False
    return True


def give_back() -> bool:
    """Return free heap pages to the kernel; whether any were returned."""
    libc = _glibc()
    return bool(libc.malloc_trim(0)) if libc is not None else False
