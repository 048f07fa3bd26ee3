"""[[meters]] with protocol = "dlms": serial links, keys from 0600 files, layouts, transports."""

from __future__ import annotations

from pathlib import Path

import pytest

from smgwd.gateway.config import DLMS_INTERVAL, ConfigError, MeterMode, parse_config
from smgwd.links.serial import SerialLink

EK = "000102030405060708090a0b0c0d0e0f"
AK = "d0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
LINK = "serial:///dev/ttyUSB0?baud=2400&parity=E"


def key_file(tmp_path: Path, name: str, content: str, mode: int = 0o600) -> Path:
    path = tmp_path / name
    path.write_text(content + "\n")
    path.chmod(mode)
    return path


def meter(extra: str = "", link: str = LINK) -> str:
    return f'[[meters]]\nid = "han"\nlink = "{link}"\nprotocol = "dlms"\n{extra}\n'


def error_of(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "smgwd.toml")
    return str(caught.value)


def test_encrypted_meter_with_both_keys(tmp_path: Path) -> None:
    ek, ak = key_file(tmp_path, "han.ek", EK), key_file(tmp_path, "han.ak", AK)
    config = parse_config(meter(f'key_file = "{ek}"\nauth_key_file = "{ak}"\nlayout = "kaifa"\ntransport = "mbus"'))
    (han,) = config.meters
    assert han.protocol == "dlms" and han.mode is MeterMode.PUSH and han.interval == DLMS_INTERVAL
    assert isinstance(han.link, SerialLink) and han.link.baud == 2400 and han.link.parity == "E"
    assert han.key == bytes.fromhex(EK) and han.auth_key == bytes.fromhex(AK)
    assert han.layout == "kaifa" and han.transport == "mbus"
    assert EK not in repr(han) and AK not in repr(han)


def test_plain_meter_needs_no_key() -> None:
    (han,) = parse_config(meter()).meters
    assert han.key is None and han.auth_key is None and han.layout is None and han.transport == "hdlc"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (meter(link="tcp://127.0.0.1:4059"), "meters[0].link: a DLMS push meter is read from a serial line, not tcp://"),
        (meter(link="im871a:///dev/ttyUSB0"), "meters[0].protocol: im871a:// is a wM-Bus receiver"),
        (meter('layout = "kaifa-norway"'), "meters[0].layout: no list layout 'kaifa-norway' (known: "),
        (meter('mode = "pull"'), "meters[0].mode: a DLMS meter on its customer port pushes"),
        (meter('server_id = "0a01"'), "meters[0].server_id: a DLMS meter has no server_id"),
        (meter('transport = "tcp"'), "meters[0].transport: 'tcp' is not one of hdlc, mbus"),
        ('[[meters]]\nid = "m"\nlink = "tcp://h:1"\nlayout = "kaifa"\n', "meters[0].layout: only a DLMS meter has a layout"),
    ],
)
def test_mistakes_are_named(text: str, problem: str) -> None:
    assert problem in error_of(text)


def test_auth_key_alone_and_open_key_files_are_refused(tmp_path: Path) -> None:
    ak = key_file(tmp_path, "han.ak", AK)
    assert "an authentication key without the encryption key" in error_of(meter(f'auth_key_file = "{ak}"'))
    loose = key_file(tmp_path, "loose.ek", EK, 0o644)
    message = error_of(meter(f'key_file = "{loose}"'))
    assert "has mode 0644" in message and EK not in message
