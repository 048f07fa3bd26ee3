"""IMST iM871A host controller interface (HCI) over its USB serial port, sans-I/O.

How this works: every message on the 57600 8N1 line is one frame::

    A5 | ctrl<<4 | endpoint | msg_id | len | payload[len] | [timestamp 4] | [RSSI 1] | [CRC 2]

The high nibble of the second byte says which trailers follow (0x2 timestamp, 0x4 RSSI,
0x8 CRC; 0x1 is reserved), the low nibble names the endpoint. The CRC is CRC-16/X-25
(:func:`smgwd.codec.crc.crc16_x25`: init 0xFFFF, reflected polynomial 0x8408, inverted)
over everything after the A5, sent low byte first; the timestamp is a little-endian
32-bit tick counter. The host may send without CRC; the dongle answers with one.

:class:`Im871aDecoder` buffers at most one frame (266 bytes). It looks for A5, checks
the control nibble, endpoint and message id against the tables below, waits until the
announced length is there, checks the CRC and emits a :class:`HciFrame`. Anything else
costs one byte: the decoder steps over it and looks for the next A5, counting what it
skipped (``skipped``) and the frames whose CRC failed (``crc_errors``). A received
telegram arrives as RADIOLINK ``WMBUSMSG_IND``: its payload is the telegram from the
C-field on, without L-field and without link-layer CRCs.

The encoder side builds the requests a driver sends and, for the simulator, the dongle's
responses and indications. Facts (ids, layouts) follow wmbusmeters ``src/wmbus_im871a.*``,
jMBus and pyWirelessMbus, which agree; no code is taken from them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from smgwd.codec.crc import crc16_x25
from smgwd.codec.wmbus.errors import WmbusError
from smgwd.codec.framing import FrameBuffer
from smgwd.codec.wmbus.link import with_l_field

SOF = 0xA5
CTRL_TIMESTAMP = 0x2
CTRL_RSSI = 0x4
CTRL_CRC = 0x8
_CTRL_RESERVED = 0x1
MAX_FRAME = 4 + 255 + 4 + 1 + 2


class Im871aError(WmbusError):
    """An iM871A HCI frame or message payload that cannot be decoded or encoded."""


class Endpoint(enum.IntEnum):
    """HCI endpoints (the low nibble of the second byte)."""

    DEVMGMT = 0x01
    RADIOLINK = 0x02
    RADIOLINKTEST = 0x03
    HWTEST = 0x04


class DevMgmt(enum.IntEnum):
    """DEVMGMT message ids: requests are odd, their responses the next even number."""

    PING_REQ = 0x01
    PING_RSP = 0x02
    SET_CONFIG_REQ = 0x03
    SET_CONFIG_RSP = 0x04
    GET_CONFIG_REQ = 0x05
    GET_CONFIG_RSP = 0x06
    RESET_REQ = 0x07
    RESET_RSP = 0x08
    FACTORY_RESET_REQ = 0x09
    FACTORY_RESET_RSP = 0x0A
    GET_OPMODE_REQ = 0x0B
    GET_OPMODE_RSP = 0x0C
    SET_OPMODE_REQ = 0x0D
    SET_OPMODE_RSP = 0x0E
    GET_DEVICEINFO_REQ = 0x0F
    GET_DEVICEINFO_RSP = 0x10
    GET_SYSSTATUS_REQ = 0x11
    GET_SYSSTATUS_RSP = 0x12
    GET_FWINFO_REQ = 0x13
    GET_FWINFO_RSP = 0x14
    GET_RTC_REQ = 0x19
    GET_RTC_RSP = 0x1A
    SET_RTC_REQ = 0x1B
    SET_RTC_RSP = 0x1C
    ENTER_LPM_REQ = 0x1D
    ENTER_LPM_RSP = 0x1E
    SET_AES_ENCKEY_REQ = 0x21
    SET_AES_ENCKEY_RSP = 0x22
    ENABLE_AES_ENCKEY_REQ = 0x23
    ENABLE_AES_ENCKEY_RSP = 0x24
    SET_AES_DECKEY_REQ = 0x25
    SET_AES_DECKEY_RSP = 0x26
    AES_DEC_ERROR_IND = 0x27


class RadioLink(enum.IntEnum):
    """RADIOLINK message ids."""

    WMBUSMSG_REQ = 0x01
    WMBUSMSG_RSP = 0x02
    WMBUSMSG_IND = 0x03
    DATA_REQ = 0x04
    DATA_RSP = 0x05


class LinkMode(enum.IntEnum):
    """Link-mode codes of SET_CONFIG/GET_CONFIG.

    ``C1_T1`` (0x0A) receives C1 and T1 at once (firmware newer than 0x13). For C1
    reception wmbusmeters configures ``C1B``; the driver does the same.
    """

    S1 = 0x00
    S1M = 0x01
    S2 = 0x02
    T1 = 0x03
    T2 = 0x04
    R2 = 0x05
    C1A = 0x06
    C1B = 0x07
    C2A = 0x08
    C2B = 0x09
    C1_T1 = 0x0A


# Highest message id per endpoint (ids run from 1); anything else is not a frame start.
_MAX_MSG_ID = {Endpoint.DEVMGMT: 0x27, Endpoint.RADIOLINK: 0x05, Endpoint.RADIOLINKTEST: 0x07, Endpoint.HWTEST: 0x02}

MODULE_TYPES = {0x33: "iM871A", 0x36: "iM170A"}
DEVICE_MODES = {0x00: "other", 0x01: "meter"}


def rssi_dbm(raw: int) -> float:
    """Approximate dBm of the iM871A RSSI byte.

    A straight line through the points wmbusmeters reads off figure 7-3 ("RSSI vs. input
    power") of the Silicon Labs Si1002 datasheet: 45 -> -100 dBm, 205 -> -20 dBm, i.e.
    ``-100 + (raw - 45) / 2``, and 0 dBm from 230 up. Good to a few dB in the middle of
    the range; jMBus uses a slightly different line (0.533 * raw - 126.7).
    """
    if raw >= 230:
        return 0.0
    return -100.0 + (raw - 45) / 2


@dataclass(frozen=True, slots=True)
class HciFrame:
    """One HCI frame.

    ``timestamp`` and ``rssi`` are None when the frame carries none; ``crc_ok`` is None
    for a frame without CRC, True when its CRC matched (False only from a decoder told to
    keep frames with a bad CRC).
    """

    endpoint: int
    msg_id: int
    payload: bytes = b""
    timestamp: int | None = None
    rssi: int | None = None
    crc_ok: bool | None = None

    @property
    def rssi_dbm(self) -> float | None:
        """The RSSI byte as approximate dBm (see :func:`rssi_dbm`)."""
        return None if self.rssi is None else rssi_dbm(self.rssi)

    @property
    def is_telegram(self) -> bool:
        """A received telegram (RADIOLINK WMBUSMSG_IND)."""
        return self.endpoint == Endpoint.RADIOLINK and self.msg_id == RadioLink.WMBUSMSG_IND

    def telegram(self) -> bytes:
        """The telegram of a WMBUSMSG_IND with its L-field put back (no link CRCs)."""
        if not self.is_telegram:
            raise Im871aError(f"not a WMBUSMSG_IND (endpoint {self.endpoint}, msg {self.msg_id:#04x})")
        if len(self.payload) < 10:
            raise Im871aError(f"WMBUSMSG_IND with {len(self.payload)} bytes, a telegram has at least 10")
        return with_l_field(self.payload)


def _check_header(endpoint: int, msg_id: int) -> None:
    if endpoint not in _MAX_MSG_ID:
        raise Im871aError(f"unknown endpoint {endpoint}")
    if not 1 <= msg_id <= _MAX_MSG_ID[Endpoint(endpoint)]:
        raise Im871aError(f"message id {msg_id:#04x} is not defined for endpoint {Endpoint(endpoint).name}")


def encode_frame(
    endpoint: int,
    msg_id: int,
    payload: bytes | bytearray = b"",
    *,
    timestamp: int | None = None,
    rssi: int | None = None,
    crc: bool = True,
) -> bytes:
    """One HCI frame; trailers are added for the values given."""
    _check_header(endpoint, msg_id)
    if len(payload) > 255:
        raise Im871aError(f"payload of {len(payload)} bytes, at most 255 fit")
    ctrl = (CTRL_TIMESTAMP if timestamp is not None else 0) | (CTRL_RSSI if rssi is not None else 0)
    ctrl |= CTRL_CRC if crc else 0
    body = bytearray((ctrl << 4 | endpoint, msg_id, len(payload)))
    body += payload
    if timestamp is not None:
        if not 0 <= timestamp <= 0xFFFFFFFF:
            raise Im871aError(f"timestamp {timestamp} does not fit 32 bits")
        body += timestamp.to_bytes(4, "little")
    if rssi is not None:
        if not 0 <= rssi <= 0xFF:
            raise Im871aError(f"RSSI {rssi} does not fit a byte")
        body.append(rssi)
    if crc:
        body += crc16_x25(body).to_bytes(2, "little")
    return bytes((SOF,)) + bytes(body)


def encode(frame: HciFrame, *, crc: bool | None = None) -> bytes:
    """Encode an :class:`HciFrame`; with ``crc`` None a CRC is added unless ``crc_ok`` is None."""
    with_crc = frame.crc_ok is not None if crc is None else crc
    return encode_frame(frame.endpoint, frame.msg_id, frame.payload, timestamp=frame.timestamp, rssi=frame.rssi, crc=with_crc)


class Im871aDecoder(FrameBuffer[HciFrame]):
    """Incremental HCI decoder: ``feed`` bytes, then iterate (or ``next_event``) for frames.

    ``require_crc`` rejects frames without CRC (the dongle always sends one; host requests
    usually have none). ``keep_bad_crc`` emits frames whose CRC fails with ``crc_ok=False``
    instead of dropping them. Counters: ``frames``, ``crc_errors``, ``skipped`` (bytes).
    """

    def __init__(self, *, require_crc: bool = False, keep_bad_crc: bool = False) -> None:
        self.require_crc = require_crc
        self.keep_bad_crc = keep_bad_crc
        super().__init__(MAX_FRAME)
        self.crc_errors = 0

    def _scan(self) -> None:
        buf = self._buf
        while buf:
            if buf[0] != SOF:
                pos = buf.find(SOF)
                self._skip(len(buf) if pos < 0 else pos)
                continue
            if len(buf) < 2:
                return
            ctrl, endpoint = buf[1] >> 4, buf[1] & 0x0F
            if ctrl & _CTRL_RESERVED or endpoint not in _MAX_MSG_ID or (self.require_crc and not ctrl & CTRL_CRC):
                self._skip(1)
                continue
            if len(buf) < 3:
                return
            if not 1 <= buf[2] <= _MAX_MSG_ID[Endpoint(endpoint)]:
                self._skip(1)
                continue
            if len(buf) < 4:
                return
            size = 4 + buf[3] + (4 if ctrl & CTRL_TIMESTAMP else 0) + (1 if ctrl & CTRL_RSSI else 0)
            total = size + (2 if ctrl & CTRL_CRC else 0)
            if len(buf) < total:
                return
            crc_ok: bool | None = None
            if ctrl & CTRL_CRC:
                crc_ok = crc16_x25(buf[1:size]) == int.from_bytes(buf[size:total], "little")
                if not crc_ok:
                    self.crc_errors += 1
                    if not self.keep_bad_crc:
                        self._skip(1)
                        continue
            pos = 4 + buf[3]
            payload = bytes(buf[4:pos])
            timestamp = None
            if ctrl & CTRL_TIMESTAMP:
                timestamp = int.from_bytes(buf[pos : pos + 4], "little")
                pos += 4
            rssi = buf[pos] if ctrl & CTRL_RSSI else None
            self._emit(HciFrame(endpoint, buf[2], payload, timestamp, rssi, crc_ok))
            self.frames += 1
            del buf[:total]


# --- payloads ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """GET_DEVICEINFO_RSP: module type (0x33 iM871A, 0x36 iM170A), device mode
    (0 other/collector, 1 meter), firmware version, HCI version, 32-bit unique id."""

    module_type: int
    device_mode: int
    firmware: int
    hci_version: int
    uid: int

    @property
    def module_name(self) -> str:
        return MODULE_TYPES.get(self.module_type, f"unknown(0x{self.module_type:02X})")

    @property
    def uid_hex(self) -> str:
        """The unique id as wmbusmeters prints it (8 hex digits)."""
        return f"{self.uid:08x}"

    def encode(self) -> bytes:
        return bytes((self.module_type, self.device_mode, self.firmware, self.hci_version)) + self.uid.to_bytes(4, "little")


def parse_device_info(payload: bytes | bytearray) -> DeviceInfo:
    """Decode a GET_DEVICEINFO_RSP payload (8 bytes; the UID is little-endian)."""
    if len(payload) < 8:
        raise Im871aError(f"device info needs 8 bytes, got {len(payload)}", len(payload))
    return DeviceInfo(payload[0], payload[1], payload[2], payload[3], int.from_bytes(payload[4:8], "little"))


# (field, flag group, bit, width in bytes); the order is the wire order.
_CONFIG_LAYOUT = (
    ("device_mode", 1, 0x01, 1),
    ("link_mode", 1, 0x02, 1),
    ("c_field", 1, 0x04, 1),
    ("manufacturer", 1, 0x08, 2),
    ("id", 1, 0x10, 4),
    ("version", 1, 0x20, 1),
    ("device_type", 1, 0x40, 1),
    ("radio_channel", 1, 0x80, 1),
    ("power_level", 2, 0x01, 1),
    ("data_rate", 2, 0x02, 1),
    ("rx_window", 2, 0x04, 1),
    ("auto_power_saving", 2, 0x08, 1),
    ("auto_rssi", 2, 0x10, 1),
    ("auto_timestamp", 2, 0x20, 1),
    ("led_control", 2, 0x40, 1),
    ("rtc_control", 2, 0x80, 1),
)


@dataclass(frozen=True, slots=True)
class RadioConfig:
    """The configuration fields of SET_CONFIG_REQ / GET_CONFIG_RSP; None = not included.

    Multi-byte fields are little-endian on the wire (``manufacturer`` is the M-field,
    ``id`` the 32-bit address). ``trailing`` keeps bytes after the second field group
    (a real GET_CONFIG_RSP has one that no source explains).
    """

    device_mode: int | None = None
    link_mode: int | None = None
    c_field: int | None = None
    manufacturer: int | None = None
    id: int | None = None
    version: int | None = None
    device_type: int | None = None
    radio_channel: int | None = None
    power_level: int | None = None
    data_rate: int | None = None
    rx_window: int | None = None
    auto_power_saving: int | None = None
    auto_rssi: int | None = None
    auto_timestamp: int | None = None
    led_control: int | None = None
    rtc_control: int | None = None
    trailing: bytes = b""

    def encode(self) -> bytes:
        """IIFlag1, its fields, IIFlag2, its fields (without the NVM byte of SET_CONFIG)."""
        out = bytearray()
        for group in (1, 2):
            flags = 0
            values = bytearray()
            for name, grp, bit, width in _CONFIG_LAYOUT:
                value = getattr(self, name)
                if grp != group or value is None:
                    continue
                if not 0 <= value < 1 << (8 * width):
                    raise Im871aError(f"config field {name}={value} does not fit {width} byte(s)")
                flags |= bit
                values += value.to_bytes(width, "little")
            out.append(flags)
            out += values
        return bytes(out + self.trailing)


def parse_config(payload: bytes | bytearray) -> RadioConfig:
    """Decode a GET_CONFIG_RSP payload (or a SET_CONFIG_REQ payload after its NVM byte)."""
    data = bytes(payload)
    values: dict[str, int] = {}
    pos = 0
    for group in (1, 2):
        if pos >= len(data):
            raise Im871aError(f"config ends before IIFlag{group}", pos)
        flags = data[pos]
        pos += 1
        for name, grp, bit, width in _CONFIG_LAYOUT:
            if grp != group or not flags & bit:
                continue
            if pos + width > len(data):
                raise Im871aError(f"config ends inside field {name}", pos)
            values[name] = int.from_bytes(data[pos : pos + width], "little")
            pos += width
    return RadioConfig(**values, trailing=data[pos:])


@dataclass(frozen=True, slots=True)
class SetConfig:
    """A SET_CONFIG_REQ: ``save`` (the NVM flag: 1 = store in flash) and the fields to set."""

    save: bool
    config: RadioConfig


def parse_set_config(payload: bytes | bytearray) -> SetConfig:
    """Decode a SET_CONFIG_REQ payload (the simulator's side)."""
    if not payload:
        raise Im871aError("SET_CONFIG_REQ without NVM flag", 0)
    try:
        config = parse_config(payload[1:])
    except Im871aError as exc:
        raise Im871aError(exc.what, None if exc.offset is None else exc.offset + 1) from None
    return SetConfig(bool(payload[0]), config)


# --- requests (host -> dongle) ---------------------------------------------------------
# Requests go without CRC by default, byte for byte what wmbusmeters sends; pass crc=True
# to protect them.


def _dev(msg: DevMgmt, payload: bytes = b"", crc: bool = False) -> bytes:
    return encode_frame(Endpoint.DEVMGMT, msg, payload, crc=crc)


def ping_request(*, crc: bool = False) -> bytes:
    return _dev(DevMgmt.PING_REQ, crc=crc)


def device_info_request(*, crc: bool = False) -> bytes:
    return _dev(DevMgmt.GET_DEVICEINFO_REQ, crc=crc)


def get_config_request(*, crc: bool = False) -> bytes:
    return _dev(DevMgmt.GET_CONFIG_REQ, crc=crc)


def reset_request(*, crc: bool = False) -> bytes:
    return _dev(DevMgmt.RESET_REQ, crc=crc)


def factory_reset_request(*, crc: bool = False) -> bytes:
    return _dev(DevMgmt.FACTORY_RESET_REQ, crc=crc)


def set_config_request(
    link_mode: LinkMode | int,
    *,
    rssi: bool = True,
    timestamp: bool = False,
    save: bool = False,
    crc: bool = False,
) -> bytes:
    """SET_CONFIG_REQ for receiving: link mode, RSSI attachment and timestamp attachment.

    ``save=False`` keeps the settings in RAM only (lost at reset), as wmbusmeters does.
    """
    config = RadioConfig(link_mode=int(link_mode), auto_rssi=int(rssi), auto_timestamp=int(timestamp))
    return _dev(DevMgmt.SET_CONFIG_REQ, bytes((int(save),)) + config.encode(), crc=crc)


# --- responses and indications (dongle -> host, for the simulator) --------------------


def ping_response() -> bytes:
    return _dev(DevMgmt.PING_RSP, crc=True)


def reset_response() -> bytes:
    return _dev(DevMgmt.RESET_RSP, crc=True)


def set_config_response() -> bytes:
    """SET_CONFIG_RSP as a real dongle sends it: empty payload, with CRC."""
    return _dev(DevMgmt.SET_CONFIG_RSP, crc=True)


def get_config_response(config: RadioConfig) -> bytes:
    return _dev(DevMgmt.GET_CONFIG_RSP, config.encode(), crc=True)


def device_info_response(info: DeviceInfo) -> bytes:
    return _dev(DevMgmt.GET_DEVICEINFO_RSP, info.encode(), crc=True)


def telegram_indication(telegram: bytes | bytearray, *, rssi: int | None = None, timestamp: int | None = None) -> bytes:
    """WMBUSMSG_IND for a telegram that starts with its L-field and has no link CRCs."""
    if len(telegram) < 11 or telegram[0] != len(telegram) - 1:
        raise Im871aError(f"telegram of {len(telegram)} bytes does not start with a matching L-field", 0)
    return encode_frame(Endpoint.RADIOLINK, RadioLink.WMBUSMSG_IND, telegram[1:], rssi=rssi, timestamp=timestamp)

