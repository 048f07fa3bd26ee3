"""Gateway configuration: one TOML file, checked once into frozen dataclasses.

How this works: ``tomllib`` parses the text; each table is then read against
a declared field table (key -> check function). Unknown keys are reported
first, with a did-you-mean from :mod:`difflib`; then every value is checked
for its type and range (a check returns the resolved value: a link URL
becomes a :class:`~smgwd.links.url.LinkSpec`, a profile name an
:class:`~smgwd.meters.sml.profiles.SmlProfile`); then the checks that span
fields run (unique meter ids, mode against link, credentials only for pull,
meters sharing a link). Keys left out take the dataclass defaults, so
``parse_config("")`` is a gateway with no meters.

Secrets never come from this file: a meter's ``password_file`` is read here,
once, after checking that it is a regular file that group and others cannot
access. Relative paths are taken relative to the config file's directory.

The file must be a regular file of at most 1 MiB, with values nested at most
32 deep and dotted keys of at most 16 parts: :mod:`~smgwd.gateway.config_limits`
checks that before ``tomllib`` parses (a FIFO, ``/dev/zero`` or a 100,000-deep
array is one line, not a hang, a MemoryError or a RecursionError).

Every problem is one :class:`ConfigError` whose text is one line,
``<file>: <key path>: <what is wrong> (expected ...)``, with key paths such as
``store.batch_size`` or ``meters[1].crc`` (array indexes count from 0).
Programs build a :class:`GatewayConfig` and hand it on; nothing else reads
the file.
"""

from __future__ import annotations

import datetime
import difflib
import enum
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal, Mapping
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from smgwd.codec.crc import CrcPolicy
from smgwd.cosem.obis import Obis
from smgwd.gateway.config_limits import LimitError, load_toml, parse_toml
from smgwd.gateway.private_file import HINT, PrivateFileError, PrivateFileTooLarge, open_private, read_private
from smgwd.gateway.timebase import NTP_PORT, NtpServer
from smgwd.links.dongle import WmbusReceiverLink
from smgwd.links.url import LinkError, LinkSpec, parse_host_port, parse_link
from smgwd.meters.sml.profiles import PROFILES, SmlProfile
from smgwd.calendars.periods import PERIODS, Period
from smgwd.calendars.tariff import CalendarError, TariffCalendar, parse_calendar, time_zone

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "ConfigError",
    "AdminConfig",
    "ControlConfig",
    "EmpConfig",
    "GatewayConfig",
    "GatewayIdentity",
    "LoggingConfig",
    "MeterConfig",
    "MeterMode",
    "NtpServer",
    "StoreConfig",
    "TimeConfig",
    "load_config",
    "parse_config",
]

DEFAULT_CONFIG_PATH = "/etc/smgwd/smgwd.toml"
SECRET_MAX_BYTES = 4096


class ConfigError(ValueError):
    """A configuration that cannot run: one line, ``<file>: <key path>: <what is wrong> (expected ...)``."""

    def __init__(self, source: str, key: str, problem: str) -> None:
        text = f"{source}: {key}: {problem}" if key else f"{source}: {problem}"
        super().__init__(text.replace("\r", "\\r").replace("\n", "\\n"))
        self.source = source
        self.key = key
        self.problem = problem


class _Problem(Exception):
    """Raised by the checks; :func:`parse_config` adds the file name."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(key, problem)
        self.key = key
        self.problem = problem


class MeterMode(enum.StrEnum):
    """How readings come from a meter."""

    PULL = "pull"  # the gateway asks (jOSEF SML request/response)
    PUSH = "push"  # the meter sends by itself (IR head, push over TCP)


@dataclass(frozen=True, slots=True)
class GatewayIdentity:
    """``[gateway]``."""

    id: str = "smgwd"  # printable ASCII; prefix of the logical device ids in exports
    # the key of the meters' pseudonyms (smgwd.gateway.secret); default: gateway.secret beside the store
    secret: Path = Path("/var/lib/smgwd/gateway.secret")
    # the gateway's signature certificate and key, which sign the logs' checkpoints (smgwd.gateway.log_seal);
    # default: those of the first [[emps]] entry; None: the logs are chained but not signed
    sig_cert: Path | None = None
    sig_key: Path | None = None


@dataclass(frozen=True, slots=True)
class StoreConfig:
    """``[store]``: the SQLite store."""

    path: Path = Path("/var/lib/smgwd/smgwd.db")
    retention_days: int = 400  # 0 = keep forever
    batch_size: int = 500
    flush_interval: float = 1.0  # seconds
    log_checkpoint_interval: float = 3600.0  # seconds between two signed checkpoints of the logs (and at stop)
    log_max_entries: int = 0  # entries each log keeps at most (oldest cut first, the chain kept); 0 = no limit


@dataclass(frozen=True, slots=True)
class TimeConfig:
    """``[time]``: the NTP timebase."""

    servers: tuple[NtpServer, ...] = (NtpServer("127.0.0.1"),)  # empty: no NTP, every reading unsynchronised
    poll_interval: float = 64.0
    timeout: float = 2.0
    drift_limit: float = 0.5  # seconds: |offset| above this -> drifting
    unsynchronised_after: float = 3600.0  # seconds without a good answer -> unsynchronised


@dataclass(frozen=True, slots=True)
class ControlConfig:
    """``[control]``: the local control socket smgwctl talks to."""

    socket: Path = Path("/run/smgwd/control.sock")


@dataclass(frozen=True, slots=True)
class AdminConfig:
    """``[admin]``: the gateway administrator's HTTPS API on the WAN side (smgwd.wan.admin_server)."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = 8444
    tls_cert: Path | None = None  # the gateway's TLS certificate and key
    tls_key: Path | None = None
    client_ca: Path | None = None  # clients must present a certificate under it (and be the GWA)
    trust: Path | None = None  # root(s) the GWA's signature certificate must chain to
    untrusted: Path | None = None  # intermediates (the sub-CA), if the commands do not carry them
    crl: Path | None = None  # the PKI's CRL: a revoked GWA is refused, as TLS client and as signer
    overlay: Path | None = None  # the GWA's changes (smgwd.gateway.admin_overlay); default: admin.json beside the store


