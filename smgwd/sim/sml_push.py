"""SML push, as an IR head sees a real meter: a frame every N seconds on a serial line.

How this works: :func:`push_frame` builds what push meters send — one SML file
(OpenResponse, GetListResponse with every current value, CloseResponse) in a
transport v1 frame, with the CRC variant (and valTime form) the meter spec
imitates. A :class:`Pusher` sends it to a byte sink on a fixed schedule (no
drift: it sleeps until the next deadline, skipping deadlines it missed). Sinks:
a pty pair the simulator creates itself (its peer path is what a gateway
opens), or a real serial device / pyserial URL. Like a real meter, a sink
nobody reads drops frames instead of piling them up; drops are counted.
"""

from __future__ import annotations

import asyncio
import logging
import os
import termios
import time
import tty
from dataclasses import dataclass, field
from typing import Callable, Protocol

from smgwd.codec.sml.encoder import encode_messages
from smgwd.codec.sml.transport import encode_frame
from smgwd.codec.sml.types import CloseResponse, GetListResponse, OpenResponse, SmlMessage, SmlTime, TimeKind
from smgwd.sim.meter import SimMeter

__all__ = ["ByteSink", "PtySink", "Pusher", "SerialSink", "open_sink", "push_frame"]

log = logging.getLogger(__name__)


def push_frame(meter: SimMeter, sequence: int) -> bytes:
    """One push: the meter's current values as an SML file in a transport frame."""
    entries = meter.list_entries()  # brings the meter up to the clock
    sec_index = meter.sec_index()
    server_id = meter.server_id
    base = (sequence * 3) & 0xFFFF_FFFF
    sensor_time = SmlTime(TimeKind.SEC_INDEX, sec_index, bare=meter.spec.bare_valtime)
    messages = (
        SmlMessage(base.to_bytes(4, "big"), OpenResponse(sequence.to_bytes(4, "big"), server_id, sml_version=1)),
        SmlMessage((base + 1).to_bytes(4, "big"), GetListResponse(server_id, entries, act_sensor_time=sensor_time)),
        SmlMessage((base + 2).to_bytes(4, "big"), CloseResponse()),
    )
    crc = meter.spec.crc
    return encode_frame(encode_messages(messages, crc), crc)


class ByteSink(Protocol):
    """Where pushed frames go."""

    description: str

    def write(self, data: bytes) -> bool:
        """Send ``data``; False when it had to be dropped."""
        ...

    def close(self) -> None:
        ...


class PtySink:
    """A pty pair made by the simulator: frames go into the master, a gateway opens ``path``.

    What the gateway writes (dongle requests) is read from the master.

    The peer end is put in raw mode, so bytes pass unchanged (no CR/LF mangling).
    """

    def __init__(self) -> None:
        self._master, self._peer = os.openpty()
        tty.setraw(self._peer)
        os.set_blocking(self._master, False)
        self.path = os.ttyname(self._peer)
        self.description = f"pty {self.path}"

    def write(self, data: bytes) -> bool:
        try:
            os.write(self._master, data)
            return True
        except BlockingIOError:
            # nobody reads: drop what is queued, as a meter's line does not buffer
            termios.tcflush(self._peer, termios.TCIFLUSH)
            return False

    def read(self) -> bytes:
        """What the gateway wrote (b"" when nothing is there)."""
        try:
            return os.read(self._master, 4096)
        except BlockingIOError:
            return b""

    def fileno(self) -> int:
        return self._master

    def close(self) -> None:
        for fd in (self._master, self._peer):
            try:
                os.close(fd)
            except OSError:
                pass


class SerialSink:
    """A real serial device (or any pyserial URL such as ``loop://``)."""

    def __init__(self, device: str, baud: int, parity: str) -> None:
        import serial  # imported here: only serial push needs pyserial

        self._port = serial.serial_for_url(
            device, baudrate=baud, parity=parity, bytesize=8, stopbits=1, timeout=0, write_timeout=0
        )
        self._timeout = serial.SerialTimeoutException
        self.description = f"serial {device} {baud} 8{parity}1"

    def write(self, data: bytes) -> bool:
        try:
            return self._port.write(data) == len(data)
        except self._timeout:
            self._port.reset_output_buffer()
            return False

    def read(self) -> bytes:
        """What the other side wrote (b"" when nothing is there)."""
        return bytes(self._port.read(max(self._port.in_waiting, 1)))

    def fileno(self) -> int:
        """The device's descriptor (pyserial URLs such as ``loop://`` have none)."""
        return int(self._port.fileno())

    def close(self) -> None:
        self._port.close()


def open_sink(device: str, baud: int = 9600, parity: str = "N") -> PtySink | SerialSink:
    """``"pty"`` makes a pty pair; anything else is a device path or pyserial URL."""
    return PtySink() if device == "pty" else SerialSink(device, baud, parity)


@dataclass
class PushStats:
    frames: int = 0
    dropped: int = 0
    late: int = 0  # deadlines skipped because the loop was busy


@dataclass
class Pusher:
    """Push one meter's frames to one sink every ``interval`` real seconds (SML unless ``encode`` says otherwise)."""

    meter: SimMeter
    sink: ByteSink
    interval: float = 1.0
    stats: PushStats = field(default_factory=PushStats)
    encode: Callable[[SimMeter, int], bytes] = push_frame
    protocol: str = "SML"

    def push_once(self) -> bool:
        data = self.encode(self.meter, self.stats.frames + self.stats.dropped)
        if self.sink.write(data):
            self.stats.frames += 1
            return True
        self.stats.dropped += 1
        return False

    async def run(self) -> None:
        """Push until cancelled."""
        deadline = time.monotonic()
        while True:
            self.push_once()
            deadline += self.interval
            delay = deadline - time.monotonic()
            if delay < 0:
                missed = int(-delay // self.interval) + 1
                self.stats.late += missed
                deadline += missed * self.interval
                delay = deadline - time.monotonic()
            await asyncio.sleep(max(0.0, delay))
