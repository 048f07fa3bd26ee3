"""The lab EMP's HTTPS endpoint: mutual TLS in front of :class:`~smgwd.emp.service.EmpService`.

Routes: ``POST /v1/meterdata`` (header ``X-Message-Id``; body: the CMS message,
DER), ``GET /v1/readings?meter=&obis=&since=``, ``GET /v1/messages/{id}``,
``GET /v1/status`` (refusal counters and open connections), and for TAF6
requests (:mod:`smgwd.wan.taf6_requests`) ``GET /v1/requests?after=N`` and
``POST /v1/requests/{id}/decline`` (a JSON body of at most MAX_DECLINE bytes).

How this works: a threading HTTP server. The accept loop admits a connection
only while its peer address holds fewer than ``max_per_peer`` connections and
all peers fewer than ``max_connections`` (:mod:`smgwd.emp.admission`); any
other is closed at once, before TLS, and counted. An admitted connection gets
its own thread, which does the TLS handshake; clients without a certificate
from the configured CA fail it and are counted as ``unknown_client``. Every
request, headers and body together, must arrive within ``request_deadline``
seconds (the first one's clock starts at accept, so it includes the
handshake; on a kept-alive connection, after the previous answer): reads go
through a :class:`~smgwd.emp.deadline.DeadlineReader`, and a request not in
by then is cut off without an answer and counted as ``deadline_exceeded``
(an idle kept-alive connection is just closed). Answers get the same budget
again for writing.

Bodies are framed by exactly one ``Content-Length`` of ASCII digits: missing
is refused with 411 (``length_required``); a negative, signed, malformed or
contradictory one with 400 (``bad_length``). ``Transfer-Encoding`` (chunked
or any other) is refused with 411 too: the gateway always sends a length,
and a chunked parser would be one more thing to bound. Each of these closes
the connection, as the end of the body is unknown. A length over
``max_body`` is refused with 413 (``oversized``) before reading; the body is
drained first if it is at most four times the limit, so the client reads the
answer. Only then are exactly that many bytes read. A client that goes away
mid-request (EOF, reset, TLS errors) is one warning line, counted as
``disconnected``; it never gets a traceback. Every answer is JSON.
"""

from __future__ import annotations

import http.server
import io
import json
import logging
import re
import socket
import ssl
import sys
import threading
import time
from email.message import Message
from typing import Any
from urllib.parse import parse_qs, urlsplit

from smgwd.emp.admission import Admission
from smgwd.emp.deadline import DeadlineReader
from smgwd.emp.service import EmpService

__all__ = ["EmpServer"]

log = logging.getLogger("smgw-emp")
HANDSHAKE_TIMEOUT = 10.0
REQUEST_DEADLINE = 30.0
MAX_CONNECTIONS = 64
MAX_PER_PEER = 8
DRAIN_FACTOR = 4  # an oversized body up to this many times the limit is read and dropped before answering
_LENGTH = re.compile(r"[0-9]{1,19}")
_DECLINE = re.compile(r"/v1/requests/([^/]{1,24})/decline")
MAX_DECLINE = 4096


