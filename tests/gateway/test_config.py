"""Gateway configuration: defaults, the example file, every error with its key path, secrets, config check."""

from __future__ import annotations

import datetime
import json
import math
import os
import re
import subprocess
import sys
import tomllib
from dataclasses import FrozenInstanceError, dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any, ClassVar, Self

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smgwd.codec.crc import CrcPolicy
from smgwd.gateway.config import (
    ConfigError,
    ControlConfig,
    GatewayConfig,
    GatewayIdentity,
    LoggingConfig,
    MeterConfig,
    MeterMode,
    NtpServer,
    StoreConfig,
    TimeConfig,
    load_config,
    parse_config,
)
from smgwd.links.serial import SerialLink
from smgwd.links.tcp import TcpLink
from smgwd.links.url import LINK_KINDS, LinkSpec
from smgwd.meters.sml.profiles import PROFILES

EXAMPLE = files("smgwd.gateway") / "smgwd.example.toml"
METER = 'id = "m"\nlink = "tcp://127.0.0.1:33333"\n'


def error_of(text: str, source: str = "smgwd.toml") -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source)
    message = str(caught.value)
    assert "\n" not in message
    return message


def meter_toml(extra: str = "", base: str = METER) -> str:
    return f"[[meters]]\n{base}{extra}\n"


# --- TOML for hypothesis: every value inline -------------------------------------------------


