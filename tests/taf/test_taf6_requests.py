"""TAF6 asked by the EMP itself: ``smgw-emp ask`` to a running gateway, answered, declined, never twice.

The lab EMP runs from its own configuration (the demo's, with ``[gateways]``)
in this process; ``smgw-emp ask`` and ``smgw-emp requests`` are the real
program in subprocesses, as an EMP operator would run them. The gateway runs
with a real store and its delivery, asking for requests every 0.2 s.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import requests

from smgwd.demo import EMP_TOML
from smgwd.emp.config import load_emp_config
from smgwd.emp.main import open_emp
from smgwd.emp.server import EmpServer
from smgwd.emp.service import EmpService
from smgwd.gateway.config import GatewayConfig, GatewayIdentity, StoreConfig, TimeConfig, EmpConfig
from smgwd.gateway.core import Gateway
from smgwd.gateway.sdnotify import Notifier
from smgwd.gateway.store import StoreReader
from smgwd.reading import Reading
from smgwd.wan.deliveries import Deliveries
from smgwd.wan.pki import init_pki, issue
from smgwd.wan.tls import client_context
from smgwd.wan.tls_requests import TlsAdapter
from tests.waiting import until
from tests.wan.test_delivery import emp_config, readings


class LabEmp:
    """The lab EMP of a config file, serving in a thread."""

    def __init__(self, base: Path, bound: str) -> None:
        self.config_file = base / "emp.toml"
        self.config_file.write_text(EMP_TOML.format(port=0, meters=bound))
        self.service: EmpService
        self.server: EmpServer
        self.service, self.server = open_emp(load_emp_config(self.config_file))
        self.config_file.write_text(EMP_TOML.format(port=self.server.port, meters=bound))
        self.server.serve_in_thread()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.service.store.close()

    def run(self, *words: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "smgwd.emp.main", "--config", str(self.config_file), *words],
                              capture_output=True, text=True, timeout=60)

    def requests(self) -> dict[int, dict[str, Any]]:
        listed = self.run("requests", "--format", "json")
        assert listed.returncode == 0, listed.stderr
        return {record["id"]: record for record in map(json.loads, listed.stdout.splitlines())}


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[LabEmp]:
    init_pki(tmp_path / "pki")
    issue(tmp_path / "pki", "smgw", "smgw2")
    (tmp_path / "lab").symlink_to(tmp_path / "pki")  # emp_config() looks for the PKI in <base>/lab
    emp = LabEmp(tmp_path, '"m1", "m2", "m3"')  # the EMP thinks the gateway may report m3; the gateway does not
    yield emp
    emp.stop()


def gateway_config(tmp_path: Path, emp: EmpConfig, name: str = "gw") -> GatewayConfig:
    return GatewayConfig(gateway=GatewayIdentity(name), store=StoreConfig(path=tmp_path / f"{name}.db", flush_interval=0.05),
                         time=TimeConfig(servers=()), emps=(emp,))


def gateway_state(tmp_path: Path) -> dict[str, str]:
    with StoreReader(tmp_path / "gw.db") as reader:
        return reader.state()


def delivered(emp: LabEmp, message_id: str) -> list[tuple[str, str, int]]:
    return sorted((r.meter, r.obis, int(r.raw)) for r in emp.service.store.readings(limit=100_000)
                  if r.message_id == message_id)


def latest(items: list[Reading]) -> list[tuple[str, str, int]]:
    newest: dict[tuple[str, str], Reading] = {}
    for reading in items:
        newest[(reading.meter_id, str(reading.obis))] = reading
    return sorted((meter, obis, int(r.raw)) for (meter, obis), r in newest.items())


def run_gateway(config: GatewayConfig, work: Callable[[Gateway], Any]) -> Any:
    async def life() -> Any:
        gateway = Gateway(config, notifier=Notifier.disabled(), listeners=[Deliveries({"backoff": lambda n: 0.05})])
        await gateway.start()
        try:
            return await work(gateway)
        finally:
            await gateway.stop()

    return asyncio.run(life())


def test_the_emp_asks_and_the_gateway_answers_declines_and_never_answers_twice(lab: LabEmp, tmp_path: Path) -> None:
    stored = readings(0, 3) + readings(0, 3, meter="m2") + readings(0, 3, meter="m3")
    emp = emp_config(tmp_path, lab.server.port, interval=3600.0, meters=("m1", "m2"), request_poll=0.2)
    asked = {
        "one meter": lab.run("ask", "smgw", "m1"),
        "not the gateway's": lab.run("ask", "smgw", "m3"),
        "all": lab.run("ask", "smgw"),
        "not bound at the EMP": lab.run("ask", "smgw", "m9"),
        "unknown gateway": lab.run("ask", "smgw9"),
    }
    assert [asked[name].returncode for name in asked] == [0, 0, 0, 1, 1], asked
    assert asked["one meter"].stdout.startswith("request 1 to gateway smgw for m1: pending")
    assert asked["not bound at the EMP"].stderr.strip() == (
        f"smgw-emp: ask: gateway smgw may not report meter m9 ([gateways] of {lab.config_file})")
    assert "gateway smgw9 is not in [gateways]" in asked["unknown gateway"].stderr
    assert sorted(lab.requests()) == [1, 2, 3]

    async def answered(gateway: Gateway) -> None:
        gateway.on_readings(stored)
        await until(lambda: gateway_state(tmp_path).get("delivery.emp.request") == "3"
                    and all(r.state != "pending" for r in lab.service.store.requests()))

    run_gateway(gateway_config(tmp_path, emp), answered)
    requests_now = lab.requests()
    assert [requests_now[n]["state"] for n in (1, 2, 3)] == ["answered", "declined", "answered"]
    assert requests_now[2]["reason"] == "emp emp is not given meter m3"
    assert delivered(lab, requests_now[1]["message_id"]) == latest(readings(0, 3))
    assert delivered(lab, requests_now[3]["message_id"]) == latest(readings(0, 3) + readings(0, 3, meter="m2"))
    assert requests_now[1]["answers"] == 1 and requests_now[3]["answers"] == 1
    with StoreReader(tmp_path / "gw.db") as reader:
        assert reader.state()["delivery.emp.request"] == "3"
        declined = [e for e in reader.log("system") if e.event == "taf6_declined"]
        assert [e.data["request"] for e in declined] == [2]  # type: ignore[index]

    # an EMP that hands a request out again (here: one that forgets what it was told, ignoring after=):
    # the restarted gateway knows it handled it and sends nothing more
    with sqlite3.connect(lab.service.store.path) as db:
        db.execute("UPDATE requests SET state = 'pending' WHERE id = 1")
    original = lab.service.pending_for
    handed: list[int] = []

    def forgetful(client: str, role: str | None, after: str | None) -> tuple[int, dict[str, Any]]:
        status, answer = original(client, role, None)
        handed.extend(r["id"] for r in answer.get("requests", []))
        return status, answer

    lab.service.pending_for = forgetful  # type: ignore[method-assign]
    outbox_before = len(StoreReader(tmp_path / "gw.db").outbox())

    async def replayed(gateway: Gateway) -> None:
        await until(lambda: len(handed) >= 2)  # handed out at two polls at least

    run_gateway(gateway_config(tmp_path, emp), replayed)
    assert set(handed) == {1}
    with StoreReader(tmp_path / "gw.db") as reader:
        assert len(reader.outbox()) == outbox_before
    assert lab.requests()[1]["answers"] == 1


def tls_session(pki: Path, who: str) -> requests.Session:
    session = requests.Session()
    session.mount("https://", TlsAdapter(client_context(pki / f"{who}/tls.pem", pki / f"{who}/tls.key",
                                                        pki / "ca-chain.pem")))
    return session


def test_only_a_gateway_sees_and_declines_its_own_requests(lab: LabEmp, tmp_path: Path) -> None:
    lab.service.gateways = {"smgw": frozenset({"*"}), "smgw2": frozenset({"*"})}
    mine = lab.service.store.ask("smgw", ["m1"])
    theirs = lab.service.store.ask("smgw2", [])
    url = f"https://localhost:{lab.server.port}/v1/requests"
    pki = tmp_path / "pki"
    with tls_session(pki, "smgw/smgw") as smgw, tls_session(pki, "smgw/smgw2") as smgw2, \
            tls_session(pki, "emp/emp") as emp, tls_session(pki, "gwa/gwa") as gwa:
        assert smgw.get(url, timeout=10).json() == {"requests": [mine.record()]}
        assert smgw.get(f"{url}?after={mine.id}", timeout=10).json() == {"requests": []}
        assert smgw2.get(url, timeout=10).json() == {"requests": [theirs.record()]}
        for stranger in (emp, gwa):
            answer = stranger.get(url, timeout=10)
            assert (answer.status_code, answer.json()["error"]) == (403, "not_a_gateway")
        assert smgw.get(f"{url}?after=-1", timeout=10).status_code == 400
        stolen = smgw.post(f"{url}/{theirs.id}/decline", json={"reason": "not mine"}, timeout=10)
        assert (stolen.status_code, stolen.json()["error"]) == (404, "unknown_request")
        assert smgw.post(f"{url}/{mine.id}/decline", data=b"[]", timeout=10).status_code == 400
        assert smgw.post(f"{url}/{mine.id}/decline", data=b"x" * 5000, timeout=10).status_code == 413
        assert smgw.post(f"{url}/{mine.id}/decline", json={"reason": "busy"}, timeout=10).json() == {"declined": mine.id}
        again = smgw.post(f"{url}/{mine.id}/decline", json={"reason": "busy"}, timeout=10)
        assert again.status_code == 404  # declined once: no longer pending
        lab.service.gateways = {"smgw": frozenset({"*"})}
        assert smgw2.get(url, timeout=10).json()["error"] == "unknown_gateway"
    states = {r.request.id: (r.gateway, r.state, r.reason) for r in lab.service.store.requests()}
    assert states == {mine.id: ("smgw", "declined", "busy"), theirs.id: ("smgw2", "pending", None)}
    assert lab.service.counters["not_a_gateway"] == 2 and lab.service.counters["unknown_request"] == 2


def test_bad_entries_and_a_lost_decline_never_keep_a_good_request_from_its_answer(
        lab: LabEmp, tmp_path: Path) -> None:
    good = lab.service.store.ask("smgw", ["m1"])
    foreign = lab.service.store.ask("smgw", ["m3"])
    later = lab.service.store.ask("smgw", [])  # behind the decline the EMP first does not take
    original_pending, original_decline = lab.service.pending_for, lab.service.decline
    declines: list[int] = []

    def hostile(client: str, role: str | None, after: str | None) -> tuple[int, dict[str, Any]]:
        status, answer = original_pending(client, role, after)
        return status, {"requests": [{"id": "1; drop"}, {"id": 10**30}, *answer["requests"], "junk"]}

    def flaky(client: str, role: str | None, request_id: str, body: bytes) -> tuple[int, dict[str, Any]]:
        declines.append(int(request_id))
        if len(declines) == 1:
            return 503, {"error": "busy"}  # the first decline does not reach the EMP's store
        return original_decline(client, role, request_id, body)

    lab.service.pending_for = hostile  # type: ignore[method-assign]
    lab.service.decline = flaky  # type: ignore[method-assign]
    emp = emp_config(tmp_path, lab.server.port, interval=3600.0, meters=("m1",), request_poll=0.2)

    async def work(gateway: Gateway) -> None:
        gateway.on_readings(readings(0, 2))
        await until(lambda: gateway_state(tmp_path).get("delivery.emp.request") == str(later.id)
                    and gateway_state(tmp_path).get("delivery.emp.declines") == "{}"
                    and [r.state for r in lab.service.store.requests()] == ["answered", "declined", "answered"])

    run_gateway(gateway_config(tmp_path, emp), work)
    assert declines[:2] == [foreign.id, foreign.id]  # tried again at the next poll, then taken
    records = {r.request.id: r for r in lab.service.store.requests()}
    assert delivered(lab, records[good.id].message_id or "") == latest(readings(0, 2))
    with StoreReader(tmp_path / "gw.db") as reader:
        state = reader.state()
        refused = [e for e in reader.log("system") if e.event == "taf6_requests_refused"]
    assert state["delivery.emp.request"] == str(later.id) and state["delivery.emp.declines"] == "{}"
    assert delivered(lab, records[later.id].message_id or "") == latest(readings(0, 2))
    assert state["delivery.emp.requests_refused"] == "3"  # counted once, although every poll repeats them
    assert len(refused) == 1 and "first: requests[0]: expected an object with exactly id, meters and asked" in refused[0].message


def test_an_emp_without_requests_is_asked_quietly_and_delivery_goes_on(lab: LabEmp, tmp_path: Path) -> None:
    polls: list[str | None] = []

    def absent(client: str, role: str | None, after: str | None) -> tuple[int, dict[str, Any]]:
        polls.append(after)
        return 404, {"error": "not_found"}

    lab.service.pending_for = absent  # type: ignore[method-assign]
    emp = emp_config(tmp_path, lab.server.port, interval=0.2, meters=("m1",), request_poll=0.1)

    async def work(gateway: Gateway) -> None:
        gateway.on_readings(readings(0, 2))
        await until(lambda: len(polls) >= 3 and len(lab.service.store.readings()) == 6)

    run_gateway(gateway_config(tmp_path, emp), work)
    with StoreReader(tmp_path / "gw.db") as reader:
        assert "delivery.emp.request" not in reader.state()
    assert set(polls) == {"0"}


def test_request_poll_zero_never_asks(lab: LabEmp, tmp_path: Path) -> None:
    polls: list[str | None] = []
    original = lab.service.pending_for

    def counted(client: str, role: str | None, after: str | None) -> tuple[int, dict[str, Any]]:
        polls.append(after)
        return original(client, role, after)

    lab.service.pending_for = counted  # type: ignore[method-assign]
    for run, changes in enumerate(({"request_poll": 0.0}, {"on_demand": False, "request_poll": 0.1})):
        emp = emp_config(tmp_path, lab.server.port, interval=0.1, meters=("m1",), **changes)

        async def work(gateway: Gateway) -> None:
            gateway.on_readings(readings(0, 1))
            await until(lambda: len(lab.service.store.readings()) >= 3 * (run + 1))  # noqa: B023 - awaited here
            await asyncio.sleep(0.5)

        run_gateway(gateway_config(tmp_path, emp, f"gw{run}"), work)
    assert polls == []
