"""The USB side of the wM-Bus sticks, emulated: an iM871A or AMB8465 on a pty (or serial line).

How this works: a :class:`DongleEmulator` owns one byte port (a pty pair the simulator
makes, whose peer path the gateway opens as ``im871a://`` or ``amb8465://``, or a real
serial line to a second board). It answers what the host asks with the stick's own
protocol (:mod:`smgwd.codec.wmbus.im871a`, :mod:`~smgwd.codec.wmbus.amb8465`), keeps the
radio configuration the host set (link mode, RSSI and timestamp attachment; a reset
returns to the power-on settings, as RAM-only settings are lost), and passes on the
telegrams of the simulated meters whose radio mode the configured link mode receives.

Faults, seeded (:class:`Faults`): a telegram heard twice (a repeater, or two receptions),
a frame with one byte changed on the serial line (the host's CRC or checksum must catch
it), and the known hang of these sticks: ``silent_after`` seconds after it was
configured the stick delivers nothing more until it is reset.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass
from typing import Protocol

from smgwd.codec.wmbus import WmbusError
from smgwd.codec.wmbus import amb8465 as amb
from smgwd.codec.wmbus import im871a as imst

__all__ = ["Amb8465Emulator", "DongleEmulator", "DongleStats", "DuplexPort", "Faults", "Im871aEmulator", "emulator_for"]

log = logging.getLogger(__name__)

DONGLES = ("im871a", "amb8465")


class DuplexPort(Protocol):
    """A byte port the emulator reads requests from and writes answers to."""

    description: str

    def write(self, data: bytes) -> bool: ...

    def read(self) -> bytes: ...

    def fileno(self) -> int: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Faults:
    duplicate_rate: float = 0.0  # share of telegrams delivered twice
    corrupt_rate: float = 0.0  # share of frames with one byte changed on the serial line
    silent_after: float | None = None  # real seconds after each configuration until the stick hangs


@dataclass
class DongleStats:
    heard: int = 0  # telegrams on the air
    delivered: int = 0  # frames written to the host (duplicates included)
    other_mode: int = 0  # telegrams in a link mode the stick does not receive
    while_hung: int = 0
    duplicates: int = 0
    corrupted: int = 0
    dropped: int = 0  # the host did not read
    requests: int = 0
    bad_requests: int = 0
    resets: int = 0


# Which radio modes (of the meters) a configured link mode hears.
_IMST_HEARS = {
    imst.LinkMode.S1: ("s1",), imst.LinkMode.S1M: ("s1",), imst.LinkMode.S2: ("s1",),
    imst.LinkMode.T1: ("t1",), imst.LinkMode.T2: ("t1",),
    imst.LinkMode.C1A: ("c1",), imst.LinkMode.C1B: ("c1",), imst.LinkMode.C2A: ("c1",), imst.LinkMode.C2B: ("c1",),
    imst.LinkMode.C1_T1: ("c1", "t1"),
}
_AMB_HEARS = {
    amb.ReceiveMode.S1: ("s1",), amb.ReceiveMode.T1: ("t1",), amb.ReceiveMode.C1: ("c1",),
    amb.ReceiveMode.C1_T1: ("c1", "t1"),
}


_AMB_MODES = frozenset(int(m) for m in amb.ReceiveMode)


class DongleEmulator:
    """Base: one emulated stick on one port."""

    name = "dongle"

    def __init__(self, port: DuplexPort, faults: Faults = Faults(), seed: int = 0) -> None:
        self.port = port
        self.faults = faults
        self.stats = DongleStats()
        self.hears: tuple[str, ...] = ("t1",)
        self._rng = random.Random(seed)
        self._hang_at: float | None = None
        self._reading = False

    @property
    def description(self) -> str:
        return f"{self.name} on {self.port.description}"

    def start(self) -> None:
        """Answer the host from now on (needs a running loop)."""
        asyncio.get_running_loop().add_reader(self.port.fileno(), self._readable)
        self._reading = True

    def close(self) -> None:
        if self._reading:
            asyncio.get_running_loop().remove_reader(self.port.fileno())
            self._reading = False
        self.port.close()

    @property
    def hung(self) -> bool:
        return self._hang_at is not None and time.monotonic() >= self._hang_at

    def _configured(self) -> None:
        if self.faults.silent_after is not None:
            self._hang_at = time.monotonic() + self.faults.silent_after

    def _reset(self) -> None:
        self.stats.resets += 1
        self._hang_at = None

    def _readable(self) -> None:
        try:
            data = self.port.read()
        except OSError:
            return
        if data:
            self.on_host_bytes(data)

    def _send(self, frame: bytes) -> None:
        if self.port.write(frame):
            self.stats.delivered += 1
        else:
            self.stats.dropped += 1

    def hear(self, telegram: bytes, rssi_dbm: float, radio_mode: str) -> None:
        """A meter sent ``telegram`` (L-field first, no link CRCs) in ``radio_mode``."""
        self.stats.heard += 1
        if radio_mode not in self.hears:
            self.stats.other_mode += 1
            return
        if self.hung:
            self.stats.while_hung += 1
            return
        frame = self.indication(telegram, rssi_dbm)
        copies = 2 if self._rng.random() < self.faults.duplicate_rate else 1
        self.stats.duplicates += copies - 1
        for _ in range(copies):
            if self._rng.random() < self.faults.corrupt_rate:
                self.stats.corrupted += 1
                at = self._rng.randrange(1, len(frame))
                frame = frame[:at] + bytes((frame[at] ^ (1 << self._rng.randrange(8)),)) + frame[at + 1 :]
            self._send(frame)

    def on_host_bytes(self, data: bytes) -> None:
        raise NotImplementedError

    def indication(self, telegram: bytes, rssi_dbm: float) -> bytes:
        raise NotImplementedError


class Im871aEmulator(DongleEmulator):
    """IMST iM871A: HCI requests in, responses and WMBUSMSG_IND out (always with CRC)."""

    name = "iM871A"
    INFO = imst.DeviceInfo(module_type=0x33, device_mode=0x00, firmware=0x15, hci_version=0x01, uid=0x5349_4D31)
    POWER_ON_MODE = imst.LinkMode.T1

    def __init__(self, port: DuplexPort, faults: Faults = Faults(), seed: int = 0) -> None:
        super().__init__(port, faults, seed)
        self.decoder = imst.Im871aDecoder()
        self._started = time.monotonic()
        self._power_on()

    def _power_on(self) -> None:
        self.link_mode = int(self.POWER_ON_MODE)
        self.rssi = False
        self.timestamp = False
        self.hears = _IMST_HEARS[imst.LinkMode(self.link_mode)]

    def on_host_bytes(self, data: bytes) -> None:
        errors = self.decoder.crc_errors
        self.decoder.feed(data)
        for frame in self.decoder:
            self.stats.requests += 1
            self._answer(frame)
        self.stats.bad_requests += self.decoder.crc_errors - errors

    def _answer(self, frame: imst.HciFrame) -> None:
        if frame.endpoint != imst.Endpoint.DEVMGMT:
            self.stats.bad_requests += 1
            return
        msg = frame.msg_id
        if msg == imst.DevMgmt.PING_REQ:
            self._send(imst.ping_response())
        elif msg == imst.DevMgmt.GET_DEVICEINFO_REQ:
            self._send(imst.device_info_response(self.INFO))
        elif msg == imst.DevMgmt.GET_CONFIG_REQ:
            config = imst.RadioConfig(device_mode=0, link_mode=self.link_mode, auto_rssi=int(self.rssi),
                                      auto_timestamp=int(self.timestamp))
            self._send(imst.get_config_response(config))
        elif msg == imst.DevMgmt.SET_CONFIG_REQ:
            self._set_config(frame.payload)
        elif msg == imst.DevMgmt.RESET_REQ:
            self._reset()
            self._power_on()
            self._send(imst.reset_response())
        else:
            self.stats.bad_requests += 1

    def _set_config(self, payload: bytes) -> None:
        try:
            config = imst.parse_set_config(payload).config
            mode = imst.LinkMode(config.link_mode) if config.link_mode is not None else imst.LinkMode(self.link_mode)
        except (WmbusError, ValueError):
            self.stats.bad_requests += 1
            return
        self.link_mode = int(mode)
        self.hears = _IMST_HEARS[mode]
        if config.auto_rssi is not None:
            self.rssi = bool(config.auto_rssi)
        if config.auto_timestamp is not None:
            self.timestamp = bool(config.auto_timestamp)
        self._configured()
        self._send(imst.set_config_response())

    def indication(self, telegram: bytes, rssi_dbm: float) -> bytes:
        rssi = min(max(round(45 + 2 * (rssi_dbm + 100)), 0), 229) if self.rssi else None
        stamp = int((time.monotonic() - self._started) * 1000) & 0xFFFF_FFFF if self.timestamp else None
        return imst.telegram_indication(telegram, rssi=rssi, timestamp=stamp)


class Amb8465Emulator(DongleEmulator):
    """Amber AMB8465: command frames in, confirmations and DATA_IND (or transparent telegrams) out.

    ``transparent`` starts it with UART_CMD_Out_Enable = 0, as a stick someone used with
    another tool may be: the host has to switch it to command mode.
    """

    name = "AMB8465"
    POWER_ON_MODE = amb.ReceiveMode.T1

    def __init__(self, port: DuplexPort, faults: Faults = Faults(), seed: int = 0, *, transparent: bool = False) -> None:
        super().__init__(port, faults, seed)
        self.decoder = amb.Amb8465Decoder(rssi=False)
        self.parameters = bytearray(256)
        self.parameters[amb.Parameter.UART_CMD_OUT_ENABLE] = 0 if transparent else 1
        self.parameters[amb.Parameter.RSSI_ENABLE] = 1
        self._power_on()

    def _power_on(self) -> None:
        self.hears = _AMB_HEARS[self.POWER_ON_MODE]

    def on_host_bytes(self, data: bytes) -> None:
        errors = self.decoder.checksum_errors
        self.decoder.feed(data)
        for frame in self.decoder:
            self.stats.requests += 1
            if isinstance(frame, amb.AmberFrame):
                self._answer(frame)
        self.stats.bad_requests += self.decoder.checksum_errors - errors

    def _answer(self, frame: amb.AmberFrame) -> None:
        command, payload = frame.command, frame.payload
        if command == amb.Command.GET_REQ and len(payload) == 2:
            address, count = payload
            self._send(amb.parameters_response(address, self.parameters[address : address + count]))
        elif command == amb.Command.SET_REQ and len(payload) >= 2 and len(payload) == 2 + payload[1]:
            address = payload[0]
            values = payload[2:][: 256 - address]
            self.parameters[address : address + len(values)] = values
            self._send(amb.response(amb.Command.SET_REQ, b"\x00"))
        elif command == amb.Command.SET_MODE_REQ and len(payload) == 1 and payload[0] in _AMB_MODES:
            self.hears = _AMB_HEARS[amb.ReceiveMode(payload[0])]
            self._configured()
            self._send(amb.response(amb.Command.SET_MODE_REQ, b"\x00"))
        elif command == amb.Command.RESET_REQ:
            self._reset()
            self._power_on()
            self._send(amb.response(amb.Command.RESET_REQ, b"\x00"))
        else:
            self.stats.bad_requests += 1
            self._send(amb.response(command & 0x7F, b"\x01"))

    def indication(self, telegram: bytes, rssi_dbm: float) -> bytes:
        rssi = round((rssi_dbm + 74) * 2) & 0xFF if self.parameters[amb.Parameter.RSSI_ENABLE] else None
        if self.parameters[amb.Parameter.UART_CMD_OUT_ENABLE]:
            return amb.data_indication(telegram, rssi=rssi)
        return amb.transparent_telegram(telegram, rssi=rssi)


def emulator_for(
    dongle: str, port: DuplexPort, faults: Faults = Faults(), seed: int = 0, *, transparent: bool = False
) -> DongleEmulator:
    """The emulator of ``dongle`` (``im871a`` or ``amb8465``) on ``port``."""
    if dongle == "im871a":
        return Im871aEmulator(port, faults, seed)
    if dongle == "amb8465":
        return Amb8465Emulator(port, faults, seed, transparent=transparent)
    raise ValueError(f"unknown dongle {dongle!r} (known: {', '.join(DONGLES)})")
