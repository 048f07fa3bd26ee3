"""The gateway's signature key renewed on the GWA's command, over the running admin API, with a real lab EMP.

key-new makes the key on the gateway and hands out a CSR (``openssl req
-verify`` checks it); the real ``smgwctl pki sign`` certifies it; cert-install
refuses a certificate for another key or from another PKI, then takes the
right one: the next delivery is signed with the new key and the lab EMP
accepts it, and ``smgwctl log verify`` still accepts the checkpoints signed
before.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from cryptography import x509

from smgwd.gateway.core import Gateway
from smgwd.gateway.store import StoreReader
from smgwd.wan.cms_signed import verify
from smgwd.wan.pki_requests import sign_request
from tests.wan.test_admin_config import Step, administered, config_file
from tests.wan.test_delivery import Emp, emp, free_port, pki, readings  # noqa: F401 - fixtures


def test_the_gateway_renews_its_signature_key_and_the_emp_takes_the_new_one(
        pki: Path, emp: Emp, tmp_path: Path) -> None:  # noqa: F811
    lab = pki / "lab"
    path = config_file(tmp_path, lab, free_port())
    path.write_text(re.sub(r'url = "https://localhost:\d+/', f'url = "https://localhost:{emp.port}/',
                           path.read_text()).replace("interval = 900", "interval = 0.2"))
    seen: dict[str, Any] = {}

    async def work(gateway: Gateway, step: Step) -> None:
        assert gateway.sealing is not None
        seen["sealed with the old key"] = await asyncio.to_thread(gateway.sealing.seal_now)
        status, answer = await asyncio.to_thread(step, 1, "key-new", kind="sig")
        assert status == 200, answer
        seen["new"] = answer["result"]
        request = answer["result"]["request"].encode()
        (tmp_path / "req.pem").write_bytes(request)
        seen["openssl req"] = subprocess.run(["openssl", "req", "-in", str(tmp_path / "req.pem"), "-verify",
                                              "-noout"], capture_output=True, text=True, timeout=30)
        signed_cert = subprocess.run(
            [sys.executable, "-m", "smgwd.cli.main", "pki", "sign", str(lab), "--role", "smgw", "smgw",
             "--kind", "sig", str(tmp_path / "req.pem")], capture_output=True, text=True, timeout=60)
        assert signed_cert.returncode == 0, signed_cert.stderr
        foreign = sign_request(pki / "other", request, "smgw", "smgw", "sig").decode()
        seen["old cert"] = await asyncio.to_thread(step, 2, "cert-install", kind="sig",
                                                   cert=(lab / "smgw/smgw/sig.pem").read_text())
        seen["foreign"] = await asyncio.to_thread(step, 3, "cert-install", kind="sig", cert=foreign)
        seen["install"] = await asyncio.to_thread(step, 4, "cert-install", kind="sig", cert=signed_cert.stdout)
        seen["config"] = (gateway.config.gateway.sig_cert, gateway.config.emps[0].sig_cert)
        seen["again"] = await asyncio.to_thread(step, 5, "cert-install", kind="sig", cert=signed_cert.stdout)
        gateway.on_readings(readings(0, 1))
        for _ in range(200):
            if emp.service.store.counts()[0]:
                break
            await asyncio.sleep(0.05)
    asyncio.run(administered(path, lab, work))
    key = Path(seen["new"]["key"])
    assert key.stat().st_mode & 0o777 == 0o600 and key.parent == tmp_path / "keys"
    assert seen["openssl req"].returncode == 0 and "verify OK" in seen["openssl req"].stdout + seen["openssl req"].stderr
    assert seen["old cert"][1]["error"] == "wrong_certificate" and "not for the pending key" in seen["old cert"][1]["reason"]
    assert seen["foreign"][1]["error"] == "wrong_certificate" and "does not chain" in seen["foreign"][1]["reason"]
    assert seen["install"][0] == 200, seen["install"]
    new_cert = key.with_suffix(".pem")
    assert seen["config"] == (new_cert, new_cert)
    assert seen["again"][1]["error"] == "bad_args"  # nothing pending any more
    new_serial = x509.load_pem_x509_certificate(new_cert.read_bytes()).serial_number
    with StoreReader(tmp_path / "gw.db") as reader:
        payloads = [entry.payload for entry in reader.outbox() if entry.state == "acked"]
        calibration = [e.event for e in reader.log("calibration")]
    assert payloads and all(verify(p).signer_cert.serial_number == new_serial for p in payloads)
    assert emp.service.store.counts()[0] == len(payloads)
    assert "key_created" in calibration and "certificate_changed" in calibration
    with StoreReader(tmp_path / "gw.db") as reader:
        signers = {x509.load_der_x509_certificate(c.cert).serial_number for c in reader.checkpoints("system")}
    assert seen["sealed with the old key"] >= 1 and len(signers) == 2 and new_serial in signers
    done = subprocess.run([sys.executable, "-m", "smgwd.cli.main", "--config", str(path), "log", "verify"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr  # the checkpoints of the old key still verify
