"""smgw-sim configuration: one XML file (as in jOSEF) for the simulator and its meters.

How this works: the file is parsed by :mod:`smgwd.safexml` (no entities, no
network) and validated against ``schemas/sim-config.xsd``; then the checks a
schema cannot express run here (unique ids, listener references, OBIS codes,
tariff periods on quarter hours). Every error is one :class:`SimConfigError`
naming the file, the line and the element. The result is a frozen
:class:`SimConfig` that the program hands on; nothing else reads the XML.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from smgwd.codec.crc import CrcKind
from smgwd.cosem.obis import Obis, ObisError
from smgwd.safexml import XmlError, load_schema, parse_xml
from smgwd.sim.meter import DEFAULT_OBJECTS, MeterSpec, PvSpec, TariffPeriod
from smgwd.sim.wmbus.dongles import Faults
from smgwd.sim.wmbus.models import HeatSpec, WaterSpec
from smgwd.sim.wmbus.transmitter import RadioSettings

__all__ = [
    "BusListener", "BusStationSpec", "S0Output", "DlmsListener", "SerialListener", "SimConfig", "SimConfigError", "TcpListener", "TimeSettings", "WmbusListener",
    "load_config",
    "parse_config",
]

SCHEMA = ("smgwd.sim", "schemas/sim-config.xsd")


class SimConfigError(ValueError):
    """A configuration that cannot run, with file and line."""


@dataclass(frozen=True, slots=True)
class TimeSettings:
    mode: str = "accelerated"  # real | accelerated | stepped
    start: float | None = None  # simulated UTC start; None = now
    quarter_hour_seconds: float = 4.0
    resolution_ms: int = 1000


@dataclass(frozen=True, slots=True)
class TcpListener:
    id: str
    host: str
    port: int
    meters: tuple[str, ...]
    username: str | None = None
    password: str | None = None


@dataclass(frozen=True, slots=True)
class SerialListener:
    id: str
    device: str  # a device path, a pyserial URL, or "pty" for a pty pair made by the simulator
    meter: str
    baud: int = 9600
    parity: str = "N"
    interval_seconds: float = 1.0


@dataclass(frozen=True, slots=True)
class WmbusListener:
    """An emulated wM-Bus stick (iM871A or AMB8465) and the meters it hears."""

    id: str
    device: str  # as for serial: "pty" or a device path
    dongle: str  # im871a | amb8465
    meters: tuple[RadioSettings, ...]
    baud: int = 57600
    faults: Faults = Faults()
    seed: int = 0
    transparent: bool = False  # AMB8465 only: starts in transparent mode


DONGLE_BAUD = {"im871a": 57600, "amb8465": 9600}


@dataclass(frozen=True, slots=True)
class DlmsListener:
    """A meter's customer port pushing DLMS/COSEM over HDLC."""

    id: str
    device: str  # "pty" or a device path
    meter: str
    layout: str = "registers"  # registers | idis
    key: bytes | None = field(default=None, repr=False)
    auth_key: bytes | None = field(default=None, repr=False)
    block_size: int = 0
    max_info: int = 128
    baud: int = 2400
    parity: str = "E"
    interval_seconds: float = 2.0


@dataclass(frozen=True, slots=True)
class S0Output:
    """A meter's S0 output driving a pin of the fake GPIO backend (in-process gateways only)."""

    id: str
    meter: str
    pin: int
    pulses_per_kwh: float = 1000.0


@dataclass(frozen=True, slots=True)
class BusStationSpec:
    meter: str
    address: int
    behaviour: str = "normal"  # normal | slow | dead | babble
    delay_ms: int = 0
    reset_every: int = 0


@dataclass(frozen=True, slots=True)
class BusListener:
    """An RS-485 bus: HDLC secondary stations answering SML, on one port."""

    id: str
    device: str
    stations: tuple[BusStationSpec, ...]
    baud: int = 9600
    parity: str = "N"
    seed: int = 0


@dataclass(frozen=True, slots=True)
class SimConfig:
    time: TimeSettings
    tcp: tuple[TcpListener, ...]
    serial: tuple[SerialListener, ...]
    meters: tuple[MeterSpec, ...]
    source: str = "<config>"
    wmbus: tuple[WmbusListener, ...] = ()
    dlms: tuple[DlmsListener, ...] = ()
    buses: tuple[BusListener, ...] = ()
    s0: tuple[S0Output, ...] = ()
    radio_meters: tuple[WaterSpec | HeatSpec, ...] = ()  # wM-Bus only: water and heat

    def meter(self, meter_id: str) -> MeterSpec:
        return next(m for m in self.meters if m.id == meter_id)


