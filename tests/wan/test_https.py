"""The gateway's HTTPS client against scripted TLS servers on loopback: one connection is kept
alive across POSTs, an idle connection the server closed is replaced without a failed POST,
and every kind of broken answer (too long, not HTTP, cut short, none at all, no TLS) is one
HttpsError, after which the next POST works again."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest

from smgwd.wan.https import MAX_ANSWER, HttpsError, HttpsPoster
from smgwd.wan.pki import init_pki
from smgwd.wan.tls import client_context, server_context

OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"ack\":\"x\"}"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("https-pki") / "lab"
    init_pki(base)
    return base


def read_request(conn: ssl.SSLSocket) -> bytes:
    """One whole request (headers and Content-Length body), or b'' at the end of the connection."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return b""
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
    while len(body) < length:
        body += conn.recv(65536)
    return head + b"\r\n\r\n" + body


class Server:
    """A TLS server on loopback that answers each request with ``answer(n)`` (n counts requests in all)."""

    def __init__(self, lab: Path, answer: Callable[[int], bytes | None], tls: bool = True) -> None:
        self.context = server_context(lab / "emp/emp/tls.pem", lab / "emp/emp/tls.key", lab / "ca-chain.pem")
        self.answer, self.tls = answer, tls
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self.requests: list[bytes] = []
        self.open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                raw, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            self.open.append(raw)
            threading.Thread(target=self._serve, args=(raw,), daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        try:
            if not self.tls:
                raw.recv(65536)
                raw.sendall(b"HTTP/1.1 200 OK\r\n\r\n")
                return
            with self.context.wrap_socket(raw, server_side=True) as conn:
                self.open.append(conn)
                while request := read_request(conn):
                    self.requests.append(request)
                    answer = self.answer(len(self.requests))
                    if answer is None:
                        time.sleep(3)  # never answers within the client's time-out
                        return
                    conn.sendall(answer)
                    if b"Connection: close" in answer:
                        return
        except OSError:
            pass
        finally:
            raw.close()

    def drop_connections(self) -> None:
        """End every open connection (shutdown first: a bare close() does not wake a thread in recv)."""
        for sock in self.open:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def close(self) -> None:
        self.listener.close()
        self.drop_connections()


@pytest.fixture
def serve(lab: Path) -> Iterator[Callable[..., Server]]:
    servers: list[Server] = []

    def start(answer: Callable[[int], bytes | None], tls: bool = True) -> Server:
        servers.append(Server(lab, answer, tls))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def poster(lab: Path, server: Server, timeout: float = 5.0) -> HttpsPoster:
    context = client_context(lab / "smgw/smgw/tls.pem", lab / "smgw/smgw/tls.key", lab / "ca-chain.pem")
    return HttpsPoster(f"https://localhost:{server.port}/v1/meterdata?x=1", context, timeout)


def test_posts_share_one_kept_alive_connection(lab: Path, serve: Callable[..., Server]) -> None:
    server = serve(lambda n: OK)
    client = poster(lab, server)
    try:
        answers = [client.post(b"body %d" % k, {"X-Message-Id": str(k)}) for k in range(3)]
    finally:
        client.close()
    assert [(a.status, a.body) for a in answers] == [(200, b'{"ack":"x"}')] * 3
    assert server.connections == 1
    assert server.requests[0].startswith(b"POST /v1/meterdata?x=1 HTTP/1.1\r\n")
    assert b"\r\nX-Message-Id: 2\r\n" in server.requests[2] and server.requests[2].endswith(b"body 2")


def test_connection_close_and_an_idle_close_by_the_server_cost_no_failed_post(
        lab: Path, serve: Callable[..., Server]) -> None:
    closing = OK.replace(b"Content-Length", b"Connection: close\r\nContent-Length")
    server = serve(lambda n: closing if n == 1 else OK)
    client = poster(lab, server)
    try:
        assert client.post(b"a", {}).status == 200  # answered with Connection: close
        assert client.post(b"b", {}).status == 200  # so a new connection, kept alive
        server.drop_connections()  # the server drops the idle connection
        time.sleep(0.1)
        assert client.post(b"c", {}).status == 200
    finally:
        client.close()
    assert server.connections == 3 and len(server.requests) == 3


@pytest.mark.parametrize(("name", "answer"), [
    ("too long", b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (MAX_ANSWER + 1) + b"x" * (MAX_ANSWER + 1)),
    ("too long, no length", b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + b"x" * (MAX_ANSWER + 1)),
    ("not HTTP", b"\x00\xffgarbage\r\n\r\n"),
    ("cut short", b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{\"ack\""),
    ("no answer", None),
])
def test_a_broken_answer_is_one_error_and_the_next_post_works(
        lab: Path, serve: Callable[..., Server], name: str, answer: bytes | None) -> None:
    server = serve(lambda n: answer if n == 1 else OK)
    client = poster(lab, server, timeout=1.0)
    try:
        with pytest.raises(HttpsError):
            client.post(b"a", {})
        assert client.post(b"b", {}).status == 200
    finally:
        client.close()
    assert server.connections == 2


def test_a_server_without_tls_is_an_error(lab: Path, serve: Callable[..., Server]) -> None:
    client = poster(lab, serve(lambda n: OK, tls=False), timeout=2.0)
    with pytest.raises(HttpsError, match="SSL|EOF|reset"):
        client.post(b"a", {})


def test_nobody_listening_is_an_error(lab: Path) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    context = client_context(lab / "smgw/smgw/tls.pem", lab / "smgw/smgw/tls.key", lab / "ca-chain.pem")
    with pytest.raises(HttpsError, match="refused"):
        HttpsPoster(f"https://localhost:{port}/", context, 2.0).post(b"a", {})


@pytest.mark.parametrize("url", ["http://localhost/x", "https:///x", "https://localhost:99999/x"])
def test_urls_it_cannot_post_to_are_refused_at_once(lab: Path, url: str) -> None:
    context = client_context(lab / "smgw/smgw/tls.pem", lab / "smgw/smgw/tls.key", lab / "ca-chain.pem")
    with pytest.raises(ValueError):
        HttpsPoster(url, context, 1.0)


def test_close_during_a_post_keeps_no_connection(lab: Path, serve: Callable[..., Server]) -> None:
    answered = threading.Event()

    def slow(n: int) -> bytes:
        answered.wait(5)
        return OK

    server = serve(slow)
    client = poster(lab, server)
    outcome: list[int] = []
    worker = threading.Thread(target=lambda: outcome.append(client.post(b"a", {}).status))
    worker.start()
    time.sleep(0.2)  # the POST waits for its answer
    client.close()  # the daemon stops meanwhile
    answered.set()
    worker.join(5)
    assert outcome == [200]
    assert client._connection is None  # noqa: SLF001 - what the POST would have kept
