"""An HDLC connection between a primary station (the gateway) and one secondary (a meter), sans-I/O.

How this works (IEC 62056-46, window size 1 as meters use it): :meth:`Primary.connect`
gives the SNRM with the primary's proposed parameters; the secondary's UA carries its own
(:class:`HdlcParameters`), and from then on the primary sends at most the information
field size the secondary can receive. :meth:`Primary.send` splits a message into I-frames
(the S bit on all but the last, P set on each) and gives the first; each RR of the
secondary that acknowledges it releases the next. The secondary's answer arrives as
I-frames; each segment is acknowledged with an RR that polls for the next, and the whole
message is returned once its last segment is there. Send and receive sequence numbers
(modulo 8) are checked on every frame; an I-frame out of sequence is not taken and the RR
names the frame expected (the secondary repeats it). RNR means busy: the caller polls again
later with :meth:`Primary.poll`. DM and FRMR end the connection (the caller reconnects).

The primary never blocks and owns no clock: every method returns the frame to write (or
None) and what happened, and the bus master around it decides about time-outs and retries.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import NamedTuple

from smgwd.codec.hdlc.errors import HdlcFormatError
from smgwd.codec.hdlc.frame import FrameKind, HdlcAddress, HdlcFrame, control_byte, encode_frame

__all__ = ["DEFAULT_PARAMETERS", "HdlcParameters", "LinkState", "Primary", "Step"]

_FORMAT_ID, _GROUP_ID = 0x81, 0x80
_MAX_INFO_TX, _MAX_INFO_RX, _WINDOW_TX, _WINDOW_RX = 0x05, 0x06, 0x07, 0x08


@dataclass(frozen=True, slots=True)
class HdlcParameters:
    """Negotiated link parameters, from the sender's point of view (defaults: 128 bytes, window 1)."""

    max_info_tx: int = 128
    max_info_rx: int = 128
    window_tx: int = 1
    window_rx: int = 1

    def encode(self) -> bytes:
        """``81 80 L`` and the four parameters (what an SNRM or UA carries)."""
        body = bytearray()
        for pid, value, size in ((_MAX_INFO_TX, self.max_info_tx, 2 if self.max_info_tx > 0xFF else 1),
                                 (_MAX_INFO_RX, self.max_info_rx, 2 if self.max_info_rx > 0xFF else 1),
                                 (_WINDOW_TX, self.window_tx, 4), (_WINDOW_RX, self.window_rx, 4)):
            body += bytes((pid, size)) + value.to_bytes(size, "big")
        return bytes((_FORMAT_ID, _GROUP_ID, len(body))) + bytes(body)

    @classmethod
    def parse(cls, info: bytes) -> HdlcParameters:
        """Read the parameters of an SNRM or UA; absent ones keep their defaults."""
        if not info:
            return cls()
        if len(info) < 3 or info[0] != _FORMAT_ID or info[1] != _GROUP_ID or info[2] != len(info) - 3:
            raise HdlcFormatError("parameter field is not '81 80 L' followed by L bytes", 0)
        values = {"max_info_tx": 128, "max_info_rx": 128, "window_tx": 1, "window_rx": 1}
        names = {_MAX_INFO_TX: "max_info_tx", _MAX_INFO_RX: "max_info_rx", _WINDOW_TX: "window_tx", _WINDOW_RX: "window_rx"}
        pos = 3
        while pos < len(info):
            if pos + 2 > len(info) or pos + 2 + info[pos + 1] > len(info):
                raise HdlcFormatError("parameter field ends inside a parameter", pos)
            pid, size = info[pos], info[pos + 1]
            value = int.from_bytes(info[pos + 2 : pos + 2 + size], "big")
            if pid in names:
                values[names[pid]] = value
            pos += 2 + size
        params = cls(**values)
        if not (32 <= params.max_info_tx <= 2030 and 32 <= params.max_info_rx <= 2030):
            raise HdlcFormatError(f"information field sizes {params.max_info_tx}/{params.max_info_rx} outside 32..2030", 3)
        if not (1 <= params.window_tx <= 7 and 1 <= params.window_rx <= 7):
            raise HdlcFormatError(f"window sizes {params.window_tx}/{params.window_rx} outside 1..7", 3)
        return params


DEFAULT_PARAMETERS = HdlcParameters()


class LinkState(enum.Enum):
    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    DISCONNECTING = "disconnecting"


class Step(NamedTuple):
    """What a received frame led to: a frame to write, a whole message, a problem."""

    send: bytes | None = None
    message: bytes | None = None
    problem: str | None = None
    busy: bool = False  # RNR: poll again later
    ignored: bool = False  # a frame for another station, or not expected now


