"""The gateway's SML pull client: jOSEF discovery, GetList and load profiles over TCP.

How this works: every call builds one request file (OpenRequest, requests,
CloseRequest; see ``smgwd.sim.sml_server`` for the protocol), sends it as one
transport frame and reads frames until the reply arrives, all under one
timeout. Requests are numbered from a random start, so the reply is matched
to its request by reqFileId and each answer to its request by transactionId.
An AttentionResponse in place of the whole file, or as the answer to a
request that must succeed, raises :class:`SmlAttention`. One request runs at
a time per connection (an ``asyncio.Lock``). When the exchange itself fails
(timeout, undecodable reply, broken connection, a reply to another file or
with answers missing) the connection is closed, since its state is then
unknown; an attention, or an answer of an unexpected type in a reply that
matched, leaves it open. Reconnecting is the caller's business (the SML pull
driver).

Untrusted replies and the event loop: a reply frame is at most ``max_reply``
wire bytes (default 1 MiB, :data:`DEFAULT_MAX_REPLY`); a longer one is
rejected by the transport decoder while it arrives, so the buffer stays
bounded. Framing runs on the loop (``bytes.find`` and the CRC run at C speed:
about 5 ms for a 1 MiB frame). Decoding the payload into SML messages is pure
Python and its cost depends on what the meter sends, so it never runs on the
loop: :func:`asyncio.to_thread` does it, and the loop keeps serving every
other meter, the watchdog and the control socket meanwhile. Budget: a reply
holds the loop for at most the framing cost (< 50 ms for the largest frame
accepted). A timeout that strikes during a decode abandons the thread's
result; the thread itself ends when the (bounded) decoder does.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import Sequence, TypeVar

from smgwd.codec.sml import types as t
from smgwd.codec.sml.attention import attention_text
from smgwd.codec.sml.transport import Frame, FrameRejected
from smgwd.meters.sml.session import (
    DEFAULT_PORT,
    OBJECT_LIST,
    SmlFile,
    decode_file,
    encode_file,
    frame_decoder,
    octets,
    read_event,
)

__all__ = [
    "SmlAttention",
    "SmlClient",
    "SmlClientError",
    "SmlConnectionError",
    "SmlProtocolError",
    "SmlTimeout",
]

log = logging.getLogger(__name__)

DEFAULT_CLIENT_ID = b"smgwd"
#: Replies may be large (a load profile over weeks); still bounded.
DEFAULT_MAX_REPLY = 1024 * 1024
#: Detail requests per file in :meth:`SmlClient.read_objects` (keeps request frames small).
MAX_REQUESTS_PER_FILE = 128

_Body = TypeVar("_Body")


class SmlClientError(Exception):
    """A pull that failed for a reason other than an undecodable reply."""


class SmlTimeout(SmlClientError, TimeoutError):
    """The meter did not answer in time."""


class SmlConnectionError(SmlClientError, ConnectionError):
    """Not connected, or the meter closed the connection."""


class SmlProtocolError(SmlClientError):
    """A well-formed reply that does not answer the request."""


class SmlAttention(SmlClientError):
    """The meter answered with an AttentionResponse.

    Attributes:
        number: the 6-byte attentionNo.
        text: its meaning (:func:`attention_text`).
        detail: the meter's attentionMsg, if it sent one.
    """

    def __init__(self, number: bytes, text: str, detail: bytes | None = None) -> None:
        super().__init__(f"attention {number.hex()}: {text}")
        self.number = number
        self.text = text
        self.detail = detail

    @classmethod
    def of(cls, body: t.AttentionResponse) -> SmlAttention:
        return cls(body.attention_no, attention_text(body.attention_no), body.attention_msg)


class SmlClient:
    """An SML pull connection to one meter (or one meter of a multi-meter server).

    Args:
        host, port: the meter's (or simulator's) TCP address.
        server_id: the meter's serverId; None: the server's only meter.
        username, password: credentials, if the meter wants them.
        timeout: seconds allowed for connecting and for each request.
        client_id: the clientId sent in every request.
        max_reply: the largest reply frame accepted, in wire bytes.
    """

    def __init__(
        self,
        host: str,
        port: int = DEFAULT_PORT,
        *,
        server_id: bytes | None = None,
        username: str | bytes | None = None,
        password: str | bytes | None = None,
        timeout: float = 5.0,
        client_id: bytes = DEFAULT_CLIENT_ID,
        max_reply: int = DEFAULT_MAX_REPLY,
    ) -> None:
        self.host = host
        self.port = port
        self.server_id = server_id
        self.username = octets(username)
        self.password = octets(password)
        self.timeout = timeout
        self.client_id = client_id
        self.max_reply = max_reply
        #: Objects :meth:`read_objects` skipped in its last call, with the reason.
        self.skipped: dict[bytes, SmlClientError] = {}
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self._lock = asyncio.Lock()
        self._next_id = secrets.randbits(32)

    @property
    def connected(self) -> bool:
        return self._streams is not None

    async def connect(self) -> None:
        """Open the TCP connection (within ``timeout``)."""
        await self.close()
        try:
            async with asyncio.timeout(self.timeout):
                self._streams = await asyncio.open_connection(self.host, self.port)
        except TimeoutError:
            raise SmlTimeout(f"no connection to {self.host}:{self.port} within {self.timeout} s") from None
        except OSError as err:
            raise SmlConnectionError(f"cannot connect to {self.host}:{self.port}: {err}") from err

    async def close(self) -> None:
        """Close the connection (a no-op when not connected)."""
        if self._streams is None:
            return
        writer = self._streams[1]
        self._streams = None
        writer.transport.abort()

    async def __aenter__(self) -> SmlClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- the jOSEF flow and the other requests -----------------------------------------

    async def discover(self) -> list[bytes]:
        """jOSEF steps 1+2: the OBIS codes (6 bytes each) of every object of the meter."""
        (answers,) = await self.exchange([self._proc_request(OBJECT_LIST)])
        tree = _single(answers, t.GetProcParameterResponse).tree
        return [child.parameter_name for child in tree.children or ()]

    async def read_objects(self, ids: Sequence[bytes]) -> list[t.ListEntry]:
        """jOSEF steps 3+4: the current value of each object, in the order asked.

        Objects the meter answers with an attention (or with no list entry)
        are left out; :attr:`skipped` names them with the reason.
        """
        self.skipped = {}
        entries: list[t.ListEntry] = []
        for k in range(0, len(ids), MAX_REQUESTS_PER_FILE):
            batch = ids[k : k + MAX_REQUESTS_PER_FILE]
            groups = await self.exchange([self._proc_request(obis) for obis in batch])
            for obis, answers in zip(batch, groups):
                try:
                    entries.append(_list_entry(_single(answers, t.GetProcParameterResponse)))
                except (SmlAttention, SmlProtocolError) as err:
                    self.skipped[obis] = err
        if self.skipped:
            names = ", ".join(f"{obis.hex()} ({err})" for obis, err in self.skipped.items())
            log.warning("meter %s: %d object(s) skipped: %s", self._meter_name(), len(self.skipped), names)
        return entries

    async def get_list(self) -> t.GetListResponse:
        """Every current value of the meter (GetList)."""
        request = t.GetListRequest(self.client_id, self.server_id, self.username, self.password)
        (answers,) = await self.exchange([request])
        return _single(answers, t.GetListResponse)

    async def get_profile_list(
        self, obis: bytes, begin: int | None, end: int | None
    ) -> list[t.GetProfileListResponse]:
        """The stored periods of one register between two Unix times (None: open end)."""
        request = t.GetProfileListRequest(
            tree_path=(obis,),
            server_id=self.server_id,
            username=self.username,
            password=self.password,
            begin_time=_timestamp(begin),
            end_time=_timestamp(end),
        )
        (answers,) = await self.exchange([request])
        _raise_attention(answers)
        return [_expect(body, t.GetProfileListResponse) for body in answers]

    # --- one request file --------------------------------------------------------------

    async def exchange(self, requests: Sequence[t.MessageBody]) -> list[list[t.MessageBody]]:
        """Send ``requests`` in one file; return the answers to each, in order.

        Raises:
            SmlAttention: the meter refused the whole file.
            SmlTimeout, SmlConnectionError, SmlProtocolError, SmlError: the
                exchange failed; the connection is closed.
        """
        async with self._lock:
            request = self._file(requests)
            try:
                async with asyncio.timeout(self.timeout):
                    reply = await self._round_trip(request)
                return _match(request, reply)
            except SmlAttention:
                raise
            except TimeoutError:
                await self.close()
                raise SmlTimeout(f"meter {self._meter_name()} did not answer within {self.timeout} s") from None
            except OSError as err:  # reset, broken pipe
                await self.close()
                raise SmlConnectionError(f"connection to meter {self._meter_name()} broken: {err}") from err
            except BaseException:
                await self.close()
                raise

    def _file(self, requests: Sequence[t.MessageBody]) -> SmlFile:
        opening = t.OpenRequest(
            client_id=self.client_id,
            req_file_id=self._new_id(),
            server_id=self.server_id,
            username=self.username,
            password=self.password,
        )
        return SmlFile(
            t.SmlMessage(self._new_id(), opening),
            tuple(t.SmlMessage(self._new_id(), body) for body in requests),
            t.SmlMessage(self._new_id(), t.CloseRequest()),
        )

    def _new_id(self) -> bytes:
        self._next_id = (self._next_id + 1) & 0xFFFFFFFF
        return self._next_id.to_bytes(4, "big")

    async def _round_trip(self, request: SmlFile) -> SmlFile:
        if self._streams is None:
            raise SmlConnectionError(f"not connected to {self.host}:{self.port}")
        reader, writer = self._streams
        writer.write(encode_file(request))
        await writer.drain()
        decoder = frame_decoder(self.max_reply)
        while True:
            event = await read_event(reader, decoder)
            if event is None:
                raise SmlConnectionError(f"meter {self._meter_name()} closed the connection")
            if isinstance(event, FrameRejected):
                raise event.error
            if isinstance(event, Frame):
                return await asyncio.to_thread(decode_file, event.payload, request=False)
            # bytes outside frames: line noise, ignored

    def _proc_request(self, obis: bytes) -> t.GetProcParameterRequest:
        return t.GetProcParameterRequest((obis,), self.server_id, self.username, self.password)

    def _meter_name(self) -> str:
        where = f"{self.host}:{self.port}"
        return f"{self.server_id.hex()}@{where}" if self.server_id else where



def _timestamp(value: int | None) -> t.SmlTime | None:
    return None if value is None else t.SmlTime(t.TimeKind.TIMESTAMP, value)


def _match(request: SmlFile, reply: SmlFile) -> list[list[t.MessageBody]]:
    """The reply's answers grouped by the request they answer."""
    file_ids = (request.open.transaction_id, b"")  # b"": a reply to a frame the meter could not read
    for message in reply.messages:
        if message.transaction_id in file_ids and isinstance(message.body, t.AttentionResponse):
            raise SmlAttention.of(message.body)
    wanted: bytes = request.open.body.req_file_id  # type: ignore[union-attr]
    got = reply.open.body.req_file_id  # type: ignore[union-attr]
    if got != wanted:
        raise SmlProtocolError(f"reply to request file {got.hex()}, expected {wanted.hex()}")
    groups: dict[bytes, list[t.MessageBody]] = {m.transaction_id: [] for m in request.messages}
    for message in reply.messages:
        if message.transaction_id not in groups:
            raise SmlProtocolError(f"answer with unknown transactionId {message.transaction_id.hex()}")
        groups[message.transaction_id].append(message.body)
    missing = [tid.hex() for tid, answers in groups.items() if not answers]
    if missing:
        raise SmlProtocolError(f"no answer to request(s) {', '.join(missing)}")
    return [groups[m.transaction_id] for m in request.messages]