@dataclass(frozen=True, slots=True)
class LoggingConfig:
    """``[logging]``."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    journal: Literal["auto", "yes", "no"] = "auto"
    repeat_interval: float = 60.0  # seconds: rate limit window for repeated messages; 0 = no limit


@dataclass(frozen=True, slots=True)
class MeterConfig:
    """One ``[[meters]]`` entry, resolved: link parsed, profile looked up, password read."""

    id: str
    link: LinkSpec
    protocol: Literal["sml", "wmbus", "dlms", "s0"] = "sml"
    mode: MeterMode = MeterMode.PULL  # default in the file: pull if the link takes requests, else push
    interval: float = 15.0  # pull: seconds between reads; push: the meter's push interval
    crc: CrcPolicy = CrcPolicy.AUTO  # default in the file: the profile's
    profile: SmlProfile = PROFILES["generic"]
    server_id: bytes | None = None  # selects the meter on a shared link
    timeout: float = 5.0  # pull: per request
    silence_intervals: int = 5  # push: reconnect after this many intervals without a frame
    rediscover_interval: float = 86400.0  # pull: seconds between object-list discoveries
    username: str | None = None  # pull only
    password_file: Path | None = None  # pull only
    password: str | None = field(default=None, repr=False)  # password_file's content, no trailing newline
    wmbus_id: str | None = None  # wmbus: the meter's 8-digit id (the A-field, as printed on the meter)
    key_file: Path | None = None  # wmbus, dlms: file with the meter's AES-128 key (32 hex digits), mode 0600
    key: bytes | None = field(default=None, repr=False)  # key_file's key
    auth_key_file: Path | None = None  # dlms: the authentication key (the GCM tag is then checked)
    auth_key: bytes | None = field(default=None, repr=False)
    layout: str | None = None  # dlms: the list layout of a push without OBIS codes (default: by list id)
    transport: Literal["hdlc", "mbus"] = "hdlc"  # dlms: HDLC frames, or EN 13757-2 long frames (Austrian meters)
    pulses_per_unit: float | None = None  # s0: the meter's constant, pulses per kWh (or per m³)
    pulse_unit: Literal["kWh", "m3"] = "kWh"  # s0: what one unit of pulses_per_unit is
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class EmpConfig:
    """One ``[[emps]]`` entry: where, what and how the gateway delivers to one EMP."""

    id: str
    url: str  # https://host[:port]/v1/meterdata
    tls_cert: Path  # the gateway's TLS client certificate
    tls_key: Path  # its private key (mode 0600/0400)
    server_ca: Path  # the EMP's CA, pinned: only servers under it are accepted
    sig_cert: Path  # the gateway's signature certificate (CMS SignedData)
    sig_key: Path  # its private key (mode 0600/0400)
    recipient: Path  # the EMP's encryption certificate
    chain: Path | None = None  # sub-CA PEM sent along in the SignedData
    meters: tuple[str, ...] = ()  # empty: all meters
    obis: tuple[str, ...] = ()  # empty: all OBIS codes (normalised text, e.g. "1-0:1.8.0*255")
    interval: float = 900.0  # seconds between two messages
    shape: Literal["josef", "k461"] = "josef"  # COSEM/XML encoding
    timeout: float = 4.0  # seconds per HTTPS request; below 5 s, so a stop never waits longer
    enabled: bool = True
    # the tariff use case (smgwd.taf): "readings" every stored reading (the lab profile), "taf14" the same
    # every few seconds; "taf1" register values at each billing period's end, "taf2" tariff registers per
    # time-of-use zone, "taf7" quarter-hour load profiles, each delivered once its ``period`` is over
    taf: Literal["readings", "taf1", "taf2", "taf7", "taf14"] = "readings"
    period: Period = "day"  # taf1/taf2: the billing period (default month), taf7: one message per period
    time_zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Europe/Berlin"))  # of days and switch times
    tolerance: float = 10.0  # seconds between a reading and the instant it is taken for
    interpolate_within: float = 0.0  # interpolate between readings at most this far apart (0: never)
    grace: float = 120.0  # seconds after a period's end before it is closed (late readings)
    tariff: TariffCalendar | None = None  # taf2: its calendar, from [tariffs.<name>]
    on_demand: bool = True  # TAF6: this EMP may ask for the current values (smgwctl taf6, or its own requests)
    request_poll: float = 60.0  # seconds between asking the EMP for its TAF6 requests; 0 = never ask
    pseudonymize: bool = False  # meters go out under pseudonyms, physical quantities only (smgwd.wan.pseudonyms)
    crl: Path | None = None  # the PKI's CRL: a revoked EMP (TLS or encryption certificate) gets nothing


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    """The whole configuration, as :func:`load_config` resolved it."""

    gateway: GatewayIdentity = field(default_factory=GatewayIdentity)
    store: StoreConfig = field(default_factory=StoreConfig)
    time: TimeConfig = field(default_factory=TimeConfig)
    control: ControlConfig = field(default_factory=ControlConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    admin: AdminConfig = field(default_factory=AdminConfig)
    meters: tuple[MeterConfig, ...] = ()
    emps: tuple[EmpConfig, ...] = ()
    source: str = field(default="<defaults>", compare=False)  # where it was read from

    def meter(self, meter_id: str) -> MeterConfig:
        """The meter called ``meter_id``; KeyError naming the configured ones otherwise."""
        for meter in self.meters:
            if meter.id == meter_id:
                return meter
        known = ", ".join(m.id for m in self.meters) or "none"
        raise KeyError(f"no meter {meter_id!r} in {self.source} (configured: {known})")


# --- loading ---------------------------------------------------------------------------


def load_config(path: str | os.PathLike[str]) -> GatewayConfig:
    """Read and check the TOML file at ``path``; raises :class:`ConfigError`."""
    source = os.fspath(path)
    document, overlaid, overlay, base_dir = read_document(path)
    try:
        return check_document(overlaid, source, base_dir)
    except ConfigError as error:
        table = error.key.split("[", 1)[0].split(".", 1)[0]
        if overlaid.get(table) is not document.get(table):  # the fault is in a table the GWA changed
            raise ConfigError(f"{source} with {overlay}", error.key, error.problem) from None
        raise


def read_document(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, Any], Path, Path]:
    """The TOML document of ``path``, it with the admin overlay laid over, the overlay's path and the base
    directory of relative paths; ConfigError (one line) if the file or the overlay cannot be read."""
    from smgwd.gateway.admin_overlay import laid_over

    source = os.fspath(path)
    try:
        document = load_toml(path)
    except LimitError as error:
        raise ConfigError(source, error.where, error.problem) from None
    base_dir = Path(path).resolve().parent
    try:
        overlaid, overlay = laid_over(document, base_dir)
    except ValueError as error:
        raise ConfigError(source, "admin.overlay", str(error)) from None
    return document, overlaid, overlay, base_dir


def check_document(document: dict[str, Any], source: str, base_dir: Path) -> GatewayConfig:
    """Check a configuration already read (a TOML document, perhaps with the admin overlay); ConfigError."""
    return _checked(document, source, base_dir)


def parse_config(text: str, source: str = "<string>", *, base_dir: Path | None = None) -> GatewayConfig:
    """Check TOML ``text`` (named ``source`` in messages); relative paths are taken from ``base_dir``.

    ``base_dir`` defaults to the current directory. Raises :class:`ConfigError`.
    """
    try:
        document = parse_toml(text)
    except LimitError as error:
        raise ConfigError(source, error.where, error.problem) from None
    return _checked(document, source, base_dir if base_dir is not None else Path.cwd())


def _checked(document: dict[str, Any], source: str, base_dir: Path) -> GatewayConfig:
    try:
        return _build(document, source, base_dir)
    except _Problem as problem:
        raise ConfigError(source, problem.key, problem.problem) from None


# --- value checks: each takes (value, key path) and returns the resolved value ----------

Check = Callable[[Any, str], Any]


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (str, int, float)):
        text = repr(value)
    elif isinstance(value, (datetime.date, datetime.time)):
        text = value.isoformat()
    else:
        text = "an array" if isinstance(value, list) else "a table"
    return text if len(text) <= 60 else text[:57] + "..."


def _got(value: Any) -> str:
    """``the string '500'``, ``an array``: what a wrongly typed value is, for messages."""
    kinds = ((bool, "boolean"), (int, "integer"), (float, "float"), (str, "string"),
             (datetime.datetime, "date-time"), (datetime.date, "date"), (datetime.time, "time"))
    for cls, name in kinds:
        if isinstance(value, cls):
            return f"got the {name} {_shown(value)}"
    return f"got {_shown(value)}"


def _seconds(*, zero: str | None = None) -> Check:
    """A number of seconds > 0 (>= 0 if ``zero`` says what 0 means); ints are fine."""
    expected = f"seconds >= 0, 0 = {zero}" if zero else "seconds > 0"

    def check(value: Any, key: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _Problem(key, f"{_got(value)} (expected {expected})")
        if not math.isfinite(value) or value < 0 or (value == 0 and not zero):
            raise _Problem(key, f"{_shown(value)} is out of range (expected {expected})")
        return float(value)

    return check


def _integer(low: int, high: int, expected: str) -> Check:
    def check(value: Any, key: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Problem(key, f"{_got(value)} (expected {expected})")
        if not low <= value <= high:
            raise _Problem(key, f"{value} is out of range (expected {expected})")
        return value

    return check


def _choice(options: tuple[str, ...], convert: Callable[[str], Any] = str) -> Check:
    listed = ", ".join(options)

    def check(value: Any, key: str) -> Any:
        if not isinstance(value, str):
            raise _Problem(key, f"{_got(value)} (expected one of {listed})")
        if value not in options:
            close = [value.lower()] if value.lower() in options else difflib.get_close_matches(value, options, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise _Problem(key, f"{_shown(value)} is not one of {listed}{hint}")
        return convert(value)

    return check


def _text(pattern: str, expected: str) -> Check:
    compiled = re.compile(pattern)

    def check(value: Any, key: str) -> str:
        if not isinstance(value, str):
            raise _Problem(key, f"{_got(value)} (expected {expected})")
        if not compiled.fullmatch(value):
            raise _Problem(key, f"{_shown(value)} is not allowed (expected {expected})")
        return value

    return check


def _boolean(value: Any, key: str) -> bool:
    if not isinstance(value, bool):
        raise _Problem(key, f"{_got(value)} (expected true or false)")
    return value


def _path(value: Any, key: str) -> Path:
    """A file path as written; :func:`_build` makes relative ones absolute."""
    if not isinstance(value, str):
        raise _Problem(key, f"{_got(value)} (expected a file path)")
    if value == "" or "\0" in value:
        raise _Problem(key, f"{_shown(value)} is not a file path (expected a file path)")
    return Path(value)


def _link(value: Any, key: str) -> LinkSpec:
    if not isinstance(value, str):
        raise _Problem(key, f"{_got(value)} (expected a link URL like tcp://192.168.1.50:33333)")
    try:
        return parse_link(value)
    except LinkError as error:
        raise _Problem(key, str(error)) from None


def _server_id(value: Any, key: str) -> bytes:
    expected = "2 to 64 hex digits, e.g. '0a0153494d0000989681'"
    if not isinstance(value, str):
        raise _Problem(key, f"{_got(value)} (expected {expected})")
    if not re.fullmatch(r"(?:[0-9A-Fa-f]{2}){1,32}", value):
        raise _Problem(key, f"{_shown(value)} is not an even number of hex digits (expected {expected})")
    return bytes.fromhex(value)


def _servers(value: Any, key: str) -> tuple[NtpServer, ...]:
    expected = "a list of \"host\" or \"host:port\" strings, [] for no NTP"
    if not isinstance(value, list):
        raise _Problem(key, f"{_got(value)} (expected {expected})")
    servers: list[NtpServer] = []
    for index, item in enumerate(value):
        item_key = f"{key}[{index}]"
        if not isinstance(item, str):
            raise _Problem(item_key, f"{_got(item)} (expected \"host\" or \"host:port\")")
        try:
            server = NtpServer(*parse_host_port(item, NTP_PORT))
        except ValueError as error:
            raise _Problem(item_key, f"{error} (expected \"host\", \"host:port\" or \"[IPv6]:port\")") from None
        if server in servers:
            raise _Problem(item_key, f"{str(server)!r} is listed twice (expected each server once)")
        servers.append(server)
    return tuple(servers)


def _url(value: Any, key: str) -> str:
    expected = "an https:// URL such as https://emp.example:8443/v1/meterdata"
    if not isinstance(value, str):
        raise _Problem(key, f"{_got(value)} (expected {expected})")
    if not re.fullmatch(r"https://[^\s/?#]+(/[^\s#]*)?", value):
        raise _Problem(key, f"{_shown(value)} is not an https URL (expected {expected})")
    try:
        port = urlsplit(value).port
    except ValueError:
        port = 0
    if port == 0:
        raise _Problem(key, f"{_shown(value)} has no valid port (expected 1..65535 after the host, or none for 443)")
    return value


def _strings(item_check: Check, expected: str) -> Check:
    """A list of unique strings, each checked by ``item_check``; [] is fine."""

    def check(value: Any, key: str) -> tuple[str, ...]:
        if not isinstance(value, list):
            raise _Problem(key, f"{_got(value)} (expected {expected})")
        items: list[str] = []
        for index, item in enumerate(value):
            checked = item_check(item, f"{key}[{index}]")
            if checked in items:
                raise _Problem(f"{key}[{index}]", f"{checked!r} is listed twice (expected each once)")
            items.append(checked)
        return tuple(items)

    return check


def _zone(value: Any, key: str) -> ZoneInfo:
    if not isinstance(value, str):
        raise _Problem(key, f"{_got(value)} (expected an IANA time zone such as \"Europe/Berlin\")")
    try:
        return time_zone(value)
    except ValueError as error:
        raise _Problem(key, str(error)) from None


def _obis(value: Any, key: str) -> str:
    expected = "an OBIS code such as \"1-0:1.8.0*255\""
    if not isinstance(value, str):
        raise _Problem(key, f"{_got(value)} (expected {expected})")
    try:
        return str(Obis.parse(value))
    except ValueError:
        raise _Problem(key, f"{_shown(value)} is not an OBIS code (expected {expected})") from None


_CRC_NAMES = ("auto", "x25", "kermit", "off")
_SECRET_HINT = HINT

_SECTIONS: dict[str, dict[str, Check]] = {
    "gateway": {
        "id": _text(r"[\x21-\x7e]{1,64}", "1 to 64 printable ASCII characters without spaces"),
        "secret": _path,
        "sig_cert": _path,
        "sig_key": _path,
    },
    "store": {
        "path": _path,
        "retention_days": _integer(0, 36_500, "whole days 0..36500, 0 = keep forever"),
        "batch_size": _integer(1, 100_000, "an integer 1..100000"),
        "flush_interval": _seconds(),
        "log_checkpoint_interval": _seconds(),
        "log_max_entries": _integer(0, 100_000_000, "an integer 0..100000000, 0 = no limit"),
    },
    "time": {
        "servers": _servers,
        "poll_interval": _seconds(),
        "timeout": _seconds(),
        "drift_limit": _seconds(),
        "unsynchronised_after": _seconds(),
    },
    "control": {"socket": _path},
    "admin": {
        "enabled": _boolean,
        "host": _text(r"[A-Za-z0-9.:_-]{1,253}", "a host name or address"),
        "port": _integer(1, 65535, "a port 1..65535"),
        **{name: _path for name in ("tls_cert", "tls_key", "client_ca", "trust", "untrusted", "crl", "overlay")},
    },
    "logging": {
        "level": _choice(("debug", "info", "warning", "error")),
        "journal": _choice(("auto", "yes", "no")),
        "repeat_interval": _seconds(zero="no rate limit"),
    },
}

_METER_ID = _text(r"[A-Za-z0-9_.-]{1,64}", "1 to 64 of A-Z a-z 0-9 _ . -")
_METER_FIELDS: dict[str, Check] = {
    "id": _METER_ID,
    "link": _link,
    "protocol": _choice(("sml", "wmbus", "dlms", "s0")),
    "mode": _choice(("pull", "push"), MeterMode),
    "interval": _seconds(),
    "crc": _choice(_CRC_NAMES, CrcPolicy),
    "profile": _choice(tuple(PROFILES), PROFILES.__getitem__),
    "server_id": _server_id,
    "timeout": _seconds(),
    "silence_intervals": _integer(1, 1000, "an integer 1..1000"),
    "rediscover_interval": _seconds(),
    "username": _text(r"[^\x00-\x1f\x7f]{1,255}", "1 to 255 characters, no control characters"),
    "password_file": _path,
    "wmbus_id": _text(r"[0-9A-Fa-f]{8}", "the meter's 8-digit id, e.g. \"12345678\""),
    "key_file": _path,
    "auth_key_file": _path,
    "layout": _text(r"[A-Za-z0-9_.-]{1,64}", "a list layout name (smgwctl decode hdlc --layout)"),
    "transport": _choice(("hdlc", "mbus")),
    "pulses_per_unit": _seconds(),  # a positive number (the checker's words fit: > 0)
    "pulse_unit": _choice(("kWh", "m3")),
    "enabled": _boolean,
}
_WMBUS_ONLY = ("wmbus_id", "key_file")
_DLMS_ONLY = ("auth_key_file", "layout", "transport")
_S0_ONLY = ("pulses_per_unit", "pulse_unit")
#: a DLMS push meter's default push interval (seconds); HAN ports push every 2 to 10 s
DLMS_INTERVAL = 10.0
_SML_ONLY = ("crc", "profile", "server_id", "timeout", "rediscover_interval", "username", "password_file")
#: a wM-Bus meter's default send interval (seconds): silence is reported after 5 of them
WMBUS_INTERVAL = 300.0

_EMP_FIELDS: dict[str, Check] = {
    "id": _METER_ID,
    "url": _url,
    "meters": _strings(_METER_ID, "a list of meter ids, [] for all"),
    "obis": _strings(_obis, "a list of OBIS codes, [] for all"),
    "interval": _seconds(),
    "shape": _choice(("josef", "k461")),
    "tls_cert": _path,
    "tls_key": _path,
    "server_ca": _path,
    "sig_cert": _path,
    "sig_key": _path,
    "chain": _path,
    "recipient": _path,
    "timeout": _seconds(),
    "enabled": _boolean,
    "taf": _choice(("readings", "taf1", "taf2", "taf7", "taf14")),
    "period": _choice(PERIODS),
    "time_zone": _zone,
    "tolerance": _seconds(zero="readings at the instant only"),
    "interpolate_within": _seconds(zero="never interpolate"),
    "grace": _seconds(zero="close a period at its end"),
    "tariff": _text(r"[A-Za-z0-9_-]{1,64}", "the name of a [tariffs.<name>] table"),
    "on_demand": _boolean,
    "request_poll": _seconds(zero="never ask the EMP for requests"),
    "pseudonymize": _boolean,
    "crl": _path,
}
_EMP_PATHS = ("tls_cert", "tls_key", "server_ca", "sig_cert", "sig_key", "chain", "recipient", "crl")
_EMP_SECRETS = ("tls_key", "sig_key")

_FORBIDDEN_METER_KEYS = {
    "password": f"secrets are not taken from the main config (expected password_file = path of {_SECRET_HINT})",
    "key": f"secrets are not taken from the main config (expected key_file = path of {_SECRET_HINT})",
}

# the tables each key belongs in, for "retention_days belongs in [store]" when it is in the wrong one
_HOMES: dict[str, list[str]] = {}
for _name, _fields in (*_SECTIONS.items(), ("meters", _METER_FIELDS)):
    for _key in _fields:
        _HOMES.setdefault(_key, []).append("[[meters]]" if _name == "meters" else f"[{_name}]")


# --- tables --------------------------------------------------------------------------------


def _key_path(parent: str, key: str) -> str:
    shown = key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else repr(key)
    return f"{parent}.{shown}" if parent else shown


def _unknown(parent: str, key: str, known: Mapping[str, object], what: str) -> _Problem:
    close = difflib.get_close_matches(key, list(known), n=1)
    here = next((f"[[{name}]]" for name in ("meters", "emps") if parent.startswith(f"{name}[")), f"[{parent}]")
    homes = [home for home in _HOMES.get(key, ()) if home != here]
    if close:
        hint = f"did you mean {close[0]}?"
    elif homes:
        hint = f"{key} belongs in {' or '.join(homes)}"
    else:
        hint = f"expected one of {', '.join(known)}"
    return _Problem(_key_path(parent, key), f"unknown {what} ({hint})")


def _read_table(value: Any, key: str, fields: Mapping[str, Check], forbidden: Mapping[str, str] = {}) -> dict[str, Any]:
    """Check ``value`` against ``fields``: unknown keys first, then each value in file order."""
    if not isinstance(value, dict):
        raise _Problem(key, f"{_got(value)} (expected a table)")
    for name in value:
        if name in forbidden:
            raise _Problem(_key_path(key, name), forbidden[name])
        if name not in fields:
            raise _unknown(key, name, fields, "key")
    return {name: fields[name](item, _key_path(key, name)) for name, item in value.items()}


def _absolute(path: Path, base_dir: Path) -> Path:
    return path if path.is_absolute() else base_dir / path


def _build(document: dict[str, Any], source: str, base_dir: Path) -> GatewayConfig:
    known = {**_SECTIONS, "meters": {}, "emps": {}, "tariffs": {}}
    for name, value in document.items():
        if name not in known:
            raise _unknown("", name, known, "table" if isinstance(value, dict) else "key")
    sections = {name: _read_table(document.get(name, {}), name, fields) for name, fields in _SECTIONS.items()}
    store = sections["store"]
    if "path" in store:
        store["path"] = _absolute(store["path"], base_dir)
    gateway = sections["gateway"]
    gateway["secret"] = _absolute(gateway["secret"], base_dir) if "secret" in gateway else \
        store.get("path", StoreConfig().path).parent / "gateway.secret"
    control = sections["control"]
    if "socket" in control:
        control["socket"] = _absolute(control["socket"], base_dir)
    admin = _admin(sections["admin"], base_dir)
    time = TimeConfig(**sections["time"])
    if time.timeout >= time.poll_interval:
        raise _Problem("time.timeout", f"{time.timeout} is not shorter than poll_interval {time.poll_interval} "
                                       "(expected timeout < poll_interval)")
    if time.unsynchronised_after < time.poll_interval:
        raise _Problem("time.unsynchronised_after",
                       f"{time.unsynchronised_after} is shorter than poll_interval {time.poll_interval} "
                       "(expected unsynchronised_after >= poll_interval)")
    tariffs = _calendars(document.get("tariffs", {}))
    emps = _emps(document.get("emps", []), base_dir, tariffs)
    _signature_key(gateway, base_dir, emps)
    if any(emp.pseudonymize for emp in emps) and os.path.lexists(gateway["secret"]):
        _check_private(gateway["secret"], "gateway.secret")  # one that is missing, smgwd makes
    return GatewayConfig(
        gateway=GatewayIdentity(**gateway),
        store=StoreConfig(**store),
        time=time,
        control=ControlConfig(**control),
        logging=LoggingConfig(**sections["logging"]),
        admin=admin,
        meters=_meters(document.get("meters", []), base_dir),
        emps=emps,
        source=source,
    )


def _array_of_tables(value: Any, name: str) -> list[Any]:
    if isinstance(value, dict):
        raise _Problem(name, f"got a table (expected an array of tables: write [[{name}]], not [{name}])")
    if not isinstance(value, list):
        raise _Problem(name, f"{_got(value)} (expected an array of tables: [[{name}]])")
    return value


def _emps(value: Any, base_dir: Path, tariffs: Any) -> tuple[EmpConfig, ...]:
    if not isinstance(tariffs, dict):
        raise _Problem("tariffs", f"{_got(tariffs)} (expected tables [tariffs.<name>])")
    emps: list[EmpConfig] = []
    for index, item in enumerate(_array_of_tables(value, "emps")):
        key = f"emps[{index}]"
        fields = _read_table(item, key, _EMP_FIELDS)
        for required in ("id", "url", "tls_cert", "tls_key", "server_ca", "sig_cert", "sig_key", "recipient"):
            if required not in fields:
                raise _Problem(f"{key}.{required}", "missing (expected "
                               + ("an EMP id such as \"emp\")" if required == "id" else
                                  "an https:// URL)" if required == "url" else "a file path)"))
        for name in _EMP_PATHS:
            if name in fields:
                fields[name] = _absolute(fields[name], base_dir)
        for name in _EMP_SECRETS:
            _check_private(fields[name], f"{key}.{name}")
        _tariff_use_case(fields, key, tariffs)
        emp = EmpConfig(**fields)
        for other_index, other in enumerate(emps):
            if other.id == emp.id:
                raise _Problem(f"{key}.id", f"{emp.id!r} is already the id of emps[{other_index}] "
                                            "(expected unique EMP ids)")
        emps.append(emp)
    return tuple(emps)


def _calendars(tariffs: Any) -> dict[str, Any]:
    """``[tariffs.<name>]``: every calendar checked, also one no EMP uses yet (the GWA may set one first)."""
    if not isinstance(tariffs, dict):
        raise _Problem("tariffs", f"{_got(tariffs)} (expected tables [tariffs.<name>])")
    for name, table in tariffs.items():
        try:
            parse_calendar(name, table, f"tariffs.{name}", time_zone("Europe/Berlin"))
        except CalendarError as error:
            raise _Problem(error.where, error.problem) from None
    return tariffs


def _tariff_use_case(fields: dict[str, Any], key: str, tariffs: dict[str, Any]) -> None:
    """Defaults and cross-checks of an EMP's tariff use case; the calendar of taf2 parsed."""
    taf = fields.get("taf", "readings")
    fields.setdefault("period", "month" if taf in ("taf1", "taf2") else "day")
    if taf in ("taf1", "taf2", "taf7"):
        if fields.setdefault("shape", "k461") != "k461":
            raise _Problem(f"{key}.shape", f"{taf} values go out as load profiles (expected \"k461\", "
                                           "the Profile Generic shape)")
        if taf == "taf7" and fields["period"] == "quarter_hour":
            raise _Problem(f"{key}.period", "a taf7 message holds at least an hour (expected hour, day, week, ...)")
    if taf == "taf14":
        fields.setdefault("interval", 5.0)
        if fields["interval"] > 60:
            raise _Problem(f"{key}.interval", f"{fields['interval']:g} s is not high-frequency "
                                              "(expected at most 60 s for taf14)")
    name = fields.get("tariff")
    if taf == "taf2" and name is None:
        raise _Problem(f"{key}.tariff", "missing (expected the name of a [tariffs.<name>] calendar for taf2)")
    if name is not None:
        if taf != "taf2":
            raise _Problem(f"{key}.tariff", f"only taf2 uses a tariff calendar (this EMP's taf is {taf!r})")
        if name not in tariffs:
            known = ", ".join(sorted(tariffs)) or "none"
            raise _Problem(f"{key}.tariff", f"no [tariffs.{name}] table (defined: {known})")
        zone = fields.get("time_zone") or time_zone("Europe/Berlin")
        try:
            fields["tariff"] = parse_calendar(name, tariffs[name], f"tariffs.{name}", zone)
        except CalendarError as error:
            raise _Problem(error.where, error.problem) from None


