"""The logs' event types are fixed: every type the source writes is listed for its log, and only those pass."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from smgwd.gateway import log_events
from smgwd.gateway.log_events import EVENTS, registered
from smgwd.gateway.store import StoreReader
from tests.gateway.test_store_support import running

SOURCE = Path(__file__).resolve().parents[2] / "smgwd"

#: the ways the source names an event type and its log (log None: the system log, or both where a loop says so)
FORMS = [
    (re.compile(r'\.log\(\s*"(system|calibration|consumer)",\s*"([a-z0-9_]+)"'), None),
    (re.compile(r'\.log\(\s*kind,\s*"([a-z0-9_]+)"'), ("system", "calibration")),  # for kind in (system, calibration)
    (re.compile(r'SystemNote\(\s*"([a-z0-9_]+)"'), None),
    (re.compile(r'_event\(\s*logging\.[A-Z]+,\s*"([a-z0-9_]+)"'), ("system",)),
    (re.compile(r'\bnote\(\s*"([a-z0-9_]+)"'), ("system", "calibration")),  # calibration_events: both logs
    (re.compile(r'^[A-Z_]*EVENT = "([a-z0-9_]+)"', re.MULTILINE), None),
]


def written_types() -> set[tuple[str | None, str]]:
    found: set[tuple[str | None, str]] = set()
    for path in SOURCE.rglob("*.py"):
        text = path.read_text()
        for pattern, logs in FORMS:
            for match in pattern.finditer(text):
                groups = match.groups()
                if len(groups) == 2:
                    found.add((groups[0], groups[1]))
                else:
                    found.update((kind, groups[0]) for kind in (logs or (None,)))
    return found


def test_every_type_the_source_writes_is_listed_for_its_log() -> None:
    found = written_types()
    assert len(found) > 40  # the scan finds the call sites: it is not vacuous
    unlisted = sorted((kind, event) for kind, event in found
                      if not (any(event in EVENTS[k] for k in EVENTS) if kind is None else event in EVENTS[kind]))
    assert unlisted == []


def test_variable_types_follow_their_patterns() -> None:
    assert registered("system", "link_down") and registered("system", "crc_error")
    assert registered("system", "decode_error") and not registered("system", "link_sideways")
    assert not registered("consumer", "start") and not registered("calibration", "data_sent")


def test_an_unlisted_type_is_written_all_the_same_counted_and_logged_once(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    log_events.UNREGISTERED.clear()
    with caplog.at_level(logging.ERROR, logger="smgwd.gateway.log_events"):
        with running(tmp_path / "s.db") as store:
            for _ in range(3):
                store.log("consumer", "mystery", "an entry of a type the consumer log does not have")
    with StoreReader(tmp_path / "s.db") as reader:
        assert [e.event for e in reader.log("consumer")] == ["mystery"] * 3  # nothing is lost
    assert log_events.UNREGISTERED[("consumer", "mystery")] == 3
    assert sum("'mystery' is not one of its fixed types" in r.getMessage() for r in caplog.records) == 1
    log_events.UNREGISTERED.clear()
