"""The gateway administrator's HTTPS API: ``POST /v1/admin`` on the gateway's asyncio loop, over mutual TLS.

How this works: with ``[admin] enabled`` the daemon listens on ``host:port``
with the gateway's TLS certificate and requires a client certificate under
``client_ca`` (not on ``crl``). One request per connection, within
REQUEST_DEADLINE seconds for all of it: a head of at most MAX_HEAD bytes,
exactly one ``Content-Length`` of at most MAX_BODY, and the body, a CMS
SignedData holding one GWA command (:mod:`smgwd.wan.admin_command`). At most
MAX_CONNECTIONS connections are served at once; more are closed at once.
Anything else (another path or method, a bad length, a slow or vanished
client) is answered or dropped, counted in :attr:`AdminServer.counters`, and
never reaches a command.

A command is checked (signature, GWA roles, gateway, window, sequence), and
one check at a time, so two commands can never both pass with sequences out
of order. A refused one is logged (``admin_refused`` in the system log, with
kind and reason) and answered with its status. An accepted one first commits
its sequence (gateway_state ``admin.sequence``) with an ``admin_command``
entry, so it can never run twice, even after a crash; then it runs
(:mod:`smgwd.wan.admin_commands`), and ``admin_done`` or ``admin_failed``
follows. Every answer is a JSON object.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
from collections import Counter
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable

from smgwd.gateway.listener import Listener
from smgwd.gateway.logsetup import fields
from smgwd.gateway.store import StoreReader, SystemNote

if TYPE_CHECKING:
    from smgwd.gateway.config import AdminConfig, GatewayConfig
    from smgwd.gateway.core import Gateway

__all__ = ["AdminServer", "SEQUENCE_KEY"]

log = logging.getLogger("smgwd.admin")

SEQUENCE_KEY = "admin.sequence"
REQUEST_DEADLINE = 15.0
HANDSHAKE_TIMEOUT = 10.0
MAX_HEAD = 8192
MAX_BODY = 64 * 1024
MAX_CONNECTIONS = 8
PATH = "/v1/admin"


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class _Refusal(Exception):
    def __init__(self, status: int, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.kind = kind


def _length(headers: dict[str, list[str]]) -> int:
    if "transfer-encoding" in headers:
        raise _Refusal(411, "length_required", "Transfer-Encoding is not accepted, send a Content-Length")
    values = headers.get("content-length", [])
    if len(values) != 1 or not values[0].isdigit() or len(values[0]) > 9:
        raise _Refusal(411 if not values else 400, "bad_length", "expected exactly one Content-Length")
    length = int(values[0])
    if length > MAX_BODY:
        raise _Refusal(413, "oversized", f"{length} bytes > {MAX_BODY}")
    return length


def _head(data: bytes) -> tuple[str, str, dict[str, list[str]]]:
    """Method, path and headers (lower-case names) of a request head; _Refusal if it is not HTTP/1.x."""
    try:
        lines = data.decode("ascii").split("\r\n")
    except UnicodeDecodeError:
        raise _Refusal(400, "bad_request", "the request head is not ASCII") from None
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise _Refusal(400, "bad_request", "not an HTTP/1.x request line")
    headers: dict[str, list[str]] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            raise _Refusal(400, "bad_request", "a malformed header line")
        headers.setdefault(name.lower(), []).append(value.strip())
    return parts[0], parts[1], headers


def _names(writer: asyncio.StreamWriter) -> tuple[str, str | None]:
    """The TLS client certificate's common name and organizational unit."""
    cert = writer.get_extra_info("peercert") or {}
    subject = dict(pair[0] for pair in cert.get("subject", ()))
    unit = subject.get("organizationalUnitName")
    return str(subject.get("commonName", "?")), None if unit is None else str(unit)