def _meters(value: Any, base_dir: Path) -> tuple[MeterConfig, ...]:
    value = _array_of_tables(value, "meters")
    meters: list[MeterConfig] = []
    where: dict[str, int] = {}
    for index, item in enumerate(value):
        key = f"meters[{index}]"
        meter = _meter(item, key, base_dir)
        if meter.id in where:
            raise _Problem(f"{key}.id", f"{meter.id!r} is already the id of meters[{where[meter.id]}] "
                                        "(expected unique meter ids)")
        where[meter.id] = index
        meters.append(meter)
    _check_shared_links(meters)
    return tuple(meters)


def _meter(value: Any, key: str, base_dir: Path) -> MeterConfig:
    fields = _read_table(value, key, _METER_FIELDS, _FORBIDDEN_METER_KEYS)
    for required, expected in (("id", "a meter id such as \"household\""),
                               ("link", "a link URL like tcp://192.168.1.50:33333")):
        if required not in fields:
            raise _Problem(f"{key}.{required}", f"missing (expected {expected})")
    link: LinkSpec = fields["link"]
    if fields.get("protocol") == "wmbus" or isinstance(link, WmbusReceiverLink):
        return _wmbus_meter(fields, key, base_dir)
    if fields.get("protocol") == "dlms":
        return _dlms_meter(fields, key, base_dir)
    if fields.get("protocol") == "s0":
        return _s0_meter(fields, key)
    for name in _S0_ONLY:
        if name in fields:
            raise _Problem(f"{key}.{name}", f"only an S0 meter has a {name} (expected protocol = \"s0\")")
    from smgwd.links.rs485 import Rs485Link

    if isinstance(link, Rs485Link):
        return _bus_meter(fields, key)
    for name in _DLMS_ONLY:
        if name in fields:
            raise _Problem(f"{key}.{name}", f"only a DLMS meter has a {name} (expected protocol = \"dlms\")")
    for name in _WMBUS_ONLY:
        if name in fields:
            raise _Problem(f"{key}.{name}", f"only a wM-Bus meter has a {name} (expected protocol = \"wmbus\")")
    if not (link.can_request or link.can_stream):
        raise _Problem(f"{key}.link", f"{link} can carry neither pull nor push (expected a tcp:// or serial:// link)")
    mode = fields.setdefault("mode", MeterMode.PULL if link.can_request else MeterMode.PUSH)
    if mode is MeterMode.PULL and not link.can_request:
        raise _Problem(f"{key}.mode", f"pull needs a link that takes requests; {link.kind}:// only streams "
                                      "(expected mode = \"push\", or a tcp:// link)")
    if mode is MeterMode.PUSH and not link.can_stream:
        raise _Problem(f"{key}.mode",
                       f"push needs a link that streams; {link.kind}:// does not (expected mode = \"pull\")")
    if mode is MeterMode.PUSH:
        for name in ("username", "password_file"):
            if name in fields:
                raise _Problem(f"{key}.{name}", f"only a pull meter logs in (expected no {name} with mode = \"push\")")
    fields.setdefault("crc", fields.get("profile", PROFILES["generic"]).crc)
    if "password_file" in fields:
        fields["password_file"] = _absolute(fields["password_file"], base_dir)
        fields["password"] = _read_secret(fields["password_file"], f"{key}.password_file")
    return MeterConfig(**fields)


