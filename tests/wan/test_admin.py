"""Remote administration over real mutual TLS against a running gateway: only the GWA's signed commands run.

The gateway runs with its admin API and a delivery to a lab EMP; the GWA's
client is the real ``smgwctl admin`` for the main paths, and the refusals are
sent with the same HTTPS client and certificates of the lab PKI (the EMP's,
the gateway's own, another PKI's), signed by the wrong key, tampered with,
expired, replayed, or revoked.
"""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import subprocess
import sys
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from smgwd.gateway.config import AdminConfig, ControlConfig, GatewayConfig, GatewayIdentity, StoreConfig, TimeConfig
from smgwd.gateway.core import Gateway
from smgwd.gateway.sdnotify import Notifier
from smgwd.gateway.store import StoreReader
from smgwd.wan import admin_server
from smgwd.wan.admin_command import AdminCommand, sign_command
from smgwd.wan.admin_server import AdminServer
from smgwd.wan.chain import load_certs
from smgwd.wan.deliveries import Deliveries
from smgwd.wan.https import HttpsError, HttpsPoster
from smgwd.wan.pki_revocation import revoke
from smgwd.wan.tls import client_context
from tests.wan.test_delivery import Emp, emp, emp_config, pki, readings  # noqa: F401 - fixtures

GATEWAY = "smgw-lab-1"


def lab_cert(pki: Path, who: str, kind: str) -> Any:
    return load_certs((pki / f"{who}/{kind}.pem").read_bytes())[0]


def lab_key(pki: Path, who: str, kind: str) -> Any:
    return load_pem_private_key((pki / f"{who}/{kind}.key").read_bytes(), None)


def command(name: str = "status", sequence: int = 1, *, gateway: str = GATEWAY, args: dict[str, Any] | None = None,
            start: timedelta = timedelta(minutes=-1), length: timedelta = timedelta(minutes=5)) -> AdminCommand:
    now = datetime.now(timezone.utc)
    return AdminCommand(gateway, name, f"c{sequence}", sequence, now + start, now + start + length, args or {})


def signed(pki: Path, cmd: AdminCommand, signer: str = "gwa/gwa") -> bytes:
    return sign_command(cmd, lab_cert(pki, signer, "sig"), lab_key(pki, signer, "sig"),
                        [load_certs((pki / "subca.pem").read_bytes())[0]])


def post(pki: Path, port: int, body: bytes, client: str = "gwa/gwa") -> tuple[int, dict[str, Any]]:
    poster = HttpsPoster(f"https://localhost:{port}/v1/admin",
                         client_context(pki / f"{client}/tls.pem", pki / f"{client}/tls.key", pki / "ca-chain.pem"), 10)
    try:
        answer = poster.post(body, {"Content-Type": "application/pkcs7-mime"})
    finally:
        poster.close()
    return answer.status, json.loads(answer.body)


def admin_config(lab: Path, **changes: Any) -> AdminConfig:
    return replace(AdminConfig(True, "127.0.0.1", 0, lab / "smgw/smgw/tls.pem", lab / "smgw/smgw/tls.key",
                               lab / "ca-chain.pem", lab / "root.pem", lab / "subca.pem"), **changes)


def running(tmp_path: Path, pki: Path, emp_port: int, work: Callable[[Gateway, int], Any],
            **admin: Any) -> tuple[Any, AdminServer]:
    lab = pki / "lab"
    config = GatewayConfig(gateway=GatewayIdentity(GATEWAY), store=StoreConfig(path=tmp_path / "gw.db", flush_interval=0.05),
                           time=TimeConfig(servers=()), control=ControlConfig(socket=tmp_path / "c.sock"),
                           admin=admin_config(lab, **admin), emps=(emp_config(pki, emp_port, interval=3600.0),))
    server = AdminServer()

    async def life() -> Any:
        gateway = Gateway(config, notifier=Notifier.disabled(), listeners=[Deliveries({"backoff": lambda n: 0.05}),
                                                                            server])
        await gateway.start()
        try:
            assert server.port is not None
            return await asyncio.to_thread(work, gateway, server.port)
        finally:
            await gateway.stop()

    return asyncio.run(life()), server


def system_log(tmp_path: Path) -> list[tuple[str, str]]:
    with StoreReader(tmp_path / "gw.db") as reader:
        return [(e.event, e.message) for e in reader.log("system", limit=1000) if e.event.startswith("admin")]


def smgwctl_admin(lab: Path, port: int, *words: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "smgwd.cli.main", "admin", *words, "--url", f"https://localhost:{port}/v1/admin",
         "--gateway", GATEWAY, "--cert", str(lab / "gwa/gwa/tls.pem"), "--key", str(lab / "gwa/gwa/tls.key"),
         "--ca", str(lab / "ca-chain.pem"), "--sig-cert", str(lab / "gwa/gwa/sig.pem"), "--sig-key",
         str(lab / "gwa/gwa/sig.key"), "--chain", str(lab / "subca.pem")], capture_output=True, text=True, timeout=60)