class AdminServer(Listener):
    """The admin API as a listener of the gateway (see the module comment)."""

    def __init__(self, clock: Callable[[], datetime] = _utcnow) -> None:
        self.clock = clock
        self.counters: Counter[str] = Counter()
        self.port: int | None = None
        self._server: asyncio.AbstractServer | None = None
        self._gateway: Gateway | None = None
        self._config: AdminConfig | None = None
        self._open = 0
        self._lock = asyncio.Lock()
        self._sequence = 0
        self._trust: list[Any] = []
        self._untrusted: list[Any] = []
        self._crls: list[Any] = []

    async def start(self, gateway: Gateway) -> None:
        self._gateway = gateway
        await self._listen(gateway.config.admin)

    async def _listen(self, config: AdminConfig) -> None:
        self._config = config
        if not config.enabled:
            return
        from smgwd.wan.chain import load_certs
        from smgwd.wan.pki_revocation import load_crls
        from smgwd.wan.tls import server_context

        assert config.tls_cert and config.tls_key and config.client_ca and config.trust and self._gateway
        try:
            self._trust = load_certs(config.trust.read_bytes())
            self._untrusted = load_certs(config.untrusted.read_bytes()) if config.untrusted else []
            self._crls = load_crls(config.crl.read_bytes()) if config.crl else []
            context = server_context(config.tls_cert, config.tls_key, config.client_ca, crl=config.crl)
            self._sequence = await asyncio.to_thread(self._last_sequence)
            self._server = await asyncio.start_server(self._serve, config.host, config.port, ssl=context,
                                                      ssl_handshake_timeout=HANDSHAKE_TIMEOUT, limit=MAX_HEAD)
        except (OSError, ValueError) as error:  # ssl.SSLError is an OSError
            log.error("admin API not started: %s", error, extra=fields(event="admin_unavailable"))
            self._gateway.store.log("system", "admin_unavailable", f"admin API not started: {error}")
            return
        self.port = int(self._server.sockets[0].getsockname()[1])
        log.info("admin API on https://%s:%d%s (GWA only)", config.host, self.port, PATH,
                 extra=fields(event="admin_listening"))

    def _last_sequence(self) -> int:
        assert self._gateway is not None
        self._gateway.store.flush(5.0)
        with StoreReader(self._gateway.store.path) as reader:
            value = reader.state().get(SEQUENCE_KEY, "0")
        return int(value) if value.isdigit() else 0

    def trouble(self) -> list[str]:
        if self._config is not None and self._config.enabled and self._server is None:
            return ["admin API not started"]
        return []

    async def reload(self, config: GatewayConfig) -> None:
        if config.admin != self._config:
            await self.stop()
            await self._listen(config.admin)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
            self.port = None

    # --- one connection ---------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._open >= MAX_CONNECTIONS:
            self.counters["too_many_connections"] += 1
            writer.close()
            return
        self._open += 1
        try:
            async with asyncio.timeout(REQUEST_DEADLINE):
                status, answer = await self._request(reader, writer)
                await self._answer(writer, status, answer)
        except TimeoutError:
            self.counters["deadline_exceeded"] += 1
            log.warning("admin: a request not complete within %g s: cut off", REQUEST_DEADLINE,
                        extra=fields(event="admin_refused"))
        except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError, OSError) as error:
            self.counters["disconnected"] += 1
            log.warning("admin: a client went away mid-request: %s", type(error).__name__,
                        extra=fields(event="admin_refused"))
        finally:
            self._open -= 1
            writer.close()

    async def _request(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> tuple[int, dict[str, Any]]:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError:
            return self._refused(431, "bad_request", f"request head longer than {MAX_HEAD} bytes")
        try:
            method, path, headers = _head(head[:-4])
            if path != PATH:
                raise _Refusal(404, "not_found", f"no {path[:60]!r} here: {PATH}")
            if method != "POST":
                raise _Refusal(405, "bad_request", "only POST")
            length = _length(headers)
        except _Refusal as refusal:
            return self._refused(refusal.status, refusal.kind, str(refusal))
        body = await reader.readexactly(length)
        client, role = _names(writer)
        return await self._execute(body, client, role)

    def _refused(self, status: int, kind: str, reason: str, client: str = "?") -> tuple[int, dict[str, Any]]:
        self.counters[kind] += 1
        log.warning("admin: refused from %s: %s: %s", client, kind, reason, extra=fields(event="admin_refused"))
        return status, {"error": kind, "reason": reason}

    async def _answer(self, writer: asyncio.StreamWriter, status: int, answer: dict[str, Any]) -> None:
        data = json.dumps(answer).encode()
        writer.write(f"HTTP/1.1 {status} {'OK' if status == 200 else 'Refused'}\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode() + data)
        await writer.drain()

    # --- one command ------------------------------------------------------------------

    async def _execute(self, body: bytes, client: str, role: str | None) -> tuple[int, dict[str, Any]]:
        from smgwd.wan.admin_command import AdminRefused, open_command
        from smgwd.wan.admin_commands import COMMANDS

        gateway = self._gateway
        assert gateway is not None
        async with self._lock:
            try:
                command = await asyncio.to_thread(
                    open_command, body, gateway_id=gateway.config.gateway.id, trust=self._trust,
                    untrusted=self._untrusted, crls=self._crls, client=client, client_role=role,
                    last_sequence=self._sequence, now=self.clock())
                if command.command not in COMMANDS:
                    raise AdminRefused("unknown_command", f"no command {command.command!r} "
                                       f"(known: {', '.join(sorted(COMMANDS))})", 400)
            except AdminRefused as refusal:
                gateway.store.log("system", "admin_refused", f"admin command from {client} refused: {refusal.kind}: "
                                  f"{refusal}", data={"client": client, "kind": refusal.kind, "reason": str(refusal)})
                return self._refused(refusal.status, refusal.kind, str(refusal), client)
            self._sequence = command.sequence
            what = f"admin command {command.command} {command.id} (sequence {command.sequence}) from {client}"
            gateway.store.record([SystemNote("admin_command", what, data={
                "command": command.command, "id": command.id, "sequence": command.sequence, "client": client,
                "args": command.args})], {SEQUENCE_KEY: str(command.sequence)})
            if not await asyncio.to_thread(gateway.store.flush, 10.0):
                return self._refused(503, "store_unavailable", "the store did not commit the command", client)
        self.counters["accepted"] += 1
        log.info("%s", what, extra=fields(event="admin_command"))
        try:
            result = await COMMANDS[command.command](gateway, command.args)
        except AdminRefused as refusal:
            gateway.store.log("system", "admin_failed", f"{what} failed: {refusal}", data={"id": command.id})
            return self._refused(refusal.status, refusal.kind, str(refusal), client)
        except Exception as error:  # noqa: BLE001 - a failing command is answered, the API stays
            gateway.store.log("system", "admin_failed", f"{what} failed: {type(error).__name__}: {error}",
                              data={"id": command.id})
            return self._refused(500, "failed", f"{type(error).__name__}: {error}"[:300], client)
        gateway.store.log("system", "admin_done", f"{what} done", data={"id": command.id})
        return 200, {"id": command.id, "command": command.command, "result": result}
