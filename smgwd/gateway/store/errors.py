"""The store's exceptions (their own module so the opening checks and the schema share them)."""

from __future__ import annotations

__all__ = ["SchemaError", "StoreError"]


class StoreError(Exception):
    """The store cannot be opened or used; the message is one readable line."""


class SchemaError(StoreError):
    """The database's schema is one this code cannot use (newer, or not an smgwd store)."""
