"""The lab EMP under hostile clients, over real mutual TLS on loopback: body lengths that are
missing, negative, malformed or chunked are refused and counted; slow clients are cut at the
request deadline while a good client is still served; connections are capped per peer address
(127.0.0.2, 127.0.0.3, … are distinct peers on loopback) and in all; a client that dies
mid-POST is one log line; garbage leaves the server serving, with its threads bounded."""

from __future__ import annotations

import contextlib
import gc
import http.client
import logging
import random
import select
import signal
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest
import requests

from smgwd.emp.server import EmpServer, _close_half_wrapped
from smgwd.emp.service import EmpService
from smgwd.wan.tls_requests import TlsAdapter
from smgwd.wan.tls import client_context
from tests.emp.test_emp_service import document, emp, pki, post, sealed  # noqa: F401 - fixtures

Serve = Callable[..., EmpServer]
RESET_ON_CLOSE = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends a TCP reset
HEAD = "POST /v1/meterdata HTTP/1.1\r\nHost: localhost\r\nX-Message-Id: {id}\r\n"


@pytest.fixture
def serve(emp: tuple[EmpServer, EmpService]) -> Iterator[Serve]:
    """Start another EmpServer for the same service and TLS context, with the given limits."""
    default, service = emp
    servers: list[EmpServer] = []

    def start(**limits: float) -> EmpServer:
        server = EmpServer(("127.0.0.1", 0), service, default.context, **limits)  # type: ignore[arg-type]
        server.serve_in_thread()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def connect(server: EmpServer, source: str = "127.0.0.1") -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=5, source_address=(source, 0))


def tls(server: EmpServer, pki: Path, source: str = "127.0.0.1") -> ssl.SSLSocket:  # noqa: F811
    lab = pki / "lab"
    context = client_context(lab / "smgw/smgw/tls.pem", lab / "smgw/smgw/tls.key", lab / "ca-chain.pem")
    raw = connect(server, source)
    try:
        return context.wrap_socket(raw, server_hostname="localhost")
    except BaseException:
        raw.close()
        raise


def exchange(sock: socket.socket, data: bytes) -> http.client.HTTPResponse:
    sock.sendall(data)
    response = http.client.HTTPResponse(sock)  # type: ignore[arg-type]
    response.begin()
    return response


def good_post(server: EmpServer, pki: Path, source: str, message_id: str) -> int:  # noqa: F811
    body = sealed(pki, document())
    with tls(server, pki, source) as sock:
        head = HEAD.format(id=message_id) + f"Content-Length: {len(body)}\r\n\r\n"
        response = exchange(sock, head.encode() + body)
        assert response.read()
        return response.status


