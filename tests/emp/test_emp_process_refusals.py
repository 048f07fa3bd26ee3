"""Against a real smgw-emp process over real mutual TLS: a replay under a new id, an old sequence, a message
signed by the EMP or the GWA, a client with the EMP's or the GWA's TLS certificate, a meter the gateway is not
bound to, a message signed for another EMP — each refused with its reason; the good ones stored once."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
import requests

from smgwd.demo import EMP_TOML
from smgwd.emp.service import rows_of
from smgwd.wan.cms import seal
from smgwd.wan.message_identity import MessageIdentity
from smgwd.wan.pki import init_pki
from smgwd.wan.tls import client_context
from smgwd.wan.tls_requests import TlsAdapter
from tests.emp.test_emp_service import cert, document, key
from tests.wan.test_delivery import free_port


@pytest.fixture(scope="module")
def emp_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    work = tmp_path_factory.mktemp("emp-process")
    init_pki(work / "pki")
    port = free_port()
    (meter,) = {row.meter for row in rows_of(document())}
    (work / "emp.toml").write_text(EMP_TOML.format(port=port, meters=json.dumps(meter)))
    emp = subprocess.Popen([sys.executable, "-m", "smgwd.emp.main", "--config", str(work / "emp.toml")],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert emp.stdout is not None and "listening" in emp.stdout.readline()
    yield port, work
    emp.terminate()
    emp.communicate(timeout=10)


def sealed(pki: Path, message: str, sequence: int, signer: str = "smgw/smgw", content: bytes | None = None,
           emp: str = "emp") -> bytes:
    return seal(document() if content is None else content, signer_cert=cert(pki / f"{signer}/sig.pem"),
                signer_key=key(pki / f"{signer}/sig.key"), recipient_certs=[cert(pki / "emp/emp/enc.pem")],
                chain=[cert(pki / "subca.pem")],
                identity=MessageIdentity("smgw-lab-1", emp, message, sequence, datetime.now(timezone.utc)))


@pytest.fixture
def sessions(emp_process: tuple[int, Path]) -> Iterator[dict[str, requests.Session]]:
    """One kept-alive session per TLS client (the EMP caps open connections per peer: 8)."""
    made: dict[str, requests.Session] = {}
    yield made
    for session in made.values():
        session.close()


def poster(port: int, pki: Path, sessions: dict[str, requests.Session]):  # type: ignore[no-untyped-def]
    def post(message: str, body: bytes, client: str = "smgw/smgw") -> requests.Response:
        if client not in sessions:
            context = client_context(pki / f"{client}/tls.pem", pki / f"{client}/tls.key", pki / "ca-chain.pem")
            sessions[client] = requests.Session()
            sessions[client].mount("https://", TlsAdapter(context))
        return sessions[client].post(f"https://localhost:{port}/v1/meterdata", data=body,
                                     headers={"X-Message-Id": message}, timeout=10)
    return post


def stored(work: Path) -> list[str]:
    listed = subprocess.run([sys.executable, "-m", "smgwd.emp.main", "--config", str(work / "emp.toml"), "readings",
                             "--format", "json"], capture_output=True, text=True, timeout=60, check=True)
    return sorted({json.loads(line)["message_id"] for line in listed.stdout.splitlines()})


def test_the_refusals_of_a_real_emp(emp_process: tuple[int, Path], sessions: dict[str, requests.Session]) -> None:
    port, work = emp_process
    pki = work / "pki"
    post = poster(port, pki, sessions)
    first = sealed(pki, "m-1", 1)
    assert post("m-1", first).status_code == 200
    assert post("m-1", first).json()["duplicate"] is True  # the same message again: acknowledged once
    foreign = document().replace(b'ldev id="', b'ldev id="X', 1)  # a meter the EMP does not bind to smgw
    cases = {
        "replay under a new id": (post("m-2", first), 400, "id_mismatch"),  # the signed id says m-1
        "old sequence": (post("m-0", sealed(pki, "m-0", 1)), 409, "old_sequence"),
        "signed by the EMP": (post("m-3", sealed(pki, "m-3", 3, signer="emp/emp")), 403, "not_a_gateway"),
        "signed by the GWA": (post("m-4", sealed(pki, "m-4", 4, signer="gwa/gwa")), 403, "not_a_gateway"),
        "the EMP's TLS client": (post("m-5", sealed(pki, "m-5", 5), client="emp/emp"), 403,
                                 "not_a_gateway"),
        "the GWA's TLS client": (post("m-6", sealed(pki, "m-6", 6), client="gwa/gwa"), 403,
                                 "not_a_gateway"),
        "a meter not bound": (post("m-7", sealed(pki, "m-7", 7, content=foreign)), 403, "meter_not_bound"),
        "signed for another EMP": (post("m-8", sealed(pki, "m-8", 8, emp="billing")), 403,
                                   "not_for_this_emp"),
    }
    for case, (answer, status, kind) in cases.items():
        assert (answer.status_code, answer.json().get("error")) == (status, kind), (case, answer.text)
        assert answer.json()["reason"], case
    assert post("m-9", sealed(pki, "m-9", 9)).status_code == 200  # and a good one still goes in
    assert stored(work) == ["m-1", "m-9"]
