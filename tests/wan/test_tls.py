"""Mutual TLS on loopback with brainpoolP256r1 certificates made by openssl: requests through
our contexts negotiates TLS 1.2 ECDHE-ECDSA-AES128-GCM-SHA256; openssl s_client, the independent
judge, sees a brainpoolP256r1 key exchange; clients without a certificate or from another CA,
and servers from another CA (the client pins its EMP's CA), are refused; no renegotiation."""

from __future__ import annotations

import http.server
import json
import ssl
import subprocess
import threading
from pathlib import Path
from typing import Iterator

import pytest
import requests

from smgwd.wan.tls_requests import TlsAdapter
from smgwd.wan.tls import client_context, server_context, tls13_with_brainpool


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_ca(d: Path, name: str, curve: str = "brainpoolP256r1") -> None:
    openssl("ecparam", "-name", curve, "-genkey", "-noout", "-out", f"{name}.key", cwd=d)
    openssl("req", "-x509", "-new", "-key", f"{name}.key", "-subj", f"/CN={name}", "-days", "30",
            "-addext", "basicConstraints=critical,CA:true", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            "-out", f"{name}.pem", cwd=d)


def make_leaf(d: Path, name: str, ca: str, curve: str = "brainpoolP256r1") -> None:
    openssl("ecparam", "-name", curve, "-genkey", "-noout", "-out", f"{name}.key", cwd=d)
    openssl("req", "-new", "-key", f"{name}.key", "-subj", f"/CN={name}", "-out", f"{name}.csr", cwd=d)
    (d / f"{name}.ext").write_text(
        "basicConstraints=critical,CA:false\nkeyUsage=critical,digitalSignature\n"
        "extendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key", "-CAcreateserial",
            "-days", "30", "-sha256", "-extfile", f"{name}.ext", "-out", f"{name}.pem", cwd=d)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("tls-pki")
    make_ca(d, "ca")
    make_ca(d, "other-ca")
    for name, ca in (("emp", "ca"), ("smgw", "ca"), ("intruder", "other-ca"), ("fake-emp", "other-ca")):
        make_leaf(d, name, ca)
    return d


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        conn = self.connection
        assert isinstance(conn, ssl.SSLSocket)
        peer = dict(x[0] for x in conn.getpeercert()["subject"])  # type: ignore[index]
        body = json.dumps({"cipher": conn.cipher()[0], "version": conn.version(), "peer": peer["commonName"]})
        self.send_response(200)
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def emp_server(pki: Path) -> Iterator[tuple[int, Path]]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = server_context(pki / "emp.pem", pki / "emp.key", pki / "ca.pem")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], pki
    server.shutdown()
    server.server_close()


def get(port: int, context: ssl.SSLContext) -> dict:
    with requests.Session() as session:
        session.mount("https://", TlsAdapter(context))
        response = session.get(f"https://localhost:{port}/", timeout=10)  # urllib3 1.26 (Debian 12) sends no SNI to an IP
        response.raise_for_status()
        return response.json()


def test_mutual_tls_with_brainpool(emp_server: tuple[int, Path]) -> None:
    port, pki = emp_server
    answer = get(port, client_context(pki / "smgw.pem", pki / "smgw.key", pki / "ca.pem"))
    assert answer["peer"] == "smgw"
    if tls13_with_brainpool():
        assert answer["version"] in ("TLSv1.2", "TLSv1.3")
    else:
        assert answer == {"cipher": "ECDHE-ECDSA-AES128-GCM-SHA256", "version": "TLSv1.2", "peer": "smgw"}


def test_openssl_sees_a_brainpool_key_exchange(emp_server: tuple[int, Path]) -> None:
    port, pki = emp_server
    done = subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-tls1_2", "-groups", "brainpoolP256r1",
         "-cert", str(pki / "smgw.pem"), "-key", str(pki / "smgw.key"), "-CAfile", str(pki / "ca.pem")],
        input=b"", capture_output=True, timeout=30)
    out = done.stdout.decode()
    assert "Server Temp Key: ECDH, brainpoolP256r1" in out
    assert "Cipher is ECDHE-ECDSA-AES128-GCM-SHA256" in out
    assert "Verify return code: 0 (ok)" in out


def test_client_without_certificate_is_refused(emp_server: tuple[int, Path]) -> None:
    port, pki = emp_server
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cafile=str(pki / "ca.pem"))
    context.set_ecdh_curve("brainpoolP256r1")
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    with pytest.raises(requests.exceptions.SSLError):
        get(port, context)


def test_client_from_another_ca_is_refused(emp_server: tuple[int, Path]) -> None:
    port, pki = emp_server
    with pytest.raises(requests.exceptions.SSLError):
        get(port, client_context(pki / "intruder.pem", pki / "intruder.key", pki / "ca.pem"))


def test_client_pins_the_emp_ca(pki: Path) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = server_context(pki / "fake-emp.pem", pki / "fake-emp.key", pki / "ca.pem").wrap_socket(
        server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(requests.exceptions.SSLError):
            get(server.server_address[1], client_context(pki / "smgw.pem", pki / "smgw.key", pki / "ca.pem"))
    finally:
        server.shutdown()
        server.server_close()


def test_renegotiation_is_refused(emp_server: tuple[int, Path]) -> None:
    port, pki = emp_server
    done = subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-tls1_2", "-groups", "brainpoolP256r1",
         "-cert", str(pki / "smgw.pem"), "-key", str(pki / "smgw.key"), "-CAfile", str(pki / "ca.pem")],
        input=b"R\n", capture_output=True, timeout=30)
    text = (done.stdout + done.stderr).decode()
    assert "RENEGOTIATING" in text
    assert "no renegotiation" in text  # the server refused: OpenSSL reports it on the client side
