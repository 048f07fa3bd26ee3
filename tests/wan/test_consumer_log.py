"""The consumer log (Letztverbraucher-Log): what was sent to whom and when, per meter, once the EMP has it."""

from __future__ import annotations

from pathlib import Path

from smgwd.gateway.store import Store, StoreReader
from smgwd.wan.delivery import CONSUMER_EVENT, EmpDelivery
from smgwd.wan.pseudonyms import pseudonym
from tests.wan.test_delivery import Clock, Emp, delivery, drain, emp, emp_config, pki, readings, store  # noqa: F401


def consumer_log(store: Store) -> list[tuple[str | None, str, dict[str, object]]]:
    assert store.flush(10)
    with StoreReader(store.path) as reader:
        return [(e.meter_id, e.message, e.data) for e in reader.log("consumer") if e.event == CONSUMER_EVENT]


def test_each_meter_of_an_acknowledged_message_gets_one_entry_in_plain_words(
        pki: Path, emp: Emp, store: Store) -> None:  # noqa: F811
    store.on_readings(readings(0, 3) + readings(0, 2, meter="m2"))
    sender = delivery(pki, store, emp.port, Clock())
    messages = sender.build()
    assert len(messages) == 3  # the jOSEF shape holds one value per meter and OBIS code: a message per minute
    assert consumer_log(store) == []  # queued is not sent
    drain(sender)
    entries = consumer_log(store)
    assert [(meter, data["message"]) for meter, _, data in entries] == [
        ("m1", messages[0]), ("m2", messages[0]), ("m1", messages[1]), ("m2", messages[1]), ("m1", messages[2])]
    assert entries[0][1] == "3 values of your meter m1, taken 2026-03-01T12:00:00+00:00 sent to emp as meter readings"
    assert entries[4][2] == {"emp": "emp", "message": messages[2], "values": 3, "from": "2026-03-01T12:02:00+00:00",
                             "until": "2026-03-01T12:02:00+00:00", "taf": None, "pseudonymous": False}
    assert sorted(r[0] for r in emp.rows()) == ["m1"] * 9 + ["m2"] * 6  # what the entries say is what arrived
    sender.close()


def test_retries_make_one_entry_and_a_refused_message_none(pki: Path, emp: Emp, store: Store) -> None:  # noqa: F811
    clock = Clock()
    sender = delivery(pki, store, emp.port, clock)
    store.on_readings(readings(0, 1))
    sender.build()
    emp.stop()
    sender.send_next()  # the EMP is down: queued again for later
    assert consumer_log(store) == []
    emp.start()
    clock.now = clock.now.replace(hour=23)
    drain(sender)
    assert [meter for meter, _, _ in consumer_log(store)] == ["m1"]
    sender.close()
    refused = delivery(pki, store, emp.port, clock, id="emp2")
    emp.service.name = "emp"  # the EMP knows its name: a message signed for emp2 is refused (not_for_this_emp)
    store.on_readings(readings(5, 1))
    refused.build()
    drain(refused)
    with StoreReader(store.path) as reader:
        assert [e.state for e in reader.outbox() if e.emp == "emp2"] == ["failed", "failed"]  # minutes 0 and 5
    assert [meter for meter, _, _ in consumer_log(store)] == ["m1"]
    refused.close()


def test_a_pseudonymous_delivery_names_the_real_meter_to_its_consumer(
        pki: Path, emp: Emp, store: Store) -> None:  # noqa: F811
    secret = bytes(range(32))
    sender = EmpDelivery(emp_config(pki, emp.port, pseudonymize=True), "smgw-lab-1", store, clock=Clock(),
                         backoff=lambda n: 60.0, secret=secret)
    store.on_readings(readings(0, 1))
    sender.build()
    drain(sender)
    ((meter, text, data),) = consumer_log(store)
    assert meter == "m1" and text.endswith("sent to emp as meter readings under a pseudonym")
    assert data["pseudonymous"] is True
    assert {r[0] for r in emp.rows()} == {pseudonym(secret, "emp", "m1")}
    sender.close()