def _raise_attention(answers: list[t.MessageBody]) -> None:
    for body in answers:
        if isinstance(body, t.AttentionResponse):
            raise SmlAttention.of(body)


def _expect(body: t.MessageBody, cls: type[_Body]) -> _Body:
    if not isinstance(body, cls):
        raise SmlProtocolError(f"expected {cls.__name__}, got {type(body).__name__}")
    return body


def _single(answers: list[t.MessageBody], cls: type[_Body]) -> _Body:
    """The one answer of type ``cls`` (an attention raises)."""
    _raise_attention(answers)
    if len(answers) != 1:
        raise SmlProtocolError(f"expected one {cls.__name__}, got {len(answers)} answers")
    return _expect(answers[0], cls)


def _list_entry(response: t.GetProcParameterResponse) -> t.ListEntry:
    """The list entry a detail answer carries (a plain value or period entry is taken too)."""
    tree = response.tree
    value = tree.value
    if value is not None and isinstance(value.value, t.ListEntry):
        return value.value
    if value is not None and isinstance(value.value, t.PeriodEntry):
        p = value.value
        return t.ListEntry(p.obj_name, p.value, unit=p.unit, scaler=p.scaler, value_type=p.value_type)
    if value is not None and value.kind is t.ProcParKind.VALUE:
        return t.ListEntry(tree.parameter_name, value.value, value_type=value.value_type)  # type: ignore[arg-type]
    raise SmlProtocolError(f"object {tree.parameter_name.hex()}: the answer carries no value")
