"""smgw-emp as a program: serves a lab PKI's EMP, stores a sealed message, lists it, stops on SIGTERM."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from pathlib import Path

import requests

from smgwd.wan.pki import init_pki
from smgwd.wan.tls_requests import TlsAdapter
from smgwd.wan.tls import client_context
from tests.emp.test_emp_service import cert, document, key
from smgwd.demo import EMP_TOML
from smgwd.wan.cms import seal


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_store_list_stop(tmp_path: Path) -> None:
    init_pki(tmp_path / "pki")
    port = free_port()
    config = tmp_path / "emp.toml"
    config.write_text(EMP_TOML.format(port=port, meters="\"*\""))
    emp = subprocess.Popen([sys.executable, "-m", "smgwd.emp.main", "--config", str(config)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert emp.stdout is not None and "listening" in emp.stdout.readline()
        pki = tmp_path / "pki"
        body = seal(document(), signer_cert=cert(pki / "smgw/smgw/sig.pem"), signer_key=key(pki / "smgw/smgw/sig.key"),
                    recipient_certs=[cert(pki / "emp/emp/enc.pem")], chain=[cert(pki / "subca.pem")])
        with requests.Session() as session:
            session.mount("https://", TlsAdapter(client_context(pki / "smgw/smgw/tls.pem", pki / "smgw/smgw/tls.key",
                                                                pki / "ca-chain.pem")))
            answer = session.post(f"https://localhost:{port}/v1/meterdata", data=body,
                                  headers={"X-Message-Id": "cli-1"}, timeout=10)
        assert answer.json()["ack"] == "cli-1"
        listed = subprocess.run([sys.executable, "-m", "smgwd.emp.main", "--config", str(config), "readings",
                                 "--format", "json", "--obis", "1-0:1.8.1*255"], capture_output=True, text=True,
                                timeout=30)
        assert [json.loads(line)["raw"] for line in listed.stdout.splitlines()] == [147967771]
        emp.send_signal(signal.SIGTERM)
        assert emp.wait(10) == 0
    finally:
        if emp.poll() is None:
            emp.kill()
            emp.wait()
        for pipe in (emp.stdout, emp.stderr):
            if pipe:
                pipe.close()


def test_bad_config_one_line(tmp_path: Path) -> None:
    config = tmp_path / "emp.toml"
    config.write_text("[tls]\ncert = 'a'\nkey = 'b'\nclient_ca = 'c'\nkeys = 1\n")
    done = subprocess.run([sys.executable, "-m", "smgwd.emp.main", "--config", str(config)],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 78 and done.stderr.count("\n") == 1 and "tls.keys: unknown key" in done.stderr
