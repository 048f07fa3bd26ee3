"""The simulator's SML request/response server over TCP (the jOSEF meter side).

Protocol (the contract between this server and ``smgwd.meters.sml.client``):

- Transport: TCP, default port 33333. Each request is one *SML file* —
  OpenRequest, one or more request messages, CloseRequest — in one transport
  v1 frame; the reply is one frame holding OpenResponse, the responses in
  request order, CloseResponse. Message and frame CRCs are X-25. Every
  response message carries the transactionId of the request message it
  answers (OpenResponse that of OpenRequest, CloseResponse that of
  CloseRequest); OpenResponse echoes reqFileId and clientId. A connection
  carries any number of files, answered one after another.
- Meters: one listener serves one or more meters. A request's serverId (else
  the OpenRequest's) selects the meter; with neither, the only meter is used.
  An unknown serverId in OpenRequest, or no serverId when there are several
  meters, is answered with Attention 81 81 C7 C7 FE 03.
- Authentication: optional username/password per listener; none configured
  means open access. When configured, OpenRequest must carry both; a request
  that carries its own must carry the same. Otherwise Attention FE 02.
- File-level failures (credentials, unknown serverId in OpenRequest): the
  reply is OpenResponse, one AttentionResponse with OpenRequest's
  transactionId, CloseResponse — the requests are not answered.
- Discovery (jOSEF steps 1+2): GetProcParameterRequest with treePath
  [00 00 28 00 00 ff] (0-0:40.0.0*255, the object list) -> one
  GetProcParameterResponse whose tree is that OBIS code with no value and one
  child per object (parameterName = 6-byte OBIS code, no value, no children).
- Details (jOSEF steps 3+4): GetProcParameterRequest with treePath [obis] ->
  GetProcParameterResponse, tree = obis with ProcParValue(ListEntry) of the
  meter's current value; an unknown obis -> Attention FE 0A for that request
  only.
- GetListRequest -> GetListResponse with every list entry, actSensorTime =
  the meter's seconds index.
- GetProfileListRequest, treePath [obis], beginTime/endTime as timestamps
  (either may be absent: open end) -> one GetProfileListResponse per stored
  period: actTime = valTime = the period's timestamp, regPeriod 900, status,
  periodList with one PeriodEntry. No periods -> FE 13; obis not a register
  of the meter -> FE 0E; a seconds-index bound -> FE 0F; end before begin ->
  FE 12.
- Other requests (SetProcParameter, GetProfilePack) -> FE 0A; a response or
  Open/Close body among the requests -> FE 0D.
- Frames the server cannot read: a bad frame or message CRC -> a file with
  Attention FE 0B (empty reqFileId and transactionIds); valid SML that is not
  an SML file -> FE 0D (or FE 14 when Close is missing); undecodable messages
  -> FE 08. Bytes outside frames are dropped and counted; other framing
  errors (oversized, bad escape, truncated) are counted and not answered.

How this works: :class:`SmlResponder` is the sans-I/O half — frame payload in,
reply frame bytes out — over :class:`~smgwd.sim.model.SmlMeterModel` objects.
:class:`SmlServer` runs ``asyncio.start_server``; each connection reads
transport events with a deadline, answers good frames, and writes each reply
with a write timeout (a client that does not read is dropped). The first
deadline is short (the first-request timeout, counted from the connect: a
connection that never speaks, or dribbles, is cut off soon); once a client
has delivered a complete request, the idle timeout applies between its
requests. A new connection is closed at once (counted in ``refused``) when
its peer address already holds ``max_per_peer`` connections or the server
holds ``max_clients``, so a flood of idle connections from one address cannot
keep other clients out. Everything a connection does wrong is caught in its
own task and counted in :class:`SmlServerStats`.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Sequence, cast

from smgwd.codec.sml import types as t
from smgwd.codec.sml.errors import SmlCrcError, SmlError
from smgwd.codec.sml.transport import DEFAULT_MAX_FRAME, BytesDiscarded, Event, Frame, FrameRejected
from smgwd.meters.sml.session import (
    DEFAULT_PORT,
    OBJECT_LIST,
    REG_PERIOD,
    AttentionCode,
    SmlFile,
    SmlFileError,
    decode_file,
    encode_file,
    frame_decoder,
    octets,
    read_event,
)
from smgwd.sim.model import SmlMeterModel

__all__ = ["MIN_PER_PEER", "SmlResponder", "SmlServer", "SmlServerStats"]

log = logging.getLogger(__name__)

#: What :attr:`SmlServerStats.errors` counts.
ErrorKind = Literal[
    "crc",  # a frame or message CRC that did not match (answered FE 0B)
    "frame",  # a frame dropped by the transport decoder: oversized, bad escape, truncated
    "syntax",  # a good frame that is not a valid SML file
    "auth",  # wrong or missing credentials
    "server_id",  # an unknown or missing serverId
    "first_request_timeout",  # a new connection sent no complete request in time
    "idle_timeout",  # no complete request within the idle timeout
    "write_timeout",  # a client that did not read its reply in time
    "reset",  # a connection that broke (reset, broken pipe)
    "internal",  # a meter model or encoder failure (answered FE 00)
]

#: The smallest default per-peer connection cap (see :class:`SmlServer`).
MIN_PER_PEER = 8

_REQUESTS = (
    t.GetListRequest,
    t.GetProcParameterRequest,
    t.GetProfileListRequest,
    t.GetProfilePackRequest,
    t.SetProcParameterRequest,
)
_Handler = Callable[[SmlMeterModel, Any], list[t.MessageBody]]


@dataclass
class SmlServerStats:
    """Counters of one server since it was created."""

    connections: int = 0  # connections accepted
    active: int = 0  # connections open now
    refused: int = 0  # connections closed at once (max_clients or max_per_peer reached)
    refused_per_peer: int = 0  # of those, refused because their peer held max_per_peer
    requests: int = 0  # frames received with a good CRC
    attentions: int = 0  # AttentionResponse messages sent
    garbage_bytes: int = 0  # bytes outside any frame
    errors: dict[str, int] = field(default_factory=dict)  # by ErrorKind

    def count(self, kind: ErrorKind) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


def _same(given: bytes | None, expected: bytes | None) -> bool:
    return hmac.compare_digest(given or b"", expected or b"")


def _opening(request: SmlFile) -> t.OpenRequest:
    return cast(t.OpenRequest, request.open.body)  # decode_file(request=True) made sure


def _timestamp(value: int) -> t.SmlTime:
    return t.SmlTime(t.TimeKind.TIMESTAMP, value)


class SmlResponder:
    """Answers SML request files for a set of meters (sans-I/O).

    Args:
        meters: the meters served; their serverIds must differ.
        username, password: required credentials; both None: open access.
        stats: where to count (a fresh :class:`SmlServerStats` if None).
    """

    def __init__(
        self,
        meters: Sequence[SmlMeterModel],
        username: str | bytes | None = None,
        password: str | bytes | None = None,
        stats: SmlServerStats | None = None,
    ) -> None:
        if not meters:
            raise ValueError("an SML server needs at least one meter")
        self._meters = {m.server_id: m for m in meters}
        if len(self._meters) != len(meters):
            raise ValueError("two meters share a serverId")
        self._username = octets(username)
        self._password = octets(password)
        self.stats = stats if stats is not None else SmlServerStats()
        self._handlers: dict[type, _Handler] = {
            t.GetListRequest: self._get_list,
            t.GetProcParameterRequest: self._get_proc_parameter,
            t.GetProfileListRequest: self._get_profile_list,
        }

    @property
    def authenticating(self) -> bool:
        """True when clients must present credentials."""
        return self._username is not None or self._password is not None

    def reply(self, payload: bytes) -> bytes:
        """The reply frame to a request frame's payload."""
        try:
            request = decode_file(payload, request=True)
        except SmlError as err:
            code = self._decode_failure(err)
            log.debug("undecodable request file: %s", err)
            return encode_file(self._error_file(code))
        try:
            return encode_file(self._answer(request))
        except Exception:  # a model or encoder bug must not reach the connection
            log.exception("answering an SML request file failed")
            self.stats.count("internal")
            return encode_file(self._error_file(AttentionCode.UNKNOWN_ERROR, request))

    def checksum_error(self) -> bytes:
        """The reply frame to a frame whose CRC did not match."""
        return encode_file(self._error_file(AttentionCode.CHECKSUM))

    # --- files ------------------------------------------------------------------------

    def _decode_failure(self, err: SmlError) -> AttentionCode:
        if isinstance(err, SmlCrcError):
            self.stats.count("crc")
            return AttentionCode.CHECKSUM
        self.stats.count("syntax")
        return err.code if isinstance(err, SmlFileError) else AttentionCode.UNINTERPRETABLE

    def _answer(self, request: SmlFile) -> SmlFile:
        opening = _opening(request)
        failure = self._open_failure(opening)
        if failure is not None:
            return self._error_file(failure, request)
        answers = [
            t.SmlMessage(message.transaction_id, body)
            for message in request.messages
            for body in self._answer_message(message.body, opening)
        ]
        return self._response(request, answers)

    def _open_failure(self, opening: t.OpenRequest) -> AttentionCode | None:
        if not self._authorized(opening.username, opening.password):
            self.stats.count("auth")
            return AttentionCode.AUTHENTICATION
        if opening.server_id is not None and opening.server_id not in self._meters:
            self.stats.count("server_id")
            return AttentionCode.SERVER_ID
        return None

    def _error_file(self, code: AttentionCode, request: SmlFile | None = None) -> SmlFile:
        if request is None:  # a frame that could not be read: nothing to echo
            opening = t.SmlMessage(b"", t.OpenRequest(client_id=b"", req_file_id=b""))
            request = SmlFile(opening, (), t.SmlMessage(b"", t.CloseRequest()))
        server_id = self._open_server_id(_opening(request))
        attention = t.SmlMessage(request.open.transaction_id, self._attention(server_id, code))
        return self._response(request, [attention])

    def _response(self, request: SmlFile, answers: list[t.SmlMessage]) -> SmlFile:
        opening = _opening(request)
        open_response = t.OpenResponse(
            req_file_id=opening.req_file_id, server_id=self._open_server_id(opening), client_id=opening.client_id
        )
        return SmlFile(
            t.SmlMessage(request.open.transaction_id, open_response),
            tuple(answers),
            t.SmlMessage(request.close.transaction_id, t.CloseResponse()),
        )

    def _open_server_id(self, opening: t.OpenRequest) -> bytes:
        if opening.server_id is not None:
            return opening.server_id
        return next(iter(self._meters)) if len(self._meters) == 1 else b""

    # --- messages ---------------------------------------------------------------------

    def _answer_message(self, body: t.MessageBody, opening: t.OpenRequest) -> list[t.MessageBody]:
        server_id = self._open_server_id(opening)
        if not isinstance(body, _REQUESTS):
            return [self._attention(server_id, AttentionCode.UNEXPECTED_MESSAGE)]
        if (body.username is not None or body.password is not None) and not self._authorized(
            body.username, body.password
        ):
            self.stats.count("auth")
            return [self._attention(server_id, AttentionCode.AUTHENTICATION)]
        meter = self._select(body.server_id or opening.server_id)
        if meter is None:
            self.stats.count("server_id")
            return [self._attention(body.server_id or server_id, AttentionCode.SERVER_ID)]
        handler = self._handlers.get(type(body))
        if handler is None:
            return [self._attention(meter.server_id, AttentionCode.NOT_EXECUTED)]
        return handler(meter, body)

    def _authorized(self, username: bytes | None, password: bytes | None) -> bool:
        if not self.authenticating:
            return True
        # evaluate both comparisons, so timing does not tell which one failed
        return _same(username, self._username) & _same(password, self._password)

    def _select(self, server_id: bytes | None) -> SmlMeterModel | None:
        if server_id is None:
            return next(iter(self._meters.values())) if len(self._meters) == 1 else None
        return self._meters.get(server_id)

    def _attention(self, server_id: bytes, code: AttentionCode) -> t.AttentionResponse:
        self.stats.attentions += 1
        return t.AttentionResponse(server_id, code.number)

    def _get_list(self, meter: SmlMeterModel, body: t.GetListRequest) -> list[t.MessageBody]:
        entries = tuple(meter.list_entries())
        sensor_time = t.SmlTime(t.TimeKind.SEC_INDEX, meter.sec_index())
        return [t.GetListResponse(meter.server_id, entries, body.client_id, body.list_name, sensor_time)]

    def _get_proc_parameter(self, meter: SmlMeterModel, body: t.GetProcParameterRequest) -> list[t.MessageBody]:
        path = body.tree_path
        entries = {entry.obj_name: entry for entry in meter.list_entries()}
        if path == (OBJECT_LIST,):
            objects = tuple(t.SmlTree(name) for name in entries)
            return [t.GetProcParameterResponse(meter.server_id, path, t.SmlTree(OBJECT_LIST, None, objects))]
        entry = entries.get(path[0]) if len(path) == 1 else None
        if entry is None:
            return [self._attention(meter.server_id, AttentionCode.NOT_EXECUTED)]
        value = t.ProcParValue(t.ProcParKind.LIST_ENTRY, entry)
        return [t.GetProcParameterResponse(meter.server_id, path, t.SmlTree(path[0], value))]

    def _get_profile_list(self, meter: SmlMeterModel, body: t.GetProfileListRequest) -> list[t.MessageBody]:
        path = body.tree_path
        if len(path) != 1 or path[0] not in {entry.obj_name for entry in meter.list_entries()}:
            return [self._attention(meter.server_id, AttentionCode.UNKNOWN_PROFILE_OBJECT)]
        bounds = (body.begin_time, body.end_time)
        if any(b is not None and (b.kind is t.TimeKind.SEC_INDEX or b.bare) for b in bounds):
            return [self._attention(meter.server_id, AttentionCode.TYPE_NOT_SUPPORTED)]
        begin, end = (b.value if b is not None else None for b in bounds)
        if begin is not None and end is not None and end < begin:
            return [self._attention(meter.server_id, AttentionCode.END_BEFORE_START)]
        rows = meter.load_profile(path[0], begin, end)
        if not rows:
            return [self._attention(meter.server_id, AttentionCode.NO_ENTRIES)]
        return [
            t.GetProfileListResponse(
                server_id=meter.server_id,
                act_time=_timestamp(row.timestamp),
                reg_period=REG_PERIOD,
                tree_path=path,
                val_time=_timestamp(row.timestamp),
                status=row.status,
                period_list=(t.PeriodEntry(path[0], row.unit, row.scaler, row.raw),),
            )
            for row in rows
        ]


