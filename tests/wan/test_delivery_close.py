"""Stopping a delivery while its worker thread is still at work (a reload, a stop): nothing it uses is pulled away.

Seen in CI as a segmentation fault: a reload closed the delivery's store reader
while a worker thread was still reading with it (SQLite connections must not
be closed under a running statement). The worker is held here inside a
build, the delivery is closed, then the worker goes on.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from smgwd.gateway.store import Store
from smgwd.wan.delivery import DeliveryError
from tests.wan.test_delivery import Clock, Emp, delivery, emp, pki, readings, store  # noqa: F401 - fixtures


def test_close_during_a_build_waits_for_the_worker_to_be_done_with_the_reader(
        pki: Path, emp: Emp, store: Store) -> None:  # noqa: F811
    sender = delivery(pki, store, emp.port, Clock())
    store.on_readings(readings(0, 3))
    inside, go_on = threading.Event(), threading.Event()
    seal = sender._sealer.seal

    def held(*args: object, **kwargs: object) -> bytes:
        inside.set()
        assert go_on.wait(10)
        return seal(*args, **kwargs)  # type: ignore[arg-type]

    sender._sealer.seal = held  # type: ignore[method-assign]
    outcome: list[object] = []
    worker = threading.Thread(target=lambda: outcome.append(sender.build()))
    worker.start()
    assert inside.wait(10)
    sender.close()  # the reload's close, from the event loop's thread
    assert sender._reader is not None  # still the worker's
    go_on.set()
    worker.join(10)
    assert outcome and len(outcome[0]) == 3  # type: ignore[arg-type]  # the build finished, its messages made
    assert sender._reader is None  # released by the last user
    with pytest.raises(DeliveryError, match="stopped"):
        sender.send_next()  # a closed delivery takes no more work