def test_the_gwa_runs_commands_and_each_is_logged(pki: Path, emp: Emp, tmp_path: Path) -> None:  # noqa: F811
    lab = pki / "lab"

    def work(gateway: Gateway, port: int) -> dict[str, Any]:
        gateway.on_readings(readings(0, 2))
        done = {"status": smgwctl_admin(lab, port, "status"),
                "log": smgwctl_admin(lab, port, "log", "limit=3"),
                "taf6": smgwctl_admin(lab, port, "taf6", "emp=emp", 'meters=["m1"]'),
                "verify": smgwctl_admin(lab, port, "log-verify"),
                "bad args": smgwctl_admin(lab, port, "log", "limit=0"),
                "unknown": smgwctl_admin(lab, port, "reboot")}
        for _ in range(200):  # the TAF6 answer is delivered at once
            if emp.service.store.counts()[0]:
                break
            asyncio.run(asyncio.sleep(0.05))
        return done

    done, server = running(tmp_path, pki, emp.port, work)
    for name in ("status", "log", "taf6", "verify"):
        assert done[name].returncode == 0, (name, done[name].stderr)
    status = json.loads(done["status"].stdout)["result"]
    assert status["gateway"] == GATEWAY and status["smgwd"] and "meters" in status
    assert len(json.loads(done["log"].stdout)["result"]["entries"]) == 3
    assert json.loads(done["verify"].stdout)["result"]["system"]["intact"] is True
    taf6 = json.loads(done["taf6"].stdout)["result"]["messages"]
    assert {r.message_id for r in emp.service.store.readings()} == set(taf6)
    assert done["bad args"].returncode == 1 and "bad_args: limit must be an integer 1..1000" in done["bad args"].stderr
    assert done["unknown"].returncode == 1 and "unknown_command" in done["unknown"].stderr
    events = [event for event, _ in system_log(tmp_path)]
    assert events.count("admin_command") == 5 and events.count("admin_done") == 4
    assert events.count("admin_failed") == 1 and events.count("admin_refused") == 1
    assert server.counters["accepted"] == 5


def test_anything_but_the_gwas_valid_signed_command_is_refused(pki: Path, emp: Emp, tmp_path: Path) -> None:  # noqa: F811
    lab = pki / "lab"

    def work(gateway: Gateway, port: int) -> dict[str, tuple[int, Any]]:
        good = signed(lab, command(sequence=10))
        tampered = bytearray(signed(lab, command(sequence=11)))
        at = bytes(tampered).index(b'"status"')
        tampered[at + 1] ^= 0x20  # "Status": the signed content changed
        answers: dict[str, tuple[int, Any]] = {
            "first": post(lab, port, good),
            "replayed": post(lab, port, good),
            "older sequence": post(lab, port, signed(lab, command(sequence=9))),
            "EMP as TLS client": post(lab, port, signed(lab, command(sequence=12)), client="emp/emp"),
            "gateway as TLS client": post(lab, port, signed(lab, command(sequence=13)), client="smgw/smgw"),
            "signed by the EMP": post(lab, port, signed(lab, command(sequence=14), signer="emp/emp")),
            "signed by the gateway": post(lab, port, signed(lab, command(sequence=15), signer="smgw/smgw")),
            "unsigned": post(lab, port, command(sequence=16).to_json()),
            "tampered": post(lab, port, bytes(tampered)),
            "expired": post(lab, port, signed(lab, command(sequence=17, start=timedelta(hours=-2)))),
            "not yet valid": post(lab, port, signed(lab, command(sequence=18, start=timedelta(hours=2)))),
            "too long a window": post(lab, port, signed(lab, command(sequence=19, length=timedelta(days=2)))),
            "another gateway": post(lab, port, signed(lab, command(sequence=20, gateway="smgw-lab-2"))),
        }
        try:
            post(pki / "other", port, signed(pki / "other", command(sequence=21)))
        except HttpsError as error:
            answers["another PKI's GWA"] = (0, str(error))
        answers["still served"] = post(lab, port, signed(lab, command(sequence=22)))
        return answers

    answers, server = running(tmp_path, pki, emp.port, work)
    kinds = {name: (status, body["error"] if isinstance(body, dict) and "error" in body else body)
             for name, (status, body) in answers.items()}
    assert kinds["first"][0] == 200 and kinds["still served"][0] == 200
    assert kinds["replayed"] == kinds["older sequence"] == (409, "replay")
    assert kinds["EMP as TLS client"] == kinds["gateway as TLS client"] == (403, "not_the_gwa")
    assert kinds["signed by the EMP"] == kinds["signed by the gateway"] == (403, "not_the_gwa")
    assert kinds["unsigned"] == (400, "malformed")
    assert kinds["tampered"] == (403, "bad_signature")
    assert kinds["expired"] == (409, "expired") and kinds["not yet valid"] == (409, "not_yet_valid")
    assert kinds["too long a window"] == (400, "malformed")
    assert kinds["another gateway"] == (403, "not_for_this_gateway")
    assert "another PKI's GWA" in kinds  # refused in the TLS handshake: no certificate under the client CA
    refused = [message for event, message in system_log(tmp_path) if event == "admin_refused"]
    assert len(refused) == 12 and all("refused" in m for m in refused)
    assert server.counters["accepted"] == 2