def _wmbus_meter(fields: dict[str, Any], key: str, base_dir: Path) -> MeterConfig:
    """A ``protocol = "wmbus"`` meter: a dongle link, the meter's id, its key from a 0600 file."""
    link = fields["link"]
    if fields.get("protocol") != "wmbus":
        raise _Problem(f"{key}.protocol", f"{link.kind}:// is a wM-Bus receiver (expected protocol = \"wmbus\")")
    if not isinstance(link, WmbusReceiverLink):
        raise _Problem(f"{key}.link", f"a wM-Bus meter is heard through a dongle, not {link.kind}:// "
                                      "(expected im871a:///dev/ttyUSB0, amb8465:///dev/ttyUSB0, rtlwmbus:///run/smgwd/rtlwmbus "
                                      "or rtlwmbus+exec:///usr/local/lib/smgwd/sdr-receiver)")
    for name in _SML_ONLY:
        if name in fields:
            raise _Problem(f"{key}.{name}", f"a wM-Bus meter has no {name} (it is an SML setting)")
    for name in _DLMS_ONLY:
        if name in fields:
            raise _Problem(f"{key}.{name}", f"a wM-Bus meter has no {name} (it is a DLMS setting)")
    if fields.get("mode", MeterMode.PUSH) is not MeterMode.PUSH:
        raise _Problem(f"{key}.mode", "a wM-Bus meter sends by itself (expected mode = \"push\", or no mode)")
    if "wmbus_id" not in fields:
        raise _Problem(f"{key}.wmbus_id", "missing (expected the meter's 8-digit id, e.g. \"12345678\")")
    fields["wmbus_id"] = fields["wmbus_id"].lower()
    fields["mode"] = MeterMode.PUSH
    fields.setdefault("interval", WMBUS_INTERVAL)
    if "key_file" in fields:
        fields["key_file"] = _absolute(fields["key_file"], base_dir)
        fields["key"] = _read_key(fields["key_file"], f"{key}.key_file")
    return MeterConfig(**fields)


