"""The one exception root of the COSEM model.

Every check in :mod:`smgwd.cosem` (OBIS codes, typed values, interface-class
attributes) raises :class:`CosemError` or a subclass; it is a ``ValueError`` so
callers that only care about "bad input" can catch that.
"""

from __future__ import annotations


class CosemError(ValueError):
    """A value that does not fit the COSEM model."""
