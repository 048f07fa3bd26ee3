"""The lab EMP over mutual TLS: messages sealed by the gateway side are verified, decrypted,
validated and stored once; every kind of bad message is refused with its reason and counted."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Iterator

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from smgwd.codec.crc import CrcPolicy
from smgwd.cosem import xml_josef
from smgwd.emp.server import EmpServer
from smgwd.emp.service import EmpService
from smgwd.emp.store import EmpStore
from smgwd.meters.cosem_map import logical_devices
from smgwd.meters.sml.profiles import get_profile
from smgwd.meters.sml.stream import FrameDecoded, SmlFrameReader
from smgwd.wan.cms import seal
from smgwd.wan.pki import init_pki
from smgwd.wan.tls_requests import TlsAdapter
from smgwd.wan.tls import client_context, server_context

CAPTURE = Path(__file__).resolve().parents[1] / "data" / "sml" / "emh_ehz_vzlogger.hex"


def cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def key(path: Path):  # type: ignore[no-untyped-def]
    return load_pem_private_key(path.read_bytes(), None)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("pki")
    init_pki(base / "lab")
    init_pki(base / "other")  # an independent PKI: its participants are strangers to the EMP
    return base


@pytest.fixture
def emp(pki: Path, tmp_path: Path) -> Iterator[tuple[EmpServer, EmpService]]:
    lab = pki / "lab"
    service = EmpService(key(lab / "emp/emp/enc.key"), cert(lab / "emp/emp/enc.pem"), [cert(lab / "root.pem")],
                         [cert(lab / "subca.pem")], EmpStore(tmp_path / "emp.db"), max_body=200_000)
    context = server_context(lab / "emp/emp/tls.pem", lab / "emp/emp/tls.key", lab / "ca-chain.pem")
    server = EmpServer(("127.0.0.1", 0), service, context)
    server.serve_in_thread()
    yield server, service
    server.shutdown()
    server.server_close()
    service.store.close()


def document() -> bytes:
    data = bytes.fromhex("".join(CAPTURE.read_text().split()))
    reader = SmlFrameReader(get_profile("generic"), CrcPolicy.X25)
    readings = [r for f in reader.feed(data) + reader.feed(b"") if isinstance(f, FrameDecoded) for r in f.readings]
    return xml_josef.encode(logical_devices(readings))


def sealed(pki: Path, content: bytes, signer: str = "smgw/smgw", recipient: str = "emp/emp") -> bytes:
    lab = pki / "lab"
    return seal(content, signer_cert=cert(lab / f"{signer}/sig.pem"), signer_key=key(lab / f"{signer}/sig.key"),
                recipient_certs=[cert(lab / f"{recipient}/enc.pem")], chain=[cert(lab / "subca.pem")])


def post(server: EmpServer, pki: Path, message_id: str, body: bytes, client: str = "lab/smgw/smgw") -> requests.Response:
    tls = pki / client
    root = pki / client.split("/")[0]
    context = client_context(tls / "tls.pem", tls / "tls.key", root / "ca-chain.pem")
    with requests.Session() as session:
        session.mount("https://", TlsAdapter(context))
        return session.post(f"https://localhost:{server.port}/v1/meterdata", data=body,
                            headers={"X-Message-Id": message_id}, timeout=10)


def test_message_stored_once_and_readable(emp: tuple[EmpServer, EmpService], pki: Path) -> None:
    server, service = emp
    body = sealed(pki, document())
    answer = post(server, pki, "m-1", body)
    assert answer.status_code == 200 and answer.json() == {"ack": "m-1", "duplicate": False, "readings": 6}
    again = post(server, pki, "m-1", body)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert service.store.counts() == (1, 6)
    rows = {r.obis: r for r in service.store.readings(meter="3032323830383136")}
    # vzlogger's MeterSML.cpp asserts 14796777.1 Wh for 1.8.1: raw 147967771, scaler -1
    assert (rows["1-0:1.8.1*255"].raw, rows["1-0:1.8.1*255"].scaler, rows["1-0:1.8.1*255"].unit) == ("147967771", -1, 30)
    message = service.store.message("m-1")
    assert message is not None and "CN=smgw SIG" in message["signer"] and message["client"] == "smgw TLS"


@pytest.mark.parametrize("case", ["tampered_in_transit", "tampered", "other_recipient", "untrusted_signer", "replay", "malformed_xml",
                                  "oversized", "bad_id", "not_cms"])
def test_refusals(emp: tuple[EmpServer, EmpService], pki: Path, case: str) -> None:
    server, service = emp
    good = sealed(pki, document())
    status, kind, message_id, body = {
        "tampered_in_transit": (403, "bad_signature", "t-0", good[:-40] + bytes([good[-40] ^ 1]) + good[-39:]),
        "tampered": (400, "tampered", "t-1", _resigned_with_broken_tag(pki)),
        "other_recipient": (403, "not_for_us", "t-2", sealed(pki, document(), recipient="gwa/gwa")),
        "untrusted_signer": (403, "bad_signature", "t-3", _foreign(pki)),
        "replay": (409, "replay", "m-2", sealed(pki, document() + b" ")),
        "malformed_xml": (422, "malformed_xml", "t-5", sealed(pki, b"<ldev count='1'><oops/></ldev>")),
        "oversized": (413, "oversized", "t-6", b"x" * 300_000),
        "bad_id": (400, "bad_message_id", "../etc", good),
        "not_cms": (400, "malformed_cms", "t-8", b"hello"),
    }[case]
    if case == "replay":
        assert post(server, pki, "m-2", good).status_code == 200
    answer = post(server, pki, message_id, body)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"] == kind and service.counters[kind] == 1
    stored = 1 if case == "replay" else 0
    assert service.store.counts()[0] == stored


def test_the_same_sealed_message_under_a_new_id_is_a_replay(emp: tuple[EmpServer, EmpService], pki: Path) -> None:
    """Review found 36 readings become 72 when a captured message is posted again under another id."""
    server, service = emp
    body = sealed(pki, document())
    assert post(server, pki, "m-1", body).status_code == 200
    again = post(server, pki, "m-1-again", body)
    assert again.status_code == 409, again.text
    assert again.json()["error"] == "replay" and "already stored as m-1" in again.json()["reason"]
    assert service.store.counts() == (1, 6) and service.counters["replay"] == 1
    resealed = sealed(pki, document())  # the same readings sealed anew: a new message (the gateway never does it)
    assert post(server, pki, "m-2", resealed).status_code == 200


def _resigned_with_broken_tag(pki: Path) -> bytes:
    """A valid signer signs an envelope whose GCM tag is wrong: only decryption can notice."""
    from smgwd.wan.cms import ID_AUTH_ENVELOPED_DATA
    from smgwd.wan.cms_envelope import encrypt
    from smgwd.wan.cms_signed import sign

    lab = pki / "lab"
    envelope = encrypt(document(), [cert(lab / "emp/emp/enc.pem")])
    broken = envelope[:-1] + bytes([envelope[-1] ^ 1])  # the last field is the 16-byte tag
    return sign(broken, ID_AUTH_ENVELOPED_DATA, cert(lab / "smgw/smgw/sig.pem"), key(lab / "smgw/smgw/sig.key"),
                chain=[cert(lab / "subca.pem")])


def _foreign(pki: Path) -> bytes:
    other = pki / "other"
    lab = pki / "lab"
    return seal(document(), signer_cert=cert(other / "smgw/smgw/sig.pem"), signer_key=key(other / "smgw/smgw/sig.key"),
                recipient_certs=[cert(lab / "emp/emp/enc.pem")], chain=[cert(other / "subca.pem")])


def test_unknown_client_fails_the_handshake(emp: tuple[EmpServer, EmpService], pki: Path) -> None:
    server, service = emp
    stranger = pki / "other/smgw/smgw"  # trusts the lab's CA, but its own certificate is from another PKI
    context = client_context(stranger / "tls.pem", stranger / "tls.key", pki / "lab/ca-chain.pem")
    with requests.Session() as session, pytest.raises(requests.exceptions.SSLError):
        session.mount("https://", TlsAdapter(context))
        session.post(f"https://localhost:{server.port}/v1/meterdata", data=b"x", headers={"X-Message-Id": "u-1"},
                     timeout=10)
    deadline = time.monotonic() + 5
    while service.counters["unknown_client"] == 0 and time.monotonic() < deadline:
        time.sleep(0.01)  # the server counts it in the connection's thread
    assert service.counters["unknown_client"] == 1 and service.store.counts() == (0, 0)


def test_get_routes(emp: tuple[EmpServer, EmpService], pki: Path) -> None:
    server, _ = emp
    assert post(server, pki, "g-1", sealed(pki, document())).status_code == 200
    tls = pki / "lab/smgw/smgw"
    with requests.Session() as session:
        session.mount("https://", TlsAdapter(client_context(tls / "tls.pem", tls / "tls.key", pki / "lab/ca-chain.pem")))
        base = f"https://localhost:{server.port}"
        readings = session.get(f"{base}/v1/readings", params={"obis": "1-0:1.8.2*255"}, timeout=10).json()
        assert [r["raw"] for r in readings] == [20124]
        assert session.get(f"{base}/v1/messages/g-1", timeout=10).json()["readings"] == 6
        assert session.get(f"{base}/v1/messages/nope", timeout=10).status_code == 404
        assert json.loads(session.get(f"{base}/nothing", timeout=10).text) == {"error": "not_found"}