def _s0_meter(fields: dict[str, Any], key: str) -> MeterConfig:
    """An S0 pulse input on a GPIO pin: the meter's pulse constant turns pulses into a register."""
    from smgwd.links.gpio_link import GpioLink
    from smgwd.meters.s0.counter import pulse_step

    if not isinstance(fields["link"], GpioLink):
        raise _Problem(f"{key}.link", f"an S0 input is a GPIO pin, not {fields['link'].kind}:// (expected gpio://17)")
    for name in (*_WMBUS_ONLY, *_DLMS_ONLY, *_SML_ONLY):
        if name in fields:
            raise _Problem(f"{key}.{name}", f"an S0 meter has no {name}")
    if "pulses_per_unit" not in fields:
        raise _Problem(f"{key}.pulses_per_unit", "missing (expected the meter's constant, e.g. 1000 for 1000 imp/kWh)")
    try:
        pulse_step(fields["pulses_per_unit"], 1000 if fields.get("pulse_unit", "kWh") == "kWh" else 1)
    except ValueError as error:
        raise _Problem(f"{key}.pulses_per_unit", str(error)) from None
    fields["mode"] = MeterMode.PUSH
    fields.setdefault("interval", 10.0)
    return MeterConfig(**fields)


def _bus_meter(fields: dict[str, Any], key: str) -> MeterConfig:
    """An SML meter on the RS-485 bus: polled by the bus master of its port."""
    for name in (*_WMBUS_ONLY, *_DLMS_ONLY, "server_id", "username", "password_file", "timeout", "rediscover_interval"):
        if name in fields:
            raise _Problem(f"{key}.{name}", f"a meter on the RS-485 bus has no {name} (its link names its address)")
    if fields.get("mode", MeterMode.PULL) is not MeterMode.PULL:
        raise _Problem(f"{key}.mode", "the bus master polls the meters on it (expected mode = \"pull\", or no mode)")
    fields["mode"] = MeterMode.PULL
    fields.setdefault("crc", fields.get("profile", PROFILES["generic"]).crc)
    return MeterConfig(**fields)


