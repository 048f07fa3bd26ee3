"""The message identity inside what the gateway signs: the lab EMP takes the header only as a hint that must
agree, refuses an old sequence and a stale creation time, each with its reason; openssl still verifies."""

from __future__ import annotations

import shutil
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from asn1crypto import cms as asn1_cms  # type: ignore[import-untyped, unused-ignore]

from smgwd.emp.server import EmpServer
from smgwd.emp.service import EmpService
from smgwd.wan.cms import seal
from smgwd.wan.message_identity import IDENTITY_OID, MessageIdentity
from smgwd.wan.cms_errors import MalformedError
from tests.emp.test_emp_service import cert, document, emp, key, pki, post  # noqa: F401 - fixtures

NOW = datetime.now(timezone.utc)


def sealed_as(pki: Path, message: str, sequence: int, created: datetime = NOW, gateway: str = "smgw-lab-1",  # noqa: F811
              emp: str = "emp") -> bytes:
    lab = pki / "lab"
    return seal(document(), signer_cert=cert(lab / "smgw/smgw/sig.pem"), signer_key=key(lab / "smgw/smgw/sig.key"),
                recipient_certs=[cert(lab / "emp/emp/enc.pem")], chain=[cert(lab / "subca.pem")],
                identity=MessageIdentity(gateway, emp, message, sequence, created))


def test_the_identity_is_a_signed_attribute(pki: Path) -> None:  # noqa: F811
    body = sealed_as(pki, "m-1", 1)
    signer_info = asn1_cms.ContentInfo.load(body)["content"]["signer_infos"][0]
    attributes = {a["type"].dotted: a["values"][0].dump() for a in signer_info["signed_attrs"]}
    assert MessageIdentity.from_der(attributes[IDENTITY_OID]) == MessageIdentity(
        "smgw-lab-1", "emp", "m-1", 1, NOW.replace(microsecond=0))
    openssl = shutil.which("openssl")
    if openssl is not None:  # the independent judge: an unknown signed attribute does not trouble it
        done = subprocess.run([openssl, "cms", "-verify", "-inform", "DER", "-CAfile", str(pki / "lab/ca-chain.pem"),
                               "-out", "/dev/null"], input=body, capture_output=True, timeout=60)
        assert done.returncode == 0, done.stderr


def test_messages_in_sequence_are_stored(emp: tuple[EmpServer, EmpService], pki: Path) -> None:  # noqa: F811
    server, service = emp
    for number in (1, 2, 5):
        answer = post(server, pki, f"m-{number}", sealed_as(pki, f"m-{number}", number))
        assert answer.status_code == 200, answer.text
    again = post(server, pki, "m-2", sealed_as(pki, "m-2", 2))  # the same id sealed anew: not a duplicate
    assert again.status_code == 409 and again.json()["error"] == "replay"
    assert service.store.counts()[0] == 3


@pytest.mark.parametrize(("case", "status", "kind", "reason"), [
    ("header_differs", 400, "id_mismatch", "the signed message id is m-9, the header says m-8"),
    ("old_sequence", 409, "old_sequence", "sequence 1 of gateway smgw/smgw-lab-1/emp is not after its last one, 3 (m-3)"),
    ("same_sequence", 409, "old_sequence", "sequence 3 of gateway smgw/smgw-lab-1/emp is not after its last one, 3 (m-3)"),
    ("stale", 409, "stale", "more than 31 days ago"),
])
def test_refusals(emp: tuple[EmpServer, EmpService], pki: Path, case: str, status: int, kind: str,  # noqa: F811
                  reason: str) -> None:
    server, service = emp
    assert post(server, pki, "m-3", sealed_as(pki, "m-3", 3)).status_code == 200
    header, body = {
        "header_differs": ("m-8", sealed_as(pki, "m-9", 9)),
        "old_sequence": ("m-1", sealed_as(pki, "m-1", 1)),
        "same_sequence": ("m-4", sealed_as(pki, "m-4", 3)),
        "stale": ("m-5", sealed_as(pki, "m-5", 5, created=NOW - timedelta(days=40))),
    }[case]
    answer = post(server, pki, header, body)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"] == kind and reason in answer.json()["reason"]
    assert service.counters[kind] == 1 and service.store.counts()[0] == 1


def test_another_gateway_counts_on_its_own(emp: tuple[EmpServer, EmpService], pki: Path) -> None:  # noqa: F811
    server, _ = emp
    assert post(server, pki, "a-7", sealed_as(pki, "a-7", 7)).status_code == 200
    assert post(server, pki, "b-1", sealed_as(pki, "b-1", 1, gateway="smgw-lab-2")).status_code == 200


def test_two_delivery_profiles_to_one_emp_count_apart(emp: tuple[EmpServer, EmpService], pki: Path) -> None:  # noqa: F811
    """Two [[emps]] entries of one gateway at one EMP without [cms] name: each has its own sequence."""
    server, _ = emp
    assert post(server, pki, "p-5", sealed_as(pki, "p-5", 5, emp="readings")).status_code == 200
    assert post(server, pki, "q-1", sealed_as(pki, "q-1", 1, emp="taf7")).status_code == 200, "refused as old"
    assert post(server, pki, "p-2", sealed_as(pki, "p-2", 2, emp="readings")).json()["error"] == "old_sequence"


@pytest.mark.parametrize("value", [
    b"\x0c\x02{}", b"\x04\x00", b"\x0c\x05hello",
    MessageIdentity("g", "e", "m", 1, NOW).to_der().replace(b'"sequence":1', b'"sequence":0'),
    MessageIdentity("g", "e", "m", 1, NOW).to_der().replace(b'"sequence":1', b'"sequence":true'),
    MessageIdentity("g", "e", "m", 1, NOW).to_der().replace(b"+00:00", b"+0000x"),
])
def test_a_malformed_identity_is_a_malformed_message(value: bytes) -> None:
    with pytest.raises(MalformedError):
        MessageIdentity.from_der(value)


def test_another_gateway_naming_this_ones_id_cannot_move_its_sequence(emp: tuple[EmpServer, EmpService],  # noqa: F811
                                                                      pki: Path) -> None:
    """smgw2, a gateway of the same PKI, signs sequence 1000 under smgw's gateway id: smgw's own 2 still goes in."""
    from smgwd.wan.pki import issue

    server, _ = emp
    if not (pki / "lab/smgw/smgw2").exists():
        issue(pki / "lab", "smgw", "smgw2")
    lab = pki / "lab"
    assert post(server, pki, "s-1", sealed_as(pki, "s-1", 1)).status_code == 200
    hostile = seal(document(), signer_cert=cert(lab / "smgw/smgw2/sig.pem"), signer_key=key(lab / "smgw/smgw2/sig.key"),
                   recipient_certs=[cert(lab / "emp/emp/enc.pem")], chain=[cert(lab / "subca.pem")],
                   identity=MessageIdentity("smgw-lab-1", "emp", "x-1000", 1000, NOW))
    assert post(server, pki, "x-1000", hostile, client="lab/smgw/smgw2").status_code == 200  # its own sequence
    answer = post(server, pki, "s-2", sealed_as(pki, "s-2", 2))
    assert answer.status_code == 200, answer.text