@dataclass
class Primary:
    """The gateway's side of one connection."""

    client: HdlcAddress
    server: HdlcAddress
    proposed: HdlcParameters = DEFAULT_PARAMETERS
    state: LinkState = LinkState.DISCONNECTED
    agreed: HdlcParameters = DEFAULT_PARAMETERS
    _vs: int = 0  # N(S) of the next I-frame we send
    _vr: int = 0  # N(S) we expect of the next I-frame we receive
    _queue: list[bytes] = field(default_factory=list)  # segments still to send
    _inflight: bytes | None = None  # the segment sent and not yet acknowledged
    _inflight_segmented: bool = False
    _received: bytearray = field(default_factory=bytearray)
    max_message: int = 65536

    def _frame(self, kind: FrameKind, info: bytes = b"", *, segmented: bool = False, send: int = 0) -> bytes:
        control = control_byte(kind, poll_final=True, send=send, receive=self._vr)
        return encode_frame(self.server, self.client, control, info, segmented=segmented)

    def connect(self) -> bytes:
        """The SNRM that (re)starts the connection."""
        self.state = LinkState.CONNECTING
        self._reset()
        return self._frame(FrameKind.SNRM, self.proposed.encode())

    def disconnect(self) -> bytes:
        self.state = LinkState.DISCONNECTING
        return self._frame(FrameKind.DISC)

    def _reset(self) -> None:
        self._vs = self._vr = 0
        self._queue.clear()
        self._inflight = None
        self._received.clear()

    @property
    def idle(self) -> bool:
        """Connected, nothing to send and nothing half received."""
        return self.state is LinkState.CONNECTED and self._inflight is None and not self._received

    def send(self, message: bytes) -> bytes:
        """The first I-frame of ``message`` (the rest follow the secondary's acknowledgements)."""
        if self.state is not LinkState.CONNECTED:
            raise RuntimeError(f"cannot send while {self.state.value}")
        size = self.agreed.max_info_tx  # the agreed size: no more than the secondary can receive
        self._queue = [message[k : k + size] for k in range(0, len(message), size)] or [b""]
        self._received.clear()
        return self._next_segment()

    def _next_segment(self) -> bytes:
        segment = self._queue.pop(0)
        self._inflight, self._inflight_segmented = segment, bool(self._queue)
        return self._frame(FrameKind.I, segment, segmented=bool(self._queue), send=self._vs)

    def poll(self) -> bytes:
        """An RR that asks the secondary for what it has (after RNR, or to repeat a lost frame)."""
        return self._frame(FrameKind.RR)

    def repeat(self) -> bytes | None:
        """The unacknowledged I-frame again (after a time-out), or None."""
        if self._inflight is None:
            return None
        return self._frame(FrameKind.I, self._inflight, segmented=self._inflight_segmented, send=self._vs)

    def receive(self, frame: HdlcFrame) -> Step:
        """Take a frame from the line."""
        if frame.dest.upper != self.client.upper or frame.src._replace(size=0) != self.server._replace(size=0):
            return Step(ignored=True)
        kind = frame.kind
        if kind is FrameKind.UA:
            if self.state is LinkState.CONNECTING:
                try:
                    theirs = HdlcParameters.parse(frame.info)
                except HdlcFormatError as error:
                    self.state = LinkState.DISCONNECTED
                    return Step(problem=f"UA with unusable parameters: {error}")
                self.agreed = HdlcParameters(
                    min(self.proposed.max_info_tx, theirs.max_info_rx), min(self.proposed.max_info_rx, theirs.max_info_tx),
                    1, 1,
                )
                self.state = LinkState.CONNECTED
                return Step()
            if self.state is LinkState.DISCONNECTING:
                self.state = LinkState.DISCONNECTED
                return Step()
            return Step(ignored=True)
        if kind is FrameKind.DM:
            was = self.state
            self.state = LinkState.DISCONNECTED
            self._reset()
            return Step() if was is LinkState.DISCONNECTING else Step(problem="DM: the meter is not connected")
        if kind is FrameKind.FRMR:
            self.state = LinkState.DISCONNECTED
            self._reset()
            return Step(problem=f"FRMR: the meter rejected a frame ({frame.info.hex() or 'no reason given'})")
        if self.state is not LinkState.CONNECTED:
            return Step(ignored=True)
        if kind in (FrameKind.RR, FrameKind.RNR):
            return self._acknowledged(frame, busy=kind is FrameKind.RNR)
        if kind is FrameKind.I:
            return self._information(frame)
        return Step(ignored=True)

    def _acknowledged(self, frame: HdlcFrame, *, busy: bool) -> Step:
        nr = frame.receive_sequence
        if self._inflight is not None and nr == (self._vs + 1) % 8:
            self._vs = (self._vs + 1) % 8
            self._inflight = None
            if self._queue:
                return Step(send=self._next_segment(), busy=busy)
        elif self._inflight is not None and nr == self._vs and not busy:
            return Step(send=self.repeat())  # the secondary asks for the frame again
        return Step(busy=busy)

    def _information(self, frame: HdlcFrame) -> Step:
        if self._inflight is not None and frame.receive_sequence == (self._vs + 1) % 8:
            self._vs = (self._vs + 1) % 8  # the answer acknowledges our last segment
            self._inflight = None
        if frame.send_sequence != self._vr:
            return Step(send=self._frame(FrameKind.RR), problem=f"I-frame N(S)={frame.send_sequence} where "
                                                                  f"{self._vr} was due: asked again")
        self._vr = (self._vr + 1) % 8
        self._received += frame.info
        if len(self._received) > self.max_message:
            self._received.clear()
            return Step(send=self._frame(FrameKind.RR), problem=f"answer beyond {self.max_message} bytes: dropped")
        if frame.segmented:
            return Step(send=self._frame(FrameKind.RR))
        message = bytes(self._received)
        self._received.clear()
        return Step(message=message)