def load_config(path: str | Path) -> SimConfig:
    """Read and check a configuration file."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise SimConfigError(f"{path}: cannot read: {error.strerror}") from None
    return parse_config(data, str(path))


def parse_config(data: bytes, source: str = "<config>") -> SimConfig:
    """Check a configuration document; errors name ``source`` and the line."""
    try:
        root = parse_xml(data, load_schema(*SCHEMA))
    except XmlError as error:
        where = f"{source}:{error.line}" if error.line else source
        raise SimConfigError(f"{where}: {error.what}") from None
    return _Builder(source).build(root)


class _Builder:
    def __init__(self, source: str) -> None:
        self.source = source
        self.radio_only: dict[str, str] = {}  # water/heat meter id -> its element name

    def fail(self, element: Any, what: str) -> SimConfigError:
        return SimConfigError(f"{self.source}:{element.sourceline}: <{element.tag}>: {what}")

    def build(self, root: Any) -> SimConfig:
        time_el = root.find("time")
        meters = tuple(self.meter(el) for el in root.iterfind("meters/meter"))
        radio_meters = tuple(self.radio_meter(el) for el in root.iterfind("meters/*") if el.tag in ("water", "heat"))
        self.radio_only = {el.get("id"): el.tag for el in root.iterfind("meters/*") if el.tag in ("water", "heat")}
        ids = [m.id for m in meters]
        all_ids = [el.get("id") for el in root.iterfind("meters/*")]
        for el in root.iterfind("meters/*"):
            if all_ids.count(el.get("id")) > 1:
                raise self.fail(el, f"meter id {el.get('id')!r} is used twice")
        tcp = tuple(self.tcp(el, ids) for el in root.iterfind("listeners/tcp"))
        serial = tuple(self.serial(el, ids) for el in root.iterfind("listeners/serial"))
        wmbus = tuple(self.wmbus(el, all_ids) for el in root.iterfind("listeners/wmbus"))
        dlms = tuple(self.dlms(el, ids) for el in root.iterfind("listeners/dlms"))
        buses = tuple(self.bus(el, ids) for el in root.iterfind("listeners/bus"))
        s0 = tuple(self.s0(el, ids) for el in root.iterfind("listeners/s0"))
        self.check_wmbus(root, meters, radio_meters)
        listener_ids = [x.id for x in tcp] + [x.id for x in serial] + [x.id for x in wmbus] + [x.id for x in dlms] \
            + [x.id for x in buses] + [x.id for x in s0]
        for el in root.iterfind("listeners/*"):
            if listener_ids.count(el.get("id")) > 1:
                raise self.fail(el, f"listener id {el.get('id')!r} is used twice")
        ports = [(x.host, x.port) for x in tcp if x.port]
        for el, listener in zip(root.iterfind("listeners/tcp"), tcp):
            if listener.port and ports.count((listener.host, listener.port)) > 1:
                raise self.fail(el, f"port {listener.port} on {listener.host} is used twice")
        return SimConfig(self.time(time_el), tcp, serial, meters, self.source, wmbus, dlms, buses, s0, radio_meters)

    def time(self, el: Any) -> TimeSettings:
        if el is None:
            return TimeSettings()
        get = el.get
        start = get("start")
        when = None
        if start is not None:
            moment = datetime.fromisoformat(start.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                raise self.fail(el, f"start {start!r} needs a time zone (e.g. 2025-01-01T00:00:00Z)")
            when = moment.astimezone(timezone.utc).timestamp()
        return TimeSettings(get("mode", "accelerated"), when, float(get("quarter-hour-seconds", "4")),
                            int(get("resolution-ms", "1000")))

    def _sml_ref(self, el: Any, ref: str, meter_ids: list[str]) -> None:
        if ref in self.radio_only:
            raise self.fail(el, f"{self.radio_only[ref]} meter {ref!r} sends wM-Bus only (put it on a <wmbus> listener)")
        if ref not in meter_ids:
            raise self.fail(el, f"no meter with id {ref!r}")

    def tcp(self, el: Any, meter_ids: list[str]) -> TcpListener:
        refs = tuple(m.get("ref") for m in el.iterfind("meter"))
        for m, ref in zip(el.iterfind("meter"), refs):
            self._sml_ref(m, ref, meter_ids)
        auth = el.find("auth")
        get = el.get
        return TcpListener(
            get("id"), get("host", "127.0.0.1"), int(get("port", "33333")), refs,
            auth.get("username") if auth is not None else None,
            auth.get("password") if auth is not None else None,
        )

    def serial(self, el: Any, meter_ids: list[str]) -> SerialListener:
        get = el.get
        self._sml_ref(el, get("meter"), meter_ids)
        return SerialListener(get("id"), get("device"), get("meter"), int(get("baud", "9600")),
                              get("parity", "N"), float(get("interval-seconds", "1")))

    def wmbus(self, el: Any, meter_ids: list[str]) -> WmbusListener:
        get = el.get
        radios = []
        for m in el.iterfind("meter"):
            if m.get("ref") not in meter_ids:
                raise self.fail(m, f"no meter with id {m.get('ref')!r}")
            security = int(m.get("security", "5"))
            ell = m.get("ell", "false") in ("true", "1")
            key = m.get("key")
            if (security or ell) and key is None:
                raise self.fail(m, f"security mode {security}{' with ELL' if ell else ''} needs a key (32 hex digits)")
            radios.append(RadioSettings(
                m.get("ref"), security, bytes.fromhex(key) if key else None, float(m.get("interval-seconds", "8")),
                ell, m.get("radio-mode", "t1"),
            ))
        refs = [r.ref for r in radios]
        for m, ref in zip(el.iterfind("meter"), refs):
            if refs.count(ref) > 1:
                raise self.fail(m, f"meter {ref!r} is on this listener twice")
        dongle = get("dongle")
        silent = get("silent-after-seconds")
        faults = Faults(float(get("duplicate-rate", "0")), float(get("corrupt-rate", "0")),
                        float(silent) if silent is not None else None)
        transparent = get("transparent", "false") in ("true", "1")
        if transparent and dongle != "amb8465":
            raise self.fail(el, "transparent mode is an AMB8465 setting")
        return WmbusListener(get("id"), get("device"), dongle, tuple(radios), int(get("baud", DONGLE_BAUD[dongle])),
                             faults, int(get("seed", "0")), transparent)

    def dlms(self, el: Any, meter_ids: list[str]) -> DlmsListener:
        get = el.get
        self._sml_ref(el, get("meter"), meter_ids)
        key, auth = get("key"), get("auth-key")
        if auth is not None and key is None:
            raise self.fail(el, "auth-key without key: the authentication tag needs the encryption key too")
        return DlmsListener(
            get("id"), get("device"), get("meter"), get("layout", "registers"),
            bytes.fromhex(key) if key else None, bytes.fromhex(auth) if auth else None,
            int(get("block-size", "0")), int(get("max-info", "128")), int(get("baud", "2400")), get("parity", "E"),
            float(get("interval-seconds", "2")),
        )

    def s0(self, el: Any, meter_ids: list[str]) -> S0Output:
        self._sml_ref(el, el.get("meter"), meter_ids)
        return S0Output(el.get("id"), el.get("meter"), int(el.get("pin")), float(el.get("pulses-per-kwh", "1000")))

    def bus(self, el: Any, meter_ids: list[str]) -> BusListener:
        stations = []
        for st in el.iterfind("station"):
            self._sml_ref(st, st.get("meter"), meter_ids)
            text = st.get("address")
            address = int(text, 16) if text.lower().startswith("0x") else int(text)
            if not 0x01 <= address <= 0x7D:
                raise self.fail(st, f"address {text} is outside 0x01..0x7D")
            stations.append(BusStationSpec(st.get("meter"), address, st.get("behaviour", "normal"),
                                           int(st.get("delay-ms", "0")), int(st.get("reset-every", "0"))))
        addresses = [s.address for s in stations]
        for st, spec in zip(el.iterfind("station"), stations):
            if addresses.count(spec.address) > 1:
                raise self.fail(st, f"address 0x{spec.address:02X} is used twice on this bus")
        get = el.get
        return BusListener(get("id"), get("device"), tuple(stations), int(get("baud", "9600")), get("parity", "N"),
                           int(get("seed", "0")))

    def check_wmbus(self, root: Any, meters: tuple[MeterSpec, ...], radio_meters: tuple[WaterSpec | HeatSpec, ...]) -> None:
        """wM-Bus ids are manufacturer and serial: two radio meters may not share them."""
        makers = {m.id: (m.manufacturer, m.serial) for m in (*meters, *radio_meters)}
        seen: dict[tuple[str, int], str] = {}
        for el in root.iterfind("listeners/wmbus/meter"):
            ref = el.get("ref")
            other = seen.setdefault(makers[ref], ref)
            if other != ref:
                raise self.fail(el, f"meters {other!r} and {ref!r} have the same manufacturer and serial on the radio")
        for el in root.iterfind("meters/*"):
            if el.tag in ("water", "heat") and not any(
                m.get("ref") == el.get("id") for m in root.iterfind("listeners/wmbus/meter")
            ):
                raise self.fail(el, f"{el.tag} meter {el.get('id')!r} sends on no <wmbus> listener")

    def radio_meter(self, el: Any) -> WaterSpec | HeatSpec:
        get = el.get
        if el.tag == "water":
            return WaterSpec(get("id"), int(get("serial")), get("manufacturer", "SIM"), float(get("annual-m3")),
                             float(get("initial-m3", "0")), get("warm", "false") in ("true", "1"), int(get("seed", "0")))
        return HeatSpec(get("id"), int(get("serial")), get("manufacturer", "SIM"), float(get("annual-kwh")),
                        float(get("initial-kwh", "0")), int(get("seed", "0")))

    def meter(self, el: Any) -> MeterSpec:
        get = el.get
        consumption = el.find("consumption")
        infeed = el.find("infeed")
        imitate = el.find("imitate")
        pv = None
        if infeed is not None:
            pv = PvSpec(float(infeed.get("annual-kwh")), float(infeed.get("latitude", "48.52")),
                        float(infeed.get("longitude", "9.06")), float(infeed.get("tilt", "30")),
                        float(infeed.get("azimuth", "180")))
        objects: tuple[Obis, ...] = DEFAULT_OBJECTS
        if el.find("objects") is not None:
            objects = tuple(self.obis(o) for o in el.iterfind("objects/object"))
        return MeterSpec(
            id=get("id"),
            serial=int(get("serial")),
            manufacturer=get("manufacturer", "SIM"),
            profile=consumption.get("profile", "h0"),
            annual_kwh=float(consumption.get("annual-kwh")),
            dynamic=consumption.get("dynamic", "true") in ("true", "1"),
            pv=pv,
            phases=int(get("phases", "3")),
            tariff=tuple(self.period(p) for p in el.iterfind("tariff/period")),
            seed=int(get("seed", "0")),
            objects=objects,
            initial_import_wh=float(get("initial-import-kwh", "0")) * 1000,
            initial_export_wh=float(get("initial-export-kwh", "0")) * 1000,
            crc=CrcKind.KERMIT if imitate is not None and imitate.get("crc") == "kermit" else CrcKind.X25,
            bare_valtime=imitate is not None and imitate.get("bare-valtime", "false") in ("true", "1"),
        )

    def obis(self, el: Any) -> Obis:
        text = el.get("obis")
        try:
            obis = Obis.parse(text)
        except ObisError as error:
            raise self.fail(el, str(error)) from None
        if obis not in DEFAULT_OBJECTS:
            known = ", ".join(str(o) for o in DEFAULT_OBJECTS)
            raise self.fail(el, f"the simulator has no object {obis} (it has: {known})")
        return obis

    def period(self, el: Any) -> TariffPeriod:
        start, end = (self.minutes(el.get(k)) for k in ("from", "to"))
        if start % 15 or end % 15:
            raise self.fail(el, "tariff periods start and end on quarter hours")
        if end <= start:
            raise self.fail(el, f"'to' ({el.get('to')}) must be after 'from' ({el.get('from')})")
        return TariffPeriod(start, end, int(el.get("register")))

    @staticmethod
    def minutes(text: str) -> int:
        hours, minutes = text.split(":")
        return int(hours) * 60 + int(minutes)