def closed_by_server(sock: socket.socket, timeout: float = 0.0) -> bool:
    """Whether the server has closed ``sock`` (readable, and the read finds the end)."""
    if not select.select([sock], [], [], timeout)[0]:
        return False
    try:
        return sock.recv(1) == b""
    except (ssl.SSLError, OSError):
        return True


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Poll ``condition`` (the server acts in its connection threads) until true or ``timeout``."""
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            return False
        time.sleep(0.01)
    return True


def status(server: EmpServer, pki: Path) -> dict:  # noqa: F811
    lab = pki / "lab"
    with requests.Session() as session:
        session.mount("https://", TlsAdapter(client_context(lab / "smgw/smgw/tls.pem", lab / "smgw/smgw/tls.key",
                                                            lab / "ca-chain.pem")))
        return session.get(f"https://localhost:{server.port}/v1/status", timeout=10).json()  # type: ignore[no-any-return]


@pytest.mark.parametrize(("headers", "code", "kind"), [
    ([], 411, "length_required"),
    (["Transfer-Encoding: chunked"], 411, "length_required"),
    (["Transfer-Encoding: chunked", "Content-Length: 5"], 411, "length_required"),
    (["Content-Length: -1"], 400, "bad_length"),
    (["Content-Length: +5"], 400, "bad_length"),
    (["Content-Length: 1_0"], 400, "bad_length"),
    (["Content-Length: 0x5"], 400, "bad_length"),
    (["Content-Length: five"], 400, "bad_length"),
    (["Content-Length: 5, 5"], 400, "bad_length"),
    (["Content-Length: 5", "Content-Length: 6"], 400, "bad_length"),
    (["Content-Length: " + "9" * 30], 400, "bad_length"),
], ids=["missing", "chunked", "chunked+length", "negative", "signed", "underscore", "hex", "word", "list",
        "contradictory", "30-digits"])
def test_bad_lengths_refused_counted_and_closed(emp: tuple[EmpServer, EmpService], pki: Path,  # noqa: F811
                                                headers: list[str], code: int, kind: str) -> None:
    server, service = emp
    with tls(server, pki) as sock:
        request = HEAD.format(id="len-1") + "".join(f"{h}\r\n" for h in headers) + "\r\n"
        response = exchange(sock, request.encode() + b"5\r\nhello\r\n0\r\n\r\n")  # the client keeps its end open
        assert (response.status, response.getheader("Connection")) == (code, "close")
        assert b'"error": "%s"' % kind.encode() in response.read()
        assert closed_by_server(sock, timeout=5)
    assert service.counters[kind] == 1 and sum(service.counters.values()) == 1
    assert status(server, pki)["counters"] == {kind: 1}
    assert post(server, pki, "len-2", sealed(pki, document())).status_code == 200


@pytest.mark.parametrize("slow", ["handshake", "half_hello", "request_line", "headers", "body"])
def test_slow_client_cut_at_the_deadline(serve: Serve, emp: tuple[EmpServer, EmpService], pki: Path,  # noqa: F811
                                         slow: str) -> None:
    server = serve(request_deadline=0.5)
    service = emp[1]
    head = (HEAD.format(id="slow-1") + "Content-Length: 1000\r\n\r\n").encode()
    start = time.monotonic()
    with contextlib.ExitStack() as stack:
        if slow in ("handshake", "half_hello"):
            sock: socket.socket = stack.enter_context(connect(server))
            if slow == "half_hello":
                sock.sendall(client_hello(pki)[:40])
            drip = b""
        else:
            sock = stack.enter_context(tls(server, pki))
            drip = {"request_line": head, "headers": head[:-2], "body": b"x" * 1000}[slow]
            if slow == "body":
                sock.sendall(head)
        cut = False
        for byte in drip[:60] or bytes(60):  # at most 3 s of one byte every 50 ms
            if closed_by_server(sock, timeout=0.05):
                cut = True
                break
            if drip:
                try:
                    sock.sendall(bytes([byte]))
                except OSError:
                    cut = True
                    break
        elapsed = time.monotonic() - start
    assert cut, "the slow client was not cut off"
    assert 0.4 < elapsed < 2.0, elapsed
    assert wait_until(lambda: service.counters["deadline_exceeded"] == 1), dict(service.counters)
    assert wait_until(lambda: server.admission.open == 0)


def client_hello(pki: Path) -> bytes:  # noqa: F811
    lab = pki / "lab"
    context = client_context(lab / "smgw/smgw/tls.pem", lab / "smgw/smgw/tls.key", lab / "ca-chain.pem")
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls_object = context.wrap_bio(incoming, outgoing, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        tls_object.do_handshake()
    return outgoing.read()


def refused_at_once(server: EmpServer, pki: Path, source: str) -> bool:  # noqa: F811
    """Whether a connection from ``source`` is closed before the TLS handshake completes."""
    try:
        tls(server, pki, source).close()
    except (ssl.SSLError, OSError):
        return True
    return False


def test_caps_per_peer_and_in_all_while_others_are_served(serve: Serve, emp: tuple[EmpServer, EmpService],
                                                          pki: Path) -> None:  # noqa: F811
    server = serve(request_deadline=20, max_per_peer=2, max_connections=4)
    service = emp[1]
    partial = (HEAD.format(id="hold") + "Content-Length: 1000\r\n\r\nxx").encode()
    with contextlib.ExitStack() as stack:
        held = []
        for source in ("127.0.0.2", "127.0.0.2"):  # two slow clients of one peer: its cap
            sock = stack.enter_context(tls(server, pki, source))
            sock.sendall(partial)
            held.append(sock)
        assert refused_at_once(server, pki, "127.0.0.2")
        assert service.counters["too_many_from_peer"] == 1
        assert good_post(server, pki, "127.0.0.3", "cap-1") == 200  # another peer is served meanwhile
        assert wait_until(lambda: server.admission.open == 2)
        for _ in range(2):
            held.append(stack.enter_context(tls(server, pki, "127.0.0.3")))
        assert refused_at_once(server, pki, "127.0.0.4")  # 4 open in all: everyone waits
        assert service.counters["too_many_connections"] == 1
        assert not any(closed_by_server(sock) for sock in held)  # the slow ones still hold their slots
        held.pop(0).close()
        assert wait_until(lambda: server.admission.open == 3)
        assert good_post(server, pki, "127.0.0.4", "cap-2") == 200
        assert wait_until(lambda: server.admission.open == 3)  # its slot is given back after it closed
        answer = status(server, pki)["connections"]
    assert answer["max"] == 4 and answer["max_per_peer"] == 2
    assert service.store.counts()[0] == 2 and service.counters["stored"] == 2
    assert wait_until(lambda: server.admission.open == 0)


KILLED_CLIENT = """
import socket, sys, time
from pathlib import Path
from smgwd.wan.tls import client_context
lab, port = Path(sys.argv[1]), int(sys.argv[2])
context = client_context(lab / "smgw/smgw/tls.pem", lab / "smgw/smgw/tls.key", lab / "ca-chain.pem")
sock = context.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost")
sock.sendall(b"POST /v1/meterdata HTTP/1.1\\r\\nHost: x\\r\\nX-Message-Id: k-1\\r\\nContent-Length: 5000\\r\\n\\r\\n"
             + b"x" * 2000)
