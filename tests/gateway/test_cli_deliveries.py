"""``smgwctl deliveries``: the outbox as an operator sees it, in creation order, by state."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from tests.gateway.test_cli_store import smgwctl
from tests.gateway.test_store_support import T0, running


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("deliveries") / "smgwd.db"
    with running(path) as store:
        store.enqueue("emp", [("gw-emp-c", b"123"), ("gw-emp-a", b"45")], "delivery.emp.until", "x", created_at=T0)
        store.enqueue("emp", [("gw-emp-b", b"6")], "delivery.emp.until", "y", created_at=T0 + timedelta(minutes=15))
        store.mark_outbox("gw-emp-c", "acked", attempts=2, acked_at=T0 + timedelta(minutes=1))
        store.mark_outbox("gw-emp-a", "failed", attempts=1, last_error="HTTP 403 not_for_us: wrong recipient")
        store.mark_outbox("gw-emp-b", "queued", attempts=3, last_error="ConnectionError: refused",
                          next_attempt_at=T0 + timedelta(minutes=20))
    return path


def test_json_lines_in_creation_order(db: Path) -> None:
    result = smgwctl("--db", str(db), "deliveries", "--format", "json")
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["message_id"], r["state"], r["attempts"], r["bytes"]) for r in records] == [
        ("gw-emp-c", "acked", 2, 3), ("gw-emp-a", "failed", 1, 2), ("gw-emp-b", "queued", 3, 1)]
    assert records[0]["acked_at"] == "2025-01-01T00:01:00Z"
    assert records[2]["next_attempt_at"] == "2025-01-01T00:20:00Z" and records[2]["reason"] == "ConnectionError: refused"


def test_table_and_state_filter(db: Path) -> None:
    lines = smgwctl("--db", str(db), "deliveries", "--state", "failed").stdout.splitlines()
    assert lines[0].split() == ["created", "emp", "message", "state", "attempts", "acked/next", "reason"]
    assert len(lines) == 2 and "gw-emp-a" in lines[1] and "HTTP 403 not_for_us: wrong recipient" in lines[1]
    assert smgwctl("--db", str(db), "deliveries", "--state", "lost").returncode == 1  # usage error


def test_progress_per_emp_follows_the_outbox(tmp_path: Path) -> None:
    """Each EMP's watermarks: the last reading taken, the next period to close, messages made, last TAF6."""
    path = tmp_path / "smgwd.db"
    with running(path) as store:
        store.enqueue("supplier", [("gw-supplier-1", b"1")], "delivery.supplier.seq", "1200", created_at=T0,
                      more_state={"delivery.supplier.sequence": "7"})
        store.enqueue("dso.north", [("gw-dso-1", b"2")], "delivery.dso.north.period", "2026-04-01T22:00:00+00:00",
                      created_at=T0, more_state={"delivery.dso.north.sequence": "31"})
        store.enqueue("dso.north", [("gw-dso-2", b"3")], "delivery.dso.north.taf6", "2026-04-02T08:00:00+00:00",
                      created_at=T0, more_state={"delivery.dso.north.sequence": "32", "delivery.dso.north.request": "5",
                                                 "delivery.dso.north.requests_refused": "2"})
    records = [json.loads(line) for line in smgwctl("--db", str(path), "deliveries", "--format", "json").stdout.splitlines()]
    assert [r for r in records if r["state"] == "progress"] == [
        {"state": "progress", "emp": "dso.north", "last_reading": None, "next_period": "2026-04-01T22:00:00+00:00",
         "messages": 32, "last_on_demand": "2026-04-02T08:00:00+00:00", "last_request": 5, "requests_refused": 2},
        {"state": "progress", "emp": "supplier", "last_reading": 1200, "next_period": None, "messages": 7,
         "last_on_demand": None, "last_request": None, "requests_refused": None}]
    table = smgwctl("--db", str(path), "deliveries").stdout.split("progress per EMP\n")[1].splitlines()
    assert table[0].split() == ["emp", "last", "reading", "next", "period", "messages", "last", "on", "demand",
                                "last", "request", "refused", "requests"]
    assert table[1].split()[-2:] == ["5", "2"]
    assert table[2].split() == ["supplier", "1200", "7"]
    assert "progress" not in smgwctl("--db", str(path), "deliveries", "--state", "queued").stdout