def _dlms_meter(fields: dict[str, Any], key: str, base_dir: Path) -> MeterConfig:
    """A ``protocol = "dlms"`` push meter on a serial line, its keys from 0600 files."""
    from smgwd.links.serial import SerialLink
    from smgwd.meters.dlms.layouts import LAYOUTS

    link = fields["link"]
    if not isinstance(link, SerialLink):
        raise _Problem(f"{key}.link", f"a DLMS push meter is read from a serial line, not {link.kind}:// "
                                      "(expected serial:///dev/ttyUSB0?baud=2400&parity=E, as the meter sends)")
    for name in (*_SML_ONLY, "wmbus_id"):
        if name in fields:
            raise _Problem(f"{key}.{name}", f"a DLMS meter has no {name}")
    if fields.get("mode", MeterMode.PUSH) is not MeterMode.PUSH:
        raise _Problem(f"{key}.mode", "a DLMS meter on its customer port pushes (expected mode = \"push\", or no mode)")
    fields["mode"] = MeterMode.PUSH
    fields.setdefault("interval", DLMS_INTERVAL)
    if "layout" in fields and fields["layout"] not in LAYOUTS:
        raise _Problem(f"{key}.layout", f"no list layout {fields['layout']!r} (known: {', '.join(LAYOUTS.names())})")
    for path_key, value_key in (("key_file", "key"), ("auth_key_file", "auth_key")):
        if path_key in fields:
            fields[path_key] = _absolute(fields[path_key], base_dir)
            fields[value_key] = _read_key(fields[path_key], f"{key}.{path_key}")
    if "auth_key" in fields and "key" not in fields:
        raise _Problem(f"{key}.auth_key_file", "an authentication key without the encryption key (expected key_file too)")
    return MeterConfig(**fields)


