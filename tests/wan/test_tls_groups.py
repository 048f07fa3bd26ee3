"""Both sides offer the TR-03116-3 groups, not one curve: openssl, the independent judge, sees each of them
negotiated by our server and lists them all in our client's hello. TLS 1.3 brainpool groups need OpenSSL 3.2;
this machine's 3.0 refuses their names, which the last test states."""

from __future__ import annotations

import http.server
import logging
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest
import requests

import smgwd.wan.tls as tls
from smgwd.wan.tls import client_context, server_context, tls13_with_brainpool
from smgwd.wan.tls_groups import TR_03116_GROUPS, groups_for, offer_groups
from smgwd.wan.tls_requests import TlsAdapter
from tests.wan.test_tls import Handler, make_ca, make_leaf, pki  # noqa: F401 - fixtures

#: How openssl prints a group it negotiated or lists.
PRINTED = {"brainpoolP256r1": "brainpoolP256r1", "brainpoolP384r1": "brainpoolP384r1",
           "brainpoolP512r1": "brainpoolP512r1", "P-256": "prime256v1", "P-384": "secp384r1"}


#: The curve of each group, as ``openssl ecparam`` names it.
CURVE = {"brainpoolP256r1": "brainpoolP256r1", "brainpoolP384r1": "brainpoolP384r1",
         "brainpoolP512r1": "brainpoolP512r1", "P-256": "prime256v1", "P-384": "secp384r1"}


@pytest.fixture(scope="module")
def curve_pkis(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A CA, an EMP and a gateway certificate on the curve of each group."""
    made = {}
    for group, curve in CURVE.items():
        d = tmp_path_factory.mktemp(f"pki-{curve}")
        make_ca(d, "ca", curve)
        for name in ("emp", "smgw"):
            make_leaf(d, name, "ca", curve)
        made[group] = d
    return made


@pytest.fixture
def serving(curve_pkis: dict[str, Path], request: pytest.FixtureRequest) -> Iterator[tuple[int, Path]]:
    d = curve_pkis[request.param]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = server_context(d / "emp.pem", d / "emp.key", d / "ca.pem").wrap_socket(
        server.socket, server_side=True)  # the default curve, brainpoolP256r1, goes first: the rest must follow
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], d
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(("serving", "group"), [(g, g) for g in TR_03116_GROUPS], indirect=["serving"])
def test_the_server_negotiates_each_group(serving: tuple[int, Path], group: str) -> None:
    """A client that offers only ``group`` (its certificates on that curve, as TLS 1.2 then needs) is served."""
    port, d = serving
    done = subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-tls1_2", "-groups", group,
         "-cert", str(d / "smgw.pem"), "-key", str(d / "smgw.key"), "-CAfile", str(d / "ca.pem")],
        input=b"", capture_output=True, timeout=30)
    out = done.stdout.decode()
    assert f"Server Temp Key: ECDH, {PRINTED[group]}" in out, out[-1500:] + done.stderr.decode()[-500:]
    assert "Verify return code: 0 (ok)" in out


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_client_offers_every_group(pki: Path) -> None:  # noqa: F811
    port = free_port()
    server = subprocess.Popen(
        ["openssl", "s_server", "-accept", str(port), "-cert", str(pki / "emp.pem"), "-key", str(pki / "emp.key"),
         "-CAfile", str(pki / "ca.pem"), "-Verify", "1", "-tls1_2", "-www", "-serverpref",
         "-groups", "brainpoolP512r1:brainpoolP256r1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        page = ""
        with requests.Session() as session:
            session.mount("https://", TlsAdapter(client_context(pki / "smgw.pem", pki / "smgw.key", pki / "ca.pem")))
            for _ in range(50):
                try:
                    page = session.get(f"https://localhost:{port}/", timeout=10).text
                    break
                except requests.exceptions.ConnectionError:
                    time.sleep(0.1)
    finally:
        server.terminate()
        server.wait(10)
    lines = {line.split(":", 1)[0]: line.split(":", 1)[1].strip() for line in page.splitlines() if "groups:" in line}
    offered = lines["Supported groups"].split(":")
    assert offered[0] == "brainpoolP256r1" and len(offered) == len(TR_03116_GROUPS)
    assert {PRINTED.get(g, g) for g in offered} >= {"brainpoolP384r1", "brainpoolP512r1", "secp384r1"}
    assert lines["Shared groups"].split(":")[0] == "brainpoolP512r1"  # the server's choice, which we offered


def test_the_own_curve_goes_first() -> None:
    assert groups_for("prime256v1", False) == ["P-256", "brainpoolP256r1", "brainpoolP384r1", "brainpoolP512r1",
                                               "P-384"]
    assert groups_for("brainpoolP384r1", True)[:2] == ["brainpoolP384r1tls13", "brainpoolP384r1"]


def test_a_refused_list_leaves_one_curve_and_one_warning(pki: Path, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
                                                        caplog: pytest.LogCaptureFixture) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    assert offer_groups(context, ["no-such-group"]) is not None
    monkeypatch.setattr(tls, "offer_groups", lambda context, groups: "no libssl here")
    monkeypatch.setattr(tls, "_warned", set())
    with caplog.at_level(logging.WARNING, "smgwd.tls"):
        for _ in range(3):
            server_context(pki / "emp.pem", pki / "emp.key", pki / "ca.pem")
    assert [r.getMessage() for r in caplog.records] == ["TLS offers only the group brainpoolP256r1: no libssl here"]


def test_tls13_brainpool_groups_only_where_openssl_knows_them() -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    refused = offer_groups(context, list(groups_for("brainpoolP256r1", True)))
    if tls13_with_brainpool():
        assert refused is None
    else:  # OpenSSL 3.0 (Debian 12): the RFC 8734 names are unknown, so they are not offered
        assert refused is not None and "refused the groups" in refused
