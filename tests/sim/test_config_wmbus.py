"""The simulator configuration's radio part: <wmbus> listeners (iM871A, AMB8465) and
<water>/<heat> meters parse to their values; every mistake names file, line and element."""

from __future__ import annotations

import pytest

from smgwd.sim.config import SimConfig, SimConfigError, WmbusListener, parse_config
from smgwd.sim.wmbus.dongles import Faults
from smgwd.sim.wmbus.models import HeatSpec, WaterSpec
from smgwd.sim.wmbus.transmitter import RadioSettings

KEY_A = "101112131415161718191A1B1C1D1E1F"
KEY_B = "000102030405060708090a0b0c0d0e0f"

FULL = f"""<?xml version="1.0" encoding="UTF-8"?>
<simulator>
  <time mode="stepped" start="2025-01-01T00:00:00Z"/>
  <listeners>
    <tcp id="lan" port="4001"><meter ref="house"/></tcp>
    <wmbus id="stick" device="pty" dongle="im871a" seed="7" duplicate-rate="0.1" corrupt-rate="0.02"
           silent-after-seconds="30">
      <meter ref="house" security="0"/>
      <meter ref="cold" security="5" key="{KEY_A}" interval-seconds="16"/>
      <meter ref="heating" security="7" key="{KEY_B}" ell="true" radio-mode="c1" interval-seconds="0.5"/>
    </wmbus>
    <wmbus id="wurth" device="/dev/ttyUSB1" dongle="amb8465" transparent="true">
      <meter ref="cold" key="{KEY_A}"/>
    </wmbus>
    <wmbus id="fast" device="pty" dongle="amb8465" baud="115200">
      <meter ref="warm" security="0" radio-mode="s1"/>
    </wmbus>
  </listeners>
  <meters>
    <meter id="house" serial="10000001" seed="1"><consumption annual-kwh="3500"/></meter>
    <water id="cold" manufacturer="ABC" serial="20000002" seed="2" annual-m3="80" initial-m3="42.5"/>
    <water id="warm" serial="20000003" annual-m3="25" warm="true"/>
    <heat id="heating" manufacturer="XYZ" serial="30000003" seed="3" annual-kwh="9000" initial-kwh="1234.5"/>
  </meters>
</simulator>
"""


def test_full_radio_configuration() -> None:
    config = parse_config(FULL.encode(), "radio.xml")
    assert isinstance(config, SimConfig)
    assert [m.id for m in config.meters] == ["house"]
    assert [x.id for x in config.tcp] == ["lan"] and config.tcp[0].meters == ("house",)
    assert [x.id for x in config.wmbus] == ["stick", "wurth", "fast"]
    stick, wurth, fast = config.wmbus
    assert all(isinstance(x, WmbusListener) for x in config.wmbus)

    assert (stick.device, stick.dongle, stick.baud, stick.seed, stick.transparent) == ("pty", "im871a", 57600, 7, False)
    assert stick.faults == Faults(0.1, 0.02, 30.0)
    assert stick.meters == (
        RadioSettings("house", 0, None, 8.0, False, "t1"),
        RadioSettings("cold", 5, bytes.fromhex(KEY_A), 16.0, False, "t1"),
        RadioSettings("heating", 7, bytes.fromhex(KEY_B), 0.5, True, "c1"),
    )
    assert (wurth.device, wurth.dongle, wurth.baud, wurth.seed, wurth.transparent) == (
        "/dev/ttyUSB1", "amb8465", 9600, 0, True,
    )  # fmt: skip
    assert wurth.faults == Faults(0.0, 0.0, None)
    (cold_radio,) = wurth.meters
    assert (cold_radio.ref, cold_radio.security, cold_radio.key, cold_radio.interval_seconds) == (
        "cold", 5, bytes.fromhex(KEY_A), 8.0,
    )  # fmt: skip
    assert (cold_radio.ell, cold_radio.radio_mode) == (False, "t1")
    assert (fast.dongle, fast.baud, fast.transparent) == ("amb8465", 115200, False)
    assert fast.meters == (RadioSettings("warm", 0, None, 8.0, False, "s1"),)

    cold, warm, heating = config.radio_meters
    assert cold == WaterSpec("cold", 20000002, "ABC", 80.0, 42.5, False, 2)
    assert warm == WaterSpec("warm", 20000003, "SIM", 25.0, 0.0, True, 0)
    assert heating == HeatSpec("heating", 30000003, "XYZ", 9000.0, 1234.5, 3)
    assert isinstance(cold, WaterSpec) and isinstance(heating, HeatSpec)