class SmlServer:
    """The SML pull server: one TCP listener for one or more simulated meters.

    Args:
        meters: the meters served (see :class:`SmlResponder`).
        host, port: where to listen (port 0: any free port, see :attr:`port`).
        username, password: required credentials; both None: open access.
        first_request_timeout: seconds a new connection may take to deliver its first
            complete request (the idle timeout, if shorter, applies instead).
        idle_timeout: seconds a client that has spoken may take to deliver its next request.
        write_timeout: seconds a client may take to accept a reply.
        max_frame: the largest request frame accepted, in wire bytes.
        max_clients: connections served at once; more are closed at once.
        max_per_peer: connections served at once from one peer address; more are closed at
            once. None: :data:`MIN_PER_PEER`, or twice the number of meters if that is more (a
            gateway polls each meter over its own connection, and a reconnect may briefly
            overlap the connection it replaces).
    """

    def __init__(
        self,
        meters: Sequence[SmlMeterModel],
        *,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        username: str | bytes | None = None,
        password: str | bytes | None = None,
        first_request_timeout: float = 5.0,
        idle_timeout: float = 60.0,
        write_timeout: float = 10.0,
        max_frame: int = DEFAULT_MAX_FRAME,
        max_clients: int = 100,
        max_per_peer: int | None = None,
    ) -> None:
        if max_per_peer is None:
            max_per_peer = max(MIN_PER_PEER, 2 * len(meters))
        if min(first_request_timeout, idle_timeout, write_timeout) <= 0:
            raise ValueError("SML server timeouts must be positive")
        if min(max_clients, max_per_peer) < 1:
            raise ValueError("max_clients and max_per_peer must be at least 1")
        self.stats = SmlServerStats()
        self.responder = SmlResponder(meters, username, password, self.stats)
        self.host = host
        self._port = port
        self.first_request_timeout = first_request_timeout
        self.idle_timeout = idle_timeout
        self.write_timeout = write_timeout
        self.max_frame = max_frame
        self.max_clients = max_clients
        self.max_per_peer = max_per_peer
        self._server: asyncio.Server | None = None
        self._connections: dict[asyncio.Task[None], asyncio.StreamWriter] = {}
        self._per_peer: dict[str, int] = {}  # open connections by peer address
        self._capped: set[str] = set()  # peers refused since they last dropped below the cap (logged once)

    @property
    def port(self) -> int:
        """The port listened on (the real one once started with port 0)."""
        if self._server is None or not self._server.sockets:
            return self._port
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        """Start listening."""
        self._server = await asyncio.start_server(self._on_connection, self.host, self._port)
        auth = "with" if self.responder.authenticating else "without"
        log.info("SML server listening on %s:%d, %s client authentication", self.host, self.port, auth)

    async def close(self) -> None:
        """Stop listening and drop every connection."""
        if self._server is not None:
            self._server.close()
        for task, writer in list(self._connections.items()):
            writer.transport.abort()
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> SmlServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- connections ------------------------------------------------------------------

    def _admit(self, address: str) -> bool:
        """Whether a new connection from ``address`` may be served; a refusal is counted."""
        held = self._per_peer.get(address, 0)
        if held < self.max_per_peer and len(self._connections) < self.max_clients:
            return True
        self.stats.refused += 1
        if held >= self.max_per_peer:
            self.stats.refused_per_peer += 1
            if address not in self._capped:  # one line per episode, not one per connection of a flood
                self._capped.add(address)
                log.info("SML client %s: %d connections open, refusing more", address, held)
        return False

    async def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        address = str(peer[0]) if isinstance(peer, tuple) and peer else str(peer)
        if not self._admit(address):
            writer.transport.abort()
            return
        task = asyncio.current_task()
        assert task is not None
        self._connections[task] = writer
        self._per_peer[address] = self._per_peer.get(address, 0) + 1
        self.stats.connections += 1
        self.stats.active += 1
        try:
            if await self._session(reader, writer, peer):
                await self._finish(writer)
        except asyncio.CancelledError:
            pass  # the server is closing; ending quietly keeps asyncio from logging the task
        except OSError as err:  # ConnectionResetError, BrokenPipeError, ...
            self.stats.count("reset")
            log.info("SML client %s: connection broken (%s)", peer, err)
        except Exception:  # never let one client's failure escape its task
            self.stats.count("internal")
            log.exception("SML client %s: unexpected failure", peer)
        finally:
            writer.transport.abort()  # a no-op after a clean close
            self.stats.active -= 1
            del self._connections[task]
            self._release(address)

    def _release(self, address: str) -> None:
        held = self._per_peer.pop(address) - 1
        if held:
            self._per_peer[address] = held
        self._capped.discard(address)

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: object) -> bool:
        """Serve one connection; True when it may be closed cleanly, False when it was dropped."""
        decoder = frame_decoder(self.max_frame)
        loop = asyncio.get_running_loop()
        spoken = False
        limit = min(self.first_request_timeout, self.idle_timeout)
        deadline = loop.time() + limit
        while True:
            try:
                async with asyncio.timeout_at(deadline):
                    event = await read_event(reader, decoder)
            except TimeoutError:
                self.stats.count("idle_timeout" if spoken else "first_request_timeout")
                what = "next" if spoken else "first"
                log.info("SML client %s: no %s request within %.1f s, closing", peer, what, limit)
                return True
            if event is None:
                return True
            if isinstance(event, Frame):
                spoken, limit = True, self.idle_timeout
                deadline = loop.time() + limit
            reply = self._handle(event)
            if reply is not None and not await self._send(writer, reply, peer):
                return False

    def _handle(self, event: Event) -> bytes | None:
        if isinstance(event, BytesDiscarded):
            self.stats.garbage_bytes += event.count
            return None
        if isinstance(event, FrameRejected):
            log.debug("SML frame rejected: %s", event.error)
            if isinstance(event.error, SmlCrcError):
                self.stats.count("crc")
                return self.responder.checksum_error()
            self.stats.count("frame")
            return None
        if event.size > self.max_frame:  # the decoder checks the size only of frames still open
            self.stats.count("frame")
            return None
        self.stats.requests += 1
        return self.responder.reply(event.payload)

    async def _send(self, writer: asyncio.StreamWriter, data: bytes, peer: object) -> bool:
        writer.write(data)
        try:
            async with asyncio.timeout(self.write_timeout):
                await writer.drain()
        except TimeoutError:
            self.stats.count("write_timeout")
            log.info("SML client %s: reply not read within %.1f s, closing", peer, self.write_timeout)
            writer.transport.abort()
            return False
        await asyncio.sleep(0)  # drain() and read() need not yield: let other clients in between requests
        return True

    async def _finish(self, writer: asyncio.StreamWriter) -> None:
        """Close after the last reply has gone out; abort if it cannot go out in time."""
        writer.close()
        try:
            async with asyncio.timeout(self.write_timeout):
                await writer.wait_closed()
        except (TimeoutError, OSError):
            writer.transport.abort()
