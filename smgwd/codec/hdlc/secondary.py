"""The meter's side of an HDLC connection (the simulator's bus stations), sans-I/O.

How this works: :meth:`Secondary.receive` takes every frame addressed to this station and
returns the frames to answer with. SNRM gives a UA with the station's parameters (the
smaller of the proposed and its own sizes) and resets the sequence numbers; DISC gives UA,
or DM when not connected; an I-frame out of sequence gets an RR naming the frame expected.
A request's segments are acknowledged with RR; the whole request goes to ``handler``,
whose answer leaves in I-frames of the agreed size, the next one on each RR. Frames the
station cannot take while disconnected get DM; an undefined control field gets FRMR.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from smgwd.codec.hdlc.connection import DEFAULT_PARAMETERS, HdlcParameters
from smgwd.codec.hdlc.errors import HdlcFormatError
from smgwd.codec.hdlc.frame import FrameKind, HdlcAddress, HdlcFrame, control_byte, encode_frame

__all__ = ["Secondary"]


@dataclass
class Secondary:
    """One meter on the bus: its address, its parameters and what it answers."""

    address: HdlcAddress
    handler: Callable[[bytes], bytes]
    parameters: HdlcParameters = DEFAULT_PARAMETERS
    connected: bool = False
    agreed: HdlcParameters = DEFAULT_PARAMETERS
    requests: int = 0
    _vs: int = 0
    _vr: int = 0
    _received: bytearray = field(default_factory=bytearray)
    _outgoing: list[bytes] = field(default_factory=list)
    _client: HdlcAddress = HdlcAddress(16)

    def accepts(self, frame: HdlcFrame) -> bool:
        return frame.dest._replace(size=0) == self.address._replace(size=0)

    def _frame(self, kind: FrameKind, info: bytes = b"", *, segmented: bool = False) -> bytes:
        control = control_byte(kind, poll_final=True, send=self._vs, receive=self._vr)
        return encode_frame(self._client, self.address, control, info, segmented=segmented)

    def receive(self, frame: HdlcFrame) -> list[bytes]:
        """The frames to answer ``frame`` with (nothing for frames of other stations)."""
        if not self.accepts(frame):
            return []
        self._client = frame.src
        kind = frame.kind
        if kind is FrameKind.SNRM:
            try:
                theirs = HdlcParameters.parse(frame.info)
            except HdlcFormatError:
                return [self._frame(FrameKind.FRMR)]
            mine = self.parameters
            self.agreed = HdlcParameters(min(mine.max_info_tx, theirs.max_info_rx), min(mine.max_info_rx, theirs.max_info_tx))
            self.connected = True
            self._vs = self._vr = 0
            self._received.clear()
            self._outgoing.clear()
            return [self._frame(FrameKind.UA, self.agreed.encode())]
        if kind is FrameKind.DISC:
            was = self.connected
            self.connected = False
            return [self._frame(FrameKind.UA if was else FrameKind.DM)]
        if not self.connected:
            return [self._frame(FrameKind.DM)]
        if kind is FrameKind.I:
            return self._information(frame)
        if kind is FrameKind.RR:
            return self._poll(frame)
        if kind is None:
            return [self._frame(FrameKind.FRMR)]
        return []

    def _information(self, frame: HdlcFrame) -> list[bytes]:
        if self._outgoing and frame.receive_sequence == (self._vs + 1) % 8:  # our last answer arrived
            self._vs = (self._vs + 1) % 8
            self._outgoing.clear()
        if frame.send_sequence != self._vr:
            return [self._frame(FrameKind.RR)]  # names the frame expected
        self._vr = (self._vr + 1) % 8
        self._received += frame.info
        if frame.segmented:
            return [self._frame(FrameKind.RR)]
        request, self._received = bytes(self._received), bytearray()
        self.requests += 1
        answer = self.handler(request)
        size = self.agreed.max_info_tx
        self._outgoing = [answer[k : k + size] for k in range(0, len(answer), size)] or [b""]
        return [self._send_next()]

    def _send_next(self) -> bytes:
        return self._frame(FrameKind.I, self._outgoing[0], segmented=len(self._outgoing) > 1)

    def _poll(self, frame: HdlcFrame) -> list[bytes]:
        if not self._outgoing:
            return [self._frame(FrameKind.RR)]
        if frame.receive_sequence == (self._vs + 1) % 8:  # our segment arrived: the next one
            self._vs = (self._vs + 1) % 8
            self._outgoing.pop(0)
            return [self._send_next()] if self._outgoing else []
        return [self._send_next()]  # lost: again