def test_shipped_wmbus_example_loads() -> None:
    from importlib import resources

    data = resources.files("smgwd.sim").joinpath("examples/wmbus.xml").read_bytes()
    config = parse_config(data, "wmbus.xml")
    assert config.wmbus and config.radio_meters


# --- errors -------------------------------------------------------------------------------------

DOC = """<simulator>
  <listeners>
{listeners}
  </listeners>
  <meters>
    <meter id="e1" serial="1"><consumption annual-kwh="1000"/></meter>
    <water id="w1" serial="2" annual-m3="50"/>
    <heat id="h1" serial="3" annual-kwh="8000"/>
{meters}
  </meters>
</simulator>
"""

OK_RADIO = """    <wmbus id="r0" device="pty" dongle="im871a">
      <meter ref="w1" security="0"/>
      <meter ref="h1" security="0"/>
    </wmbus>"""


def line_of(doc: str, marker: str) -> int:
    """The 1-based line of the only occurrence of ``marker`` in ``doc``."""
    assert doc.count(marker) == 1, marker
    return doc[: doc.index(marker)].count("\n") + 1


def fails(doc: str) -> str:
    with pytest.raises(SimConfigError) as caught:
        parse_config(doc.encode(), "lab.xml")
    return str(caught.value)


def test_baseline_document_is_valid() -> None:
    config = parse_config(DOC.format(listeners=OK_RADIO, meters="").encode(), "lab.xml")
    assert [r.ref for r in config.wmbus[0].meters] == ["w1", "h1"]


