"""hardware/README.md states defaults the code has: they must agree (a changed default fails here)."""

from __future__ import annotations

import re
from pathlib import Path

from smgwd.links.dongle import Amb8465Link, Im871aLink
from smgwd.links.gpio_link import GpioLink
from smgwd.links.rs485 import Rs485Link
from smgwd.links.url import parse_link

NOTES = (Path(__file__).resolve().parents[1] / "hardware" / "README.md").read_text()


def test_s0_defaults() -> None:
    link = parse_link("gpio://17")
    assert isinstance(link, GpioLink)
    assert re.search(r"`debounce=(\d+)` \(ms, the default\)", NOTES).group(1) == str(link.debounce_ms)  # type: ignore[union-attr]
    assert "with `pull=up`, the default" in NOTES and link.pull_up


def test_rs485_defaults() -> None:
    link = parse_link("rs485:///dev/ttyAMA0?address=0x12")
    assert isinstance(link, Rs485Link)
    assert "`direction=auto`\n  (the default)" in NOTES and link.direction == "auto"
    assert link.baud == 9600 and "9600" in NOTES


def test_dongle_bauds() -> None:
    im871a = parse_link("im871a:///dev/ttyUSB0")
    amb8465 = parse_link("amb8465:///dev/ttyUSB0")
    assert isinstance(im871a, Im871aLink) and isinstance(amb8465, Amb8465Link)
    assert f"| {im871a.baud} 8N1 |" in NOTES and f"| {amb8465.baud} 8N1 |" in NOTES
