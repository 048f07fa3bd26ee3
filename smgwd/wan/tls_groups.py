"""The key exchange groups a TLS context offers: the TR-03116-3 list, not the single curve ``ssl`` can name.

How this works: Python's ``ssl`` sets groups only through ``set_ecdh_curve``,
which allows exactly one. OpenSSL itself takes a list
(``SSL_CTX_set1_groups_list``, a macro for ``SSL_CTX_ctrl`` with
``SSL_CTRL_SET_GROUPS_LIST``); :func:`offer_groups` calls it through ctypes on
the ``SSL_CTX`` that the context wraps (the pointer right after the object
header of CPython's ``_ssl._SSLContext``), in the libssl that ``_ssl`` itself
uses. It first proves that the pointer is that context's: OpenSSL's own
``SSL_CTX_get_options`` must give the options Python reports. When anything
does not hold (another interpreter, no libssl to be found, OpenSSL refusing the
list) it says so and the caller keeps the one curve of ``set_ecdh_curve``.

The groups (TR-03116-3 §4: brainpoolP256r1, P384r1, P512r1; NIST P-256 and
P-384 where the profile allows them), the context's own curve first. With
OpenSSL 3.2 and later the TLS 1.3 brainpool groups of RFC 8734 join them.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import ssl
from functools import lru_cache

__all__ = ["TR_03116_GROUPS", "TLS13_BRAINPOOL_GROUPS", "groups_for", "offer_groups"]

#: TLS 1.2 ECDHE groups of TR-03116-3, as OpenSSL names them.
TR_03116_GROUPS = ("brainpoolP256r1", "brainpoolP384r1", "brainpoolP512r1", "P-256", "P-384")
#: The TLS 1.3 brainpool groups (RFC 8734), known to OpenSSL from 3.2.
TLS13_BRAINPOOL_GROUPS = ("brainpoolP256r1tls13", "brainpoolP384r1tls13", "brainpoolP512r1tls13")
_ALIASES = {"prime256v1": "P-256", "secp256r1": "P-256", "secp384r1": "P-384"}
_SSL_CTRL_SET_GROUPS_LIST = 92


def groups_for(curve: str, tls13: bool) -> list[str]:
    """The groups to offer, ``curve`` (the context's own, any OpenSSL name) first."""
    first = _ALIASES.get(curve, curve)
    groups = [first, *(g for g in TR_03116_GROUPS if g != first)]
    if tls13:
        groups[:0] = [f"{first}tls13"] if f"{first}tls13" in TLS13_BRAINPOOL_GROUPS else []
        groups += [g for g in TLS13_BRAINPOOL_GROUPS if g not in groups]
    return groups


@lru_cache(maxsize=1)
def _libssl() -> ctypes.CDLL | None:
    import _ssl

    where = getattr(_ssl, "__file__", None) or ctypes.util.find_library("ssl")
    try:
        library = ctypes.CDLL(where)  # dlsym on _ssl's handle searches the libssl it was linked with
        library.SSL_CTX_get_options.restype = ctypes.c_uint64
        library.SSL_CTX_get_options.argtypes = [ctypes.c_void_p]
        library.SSL_CTX_ctrl.restype = ctypes.c_long
        library.SSL_CTX_ctrl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_long, ctypes.c_char_p]
    except (OSError, AttributeError, TypeError):
        return None
    return library


def _ssl_ctx(context: ssl.SSLContext, library: ctypes.CDLL) -> int | None:
    """The SSL_CTX pointer of ``context``, or None unless OpenSSL confirms it is that context's."""
    pointer = ctypes.c_void_p.from_address(id(context) + object.__basicsize__).value
    if not pointer or library.SSL_CTX_get_options(pointer) != int(context.options):
        return None
    return pointer


def offer_groups(context: ssl.SSLContext, groups: list[str]) -> str | None:
    """Offer ``groups`` on ``context``; None when done, else why not (the context is then unchanged)."""
    library = _libssl()
    if library is None:
        return "no libssl with SSL_CTX_ctrl found for ctypes"
    pointer = _ssl_ctx(context, library)
    if pointer is None:
        return "the SSL_CTX of this ssl.SSLContext could not be confirmed"
    if library.SSL_CTX_ctrl(pointer, _SSL_CTRL_SET_GROUPS_LIST, 0, ":".join(groups).encode()) != 1:
        return f"{ssl.OPENSSL_VERSION} refused the groups {':'.join(groups)}"
    return None
