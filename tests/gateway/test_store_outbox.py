"""The outbox in the store: atomic enqueue with the EMP's watermark, transitions, creation order."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from smgwd.gateway.store import StoreReader
from tests.gateway.test_store_support import running

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def test_enqueue_commits_rows_and_watermark_together(tmp_path: Path) -> None:
    with running(tmp_path / "s.db") as store:
        store.enqueue("emp", [("m-1", b"a"), ("m-2", b"b")], "delivery.emp.until", "t1", created_at=T0)
        assert store.flush(10)
    with StoreReader(tmp_path / "s.db") as reader:
        assert [(e.message_id, e.payload, e.state) for e in reader.outbox()] == [("m-1", b"a", "queued"),
                                                                                ("m-2", b"b", "queued")]
        assert reader.state()["delivery.emp.until"] == "t1"


def test_a_refused_group_leaves_neither_rows_nor_watermark(tmp_path: Path) -> None:
    with running(tmp_path / "s.db") as store:
        store.enqueue("emp", [("m-1", b"a")], "delivery.emp.until", "t1")
        # a duplicate message id: the whole group goes, the watermark stays where it was
        store.enqueue("emp", [("m-2", b"b"), ("m-1", b"c")], "delivery.emp.until", "t2")
        store.set_state("other", 1)  # statements after the group still commit
    with StoreReader(tmp_path / "s.db") as reader:
        assert [e.message_id for e in reader.outbox()] == ["m-1"]
        assert reader.state()["delivery.emp.until"] == "t1" and reader.state()["other"] == "1"
    assert store.stats.rejected == 1


def test_transitions(tmp_path: Path) -> None:
    later = T0.replace(minute=5)
    with running(tmp_path / "s.db") as store:
        store.enqueue("emp", [("m-1", b"a"), ("m-2", b"b")], "delivery.emp.until", "t", created_at=T0)
        store.mark_outbox("m-1", "queued", attempts=1, next_attempt_at=later, last_error="connection refused")
        store.mark_outbox("m-2", "acked", attempts=1, acked_at=later)
    with StoreReader(tmp_path / "s.db") as reader:
        first, second = reader.outbox()
        assert (first.state, first.attempts, first.next_attempt_at, first.last_error) == (
            "queued", 1, later, "connection refused")
        assert (second.state, second.acked_at, second.next_attempt_at) == ("acked", later, None)
        assert [e.message_id for e in reader.outbox("acked")] == ["m-2"]


def test_outbox_lists_in_creation_order_not_by_id(tmp_path: Path) -> None:
    ids = ["z", "a", "m", "b"]
    with running(tmp_path / "s.db") as store:
        for index, message_id in enumerate(ids):
            store.enqueue("emp", [(message_id, b"x")], "delivery.emp.until", str(index), created_at=T0)
    with StoreReader(tmp_path / "s.db") as reader:
        assert [e.message_id for e in reader.outbox()] == ids