print("sent", flush=True)
time.sleep(60)
"""


@pytest.mark.parametrize("death", ["kill -9", "close", "reset"])
def test_client_dying_mid_post_is_one_line(emp: tuple[EmpServer, EmpService], pki: Path,  # noqa: F811
                                           caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str],
                                           death: str) -> None:
    server, service = emp
    caplog.set_level(logging.INFO, logger="smgw-emp")
    if death == "kill -9":
        child = subprocess.Popen([sys.executable, "-c", KILLED_CLIENT, str(pki / "lab"), str(server.port)],
                                 stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[2])
        try:
            assert child.stdout is not None and child.stdout.readline() == "sent\n"
            time.sleep(0.05)  # let the server start reading the body
            child.send_signal(signal.SIGKILL)
        finally:
            child.wait(10)
            assert child.stdout is not None
            child.stdout.close()
    else:
        sock = tls(server, pki)
        sock.sendall((HEAD.format(id="k-1") + "Content-Length: 5000\r\n\r\n").encode() + b"x" * 2000)
        raw = socket.socket(fileno=sock.detach())  # no TLS close_notify: like a dead process
        if death == "reset":
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, RESET_ON_CLOSE)
        raw.close()
    assert wait_until(lambda: service.counters["disconnected"] == 1), dict(service.counters)
    assert dict(service.counters) == {"disconnected": 1}  # not mistaken for a malformed message
    events = [r for r in caplog.records if "ended mid-request" in r.getMessage()]
    assert len(events) == 1 and "127.0.0.1" in events[0].getMessage(), [r.getMessage() for r in caplog.records]
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    assert "Traceback" not in capfd.readouterr().err
    assert post(server, pki, "k-2", sealed(pki, document())).status_code == 200


def open_fds() -> int:
    return len(list(Path("/proc/self/fd").iterdir()))


def reset_by_the_client() -> tuple[socket.socket, tuple[str, int]]:
    """A server-side connection (and its peer address) whose client has reset it already."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname(), timeout=5)
        accepted, address = listener.accept()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, RESET_ON_CLOSE)
    client.close()
    time.sleep(0.05)  # the reset has arrived
    return accepted, address


@contextlib.contextmanager
def no_descriptor_left_open() -> Iterator[None]:
    """The block must close every descriptor it opens (garbage collection off: no tidying behind it)."""
    gc_was_on = gc.isenabled()
    gc.disable()
    try:
        before = open_fds()
        yield
        assert open_fds() == before
    finally:
        if gc_was_on:
            gc.enable()