def q(text: str) -> str:
    """A TOML basic string."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return q(value)
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{q(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


def toml_document(document: dict[str, Any]) -> str:
    return "".join(f"{q(key)} = {toml_value(value)}\n" for key, value in document.items())


# --- defaults ----------------------------------------------------------------------------------


def test_empty_file_is_a_gateway_without_meters() -> None:
    config = parse_config("", "empty.toml")
    assert config == GatewayConfig()
    assert config.meters == ()
    assert config.source == "empty.toml"
    assert config.gateway == GatewayIdentity("smgwd")
    assert config.store == StoreConfig(Path("/var/lib/smgwd/smgwd.db"), 400, 500, 1.0)
    assert config.time == TimeConfig((NtpServer("127.0.0.1", 123),), 64.0, 2.0, 0.5, 3600.0)
    assert config.control == ControlConfig(Path("/run/smgwd/control.sock"))
    assert config.logging == LoggingConfig("info", "auto", 60.0)


def test_meter_defaults() -> None:
    meter = parse_config(meter_toml()).meter("m")
    assert meter == MeterConfig("m", TcpLink("127.0.0.1", 33333))
    assert (meter.protocol, meter.mode, meter.interval, meter.crc) == ("sml", MeterMode.PULL, 15.0, CrcPolicy.AUTO)
    assert meter.profile is PROFILES["generic"]
    assert (meter.server_id, meter.timeout, meter.silence_intervals, meter.rediscover_interval) == (None, 5.0, 5, 86400.0)
    assert (meter.username, meter.password_file, meter.password, meter.enabled) == (None, None, None, True)


def test_config_is_frozen() -> None:
    config = parse_config(meter_toml())
    with pytest.raises(FrozenInstanceError):
        config.store.batch_size = 1  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        config.meters[0].interval = 1.0  # type: ignore[misc]


def test_mode_defaults_to_what_the_link_can_do() -> None:
    config = parse_config(meter_toml(base='id = "a"\nlink = "tcp://h:1"\n') + meter_toml(base='id = "b"\nlink = "/dev/ttyUSB0"\n'))
    assert config.meter("a").mode is MeterMode.PULL
    assert config.meter("b").mode is MeterMode.PUSH
    assert config.meter("b").link == SerialLink("/dev/ttyUSB0")


def test_crc_defaults_to_the_profile() -> None:
    config = parse_config(meter_toml('profile = "strict"'))
    assert config.meters[0].crc is CrcPolicy.X25 is PROFILES["strict"].crc
    assert parse_config(meter_toml('profile = "strict"\ncrc = "off"')).meters[0].crc is CrcPolicy.OFF


def test_ints_are_fine_where_floats_are_expected() -> None:
    config = parse_config("[store]\nflush_interval = 2\n[time]\npoll_interval = 16\ntimeout = 1\n" + meter_toml("interval = 60"))
    assert config.store.flush_interval == 2.0 and isinstance(config.store.flush_interval, float)
    assert config.time.poll_interval == 16.0 and isinstance(config.meters[0].interval, float)


def test_resolved_values() -> None:
    config = parse_config(
        '[time]\nservers = ["ntp1", "10.0.0.2:1123", "[::1]:5", "::2"]\n'
        + meter_toml('server_id = "0A0153494D0000989681"\nmode = "push"\nenabled = false')
    )
    assert config.time.servers == (NtpServer("ntp1"), NtpServer("10.0.0.2", 1123), NtpServer("::1", 5), NtpServer("::2"))
    assert [str(s) for s in config.time.servers] == ["ntp1", "10.0.0.2:1123", "[::1]:5", "[::2]"]
    meter = config.meters[0]
    assert meter.server_id == bytes.fromhex("0a0153494d0000989681")
    assert meter.mode == "push" and meter.enabled is False
    assert parse_config("[time]\nservers = []").time.servers == ()


def test_meter_lookup() -> None:
    config = parse_config(meter_toml(), "lab.toml")
    assert config.meter("m").id == "m"
    with pytest.raises(KeyError, match=r"no meter 'x' in lab.toml \(configured: m\)"):
        config.meter("x")


def test_relative_paths_are_taken_from_the_config_directory(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    path = tmp_path / "etc" / "smgwd.toml"
    path.write_text('[store]\npath = "data/smgwd.db"\n[control]\nsocket = "/run/x.sock"\n')
    config = load_config(path)
    assert config.store.path == tmp_path / "etc" / "data" / "smgwd.db"
    assert config.control.socket == Path("/run/x.sock")
    assert parse_config('[store]\npath = "a.db"', base_dir=tmp_path).store.path == tmp_path / "a.db"


# --- the example file ------------------------------------------------------------------------------


def test_example_config_loads() -> None:
    config = parse_config(EXAMPLE.read_text(), "smgwd.example.toml")
    assert config.gateway.id == "smgw-lab-1"
    pull, push = config.meters
    assert (pull.id, pull.mode, pull.link) == ("household", MeterMode.PULL, TcpLink("127.0.0.1", 33333))
    assert pull.server_id == bytes.fromhex("0a0153494d0000989681")
    assert (push.id, push.mode, push.link) == ("heatpump", MeterMode.PUSH, SerialLink("/dev/ttyUSB0", 9600, "N", 8, 1))
    assert push.profile is PROFILES["emh-ed300l"]


def test_example_config_sets_the_defaults_it_documents() -> None:
    document = tomllib.loads(EXAMPLE.read_text())
    defaults = GatewayConfig()
    for section in ("store", "time", "control", "logging"):
        for key, value in document[section].items():
            expected = getattr(getattr(defaults, section), key)
            if key == "servers":
                expected = [s.host for s in expected]
            elif isinstance(expected, Path):
                expected = str(expected)
            assert value == expected, f"{section}.{key}"


def test_example_config_explains_every_key() -> None:
    text = EXAMPLE.read_text()
    document = tomllib.loads(text)
    sections = {"gateway": GatewayIdentity, "store": StoreConfig, "time": TimeConfig, "control": ControlConfig,
                "logging": LoggingConfig}
    commented = set(re.findall(r"^# (\w+) = ", text, re.MULTILINE))
    for section, cls in sections.items():
        assert set(document[section]) <= set(cls.__dataclass_fields__), section
        assert set(cls.__dataclass_fields__) <= set(document[section]) | commented, section
    meter_keys = set(MeterConfig.__dataclass_fields__) - {"password", "key", "auth_key"}
    present = set(document["meters"][0]) | set(re.findall(r"^# (\w+) = ", text, re.MULTILINE))
    assert meter_keys <= present
    for key in meter_keys | {"id", "retention_days", "servers"}:
        assert re.search(rf"^#.*\n{key} = |^# .*\n# {key} = ", text, re.MULTILINE), f"{key} has no comment above it"


def test_example_credentials_work_when_uncommented(tmp_path: Path) -> None:
    secret = tmp_path / "household.password"
    secret.write_text("lab-secret\n")
    secret.chmod(0o600)
    text = EXAMPLE.read_text()
    text = text.replace('# username = "gateway"', 'username = "gateway"')
    text = text.replace('# password_file = "/etc/smgwd/keys/household.password"', f"password_file = {q(str(secret))}")
    meter = parse_config(text).meter("household")
    assert (meter.username, meter.password, meter.password_file) == ("gateway", "lab-secret", secret)


# --- errors: exact messages ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # unknown keys and tables, with a did-you-mean
        ("[store]\nretension_days = 30", "store.retension_days: unknown key (did you mean retention_days?)"),
        ("[storage]\npath = 'x'", "storage: unknown table (did you mean store?)"),
        ("[stroe]\n", "stroe: unknown table (did you mean store?)"),
        ("[admin]\nenabled = true\n", "admin.tls_cert: missing (expected a file path: the admin API is enabled)"),
        ("[admin]\nport = 0\n", "admin.port: 0 is out of range (expected a port 1..65535)"),
        ("[frobnicate]\n", "frobnicate: unknown table (expected one of gateway, store, time, control, admin, logging, meters, emps, tariffs)"),
        ("verbose = true", "verbose: unknown key (expected one of gateway, store, time, control, admin, logging, meters, emps, tariffs)"),
        ("retention_days = 30", "retention_days: unknown key (retention_days belongs in [store])"),
        ("[store]\ntimeout = 3", "store.timeout: unknown key (timeout belongs in [time] or [[meters]])"),
        ("[time]\ninterval = 3", "time.interval: unknown key (did you mean poll_interval?)"),
        ("[logging]\nlevle = 'info'", "logging.levle: unknown key (did you mean level?)"),
        ("[store]\n'a.b' = 1", "store.'a.b': unknown key (expected one of path, retention_days, batch_size, flush_interval, log_checkpoint_interval, log_max_entries)"),
        (meter_toml("intervall = 5"), "meters[0].intervall: unknown key (did you mean interval?)"),
        (meter_toml("drift_limit = 5"), "meters[0].drift_limit: unknown key (drift_limit belongs in [time])"),
        (meter_toml("baud = 9600"), "meters[0].baud: unknown key (expected one of id, link, protocol, mode, interval, crc, "
                                    "profile, server_id, timeout, silence_intervals, rediscover_interval, username, "
                                    "password_file, wmbus_id, key_file, auth_key_file, layout, transport, pulses_per_unit, pulse_unit, enabled)"),
        # wrong types
        ("gateway = 5", "gateway: got the integer 5 (expected a table)"),
        ("[store]\nbatch_size = '500'", "store.batch_size: got the string '500' (expected an integer 1..100000)"),
        ("[store]\nbatch_size = 500.0", "store.batch_size: got the float 500.0 (expected an integer 1..100000)"),
        ("[store]\nbatch_size = true", "store.batch_size: got the boolean true (expected an integer 1..100000)"),
        ("[store]\nflush_interval = '1s'", "store.flush_interval: got the string '1s' (expected seconds > 0)"),
        ("[store]\nflush_interval = true", "store.flush_interval: got the boolean true (expected seconds > 0)"),
        ("[store]\nflush_interval = [1]", "store.flush_interval: got an array (expected seconds > 0)"),
        ("[store]\nflush_interval = 2024-01-01", "store.flush_interval: got the date 2024-01-01 (expected seconds > 0)"),
        ("[store]\npath = 5", "store.path: got the integer 5 (expected a file path)"),
        ("[store]\npath = ''", "store.path: '' is not a file path (expected a file path)"),
        ("[control]\nsocket = {a = 1}", "control.socket: got a table (expected a file path)"),
        ("[logging]\njournal = true", "logging.journal: got the boolean true (expected one of auto, yes, no)"),
        ("[time]\nservers = 'pool.ntp.org'",
         "time.servers: got the string 'pool.ntp.org' (expected a list of \"host\" or \"host:port\" strings, [] for no NTP)"),
        ("[time]\nservers = ['a', 123]", "time.servers[1]: got the integer 123 (expected \"host\" or \"host:port\")"),
        (meter_toml("enabled = 'yes'"), "meters[0].enabled: got the string 'yes' (expected true or false)"),
        (meter_toml("enabled = 1"), "meters[0].enabled: got the integer 1 (expected true or false)"),
        (meter_toml("server_id = 0x0a01"), "meters[0].server_id: got the integer 2561 (expected 2 to 64 hex digits, e.g. "
                                           "'0a0153494d0000989681')"),
        ('[[meters]]\nid = 7\nlink = "tcp://h:1"', "meters[0].id: got the integer 7 (expected 1 to 64 of A-Z a-z 0-9 _ . -)"),
        ('[[meters]]\nid = "m"\nlink = 33333', "meters[0].link: got the integer 33333 "
                                               "(expected a link URL like tcp://192.168.1.50:33333)"),
        ("[meters]\nid = 'm'", "meters: got a table (expected an array of tables: write [[meters]], not [meters])"),
        ("meters = 'm'", "meters: got the string 'm' (expected an array of tables: [[meters]])"),
        ("meters = ['m']", "meters[0]: got the string 'm' (expected a table)"),
        # ranges and choices
        ("[store]\nbatch_size = 0", "store.batch_size: 0 is out of range (expected an integer 1..100000)"),
        ("[store]\nbatch_size = 100001", "store.batch_size: 100001 is out of range (expected an integer 1..100000)"),
        ("[store]\nretention_days = -1", "store.retention_days: -1 is out of range (expected whole days 0..36500, 0 = keep forever)"),
        ("[store]\nflush_interval = 0", "store.flush_interval: 0 is out of range (expected seconds > 0)"),
        ("[store]\nflush_interval = -0.5", "store.flush_interval: -0.5 is out of range (expected seconds > 0)"),
        ("[store]\nflush_interval = nan", "store.flush_interval: nan is out of range (expected seconds > 0)"),
        ("[store]\nflush_interval = inf", "store.flush_interval: inf is out of range (expected seconds > 0)"),
        ("[logging]\nrepeat_interval = -1", "logging.repeat_interval: -1 is out of range (expected seconds >= 0, 0 = no rate limit)"),
        ("[logging]\nlevel = 'verbose'", "logging.level: 'verbose' is not one of debug, info, warning, error"),
        ("[logging]\nlevel = 'INFO'", "logging.level: 'INFO' is not one of debug, info, warning, error (did you mean info?)"),
        ("[logging]\nlevel = 'warn'", "logging.level: 'warn' is not one of debug, info, warning, error (did you mean warning?)"),
        ("[gateway]\nid = 'smgw lab'", "gateway.id: 'smgw lab' is not allowed (expected 1 to 64 printable ASCII characters without spaces)"),
        ("[gateway]\nid = 'zähler'", "gateway.id: 'zähler' is not allowed (expected 1 to 64 printable ASCII characters without spaces)"),
        ("[gateway]\nid = ''", "gateway.id: '' is not allowed (expected 1 to 64 printable ASCII characters without spaces)"),
        ("[time]\nservers = ['a:0']", "time.servers[0]: port 0 is out of range 1..65535 (expected \"host\", \"host:port\" or \"[IPv6]:port\")"),
        ("[time]\nservers = ['a', 'a:123']", "time.servers[1]: 'a' is listed twice (expected each server once)"),
        ("[time]\ntimeout = 64", "time.timeout: 64.0 is not shorter than poll_interval 64.0 (expected timeout < poll_interval)"),
        ("[time]\nunsynchronised_after = 30",
         "time.unsynchronised_after: 30.0 is shorter than poll_interval 64.0 (expected unsynchronised_after >= poll_interval)"),
        (meter_toml('crc = "crc32"'), "meters[0].crc: 'crc32' is not one of auto, x25, kermit, off"),
        (meter_toml() + meter_toml('crc = "crc32"', 'id = "n"\nlink = "tcp://h:2"\n'),
         "meters[1].crc: 'crc32' is not one of auto, x25, kermit, off"),
        (meter_toml('crc = "x-25"'), "meters[0].crc: 'x-25' is not one of auto, x25, kermit, off (did you mean x25?)"),
        (meter_toml('protocol = "dlms"'), "meters[0].link: a DLMS push meter is read from a serial line, not tcp:// "
                                        "(expected serial:///dev/ttyUSB0?baud=2400&parity=E, as the meter sends)"),
        (meter_toml('protocol = "x"'), "meters[0].protocol: 'x' is not one of sml, wmbus, dlms, s0"),
        (meter_toml('mode = "poll"'), "meters[0].mode: 'poll' is not one of pull, push (did you mean pull?)"),
        (meter_toml('profile = "holley"'), "meters[0].profile: 'holley' is not one of generic, strict, holley-dtz541, "
                                           "dzg-dvs74, elster-as2020, emh-ed300l (did you mean holley-dtz541?)"),
        (meter_toml("interval = 0"), "meters[0].interval: 0 is out of range (expected seconds > 0)"),
        (meter_toml("silence_intervals = 0"), "meters[0].silence_intervals: 0 is out of range (expected an integer 1..1000)"),
        (meter_toml('server_id = "0a01x"'), "meters[0].server_id: '0a01x' is not an even number of hex digits "
                                            "(expected 2 to 64 hex digits, e.g. '0a0153494d0000989681')"),
        (meter_toml('server_id = "0a015"'), "meters[0].server_id: '0a015' is not an even number of hex digits "
                                            "(expected 2 to 64 hex digits, e.g. '0a0153494d0000989681')"),
        (meter_toml('server_id = ""'), "meters[0].server_id: '' is not an even number of hex digits "
                                       "(expected 2 to 64 hex digits, e.g. '0a0153494d0000989681')"),
        (meter_toml('username = ""'), "meters[0].username: '' is not allowed (expected 1 to 255 characters, no control characters)"),
        ('[[meters]]\nid = "house hold"\nlink = "tcp://h:1"',
         "meters[0].id: 'house hold' is not allowed (expected 1 to 64 of A-Z a-z 0-9 _ . -)"),
        ('[[meters]]\nid = "m"\nlink = "tcp://h"',
         "meters[0].link: 'h' has no port (expected a URL like tcp://192.168.1.50:33333)"),
        ('[[meters]]\nid = "m"\nlink = "rs485:///dev/ttyS0"',
         "meters[0].link: an rs485 link names the meter's HDLC address (address=0x10..0x7D) "
         "(expected a URL like rs485:///dev/ttyAMA0?baud=9600&address=0x12)"),
        ('[[meters]]\nid = "a"\nlink = "rs485:///dev/ttyS0?address=0x12"\n[[meters]]\nid = "b"\n'
         'link = "rs485:///dev/ttyS0?address=18"',
         "meters[1].link: address 0x12 is also the address of meters[0] on /dev/ttyS0 (expected one address per meter)"),
        ('[[meters]]\nid = "a"\nlink = "rs485:///dev/ttyS0?address=0x12"\n[[meters]]\nid = "b"\n'
         'link = "rs485:///dev/ttyS0?address=0x13&baud=2400"',
         "meters[1].link: /dev/ttyS0 is the bus of meters[0] with other line settings (expected the same baud, "
         "parity, direction and turnaround: rs485:///dev/ttyS0?baud=9600&parity=N&address=0x12&logical=1&client=16"
         "&direction=auto&turnaround=2)"),
        ('[[meters]]\nid = "m"\nlink = "rs485:///dev/ttyS0?address=0x12"\nmode = "push"',
         "meters[0].mode: the bus master polls the meters on it (expected mode = \"pull\", or no mode)"),
        # required keys and cross checks
        ('[[meters]]\nlink = "tcp://h:1"', "meters[0].id: missing (expected a meter id such as \"household\")"),
        ('[[meters]]\nid = "m"', "meters[0].link: missing (expected a link URL like tcp://192.168.1.50:33333)"),
        (meter_toml() + meter_toml(base='id = "m"\nlink = "tcp://h:2"\n'),
         "meters[1].id: 'm' is already the id of meters[0] (expected unique meter ids)"),
        (meter_toml(base='id = "m"\nlink = "/dev/ttyUSB0"\nmode = "pull"\n'),
         "meters[0].mode: pull needs a link that takes requests; serial:// only streams (expected mode = \"push\", or a tcp:// link)"),
        (meter_toml('mode = "push"\npassword_file = "/etc/smgwd/keys/m"'),
         "meters[0].password_file: only a pull meter logs in (expected no password_file with mode = \"push\")"),
        (meter_toml(base='id = "m"\nlink = "/dev/ttyUSB0"\nusername = "gw"\n'),
         "meters[0].username: only a pull meter logs in (expected no username with mode = \"push\")"),
        (meter_toml('password = "secret"'),
         "meters[0].password: secrets are not taken from the main config (expected password_file = path of a file only "
         "smgwd's user can read, mode 0600 or 0400)"),
        (meter_toml() + meter_toml(base='id = "n"\nlink = "tcp://127.0.0.1:33333"\nserver_id = "01"\n'),
         "meters[0].server_id: missing, but meters[1] is on the same link tcp://127.0.0.1:33333 "
         "(expected a server_id for each meter on a shared link)"),
        (meter_toml('server_id = "01"') + meter_toml(base='id = "n"\nlink = "tcp://127.0.0.1:33333"\nserver_id = "01"\n'),
         "meters[1].server_id: '01' is also the server_id of meters[0] on the same link tcp://127.0.0.1:33333 "
         "(expected different server_ids on a shared link)"),
        (meter_toml(base='id = "a"\nlink = "/dev/ttyUSB0"\n') + meter_toml(base='id = "b"\nlink = "serial:///dev/ttyUSB0?baud=300"\n'),
         "meters[1].link: serial:///dev/ttyUSB0 is also the link of meters[0] "
         "(expected one meter per serial port for now)"),
    ],
)
def test_error_messages(text: str, message: str) -> None:
    assert error_of(text) == f"smgwd.toml: {message}"


def test_error_carries_its_parts() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(meter_toml('crc = "crc32"'), "lab.toml")
    error = caught.value
    assert (error.source, error.key, error.problem) == ("lab.toml", "meters[0].crc", "'crc32' is not one of auto, x25, kermit, off")
    assert isinstance(error, ValueError)


def test_unknown_keys_are_reported_before_bad_values() -> None:
    assert error_of("[store]\nbatch_size = 0\nbatchsize = 5") == "smgwd.toml: store.batchsize: unknown key (did you mean batch_size?)"


def test_sharing_a_link_is_fine_with_distinct_server_ids_or_a_disabled_meter() -> None:
    shared = meter_toml('server_id = "01"') + meter_toml(base='id = "n"\nlink = "tcp://127.0.0.1:33333"\nserver_id = "02"\n')
    assert len(parse_config(shared).meters) == 2
    spare = meter_toml() + meter_toml(base='id = "n"\nlink = "tcp://127.0.0.1:33333"\nenabled = false\n')
    assert len(parse_config(spare).meters) == 2


def test_messages_stay_on_one_line() -> None:
    message = error_of('[store]\n"a\\nb" = 1')
    assert message.startswith("smgwd.toml: store.'a\\nb': unknown key")
    assert str(ConfigError("two\nlines.toml", "k", "x\ny")) == "two\\nlines.toml: k: x\\ny"


@dataclass(frozen=True, slots=True)
class RequestOnlyLink(LinkSpec):
    """A link kind that cannot carry a push stream (as a later bus master link might be)."""

    name: str
    kind: ClassVar[str] = "ask"
    example: ClassVar[str] = "ask://x"
    can_request: ClassVar[bool] = True

    @classmethod
    def from_url(cls, url: str) -> Self:
        return cls(url.split("://", 1)[1])

    @property
    def target(self) -> str:
        return self.name

    def __str__(self) -> str:
        return f"{self.kind}://{self.name}"


@dataclass(frozen=True, slots=True)
class MuteLink(RequestOnlyLink):
    kind: ClassVar[str] = "mute"
    can_request: ClassVar[bool] = False


def test_push_needs_a_link_that_streams(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(LINK_KINDS, "ask", f"{__name__}:RequestOnlyLink")
    monkeypatch.setitem(LINK_KINDS, "mute", f"{__name__}:MuteLink")
    base = 'id = "m"\nlink = "ask://x"\n'
    assert parse_config(meter_toml(base=base)).meters[0].mode is MeterMode.PULL
    assert error_of(meter_toml('mode = "push"', base)) == (
        "smgwd.toml: meters[0].mode: push needs a link that streams; ask:// does not (expected mode = \"pull\")"
    )
    assert error_of(meter_toml(base='id = "m"\nlink = "mute://x"\n')) == (
        "smgwd.toml: meters[0].link: mute://x can carry neither pull nor push (expected a tcp:// or serial:// link)"
    )


# --- TOML syntax and files --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[store]\nbatch_size = \n", "line 2, column 14: invalid value (expected valid TOML)"),
        ("[store]\npath = 'x'\n[store]\n", "line 3, column 7: cannot declare ('store',) twice (expected valid TOML)"),
        ("[store]\nbatch_size = 1\nbatch_size = 2\n", "line 3, column 15: cannot overwrite a value (expected valid TOML)"),
        ("[gateway]\nid = \"smgw", "line 2 (end of document): unterminated string (expected valid TOML)"),
        ("[gateway]\nid = smgw-lab-1\n", "line 2, column 6: invalid value (expected valid TOML)"),
    ],
)
def test_toml_syntax_errors_give_the_line(text: str, message: str) -> None:
    assert error_of(text) == f"smgwd.toml: {message}"


def test_load_config_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "smgwd.toml"
    path.write_text("[store]\nbatch_size = 0\n")
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(path))}: store.batch_size: 0 is out of range"):
        load_config(path)
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(path))}: store.batch_size"):
        load_config(str(path))


def test_unreadable_files(tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"
    with pytest.raises(ConfigError) as caught:
        load_config(missing)
    assert str(caught.value) == f"{missing}: cannot read the file: No such file or directory"
    with pytest.raises(ConfigError, match="is a directory, not a regular file"):
        load_config(tmp_path)
    latin1 = tmp_path / "latin1.toml"
    latin1.write_bytes(b"[gateway]\n# Z\xe4hler\nid = 'x'\n")
    with pytest.raises(ConfigError) as caught:
        load_config(latin1)
    assert str(caught.value) == f"{latin1}: line 2: not UTF-8 text (expected a UTF-8 TOML file)"


def test_a_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf[gateway]\nid = 'x'\n")
    assert load_config(path).gateway.id == "x"


# --- secrets ---------------------------------------------------------------------------------


def secret_file(tmp_path: Path, content: bytes, mode: int) -> Path:
    path = tmp_path / "m.password"
    path.write_bytes(content)
    path.chmod(mode)
    return path


def with_password_file(path: Path | str) -> str:
    return meter_toml(f"username = \"gw\"\npassword_file = {q(str(path))}")


@pytest.mark.parametrize(
    ("content", "password"),
    [(b"s3cret\n", "s3cret"), (b"s3cret", "s3cret"), (b"s3cret\r\n", "s3cret"), (b" pass word \n", " pass word "),
     ("pässwörd\n".encode(), "pässwörd")],
)
@pytest.mark.parametrize("mode", [0o600, 0o400, 0o700])
def test_password_file_is_read_at_load(tmp_path: Path, content: bytes, password: str, mode: int) -> None:
    path = secret_file(tmp_path, content, mode)
    meter = parse_config(with_password_file(path)).meters[0]
    assert meter.password == password and meter.password_file == path
    assert password not in repr(meter) and "password=" not in repr(meter)


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660, 0o606, 0o610, 0o601, 0o666])
def test_password_file_open_to_group_or_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = secret_file(tmp_path, b"s3cret\n", mode)
    assert error_of(with_password_file(path)) == (
        f"smgwd.toml: meters[0].password_file: {path} has mode {mode:04o}, so group or others can access it "
        f"(expected a file only smgwd's user can read, mode 0600 or 0400: chmod 600 {path})"
    )


def test_password_file_that_is_not_a_regular_file_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "keys"
    folder.mkdir(mode=0o700)
    folder.chmod(0o700)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo, 0o600)
    for path in (folder, fifo):  # a FIFO must not block the load
        assert error_of(with_password_file(path)) == (
            f"smgwd.toml: meters[0].password_file: {path} is not a regular file "
            "(expected a file only smgwd's user can read, mode 0600 or 0400)"
        )


def test_password_file_through_a_symlink_is_judged_by_its_target(tmp_path: Path) -> None:
    target = secret_file(tmp_path, b"s3cret\n", 0o600)
    link = tmp_path / "link"
    link.symlink_to(target)
    assert parse_config(with_password_file(link)).meters[0].password == "s3cret"
    target.chmod(0o644)
    assert "has mode 0644" in error_of(with_password_file(link))


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "is empty (expected a password)"),
        (b"\n", "is empty (expected a password)"),
        (b"one\ntwo\n", "has more than one line (expected one line with the password)"),
        (b"\xff\xfe\n", "is not UTF-8 text (expected a password)"),
        (b"x" * 4097, "is larger than 4096 bytes (expected a password)"),
    ],
)
def test_password_file_content_is_checked(tmp_path: Path, content: bytes, problem: str) -> None:
    path = secret_file(tmp_path, content, 0o600)
    assert error_of(with_password_file(path)) == f"smgwd.toml: meters[0].password_file: {path} {problem}"


def test_missing_password_file(tmp_path: Path) -> None:
    path = tmp_path / "nope"
    assert error_of(with_password_file(path)) == (
        f"smgwd.toml: meters[0].password_file: cannot open {path}: No such file or directory "
        "(expected a file only smgwd's user can read, mode 0600 or 0400)"
    )


def test_relative_password_file(tmp_path: Path) -> None:
    secret_file(tmp_path, b"s3cret\n", 0o600)
    config_path = tmp_path / "smgwd.toml"
    config_path.write_text(meter_toml('password_file = "m.password"'))
    assert load_config(config_path).meters[0].password == "s3cret"


def test_a_changed_password_changes_the_meter(tmp_path: Path) -> None:
    path = secret_file(tmp_path, b"one\n", 0o600)
    first = parse_config(with_password_file(path))
    path.write_bytes(b"two\n")
    assert parse_config(with_password_file(path)) != first  # reload restarts the meter


# --- hypothesis: every key path, every wrong type ---------------------------------------------

FIELD_KINDS: dict[str, dict[str, str]] = {
    "gateway": {"id": "string", "secret": "string", "sig_cert": "string", "sig_key": "string"},
    "store": {"path": "string", "retention_days": "integer", "batch_size": "integer", "flush_interval": "number",
              "log_checkpoint_interval": "number", "log_max_entries": "integer"},
    "time": {"servers": "array", "poll_interval": "number", "timeout": "number", "drift_limit": "number",
             "unsynchronised_after": "number"},
    "control": {"socket": "string"},
    "logging": {"level": "string", "journal": "string", "repeat_interval": "number"},
    "meters": {"id": "string", "link": "string", "protocol": "string", "mode": "string", "interval": "number",
               "crc": "string", "profile": "string", "server_id": "string", "timeout": "number",
               "silence_intervals": "integer", "rediscover_interval": "number", "username": "string",
               "password_file": "string", "wmbus_id": "string", "key_file": "string", "auth_key_file": "string",
               "layout": "string", "transport": "string", "pulses_per_unit": "number",
               "pulse_unit": "string", "enabled": "boolean"},
}

VALUES: dict[str, st.SearchStrategy[Any]] = {
    "string": st.text(max_size=8),
    "integer": st.integers(-(2**63), 2**63 - 1),
    "float": st.floats(),
    "boolean": st.booleans(),
    "array": st.lists(st.integers(), max_size=2),
    "table": st.dictionaries(st.from_regex(r"[a-z]{1,4}", fullmatch=True), st.integers(), max_size=2),
    "datetime": st.datetimes(),
}
ACCEPTED = {"string": {"string"}, "integer": {"integer"}, "number": {"integer", "float"}, "boolean": {"boolean"},
            "array": {"array"}}
fields = st.sampled_from([(s, k, kind) for s, keys in FIELD_KINDS.items() for k, kind in keys.items()])
bare_keys = st.from_regex(r"[A-Za-z0-9_-]{1,20}", fullmatch=True)


def test_field_kinds_cover_every_field() -> None:
    for section, cls in (("gateway", GatewayIdentity), ("store", StoreConfig), ("time", TimeConfig),
                         ("control", ControlConfig), ("logging", LoggingConfig), ("meters", MeterConfig)):
        assert set(FIELD_KINDS[section]) == set(cls.__dataclass_fields__) - {"password", "key", "auth_key"}


def place(section: str, key: str, value: Any) -> dict[str, Any]:
    if section == "meters":
        meter = {"id": "m", "link": "tcp://127.0.0.1:33333"}
        meter[key] = value
        return {"meters": [meter]}
    return {section: {key: value}}


@given(fields, st.data())
def test_a_wrongly_typed_value_names_its_key_path(field: tuple[str, str, str], data: st.DataObject) -> None:
    section, key, kind = field
    wrong = data.draw(st.sampled_from(sorted(set(VALUES) - ACCEPTED[kind])))
    value = data.draw(VALUES[wrong])
    with pytest.raises(ConfigError) as caught:
        parse_config(toml_document(place(section, key, value)), "t.toml")
    path = f"meters[0].{key}" if section == "meters" else f"{section}.{key}"
    assert caught.value.key == path
    assert caught.value.problem.startswith("got ")
    assert str(caught.value) == f"t.toml: {path}: {caught.value.problem}"


@given(st.sampled_from(list(FIELD_KINDS)), bare_keys)
def test_an_unknown_key_names_its_key_path(section: str, key: str) -> None:
    if key in FIELD_KINDS[section] or (section == "meters" and key in ("password", "key")):
        return
    with pytest.raises(ConfigError) as caught:
        parse_config(toml_document(place(section, key, 1)), "t.toml")
    path = f"meters[0].{key}" if section == "meters" else f"{section}.{key}"
    assert caught.value.key == path
    assert re.fullmatch(r"unknown key \((did you mean \S+\?|\S+ belongs in .+|expected one of .+)\)", caught.value.problem)


@given(bare_keys)
def test_an_unknown_top_level_table_names_itself(key: str) -> None:
    if key in FIELD_KINDS:
        return
    with pytest.raises(ConfigError) as caught:
        parse_config(toml_document({key: {"a": 1}}), "t.toml")
    assert caught.value.key == key and caught.value.problem.startswith("unknown table (")


@given(st.sampled_from([(s, k) for s, keys in FIELD_KINDS.items() for k, kind in keys.items() if kind == "number"]),
       st.one_of(st.floats(max_value=0), st.integers(max_value=0), st.just(math.inf)))
def test_seconds_out_of_range_name_their_key_path(field: tuple[str, str], value: float) -> None:
    section, key = field
    if key == "repeat_interval" and value == 0:
        return  # 0 = no rate limit
    with pytest.raises(ConfigError) as caught:
        parse_config(toml_document(place(section, key, value)))
    assert caught.value.key == (f"meters[0].{key}" if section == "meters" else f"{section}.{key}")
    assert "is out of range (expected seconds" in caught.value.problem


documents = st.dictionaries(
    st.one_of(st.sampled_from(list(FIELD_KINDS)), bare_keys),
    st.one_of(
        st.dictionaries(st.one_of(st.sampled_from(sorted({k for keys in FIELD_KINDS.values() for k in keys})), bare_keys),
                        st.one_of(*VALUES.values()), max_size=4),
        st.lists(st.dictionaries(st.sampled_from(sorted(FIELD_KINDS["meters"])), st.one_of(*VALUES.values()), max_size=5),
                 max_size=2),
        *VALUES.values(),
    ),
    max_size=4,
)


@given(documents)
def test_any_document_loads_or_raises_config_error(document: dict[str, Any]) -> None:
    try:
        config = parse_config(toml_document(document), "t.toml")
    except ConfigError as error:
        assert str(error).startswith("t.toml: ") and "\n" not in str(error)
        return
    assert isinstance(config, GatewayConfig)


# --- smgwctl config check ---------------------------------------------------------------------------


def smgwctl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "smgwd.cli.main", *args], capture_output=True, text=True, timeout=60)


def test_config_check_summarises_a_valid_file() -> None:
    done = smgwctl("--config", str(EXAMPLE), "config", "check")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    text = " ".join(done.stdout.split())
    for part in ("Gateway smgw-lab-1", "2 meters (2 enabled)", "household pulled from tcp://127.0.0.1:33333 every 15 s",
                 "heatpump pushing on serial:///dev/ttyUSB0?baud=9600&parity=N&bytesize=8&stopbits=1",
                 "Store /var/lib/smgwd/smgwd.db", "readings kept 400 days", "NTP 127.0.0.1 every"):
        assert part in text
    assert "\n\n" not in done.stdout.strip()  # one paragraph


def test_config_check_without_meters_or_ntp(tmp_path: Path) -> None:
    path = tmp_path / "smgwd.toml"
    path.write_text("[time]\nservers = []\n[store]\nretention_days = 0\n")
    done = smgwctl("--config", str(path), "config", "check")
    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split())
    assert "no meters." in text and "no NTP servers" in text and "kept forever" in text


def test_config_check_refuses_a_bad_file_with_ex_config(tmp_path: Path) -> None:
    path = tmp_path / "smgwd.toml"
    path.write_text(meter_toml() + meter_toml('crc = "crc32"', 'id = "n"\nlink = "tcp://h:2"\n'))
    done = smgwctl("--config", str(path), "config", "check")
    assert done.returncode == 78
    assert done.stdout == ""
    assert done.stderr == f"smgwctl: {path}: meters[1].crc: 'crc32' is not one of auto, x25, kermit, off\n"


def test_config_check_missing_file(tmp_path: Path) -> None:
    done = smgwctl("--config", str(tmp_path / "none.toml"), "config", "check")
    assert done.returncode == 78
    assert done.stderr.count("\n") == 1 and "none.toml: cannot read the file" in done.stderr


@pytest.mark.skipif(os.path.exists("/etc/smgwd/smgwd.toml"), reason="this machine has a real configuration")
def test_config_check_reads_etc_by_default() -> None:
    done = smgwctl("config", "check")
    assert done.returncode == 78
    assert done.stderr == "smgwctl: /etc/smgwd/smgwd.toml: cannot read the file: No such file or directory\n"


def test_config_check_takes_config_after_the_command_too(tmp_path: Path) -> None:
    path = tmp_path / "smgwd.toml"
    path.write_text("[store]\nbatch_size = 0\n")
    done = smgwctl("--config", str(EXAMPLE), "config", "check", "--config", str(path))
    assert done.returncode == 78
    assert done.stderr == f"smgwctl: {path}: store.batch_size: 0 is out of range (expected an integer 1..100000)\n"


def test_config_without_action_is_a_usage_error() -> None:
    done = smgwctl("config")
    assert done.returncode == 1
    assert "usage:" in done.stderr
