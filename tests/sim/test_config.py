"""The simulator's XML configuration: the examples load; every error names file, line and element."""

from __future__ import annotations

from importlib import resources

import pytest

from smgwd.codec.crc import CrcKind
from smgwd.cosem.obis import Obis
from smgwd.sim.config import SimConfigError, load_config, parse_config

EXAMPLES = ("household", "prosumer", "commercial")


def example(name: str) -> bytes:
    return resources.files("smgwd.sim").joinpath(f"examples/{name}.xml").read_bytes()


@pytest.mark.parametrize("name", EXAMPLES)
def test_examples_load(name: str) -> None:
    config = parse_config(example(name), name)
    assert config.meters


def test_household_example_values() -> None:
    config = parse_config(example("household"))
    (meter,) = config.meters
    assert (meter.profile, meter.annual_kwh, meter.dynamic, meter.serial) == ("h0", 3500.0, True, 10000001)
    assert meter.server_id == bytes.fromhex("0a0153494d0000989681")
    assert meter.initial_import_wh == 12_345_600.0
    (period,) = meter.tariff
    assert (period.start_minute, period.end_minute, period.register) == (360, 1320, 1)
    assert config.tcp[0].port == 33333 and config.tcp[0].username is None
    assert config.serial[0].device == "pty" and config.serial[0].interval_seconds == 1.0
    assert config.time.mode == "accelerated" and config.time.quarter_hour_seconds == 4.0


def test_commercial_example_auth_objects_two_meters() -> None:
    config = parse_config(example("commercial"))
    assert [m.id for m in config.meters] == ["office", "bakery"]
    assert (config.tcp[0].username, config.tcp[0].password) == ("gateway", "lab-secret")
    assert config.meter("office").objects[0] == Obis(1, 0, 1, 8, 0)
    assert config.meter("office").crc is CrcKind.X25


MINIMAL = b"""<simulator>
  <listeners>%s</listeners>
  <meters>
    <meter id="m1" serial="1">
      <consumption annual-kwh="1000"/>%s
    </meter>
  </meters>
</simulator>"""


@pytest.mark.parametrize(
    ("listeners", "meter_extra", "line", "message"),
    [
        (b'<tcp id="a"><meter ref="nope"/></tcp>', b"", 2, "no meter with id 'nope'"),
        (b'<serial id="s" device="pty" meter="zz"/>', b"", 2, "no meter with id 'zz'"),
        (b"", b'<objects><object obis="1-0:99.99.0*255"/></objects>', 5, "has no object 1-0:99.99.0*255"),
        (b"", b'<objects><object obis="hello"/></objects>', 5, "not an OBIS code"),
        (b"", b'<tariff><period from="06:10" to="22:00" register="1"/></tariff>', 5, "quarter hours"),
        (b"", b'<tariff><period from="22:00" to="06:00" register="1"/></tariff>', 5, "must be after"),
        (b"", b'<imitate crc="crc32"/>', 5, "not valid"),
        (b'<tcp id="a" port="70000"><meter ref="m1"/></tcp>', b"", 2, "not valid"),
    ],
)
def test_errors_name_line_and_element(listeners: bytes, meter_extra: bytes, line: int, message: str) -> None:
    with pytest.raises(SimConfigError) as caught:
        parse_config(MINIMAL % (listeners, meter_extra), "lab.xml")
    text = str(caught.value)
    assert text.startswith(f"lab.xml:{line}") and message in text


def test_duplicate_ids_and_ports() -> None:
    doc = b"""<simulator><listeners>
      <tcp id="a" port="4000"><meter ref="m1"/></tcp>
      <tcp id="b" port="4000"><meter ref="m1"/></tcp>
    </listeners><meters><meter id="m1" serial="1"><consumption annual-kwh="1"/></meter></meters></simulator>"""
    with pytest.raises(SimConfigError, match="port 4000"):
        parse_config(doc)
    doc = b"""<simulator><meters>
      <meter id="m1" serial="1"><consumption annual-kwh="1"/></meter>
      <meter id="m1" serial="2"><consumption annual-kwh="1"/></meter>
    </meters></simulator>"""
    with pytest.raises(SimConfigError, match="used twice"):
        parse_config(doc)


def test_start_needs_a_time_zone() -> None:
    doc = b"""<simulator><time start="2025-01-01T00:00:00"/><meters>
      <meter id="m1" serial="1"><consumption annual-kwh="1"/></meter></meters></simulator>"""
    with pytest.raises(SimConfigError, match="time zone"):
        parse_config(doc)


def test_entities_refused(tmp_path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("x")
    doc = f"""<?xml version="1.0"?><!DOCTYPE s [<!ENTITY x SYSTEM "file://{secret}">]>
<simulator><meters><meter id="&x;" serial="1"><consumption annual-kwh="1"/></meter></meters></simulator>"""
    with pytest.raises(SimConfigError, match="DOCTYPE|external entity"):
        parse_config(doc.encode())


def test_missing_file() -> None:
    with pytest.raises(SimConfigError, match="cannot read"):
        load_config("/nonexistent/sim.xml")
