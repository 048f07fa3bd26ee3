"""The lab EMP's HTTPS endpoint: mutual TLS in front of :class:`~smgwd.emp.service.EmpService`.

Routes: ``POST /v1/meterdata`` (header ``X-Message-Id``; body: the CMS message,
DER), ``GET /v1/readings?meter=&obis=&since=``, ``GET /v1/messages/{id}``.

How this works: a threading HTTP server whose TLS handshake runs in the
connection's own thread with a time limit, so a slow or foreign client never
holds up the others; clients without a certificate from the configured CA
fail the handshake and are counted as ``unknown_client``. Bodies are read
only up to the configured limit (a larger Content-Length is refused before
reading), and every answer is JSON.
"""

from __future__ import annotations

import http.server
import json
import logging
import socket
import ssl
import threading
from typing import Any
from urllib.parse import parse_qs, urlsplit

from smgwd.emp.service import EmpService

__all__ = ["EmpServer"]

log = logging.getLogger("smgw-emp")
HANDSHAKE_TIMEOUT = 10.0
DRAIN_FACTOR = 4  # an oversized body up to this many times the limit is read and dropped before answering


class _Handler(http.server.BaseHTTPRequestHandler):
    server: EmpServer
    protocol_version = "HTTP/1.1"

    def _answer(self, status: int, body: dict[str, Any] | list[Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _client(self) -> str:
        cert = self.connection.getpeercert() if isinstance(self.connection, ssl.SSLSocket) else None
        subject = dict(pair[0] for pair in cert.get("subject", ())) if cert else {}  # type: ignore[misc]
        return str(subject.get("commonName", "?"))

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        service = self.server.service
        if urlsplit(self.path).path != "/v1/meterdata":
            self._answer(404, {"error": "not_found"})
            return
        message_id = self.headers.get("X-Message-Id", "")
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self._answer(411, {"error": "length_required"})
            return
        if length > service.max_body:
            self.close_connection = True
            if length <= DRAIN_FACTOR * service.max_body:
                self._discard(length)  # let the client finish sending, so it reads the answer
            status, body = service.refuse(413, "oversized", f"{length} bytes > {service.max_body}", message_id,
                                          self._client())
            self._answer(status, body)
            return
        status, answer = service.meterdata(message_id, self.rfile.read(length), self._client())
        self._answer(status, answer)

    def _discard(self, length: int) -> None:
        while length > 0:
            chunk = self.rfile.read(min(length, 65536))
            if not chunk:
                return
            length -= len(chunk)

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        url = urlsplit(self.path)
        store = self.server.service.store
        if url.path == "/v1/readings":
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            readings = store.readings(query.get("meter"), query.get("obis"), query.get("since"))
            self._answer(200, [r.record() for r in readings])
        elif url.path.startswith("/v1/messages/"):
            message = store.message(url.path.rsplit("/", 1)[1])
            self._answer(200 if message else 404, message or {"error": "not_found"})
        else:
            self._answer(404, {"error": "not_found"})

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        log.debug("%s %s", self.address_string(), format % args)


class EmpServer(http.server.ThreadingHTTPServer):
    """HTTPS with client certificates for one :class:`EmpService`."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], service: EmpService, context: ssl.SSLContext) -> None:
        self.service = service
        self.context = context
        super().__init__(address, _Handler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(HANDSHAKE_TIMEOUT)
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as error:
            self.service.counters["unknown_client"] += 1
            log.warning("TLS handshake with %s refused: %s", client_address[0], error)
            request.close()
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)  # type: ignore[arg-type]
        finally:
            try:
                tls.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            tls.close()

    def serve_in_thread(self) -> threading.Thread:
        """Serve until :meth:`shutdown` (tests, the demo)."""
        thread = threading.Thread(target=self.serve_forever, name="smgw-emp", daemon=True)
        thread.start()
        return thread