def test_a_client_reset_before_the_handshake_leaves_no_socket_open(emp: tuple[EmpServer, EmpService]) -> None:
    """A client that resets before the server's thread wraps its connection is counted, and its
    socket is closed at once, not when a garbage collection finds it."""
    server, service = emp
    with no_descriptor_left_open():
        for _ in range(3):
            server.finish_request(*reset_by_the_client())  # what a connection thread of the server runs
    assert dict(service.counters) == {"disconnected": 3}


def test_the_socket_a_failed_wrap_leaves_open_is_closed(emp: tuple[EmpServer, EmpService]) -> None:
    """CPython's wrap_socket on a socket reset meanwhile raises and leaves its new SSLSocket open
    (the race after the server's own check): the helper closes it."""
    server, _ = emp
    with no_descriptor_left_open():
        accepted, _address = reset_by_the_client()
        with pytest.raises(OSError) as failed:
            server.context.wrap_socket(accepted, server_side=True)
        _close_half_wrapped(failed.value)
        accepted.close()
        del failed


def garbage(server: EmpServer, pki: Path, kind: str, stack: contextlib.ExitStack) -> None:  # noqa: F811
    """Open one connection from 127.0.0.2 and do something hostile on it; it is left open in ``stack``."""
    noise = random.Random(kind).randbytes(4096)
    try:
        if kind in ("plain_http", "random", "half_hello", "hello_then_silence", "silence", "close", "reset"):
            sock: socket.socket = stack.enter_context(connect(server, "127.0.0.2"))
            data = {"plain_http": b"POST /v1/meterdata HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
                    "random": noise, "half_hello": client_hello(pki)[:50], "hello_then_silence": client_hello(pki)}
            sock.sendall(data.get(kind, b""))
            if kind == "reset":
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, RESET_ON_CLOSE)
            if kind in ("close", "reset"):
                sock.close()
        else:
            sock = stack.enter_context(tls(server, pki, "127.0.0.2"))
            sock.sendall({"binary_request": b"\x00\xff\xfe garbage \x01\r\n\r\n",
                          "long_header": b"GET /v1/status HTTP/1.1\r\nX: " + b"a" * 70_000 + b"\r\n\r\n",
                          "many_headers": b"GET /v1/status HTTP/1.1\r\n" + b"X: y\r\n" * 150 + b"\r\n",
                          "bad_method": b"BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n",
                          "half_request": b"POST /v1/meter",
                          "tls_noise": b"",
                          }[kind])
            if kind == "tls_noise":
                raw = stack.enter_context(socket.socket(fileno=sock.detach()))
                raw.sendall(b"\x17\x03\x03\x00\x10" + noise[:16])  # an application record no key opens
    except (ssl.SSLError, OSError):
        pass  # refused at the cap, or the server hung up: both fine


GARBAGE = ["plain_http", "random", "half_hello", "hello_then_silence", "silence", "close", "reset",
           "binary_request", "long_header", "many_headers", "bad_method", "half_request", "tls_noise"]


def test_garbage_leaves_the_server_serving_with_bounded_threads(serve: Serve, emp: tuple[EmpServer, EmpService],
                                                                pki: Path,  # noqa: F811
                                                                capfd: pytest.CaptureFixture[str]) -> None:
    server = serve(request_deadline=0.5, max_per_peer=4, max_connections=4)
    service = emp[1]
    baseline = threading.active_count()
    most = baseline
    for batch in range(0, len(GARBAGE), 4):  # one kind per slot, then all of them at once, twice
        with contextlib.ExitStack() as stack:
            for kind in GARBAGE[batch:batch + 4]:
                garbage(server, pki, kind, stack)
            most = max(most, threading.active_count())
            assert wait_until(lambda: server.admission.open == 0)
    for _ in range(2):
        with contextlib.ExitStack() as stack:
            for kind in GARBAGE:
                garbage(server, pki, kind, stack)
                most = max(most, threading.active_count())
            assert wait_until(lambda: server.admission.open == 0)
    assert most <= baseline + 4, f"{most} threads with a cap of 4 connections over {baseline}"
    assert good_post(server, pki, "127.0.0.2", "after-garbage") == 200
    assert wait_until(lambda: threading.active_count() <= baseline)
    assert service.counters["internal_error"] == 0 and service.counters["too_many_connections"] > 0
    assert "Traceback" not in capfd.readouterr().err
