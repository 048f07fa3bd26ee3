"""DLMS push, as a meter's customer port sends it: Data-Notifications in HDLC frames.

How this works: :func:`push_frames` builds one push of a :class:`~smgwd.sim.meter.SimMeter`
in the layout the listener asks for, then wraps it the way real meters do:

- ``registers`` (Aidon, the Austrian lists): ``{obis, value, {scaler, unit}}`` per value;
- ``idis`` (Landis+Gyr E450, Iskra AM550): the capture objects array first, then the bare
  values; the scalers are not in the push (the gateway needs them from a layout);

optionally enciphered (general-glo-ciphering, AES-GCM with the meter's keys, a system title
of the manufacturer and serial, the invocation counter counting up), optionally split into
general-block-transfer blocks (each in its own frame), and into HDLC frames of at most
``max_info`` information bytes (the S bit on all but the last). The notification's
date-time is the meter's local time with its deviation from UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from smgwd.codec.dlms import Data, DataType, DlmsKeys, encipher, encode_blocks, encode_data, encode_notification
from smgwd.codec.hdlc import LLC_RESPONSE, HdlcAddress, encode_frame
from smgwd.cosem.obis import Obis
from smgwd.sim.meter import E_EXPORT, E_IMPORT, FREQUENCY, I_PHASE, LOCAL, U_PHASE, SimMeter

__all__ = ["DlmsPushSettings", "cosem_date_time", "push_apdu", "push_frames"]

CLIENT = HdlcAddress(16)  # the public client the push is addressed to
SERVER = HdlcAddress(1, 17)  # management logical device, physical address 17
UI_FINAL, UI = 0x13, 0x03
PUSH_SETUP = Obis(0, 0, 25, 9, 0, 255)
POWER_IMPORT, POWER_EXPORT = Obis(1, 0, 1, 7, 0, 255), Obis(1, 0, 2, 7, 0, 255)


@dataclass(frozen=True, slots=True)
class DlmsPushSettings:
    layout: str = "registers"
    keys: DlmsKeys | None = None  # None: plain
    block_size: int = 0  # > 0: general-block-transfer with blocks of this many bytes
    max_info: int = 128  # HDLC information field size: longer messages are segmented


def cosem_date_time(t: float) -> bytes:
    """12 octets of COSEM date-time: local (Europe/Berlin) time, deviation and DST status."""
    local = datetime.fromtimestamp(t, timezone.utc).astimezone(LOCAL)
    offset = local.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    return (local.year.to_bytes(2, "big") + bytes((local.month, local.day, local.isoweekday(), local.hour, local.minute,
                                                    local.second, 0xFF))
            + (-minutes).to_bytes(2, "big", signed=True) + bytes((0x80 if local.dst() else 0x00,)))


def _values(meter: SimMeter) -> list[tuple[Obis, Data, int, int]]:
    """(OBIS, value, scaler, unit) of what the meter pushes."""
    meter.sync()
    net = round(meter.net_power_w(meter.now))
    phases = meter.phase_values()
    u32 = DataType.DOUBLE_LONG_UNSIGNED
    out = [
        (E_IMPORT, Data(u32, int(meter.import_wh)), 0, 30),
        (E_EXPORT, Data(u32, int(meter.export_wh)), 0, 30),
        (POWER_IMPORT, Data(u32, max(net, 0)), 0, 27),
        (POWER_EXPORT, Data(u32, max(-net, 0)), 0, 27),
    ]
    for k, (_watts, decivolts, centiamps) in enumerate(phases):
        out.append((U_PHASE[k], Data(DataType.LONG_UNSIGNED, decivolts), -1, 35))
        out.append((I_PHASE[k], Data(DataType.LONG_UNSIGNED, centiamps), -2, 33))
    out.append((FREQUENCY, Data(DataType.LONG_UNSIGNED, meter.frequency_centihertz()), -2, 44))
    return out


def _body(meter: SimMeter, layout: str) -> Data:
    values = _values(meter)
    octets, structure = DataType.OCTET_STRING, DataType.STRUCTURE
    if layout == "registers":
        return Data(structure, tuple(
            Data(structure, (Data(octets, obis.to_bytes()), value,
                             Data(structure, (Data(DataType.INTEGER, scaler), Data(DataType.ENUM, unit)))))
            for obis, value, scaler, unit in values
        ))
    defs = [(40, PUSH_SETUP, 2)] + [(3, obis, 2) for obis, *_ in values]
    capture = Data(DataType.ARRAY, tuple(
        Data(structure, (Data(DataType.LONG_UNSIGNED, cls), Data(octets, obis.to_bytes()), Data(DataType.INTEGER, attr),
                         Data(DataType.LONG_UNSIGNED, 0)))
        for cls, obis, attr in defs
    ))
    return Data(structure, (capture, *(value for _, value, _, _ in values)))


def push_apdu(meter: SimMeter, sequence: int, settings: DlmsPushSettings, system_title: bytes) -> bytes:
    """One push as an APDU (enciphered when the settings have keys)."""
    body = encode_data(_body(meter, settings.layout))
    apdu = encode_notification(body, sequence & 0xFFFF_FFFF, cosem_date_time(meter.now))
    if settings.keys is not None:
        apdu = encipher(apdu, settings.keys, system_title, (sequence + 1) & 0xFFFF_FFFF)
    return apdu


def _hdlc(message: bytes, max_info: int) -> list[bytes]:
    info = LLC_RESPONSE + message
    parts = [info[k : k + max_info] for k in range(0, len(info), max_info)]
    last = len(parts) - 1
    return [encode_frame(CLIENT, SERVER, UI_FINAL if n == last else UI, part, segmented=n != last)
            for n, part in enumerate(parts)]


def push_frames(meter: SimMeter, sequence: int, settings: DlmsPushSettings, system_title: bytes) -> list[bytes]:
    """The HDLC frames (flags included) of one push."""
    apdu = push_apdu(meter, sequence, settings, system_title)
    messages = encode_blocks(apdu, settings.block_size) if settings.block_size else [apdu]
    return [frame for message in messages for frame in _hdlc(message, settings.max_info)]
