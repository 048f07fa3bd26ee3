"""Command-line programs stop quietly when their reader goes away (``| head``)."""

from __future__ import annotations

import os
import sys
from typing import Callable

__all__ = ["quiet_on_broken_pipe"]


def quiet_on_broken_pipe(run: Callable[[], int]) -> int:
    """Run ``run()``; a closed stdout ends the program with status 0 and no traceback."""
    try:
        return run()
    except BrokenPipeError:
        # point stdout at /dev/null so the interpreter's final flush cannot fail again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
