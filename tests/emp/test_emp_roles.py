"""Who may deliver to the lab EMP: only a gateway (OU=SMGW), signing with its signature certificate and
connecting with its own TLS certificate. Review found the EMP taking messages signed by itself or by the GWA,
and the EMP's and the GWA's TLS certificates as clients."""

from __future__ import annotations

from pathlib import Path

import pytest

from smgwd.emp.server import EmpServer
from smgwd.emp.service import EmpService
from smgwd.wan.pki import issue
from smgwd.wan.roles import Participant, participant
from tests.emp.test_emp_service import cert, document, emp, pki, post, sealed  # noqa: F401 - fixtures


@pytest.mark.parametrize(("signer", "client", "kind", "reason"), [
    ("gwa/gwa", "lab/smgw/smgw", "not_a_gateway", "the signer is gwa (GWA, SIG certificate)"),
    ("emp/emp", "lab/smgw/smgw", "not_a_gateway", "the signer is emp (EMT, SIG certificate)"),
    ("smgw/smgw", "lab/emp/emp", "not_a_gateway", "the TLS client is emp (EMT, TLS certificate)"),
    ("smgw/smgw", "lab/gwa/gwa", "not_a_gateway", "the TLS client is gwa (GWA, TLS certificate)"),
    ("smgw/smgw", "lab/smgw/smgw2", "signer_not_client", "signed by gateway smgw, sent by gateway smgw2"),
])
def test_only_the_gateway_itself_may_deliver(emp: tuple[EmpServer, EmpService], pki: Path,  # noqa: F811
                                             signer: str, client: str, kind: str, reason: str) -> None:
    server, service = emp
    if not (pki / "lab/smgw/smgw2").exists():
        issue(pki / "lab", "smgw", "smgw2")
    answer = post(server, pki, "r-1", sealed(pki, document(), signer=signer), client=client)
    assert answer.status_code == 403, answer.text
    assert answer.json()["error"] == kind and reason in answer.json()["reason"]
    assert service.counters[kind] == 1 and service.store.counts() == (0, 0)


def test_the_gateway_with_its_own_certificates_is_taken(emp: tuple[EmpServer, EmpService], pki: Path) -> None:  # noqa: F811
    server, service = emp
    assert post(server, pki, "r-2", sealed(pki, document())).status_code == 200
    assert service.store.counts()[0] == 1


def test_roles_are_read_from_the_lab_pki(pki: Path) -> None:  # noqa: F811
    assert participant(cert(pki / "lab/smgw/smgw/sig.pem")) == Participant("SMGW", "smgw", "SIG")
    assert participant(cert(pki / "lab/emp/emp/tls.pem")) == Participant("EMT", "emp", "TLS")
    assert participant(cert(pki / "lab/root.pem")).kind is None