def _check_shared_bus(meters: list[MeterConfig], indexes: list[int], port: str) -> None:
    """Meters on one RS-485 port: the same line settings, different HDLC addresses."""
    first = meters[indexes[0]].link
    seen: dict[tuple[int, int], int] = {}
    for index in indexes:
        link = meters[index].link
        if link.bus != first.bus:  # type: ignore[attr-defined]
            raise _Problem(f"meters[{index}].link", f"{port} is the bus of meters[{indexes[0]}] with other line settings "
                                                    f"(expected the same baud, parity, direction and turnaround: {first})")
        address = (link.logical, link.address)  # type: ignore[attr-defined]
        if address in seen:
            raise _Problem(f"meters[{index}].link", f"address 0x{address[1]:02X} is also the address of "
                                                    f"meters[{seen[address]}] on {port} (expected one address per meter)")
        seen[address] = index


def _read_key(path: Path, key: str) -> bytes:
    """An AES-128 key from a secret file: 32 hex digits on one line (spaces allowed between bytes)."""
    text = _read_secret(path, key, "an AES-128 key")
    digits = "".join(text.split())
    if len(digits) != 32 or not all(c in "0123456789abcdefABCDEF" for c in digits):
        raise _Problem(key, f"{path} does not hold an AES-128 key (expected 32 hex digits on one line; "
                            f"it holds {len(digits)} characters)")
    return bytes.fromhex(digits)