@pytest.mark.parametrize(
    ("listeners", "meters", "marker", "message"),
    [
        pytest.param(
            OK_RADIO + '\n    <wmbus id="r1" device="pty" dongle="im871a"><meter ref="nope" security="0"/></wmbus>',
            "", 'ref="nope"', "<meter>: no meter with id 'nope'", id="unknown-ref",
        ),
        pytest.param(
            OK_RADIO + '\n    <wmbus id="r1" device="pty" dongle="im871a"><meter ref="e1"/></wmbus>',
            "", 'ref="e1"', "<meter>: security mode 5 needs a key", id="security5-without-key",
        ),
        pytest.param(
            OK_RADIO + '\n    <wmbus id="r1" device="pty" dongle="im871a"><meter ref="e1" security="7"/></wmbus>',
            "", 'ref="e1"', "<meter>: security mode 7 needs a key", id="security7-without-key",
        ),
        pytest.param(
            OK_RADIO + '\n    <wmbus id="r1" device="pty" dongle="im871a"><meter ref="e1" security="0" ell="true"/></wmbus>',
            "", 'ref="e1"', "<meter>: security mode 0 with ELL needs a key", id="ell-without-key",
        ),
        pytest.param(
            OK_RADIO + '\n    <wmbus id="r1" device="pty" dongle="im871a">'
            '<meter ref="e1" key="0123456789abcdef0123456789abcde"/></wmbus>',
            "", 'ref="e1"', "not valid: Element 'meter', attribute 'key'", id="key-31-digits",
        ),
        pytest.param(
            OK_RADIO + '\n    <wmbus id="r1" device="pty" dongle="im871a">'
            '<meter ref="e1" key="0123456789abcdef0123456789abcdeg"/></wmbus>',
            "", 'ref="e1"', "not valid: Element 'meter', attribute 'key'", id="key-not-hex",
        ),
        pytest.param(
            """    <wmbus id="r0" device="pty" dongle="im871a">
      <meter ref="w1" security="0"/>
      <meter ref="h1" security="0"/>
      <meter ref="w1" security="0" interval-seconds="4"/>
    </wmbus>""",
            "", '<meter ref="w1" security="0"/>', "<meter>: meter 'w1' is on this listener twice", id="twice-on-listener",
        ),
        pytest.param(
            OK_RADIO + '\n    <wmbus id="r1" device="pty" dongle="amb8465"><meter ref="w2" security="0"/></wmbus>',
            '    <water id="w2" serial="2" annual-m3="10"/>',
            'ref="w2"', "<meter>: meters 'w1' and 'w2' have the same manufacturer and serial on the radio",
            id="same-manufacturer-serial",
        ),
        pytest.param(
            OK_RADIO + '\n    <wmbus id="r1" device="pty" dongle="amb8465"><meter ref="e2" security="0"/></wmbus>',
            '    <meter id="e2" serial="3"><consumption annual-kwh="1"/></meter>',
            'ref="e2"', "<meter>: meters 'h1' and 'e2' have the same manufacturer and serial on the radio",
            id="electricity-and-heat-same-serial",
        ),
        pytest.param(
            OK_RADIO, '    <water id="lonely" serial="9" annual-m3="10"/>',
            'id="lonely"', "<water>: water meter 'lonely' sends on no <wmbus> listener", id="water-on-no-listener",
        ),
        pytest.param(
            OK_RADIO, '    <heat id="lonely" serial="9" annual-kwh="10"/>',
            'id="lonely"', "<heat>: heat meter 'lonely' sends on no <wmbus> listener", id="heat-on-no-listener",
        ),
        pytest.param(
            OK_RADIO + '\n    <wmbus id="r1" device="pty" dongle="im871a" transparent="true">'
            '<meter ref="e1" security="0"/></wmbus>',
            "", 'id="r1"', "<wmbus>: transparent mode is an AMB8465 setting", id="transparent-on-im871a",
        ),
        pytest.param(
            OK_RADIO + '\n    <wmbus id="r1" device="pty" dongle="amb8465" duplicate-rate="1.5">'
            '<meter ref="e1" security="0"/></wmbus>',
            "", 'id="r1"', "not valid: Element 'wmbus', attribute 'duplicate-rate'", id="duplicate-rate-1.5",
        ),
        pytest.param(
            OK_RADIO + '\n    <wmbus id="r1" device="pty" dongle="cul"><meter ref="e1" security="0"/></wmbus>',
            "", 'id="r1"', "not valid: Element 'wmbus', attribute 'dongle'", id="unknown-dongle",
        ),
        pytest.param(
            OK_RADIO + '\n    <wmbus id="r1" device="pty" dongle="im871a"><meter ref="e1" security="3"/></wmbus>',
            "", 'ref="e1"', "not valid: Element 'meter', attribute 'security'", id="security-3",
        ),
        pytest.param(
            OK_RADIO + '\n    <tcp id="lan"><meter ref="w1"/></tcp>',
            "", '<meter ref="w1"/>', "<meter>: water meter 'w1' sends wM-Bus only (put it on a <wmbus> listener)", id="water-on-tcp",
        ),
        pytest.param(
            OK_RADIO + '\n    <tcp id="lan"><meter ref="e1"/><meter ref="h1"/></tcp>',
            "", '<meter ref="h1"/>', "<meter>: heat meter 'h1' sends wM-Bus only (put it on a <wmbus> listener)", id="heat-on-tcp",
        ),
        pytest.param(
            OK_RADIO + '\n    <serial id="ir" device="pty" meter="w1"/>',
            "", 'id="ir"', "<serial>: water meter 'w1' sends wM-Bus only (put it on a <wmbus> listener)", id="water-on-serial",
        ),
        pytest.param(
            OK_RADIO, '    <water id="e1" serial="77" annual-m3="10"/>',
            '<meter id="e1"', "<meter>: meter id 'e1' is used twice", id="id-in-meter-and-water",
        ),
        pytest.param(
            OK_RADIO, '    <heat id="w1" serial="77" annual-kwh="10"/>',
            '<water id="w1"', "<water>: meter id 'w1' is used twice", id="id-in-water-and-heat",
        ),
        pytest.param(
            OK_RADIO + '\n    <wmbus id="r0" device="pty" dongle="amb8465"><meter ref="e1" security="0"/></wmbus>',
            "", '<wmbus id="r0" device="pty" dongle="im871a">', "<wmbus>: listener id 'r0' is used twice",
            id="listener-id-twice",
        ),
    ],
)
def test_radio_errors_name_line_and_element(listeners: str, meters: str, marker: str, message: str) -> None:
    doc = DOC.format(listeners=listeners, meters=meters)
    text = fails(doc)
    line = line_of(doc, marker)
    assert text.startswith(f"lab.xml:{line}: "), text
    assert message in text, text
