"""Amber/Würth AMB8465 (Metis-II) USB stick, command mode and transparent mode, sans-I/O.

How this works: in command mode (parameter UART_CMD_Out_Enable = 1) every message on the
9600 8N1 line is::

    FF | cmd | len | payload[len] | cs        cs = XOR of all bytes before it, FF included

A response carries the request's command with bit 0x80 set; a received telegram arrives
unrequested as DATA_IND (0x03), its payload the telegram from the C-field on, without
L-field and link CRCs, followed by one RSSI byte when RSSI_Enable is set. LEN counts that
byte, so whether it is there cannot be seen on the wire: it is the decoder's ``rssi``
setting (the driver reads RSSI_Enable with GET_REQ and sets it to match).

In transparent mode (UART_CMD_Out_Enable = 0) the stick writes just the telegram,
starting with its L-field, and (with RSSI_Enable) the RSSI byte after it. There is no
checksum, so the decoder can only check that L is at least 10 and the C-field is one a
meter sends; the RSSI byte is taken as *not* counted in L (the telegram's own L-field),
an assumption no capture here confirms. Command responses keep their FF framing and are
recognised first.

:class:`Amb8465Decoder` keeps at most one frame in its buffer and steps one byte at a
time over anything that is not a frame start or fails its checksum, counting
``skipped`` bytes and ``checksum_errors``. Facts follow wmbusmeters ``src/wmbus_amb8465.*``
(citing the Amber manual v2.7) and ioBroker.wmbus ``lib/receiver/amber.js``; no code is
taken from them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from functools import reduce

from smgwd.codec.wmbus.errors import WmbusError
from smgwd.codec.framing import FrameBuffer
from smgwd.codec.wmbus.link import with_l_field

SOF = 0xFF
RESPONSE = 0x80
MAX_FRAME = 3 + 255 + 1


class Amb8465Error(WmbusError):
    """An AMB8465 frame or payload that cannot be decoded or encoded."""


class Command(enum.IntEnum):
    """Command codes of requests (a response has bit 0x80 set)."""

    DATA_REQ = 0x00
    DATARETRY_REQ = 0x02
    DATA_IND = 0x03
    SET_MODE_REQ = 0x04
    RESET_REQ = 0x05
    SET_CHANNEL_REQ = 0x06
    SET_REQ = 0x09
    GET_REQ = 0x0A
    SERIALNO_REQ = 0x0B
    FWV_REQ = 0x0C
    RSSI_REQ = 0x0D
    SETUARTSPEED_REQ = 0x10
    FACTORYRESET_REQ = 0x11
    DATA_PRELOAD_REQ = 0x30
    DATA_CLR_PRELOAD_REQ = 0x31
    SET_AES_KEY_REQ = 0x50
    CLR_AES_KEY_REQ = 0x51
    GET_AES_DEV_REQ = 0x52


class ReceiveMode(enum.IntEnum):
    """SET_MODE codes for receiving (the stick's "other" modes hear meters).

    T1 = T2-Other (0x08), C1 = C2-Other (0x0E), C1_T1 = C2/T2-Other (0x09),
    S1 = S2 (0x03, hears S1 and S1-m).
    """

    S1 = 0x03
    T1 = 0x08
    C1_T1 = 0x09
    C1 = 0x0E


class Parameter(enum.IntEnum):
    """Non-volatile parameter addresses (GET_REQ / SET_REQ) a driver needs."""

    UART_CMD_OUT_ENABLE = 0x05
    RSSI_ENABLE = 0x45


_COMMANDS = frozenset(int(c) for c in Command)
# C-fields a receiver hears from meters (SND_NR, SND_IR, ACC_NR, ACC_DMD, RSP_UD, ...).
_METER_C_FIELDS = frozenset((0x44, 0x46, 0x47, 0x48, 0x06, 0x08, 0x18, 0x28, 0x38))


def checksum(data: bytes | bytearray) -> int:
    """XOR of ``data`` (a frame's bytes before its checksum, FF included)."""
    return reduce(lambda acc, b: acc ^ b, data, 0)


def rssi_dbm(raw: int) -> float:
    """dBm of the AMB8465 RSSI byte: two's complement half-dB steps minus 74 dB.

    ``raw >= 128 ? (raw - 256) / 2 - 74 : raw / 2 - 74`` (Amber manual via wmbusmeters and
    ioBroker.wmbus, which agree).
    """
    return (raw - 256) / 2 - 74 if raw >= 128 else raw / 2 - 74


@dataclass(frozen=True, slots=True)
class AmberFrame:
    """One command-mode frame. For DATA_IND decoded with RSSI on, ``payload`` is the
    telegram (C … end) and ``rssi`` the byte LEN also counted; otherwise ``rssi`` is None."""

    command: int
    payload: bytes = b""
    rssi: int | None = None

    @property
    def is_response(self) -> bool:
        return bool(self.command & RESPONSE)

    @property
    def is_telegram(self) -> bool:
        return self.command == Command.DATA_IND

    @property
    def rssi_dbm(self) -> float | None:
        return None if self.rssi is None else rssi_dbm(self.rssi)

    def telegram(self) -> bytes:
        """The DATA_IND telegram with its L-field put back (no link CRCs)."""
        if not self.is_telegram:
            raise Amb8465Error(f"not a DATA_IND (command 0x{self.command:02X})")
        if len(self.payload) < 10:
            raise Amb8465Error(f"DATA_IND with {len(self.payload)} telegram bytes, at least 10 needed")
        return with_l_field(self.payload)


@dataclass(frozen=True, slots=True)
class TransparentTelegram:
    """A telegram from transparent mode: starts with its L-field; ``rssi`` if enabled."""

    telegram: bytes
    rssi: int | None = None

    @property
    def rssi_dbm(self) -> float | None:
        return None if self.rssi is None else rssi_dbm(self.rssi)


AmberEvent = AmberFrame | TransparentTelegram


def encode_frame(command: int, payload: bytes | bytearray = b"", *, rssi: int | None = None) -> bytes:
    """One command-mode frame; ``rssi`` (DATA_IND only) is appended and counted in LEN."""
    if not 0 <= command <= 0xFF or command & 0x7F not in _COMMANDS:
        raise Amb8465Error(f"unknown command 0x{command & 0xFF:02X}")
    body = bytearray(payload)
    if rssi is not None:
        if command != Command.DATA_IND:
            raise Amb8465Error("only DATA_IND carries an RSSI byte")
        if not 0 <= rssi <= 0xFF:
            raise Amb8465Error(f"RSSI {rssi} does not fit a byte")
        body.append(rssi)
    if len(body) > 255:
        raise Amb8465Error(f"payload of {len(body)} bytes, at most 255 fit")
    frame = bytearray((SOF, command, len(body))) + body
    frame.append(checksum(frame))
    return bytes(frame)


def encode(event: AmberEvent) -> bytes:
    """Encode an event as the stick sends it (a transparent telegram: L … end [RSSI])."""
    if isinstance(event, TransparentTelegram):
        return transparent_telegram(event.telegram, rssi=event.rssi)
    return encode_frame(event.command, event.payload, rssi=event.rssi)


class Amb8465Decoder(FrameBuffer[AmberEvent]):
    """Incremental decoder: ``feed`` bytes, iterate (or ``next_event``) for events.

    ``rssi``: DATA_IND (and transparent telegrams) end with an RSSI byte.
    ``transparent``: the stick is in transparent mode (telegrams start with L).
    Counters: ``frames``, ``checksum_errors``, ``skipped`` (bytes stepped over).
    """

    def __init__(self, *, rssi: bool = True, transparent: bool = False) -> None:
        self.rssi = rssi
        self.transparent = transparent
        super().__init__(MAX_FRAME)
        self.checksum_errors = 0

    def _scan(self) -> None:
        while self._buf:
            status = self._command_frame()
            if status is None:
                return
            if status:
                continue
            if self.transparent:
                status = self._transparent_frame()
                if status is None:
                    return
                if status:
                    continue
            self._skip(1)

    def _command_frame(self) -> bool | None:
        """True: a frame was taken; False: no frame starts here; None: need more bytes."""
        buf = self._buf
        if buf[0] != SOF:
            if not self.transparent:
                pos = buf.find(SOF)
                self._skip(len(buf) if pos < 0 else pos)
                return True
            return False
        if len(buf) < 2:
            return None
        if buf[1] & 0x7F not in _COMMANDS:
            return False
        if len(buf) < 3:
            return None
        total = 4 + buf[2]
        if len(buf) < total:
            # In transparent mode FF may also be an L-field; keep waiting only if it could be a frame.
            return None
        if checksum(buf[: total - 1]) != buf[total - 1]:
            self.checksum_errors += 1
            return False
        payload = bytes(buf[3 : total - 1])
        rssi = None
        if self.rssi and buf[1] == Command.DATA_IND and payload:
            payload, rssi = payload[:-1], payload[-1]
        self._emit(AmberFrame(buf[1], payload, rssi))
        self.frames += 1
        del buf[:total]
        return True

    def _transparent_frame(self) -> bool | None:
        buf = self._buf
        if buf[0] < 10:
            return False
        if len(buf) < 2:
            return None
        if buf[1] not in _METER_C_FIELDS:
            return False
        total = 1 + buf[0] + (1 if self.rssi else 0)
        if len(buf) < total:
            return None
        rssi = buf[total - 1] if self.rssi else None
        self._emit(TransparentTelegram(bytes(buf[: 1 + buf[0]]), rssi))
        self.frames += 1
        del buf[:total]
        return True


# --- payloads ---------------------------------------------------------------------------


def parse_serial_number(payload: bytes | bytearray) -> int:
    """SERIALNO response: a 32-bit serial number, high byte first."""
    if len(payload) != 4:
        raise Amb8465Error(f"serial number needs 4 bytes, got {len(payload)}", 3)
    return int.from_bytes(payload, "big")


@dataclass(frozen=True, slots=True)
class Parameters:
    """A GET_REQ response: ``values`` of the parameters from ``address`` on."""

    address: int
    values: bytes

    def get(self, address: int) -> int | None:
        """The value of the parameter at ``address``, None if outside the range read."""
        index = address - self.address
        return self.values[index] if 0 <= index < len(self.values) else None


def parse_parameters(payload: bytes | bytearray) -> Parameters:
    """GET_REQ response: address, count, values[count]."""
    if len(payload) < 2:
        raise Amb8465Error(f"parameter response needs address and count, got {len(payload)} bytes", 3)
    address, count = payload[0], payload[1]
    if len(payload) != 2 + count:
        raise Amb8465Error(f"parameter response announces {count} values, carries {len(payload) - 2}", 5)
    return Parameters(address, bytes(payload[2:]))


# --- requests (host -> stick) -----------------------------------------------------------


def set_mode_request(mode: ReceiveMode | int) -> bytes:
    """SET_MODE (volatile): the receive mode."""
    return encode_frame(Command.SET_MODE_REQ, bytes((int(mode),)))


def reset_request() -> bytes:
    return encode_frame(Command.RESET_REQ)


def factory_reset_request() -> bytes:
    return encode_frame(Command.FACTORYRESET_REQ)


def serial_number_request() -> bytes:
    return encode_frame(Command.SERIALNO_REQ)


def firmware_version_request() -> bytes:
    return encode_frame(Command.FWV_REQ)


def get_request(address: int, count: int) -> bytes:
    """GET_REQ: read ``count`` non-volatile parameters from ``address``."""
    if not (0 <= address <= 0xFF and 0 <= count <= 0xFF):
        raise Amb8465Error(f"parameter range {address}+{count} does not fit bytes")
    return encode_frame(Command.GET_REQ, bytes((address, count)))


def set_request(address: int, values: bytes | bytearray) -> bytes:
    """SET_REQ: write ``values`` to the non-volatile parameters from ``address`` on."""
    if not 0 <= address <= 0xFF or len(values) > 253:
        raise Amb8465Error(f"parameter write at {address} of {len(values)} bytes does not fit")
    return encode_frame(Command.SET_REQ, bytes((address, len(values))) + bytes(values))


# --- responses and indications (stick -> host, for the simulator) ---------------------


def response(command: Command | int, payload: bytes | bytearray = b"") -> bytes:
    """The response to request ``command`` (bit 0x80 set)."""
    return encode_frame(int(command) | RESPONSE, payload)


def parameters_response(address: int, values: bytes | bytearray) -> bytes:
    return response(Command.GET_REQ, bytes((address, len(values))) + bytes(values))


def _c_to_end(telegram: bytes | bytearray) -> bytes:
    if len(telegram) < 11 or telegram[0] != len(telegram) - 1:
        raise Amb8465Error(f"telegram of {len(telegram)} bytes does not start with a matching L-field", 0)
    return bytes(telegram[1:])


def data_indication(telegram: bytes | bytearray, *, rssi: int | None = None) -> bytes:
    """DATA_IND for a telegram that starts with its L-field and has no link CRCs."""
    return encode_frame(Command.DATA_IND, _c_to_end(telegram), rssi=rssi)


def transparent_telegram(telegram: bytes | bytearray, *, rssi: int | None = None) -> bytes:
    """Transparent-mode output: the telegram (with L) and the RSSI byte, if given."""
    _c_to_end(telegram)
    if rssi is not None and not 0 <= rssi <= 0xFF:
        raise Amb8465Error(f"RSSI {rssi} does not fit a byte")
    return bytes(telegram) + (b"" if rssi is None else bytes((rssi,)))
