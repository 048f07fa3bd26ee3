"""[[meters]] with protocol = "wmbus": dongle links, meter ids, key files."""

from __future__ import annotations

from pathlib import Path

import pytest

from smgwd.gateway.config import WMBUS_INTERVAL, ConfigError, MeterMode, parse_config
from smgwd.links.dongle import Im871aLink

KEY = "000102030405060708090a0b0c0d0e0f"
DONGLE = "im871a:///dev/ttyUSB0?mode=c1,t1"


def key_file(tmp_path: Path, content: str = KEY + "\n", mode: int = 0o600, name: str = "m.key") -> Path:
    path = tmp_path / name
    path.write_text(content)
    path.chmod(mode)
    return path


def meter(meter_id: str = "water", wmbus_id: str = "12345678", link: str = DONGLE, extra: str = "") -> str:
    return f'[[meters]]\nid = "{meter_id}"\nlink = "{link}"\nprotocol = "wmbus"\nwmbus_id = "{wmbus_id}"\n{extra}\n'


def error_of(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "smgwd.toml")
    return str(caught.value)


def test_two_meters_on_one_dongle(tmp_path: Path) -> None:
    path = key_file(tmp_path)
    config = parse_config(meter(extra=f'key_file = "{path}"') + meter("heat", "ABCDEF01", extra="interval = 16.0"))
    water, heat = config.meters
    assert isinstance(water.link, Im871aLink) and water.link.baud == 57600 and water.link.mode == "c1,t1"
    assert water.protocol == "wmbus" and water.mode is MeterMode.PUSH
    assert water.key == bytes.fromhex(KEY) and water.interval == WMBUS_INTERVAL
    assert heat.wmbus_id == "abcdef01" and heat.key is None and heat.interval == 16.0
    assert KEY not in repr(water)


@pytest.mark.parametrize(
    ("content", "mode", "problem"),
    [
        (KEY, 0o644, "has mode 0644, so group or others can access it"),
        ("00 01 02", 0o600, "does not hold an AES-128 key (expected 32 hex digits on one line; it holds 6 characters)"),
        ("zz" * 16, 0o600, "does not hold an AES-128 key"),
        ("", 0o600, "is empty (expected an AES-128 key)"),
        (KEY + "\n" + KEY, 0o600, "has more than one line (expected one line with the AES-128 key)"),
    ],
)
def test_key_file_checked(tmp_path: Path, content: str, mode: int, problem: str) -> None:
    path = key_file(tmp_path, content, mode)
    message = error_of(meter(extra=f'key_file = "{path}"'))
    assert message.startswith(f"smgwd.toml: meters[0].key_file: {path} ") and problem in message
    assert "zz" * 16 not in message and KEY not in message


def test_spaced_key_is_accepted(tmp_path: Path) -> None:
    spaced = " ".join(KEY[i : i + 2] for i in range(0, 32, 2))
    config = parse_config(meter(extra=f'key_file = "{key_file(tmp_path, spaced)}"'))
    assert config.meters[0].key == bytes.fromhex(KEY)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (meter(extra=f'key = "{KEY}"'), "meters[0].key: secrets are not taken from the main config"),
        (meter(wmbus_id="1234567"), "meters[0].wmbus_id: '1234567' is not"),
        (meter(link="tcp://127.0.0.1:1"), "meters[0].link: a wM-Bus meter is heard through a dongle, not tcp://"),
        (meter(extra='server_id = "0a01"'), "meters[0].server_id: a wM-Bus meter has no server_id"),
        (meter(extra='mode = "pull"'), "meters[0].mode: a wM-Bus meter sends by itself"),
        ('[[meters]]\nid = "m"\nlink = "im871a:///dev/ttyUSB0"\nprotocol = "wmbus"\n', "meters[0].wmbus_id: missing"),
        ('[[meters]]\nid = "m"\nlink = "im871a:///dev/ttyUSB0"\n', "meters[0].protocol: im871a:// is a wM-Bus receiver"),
        ('[[meters]]\nid = "m"\nlink = "tcp://h:1"\nwmbus_id = "12345678"\n',
         "meters[0].wmbus_id: only a wM-Bus meter has a wmbus_id"),
        (meter() + meter("b"), "meters[1].wmbus_id: '12345678' is also the wmbus_id of meters[0]"),
        (meter() + meter("b", "22222222", link="im871a:///dev/ttyUSB0?mode=t1"),
         "meters[1].link: im871a:///dev/ttyUSB0?mode=t1&baud=57600 and meters[0]'s"),
    ],
)
def test_refused(text: str, problem: str) -> None:
    assert problem in error_of(text)
