"""Waiting in async end-to-end tests for something the loop brings about."""

from __future__ import annotations

import asyncio
from typing import Callable


async def until(check: Callable[[], object], timeout: float = 20.0) -> None:
    """Return once ``check()`` is true; fail the test after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.02)