class _LengthRefused(ValueError):
    def __init__(self, status: int, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.kind = kind


class _ClientGone(ConnectionError):
    """The client closed the connection before its request was complete."""


def body_length(headers: Message) -> int:
    """The body length a request announces; :class:`_LengthRefused` unless it is exactly one plain number."""
    if headers.get("Transfer-Encoding") is not None:
        raise _LengthRefused(411, "length_required", "Transfer-Encoding is not accepted, send a Content-Length")
    values = headers.get_all("Content-Length") or []
    if not values:
        raise _LengthRefused(411, "length_required", "no Content-Length")
    if len(set(values)) > 1 or not _LENGTH.fullmatch(values[0]):
        shown = ", ".join(repr(value[:24]) for value in values[:3])
        raise _LengthRefused(400, "bad_length", f"Content-Length {shown} is not one number of 1..19 digits")
    return int(values[0])


def _client_names(connection: ssl.SSLSocket) -> tuple[str, str | None]:
    """The TLS client certificate's common name and organizational unit (its SM-PKI role)."""
    cert = connection.getpeercert()
    subject = dict(pair[0] for pair in cert.get("subject", ())) if cert else {}  # type: ignore[misc]
    unit = subject.get("organizationalUnitName")
    return str(subject.get("commonName", "?")), None if unit is None else str(unit)


def _close_half_wrapped(error: BaseException) -> None:
    """Close the SSLSocket a failed ``wrap_socket`` made and left open.

    When the peer resets between accept and wrap, ``SSLSocket._create`` (CPython
    3.11, 3.12) finds the socket unconnected, probes it with ``recv(1)`` and
    re-raises the ECONNRESET without closing the SSLSocket it has taken the
    descriptor into; the original socket is already detached. That object sits
    in the traceback's frames: close it there, or the descriptor stays open
    until a garbage collection finds the cycle.
    """
    trace = error.__traceback__
    while trace is not None:
        made = trace.tb_frame.f_locals.get("self")
        if isinstance(made, ssl.SSLSocket):
            made.close()
        trace = trace.tb_next
    error.__traceback__ = None


def _describe(error: BaseException) -> str:
    if isinstance(error, _ClientGone) or not str(error):
        return str(error) or type(error).__name__
    return f"{type(error).__name__}: {error}"


class _Handler(http.server.BaseHTTPRequestHandler):
    server: EmpServer
    connection: ssl.SSLSocket
    protocol_version = "HTTP/1.1"

    def __init__(self, request: ssl.SSLSocket, client_address: Any, server: EmpServer,
                 accepted: float | None = None) -> None:
        self.accepted: float | None = accepted
        super().__init__(request, client_address, server)

    def setup(self) -> None:
        super().setup()
        self.rfile.close()  # first: a file object left open would keep the socket open past its close()
        self.client, self.client_role = _client_names(self.connection)  # now: after an EOF the SSL object no longer tells
        self.reader = DeadlineReader(self.connection, self.server.request_deadline)
        self.rfile = io.BufferedReader(self.reader)

    def handle_one_request(self) -> None:
        first = self.accepted is not None  # the connection's first request: its clock started at accept
        self.reader.start(self.server.request_deadline, since=self.accepted)
        self.accepted = None
        super().handle_one_request()  # a DeadlineExceeded is a TimeoutError, which it catches and logs at debug
        if self.reader.expired:
            self.close_connection = True
            if first or self.reader.received:
                self.server.refused("deadline_exceeded", "request from %s (%s) not complete within %g s: cut off",
                                    self.client_address[0], self.client, self.server.request_deadline)
            else:
                log.debug("kept-alive connection from %s idle for %g s: closed", self.client_address[0],
                          self.server.request_deadline)

    def _answer(self, status: int, body: dict[str, Any] | list[Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        service = self.server.service
        message_id = self.headers.get("X-Message-Id", "")
        try:
            length = body_length(self.headers)
        except _LengthRefused as refusal:
            self.close_connection = True
            self._answer(*service.refuse(refusal.status, refusal.kind, str(refusal), message_id, self.client))
            return
        path = urlsplit(self.path).path
        decline = _DECLINE.fullmatch(path)
        if path != "/v1/meterdata" and decline is None:
            self.close_connection = True
            self._answer(404, {"error": "not_found"})
            return
        limit = service.max_body if decline is None else MAX_DECLINE
        if length > limit:
            self.close_connection = True
            if length <= DRAIN_FACTOR * limit:
                self._discard(length)  # let the client finish sending, so it reads the answer
            status, body = service.refuse(413, "oversized", f"{length} bytes > {limit}", message_id, self.client)
            self._answer(status, body)
            return
        data = self.rfile.read(length)
        if len(data) < length:
            raise _ClientGone(f"closed after {len(data)} of {length} body bytes")
        if decline is not None:
            self._answer(*service.decline(self.client, self.client_role, decline.group(1), data))
            return
        status, answer = service.meterdata(message_id, data, self.client, client_role=self.client_role)
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
        elif url.path == "/v1/requests":
            after = parse_qs(url.query).get("after")
            self._answer(*self.server.service.pending_for(self.client, self.client_role, after[0] if after else None))
        elif url.path == "/v1/status":
            self._answer(200, self.server.status())
        else:
            self._answer(404, {"error": "not_found"})

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        log.debug("%s %s", self.address_string(), format % args)


class EmpServer(http.server.ThreadingHTTPServer):
    """HTTPS with client certificates for one :class:`EmpService`, with a deadline per request and connection caps."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], service: EmpService, context: ssl.SSLContext, *,
                 request_deadline: float = REQUEST_DEADLINE, max_connections: int = MAX_CONNECTIONS,
                 max_per_peer: int = MAX_PER_PEER, handshake_timeout: float = HANDSHAKE_TIMEOUT) -> None:
        if not request_deadline > 0 or not handshake_timeout > 0:
            raise ValueError(f"request_deadline {request_deadline} and handshake_timeout {handshake_timeout} "
                             "must be > 0 s")
        self.service = service
        self.context = context
        self.request_deadline = request_deadline
        self.handshake_timeout = handshake_timeout
        self.admission = Admission(max_per_peer, max_connections)
        super().__init__(address, _Handler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def status(self) -> dict[str, Any]:
        """The counters and the connections, as ``GET /v1/status`` answers."""
        return {"counters": dict(sorted(self.service.counters.items())),
                "connections": {"open": self.admission.open, "max": self.admission.total,
                                "max_per_peer": self.admission.per_peer},
                "request_deadline": self.request_deadline}

    def refused(self, kind: str, template: str, *args: object) -> None:
        """Count a refusal that has no HTTP answer, and log it in one line."""
        self.service.counters[kind] += 1
        log.warning(template, *args)

    def verify_request(self, request: Any, client_address: Any) -> bool:
        refusal = self.admission.admit(client_address[0])
        if refusal is None:
            return True
        self.refused(refusal, "connection from %s refused: %s (%d per peer, %d in all)", client_address[0],
                     refusal.replace("_", " "), self.admission.per_peer, self.admission.total)
        return False  # the caller closes it

    def process_request(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.admission.release(client_address[0])  # no thread started, so none will release it
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.admission.release(client_address[0])

    def finish_request(self, request: Any, client_address: Any) -> None:
        accepted = time.monotonic()
        peer = client_address[0]
        request.settimeout(min(self.handshake_timeout, self.request_deadline))
        try:
            request.getpeername()
        except OSError:
            self.refused("disconnected", "connection from %s ended before the TLS handshake", peer)
            request.close()
            return
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except TimeoutError:
            self.refused("deadline_exceeded", "TLS handshake with %s not complete within %g s: cut off", peer,
                         min(self.handshake_timeout, self.request_deadline))
            request.close()
            return
        except (ssl.SSLError, OSError) as error:
            _close_half_wrapped(error)
            if isinstance(error, ConnectionError):
                self.refused("disconnected", "connection from %s ended before the TLS handshake", peer)
            else:
                self.refused("unknown_client", "TLS handshake with %s refused: %s", peer, error)
            request.close()
            return
        if tls.version() is None:  # the peer was gone before the wrap: ssl returns an unconnected socket
            self.refused("disconnected", "connection from %s ended before the TLS handshake", peer)
            tls.close()
            return
        try:
            _Handler(tls, client_address, self, accepted)
        except OSError as error:  # EOF, reset, TLS alerts mid-request: the client's doing, one line
            self.refused("disconnected", "connection from %s ended mid-request: %s", peer, _describe(error))
        finally:
            try:
                tls.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            tls.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """An unexpected error while serving: one line (the traceback only at debug level), counted."""
        error = sys.exc_info()[1]
        self.service.counters["internal_error"] += 1
        log.error("internal error serving %s: %s", client_address[0], _describe(error) if error else "?")
        log.debug("internal error serving %s", client_address[0], exc_info=True)

    def serve_in_thread(self) -> threading.Thread:
        """Serve until :meth:`shutdown` (tests, the demo)."""
        thread = threading.Thread(target=self.serve_forever, name="smgw-emp", daemon=True)
        thread.start()
        return thread