def _check_shared_links(meters: list[MeterConfig]) -> None:
    """Enabled meters on one wire need different server_ids to tell them apart."""
    wires: dict[tuple[str, str], list[int]] = {}
    for index, meter in enumerate(meters):
        if meter.enabled:
            wires.setdefault((meter.link.kind, meter.link.target), []).append(index)
    for (kind, target), indexes in wires.items():
        if len(indexes) < 2:
            continue
        if isinstance(meters[indexes[0]].link, WmbusReceiverLink):
            _check_shared_dongle(meters, indexes, f"{kind}://{target}")
            continue
        if kind == "rs485":
            _check_shared_bus(meters, indexes, target)
            continue
        if kind == "serial":
            # a serial port is opened exclusively by one driver; sharing one needs a line reader
            raise _Problem(f"meters[{indexes[1]}].link",
                           f"{kind}://{target} is also the link of meters[{indexes[0]}] "
                           "(expected one meter per serial port for now)")
        seen: dict[bytes, int] = {}
        for index in indexes:
            server_id = meters[index].server_id
            if server_id is None:
                peer = indexes[1] if index == indexes[0] else indexes[0]
                raise _Problem(f"meters[{index}].server_id",
                               f"missing, but meters[{peer}] is on the same link {kind}://{target} "
                               "(expected a server_id for each meter on a shared link)")
            if server_id in seen:
                raise _Problem(f"meters[{index}].server_id",
                               f"{server_id.hex()!r} is also the server_id of meters[{seen[server_id]}] on the same "
                               f"link {kind}://{target} (expected different server_ids on a shared link)")
            seen[server_id] = index


def _check_shared_dongle(meters: list[MeterConfig], indexes: list[int], where: str) -> None:
    """Meters on one dongle: one link URL (one radio mode, one speed) and different wM-Bus ids."""
    first = meters[indexes[0]]
    seen: dict[str | None, int] = {}
    for index in indexes:
        meter = meters[index]
        if meter.link != first.link:
            raise _Problem(f"meters[{index}].link", f"{meter.link} and meters[{indexes[0]}]'s {first.link} are one "
                                                    f"dongle {where} (expected the same link URL on one dongle)")
        if meter.wmbus_id in seen:
            raise _Problem(f"meters[{index}].wmbus_id",
                           f"{meter.wmbus_id!r} is also the wmbus_id of meters[{seen[meter.wmbus_id]}] on {where} "
                           "(expected one entry per meter)")
        seen[meter.wmbus_id] = index


def _admin(table: dict[str, Any], base_dir: Path) -> AdminConfig:
    """``[admin]`` with its paths resolved; when enabled, its TLS pair, client CA and trust are required."""
    for name in ("tls_cert", "tls_key", "client_ca", "trust", "untrusted", "crl", "overlay"):
        if name in table:
            table[name] = _absolute(table[name], base_dir)
    if table.get("enabled"):
        for name in ("tls_cert", "tls_key", "client_ca", "trust"):
            if name not in table:
                raise _Problem(f"admin.{name}", "missing (expected a file path: the admin API is enabled)")
        _check_private(table["tls_key"], "admin.tls_key")
    return AdminConfig(**table)


def _signature_key(gateway: dict[str, Any], base_dir: Path, emps: tuple[EmpConfig, ...]) -> None:
    """Resolve ``[gateway] sig_cert``/``sig_key``: both or neither; neither takes the first EMP's."""
    given = [key for key in ("sig_cert", "sig_key") if key in gateway]
    if len(given) == 1:
        other = "sig_key" if given[0] == "sig_cert" else "sig_cert"
        raise _Problem(f"gateway.{other}", f"missing (expected a file path: {given[0]} and {other} go together)")
    if given:
        gateway["sig_cert"], gateway["sig_key"] = (_absolute(gateway[k], base_dir) for k in ("sig_cert", "sig_key"))
        _check_private(gateway["sig_key"], "gateway.sig_key")
    elif emps:
        gateway["sig_cert"], gateway["sig_key"] = emps[0].sig_cert, emps[0].sig_key


def _check_private(path: Path, key: str) -> None:
    """Refuse a private key file that group or others can access (read later by its user)."""
    try:
        os.close(open_private(path))
    except PrivateFileError as error:
        raise _Problem(key, str(error)) from None


def _read_secret(path: Path, key: str, what: str = "a password") -> str:
    """The content of a secret file without its trailing newline, if only its owner can access it."""
    try:
        content = read_private(path, SECRET_MAX_BYTES)
    except PrivateFileTooLarge as error:
        raise _Problem(key, f"{error} (expected {what})") from None
    except PrivateFileError as error:
        raise _Problem(key, str(error)) from None
    try:
        secret = content.decode("utf-8")
    except UnicodeDecodeError:
        raise _Problem(key, f"{path} is not UTF-8 text (expected {what})") from None
    secret = secret.removesuffix("\n").removesuffix("\r")
    if secret == "":
        raise _Problem(key, f"{path} is empty (expected {what})")
    if "\n" in secret or "\r" in secret:
        raise _Problem(key, f"{path} has more than one line (expected one line with the {what.split(' ', 1)[1]})")
    return secret