def test_a_revoked_gwa_is_refused(pki: Path, emp: Emp, tmp_path: Path) -> None:  # noqa: F811
    import shutil

    lab = tmp_path / "pki"
    shutil.copytree(pki / "lab", lab / "lab")
    revoke(lab / "lab", "gwa", "gwa", ("sig",))

    def work(gateway: Gateway, port: int) -> tuple[int, Any]:
        try:
            return post(lab / "lab", port, signed(lab / "lab", command(sequence=1)))
        except HttpsError as error:
            return 0, str(error)

    (status, body), _ = running(tmp_path, lab, emp.port, work, crl=lab / "lab/crl.pem")
    assert (status, body["error"]) == (403, "untrusted_signer") and "revoked: 'CN=gwa SIG" in body["reason"]
    revoke(lab / "lab", "gwa", "gwa", ("tls",))
    (tmp_path / "2").mkdir()
    (status, reason), server = running(tmp_path / "2", lab, emp.port, work, crl=lab / "lab/crl.pem")
    assert status == 0 and "SSL" in reason  # OpenSSL refuses the revoked client certificate in the handshake
    assert server.counters["accepted"] == 0 and system_log(tmp_path / "2") == []


def test_garbage_slow_and_vanishing_clients_never_reach_a_command(pki: Path, emp: Emp, tmp_path: Path,  # noqa: F811
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(admin_server, "REQUEST_DEADLINE", 1.0)
    lab = pki / "lab"
    context = client_context(lab / "gwa/gwa/tls.pem", lab / "gwa/gwa/tls.key", lab / "ca-chain.pem")

    def raw(port: int, data: bytes, wait: float = 0.0) -> bytes:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as plain:
            with context.wrap_socket(plain, server_hostname="localhost") as tls:
                tls.sendall(data)
                if wait:
                    asyncio.run(asyncio.sleep(wait))
                try:
                    return tls.recv(65536)
                except (ssl.SSLError, OSError):
                    return b""

    def work(gateway: Gateway, port: int) -> dict[str, Any]:
        return {
            "garbage": raw(port, b"\x00\xffGARBAGE\r\n\r\n"),
            "wrong path": raw(port, b"GET /etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n"),
            "chunked": raw(port, b"POST /v1/admin HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"),
            "huge": raw(port, b"POST /v1/admin HTTP/1.1\r\nContent-Length: 999999999\r\n\r\n"),
            "long head": raw(port, b"POST /v1/admin HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n"),
            "slow": raw(port, b"POST /v1/admin HTTP/1.1\r\nContent-Length: 100\r\n\r\nabc", wait=1.5),
            "after": post(lab, port, signed(lab, command(sequence=1))),
        }

    answers, server = running(tmp_path, pki, emp.port, work)
    assert answers["garbage"].startswith(b"HTTP/1.1 400")
    assert answers["wrong path"].startswith(b"HTTP/1.1 404")
    assert answers["chunked"].startswith(b"HTTP/1.1 411")
    assert answers["huge"].startswith(b"HTTP/1.1 413")
    assert answers["long head"].startswith(b"HTTP/1.1 431")
    assert answers["slow"] == b"" and server.counters["deadline_exceeded"] == 1
    assert answers["after"][0] == 200 and server.counters["accepted"] == 1


def test_openssl_verifies_a_gwa_command_and_reads_what_it_says(pki: Path, tmp_path: Path) -> None:  # noqa: F811
    lab = pki / "lab"
    (tmp_path / "cmd.der").write_bytes(signed(lab, command("log", 7, args={"limit": 5})))
    done = subprocess.run(["openssl", "cms", "-verify", "-inform", "DER", "-in", str(tmp_path / "cmd.der"), "-CAfile",
                           str(lab / "ca-chain.pem"), "-purpose", "any"], capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    content = json.loads(done.stdout)
    assert (content["gateway"], content["command"], content["sequence"], content["args"]) == (GATEWAY, "log", 7,
                                                                                             {"limit": 5})
