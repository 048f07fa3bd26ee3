"""glibc's malloc, asked through smgwd.gateway.memory: the arena cap takes effect, and pages freed
behind a live block go back to the kernel (the resident size of a fresh process drops)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from smgwd.gateway import memory

pytestmark = pytest.mark.skipif(memory._glibc() is None, reason="needs glibc")  # noqa: SLF001

PROBE = r"""
import json, sys
from smgwd.gateway.memory import give_back, limit_arenas
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
capped = limit_arenas()
blocks = [bytearray(2000) for _ in range(40_000)]  # 80 MB of malloc'd (not pymalloc) blocks
keep = blocks[-1]  # one live block at the top: the heap cannot simply shrink
del blocks
before = rss()
returned = give_back()
print(json.dumps({"capped": capped, "returned": returned, "before": before, "after": rss()}))
"""


def test_freed_pages_go_back_to_the_kernel() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=True)
    figures = json.loads(done.stdout)
    assert figures["capped"] and figures["returned"]
    assert figures["before"] - figures["after"] > 40, figures  # MiB

