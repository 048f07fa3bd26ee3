"""Delivery goes by the store's own order (reading ids), never by a clock: readings stamped by a clock stepped
back or forward, or stored long after they were stamped, are delivered once each; an emptied table hands out no
id twice; a store that delivered by gateway time goes on without skipping a reading."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest

from smgwd.gateway.store import Store, StoreReader
from smgwd.wan.delivery import EmpDelivery, legacy_watermark_key, watermark_key
from tests.wan.test_delivery import (  # noqa: F401 - fixtures
    T0, Clock, Emp, delivery, drain, emp, gateway_rows, pki, readings, store,
)


@pytest.fixture
def sender_of(pki, store: Store) -> Iterator[Callable[..., EmpDelivery]]:  # noqa: F811
    """Deliveries to the test's EMP, closed (their kept-alive TLS connection too) after the test."""
    made: list[EmpDelivery] = []

    def make(emp: Emp, clock: Clock | None = None, **changes: object) -> EmpDelivery:  # noqa: F811
        made.append(delivery(pki, store, emp.port, clock or Clock(), **changes))
        return made[-1]

    yield make
    for sender in made:
        sender.close()


def delivered_once(emp: Emp, sent: list) -> bool:  # type: ignore[type-arg]
    return emp.rows() == gateway_rows(sent)


def test_a_clock_stepped_back_loses_no_reading(sender_of, emp: Emp, store: Store) -> None:  # noqa: F811
    """A Pi without RTC boots with a time ahead, stamps, then NTP steps it back: what follows is older."""
    clock = Clock()
    sender = sender_of(emp, clock)
    ahead = readings(600, 2)  # stamped ten hours ahead
    store.on_readings(ahead)
    assert sender.build()
    corrected = readings(0, 2, meter="m2")  # after the step: gateway times before everything sent so far
    store.on_readings(corrected)
    assert sender.build()
    drain(sender)
    assert delivered_once(emp, ahead + corrected)
    assert sender.build() == []


def test_a_clock_stepped_forward_then_back_sends_nothing_twice(sender_of, emp: Emp, store: Store) -> None:  # noqa: F811
    clock = Clock()
    sender = sender_of(emp, clock)
    batches = [readings(0, 1), readings(5000, 1, meter="m2"), readings(1, 1, meter="m3")]
    for batch in batches:
        store.on_readings(batch)
        sender.build()
        clock.now += timedelta(seconds=1)
    drain(sender)
    assert delivered_once(emp, [r for batch in batches for r in batch])


def test_a_reading_stored_long_after_it_was_stamped_is_delivered(sender_of, emp: Emp, store: Store) -> None:  # noqa: F811
    """Stamped an hour before the build that came first (a meter's batch held up): once stored, it is sent."""
    clock = Clock()
    sender = sender_of(emp, clock)
    store.on_readings(readings(60, 1))
    assert sender.build()
    late = readings(0, 1, meter="late")
    store.on_readings(late)
    assert sender.build()
    drain(sender)
    assert delivered_once(emp, readings(60, 1) + late)


def test_pruning_everything_old_hands_out_no_id_twice(sender_of, emp: Emp, store: Store) -> None:  # noqa: F811
    """Retention may leave no old reading: the newest row stays, so ids go on growing and nothing is skipped."""
    sender = sender_of(emp)
    old = readings(0, 2)
    store.on_readings(old)
    assert sender.build()
    assert store.prune(T0 + timedelta(days=365), timeout=10) == len(old) - 1
    with StoreReader(store.path) as reader:
        kept = list(reader.readings())
        assert len(kept) == 1 and reader.last_reading_id() == len(old)
    new = readings(5, 1, meter="m2")
    store.on_readings(new)
    assert sender.build()
    drain(sender)
    assert delivered_once(emp, old + new)


def test_a_gateway_time_watermark_goes_on_from_the_first_reading_after_it(sender_of, emp: Emp, store: Store) -> None:  # noqa: F811
    """A store from before 0.2 kept the gateway time of the last reading taken: nothing after it is skipped."""
    taken, due = readings(0, 2), readings(2, 2)
    store.on_readings(taken + due)
    store.set_state(legacy_watermark_key("emp"), max(r.gateway_time for r in taken if r.gateway_time).isoformat())
    assert store.flush(10)
    sender = sender_of(emp)
    assert sender.build()
    drain(sender)
    assert delivered_once(emp, due)
    with StoreReader(store.path) as reader:
        assert reader.state()[watermark_key("emp")] == str(reader.last_reading_id())


def test_readings_of_other_meters_move_the_watermark_without_a_message(sender_of, emp: Emp, store: Store) -> None:  # noqa: F811
    sender = sender_of(emp, meters=("m1",))
    store.on_readings(readings(0, 2, meter="other"))
    assert sender.build() == []
    with StoreReader(store.path) as reader:
        assert reader.state()[watermark_key("emp")] == str(reader.last_reading_id())
    mine = readings(3, 1)
    store.on_readings(mine)
    assert sender.build()
    drain(sender)
    assert delivered_once(emp, mine)
