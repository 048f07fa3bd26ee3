"""Link URLs: what parses to what, canonical round trips, and errors that show a correct URL."""

from __future__ import annotations

import ipaddress
from dataclasses import FrozenInstanceError, dataclass
from typing import ClassVar, Self

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smgwd.links import url as url_module
from smgwd.links.serial import SerialLink
from smgwd.links.tcp import TcpLink
from smgwd.links.url import (
    LINK_KINDS,
    NOT_SUPPORTED_YET,
    LinkError,
    LinkSpec,
    link_class,
    parse_host_port,
    parse_link,
)


@pytest.mark.parametrize(
    ("url", "spec"),
    [
        ("tcp://127.0.0.1:33333", TcpLink("127.0.0.1", 33333)),
        ("tcp://meter-1.lab.example:7259", TcpLink("meter-1.lab.example", 7259)),
        ("TCP://localhost:1", TcpLink("localhost", 1)),
        ("tcp://[::1]:33333", TcpLink("::1", 33333)),
        ("tcp://[2001:DB8:0:0::1]:65535", TcpLink("2001:db8::1", 65535)),
        ("tcp://[fe80::1%25eth0]:33333", TcpLink("fe80::1%eth0", 33333)),
        ("tcp://127.0.0.1:33333/", TcpLink("127.0.0.1", 33333)),
        ("  tcp://127.0.0.1:33333\n", TcpLink("127.0.0.1", 33333)),
        ("serial:///dev/ttyUSB0", SerialLink("/dev/ttyUSB0")),
        ("serial:///dev/ttyUSB0?baud=9600&parity=N&bytesize=8&stopbits=1", SerialLink("/dev/ttyUSB0", 9600, "N", 8, 1)),
        ("serial:///dev/ttyUSB1?baud=300&parity=e&bytesize=7&stopbits=2", SerialLink("/dev/ttyUSB1", 300, "E", 7, 2)),
        ("serial:///dev/ttyAMA0?parity=O", SerialLink("/dev/ttyAMA0", parity="O")),
        ("serial:///dev/ttyAMA0?", SerialLink("/dev/ttyAMA0")),
        ("/dev/ttyAMA0", SerialLink("/dev/ttyAMA0")),
        ("/dev/ttyS0?baud=115200", SerialLink("/dev/ttyS0", 115200)),
        (
            "/dev/serial/by-id/usb-FTDI_FT230X_Basic_UART_D30A1B2C-if00-port0",
            SerialLink("/dev/serial/by-id/usb-FTDI_FT230X_Basic_UART_D30A1B2C-if00-port0"),
        ),
        (
            "serial:///dev/serial/by-path/platform-fd500000.pcie-pci-0000:01:00.0-usb-0:1.3:1.0-port0",
            SerialLink("/dev/serial/by-path/platform-fd500000.pcie-pci-0000:01:00.0-usb-0:1.3:1.0-port0"),
        ),
        ("serial:///tmp/ir%20head%3F%231", SerialLink("/tmp/ir head?#1")),
        ("/tmp/50%", SerialLink("/tmp/50%")),  # a bare path is a file name: no %-decoding
    ],
)
def test_parses(url: str, spec: LinkSpec) -> None:
    assert parse_link(url) == spec


@pytest.mark.parametrize(
    ("spec", "text"),
    [
        (TcpLink("127.0.0.1", 33333), "tcp://127.0.0.1:33333"),
        (TcpLink("::1", 33333), "tcp://[::1]:33333"),
        (TcpLink("fe80::1%eth0", 1), "tcp://[fe80::1%25eth0]:1"),
        (SerialLink("/dev/ttyAMA0"), "serial:///dev/ttyAMA0?baud=9600&parity=N&bytesize=8&stopbits=1"),
        (SerialLink("/tmp/ir head?#1", 2400, "E", 7, 2), "serial:///tmp/ir%20head%3F%231?baud=2400&parity=E&bytesize=7&stopbits=2"),
        (SerialLink("/tmp/50%"), "serial:///tmp/50%25?baud=9600&parity=N&bytesize=8&stopbits=1"),
    ],
)
def test_canonical_text(spec: LinkSpec, text: str) -> None:
    assert str(spec) == text
    assert parse_link(text) == spec


def test_what_links_can_carry() -> None:
    assert TcpLink.can_request and TcpLink.can_stream
    assert SerialLink.can_stream and not SerialLink.can_request
    assert TcpLink("::1", 5).target == "[::1]:5" and SerialLink("/dev/ttyS0").target == "/dev/ttyS0"


def test_specs_are_frozen() -> None:
    spec = parse_link("tcp://127.0.0.1:33333")
    with pytest.raises(FrozenInstanceError):
        spec.port = 1  # type: ignore[misc]


# --- round trips ---------------------------------------------------------------------------

_label = st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9-]{0,10}[A-Za-z0-9])?", fullmatch=True)
hostnames = st.lists(_label, min_size=1, max_size=4).map(".".join).filter(lambda h: not h.replace(".", "").isdigit())
hosts = st.one_of(
    hostnames,
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(str),
)
tcp_links = st.builds(TcpLink, hosts, st.integers(1, 65535))
device_paths = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"), min_size=1).map(
    lambda tail: "/dev/" + tail.rstrip("/") if tail.rstrip("/") else "/dev/x"
)
serial_links = st.builds(
    SerialLink,
    device_paths,
    st.integers(50, 4_000_000),
    st.sampled_from("NEO"),
    st.sampled_from((7, 8)),
    st.sampled_from((1, 2)),
)


@given(st.one_of(tcp_links, serial_links))
def test_round_trip(spec: LinkSpec) -> None:
    text = str(spec)
    assert parse_link(text) == spec
    assert str(parse_link(text)) == text


@given(serial_links)
def test_bare_path_is_the_serial_default(spec: SerialLink) -> None:
    if "?" not in spec.path and spec.path == spec.path.strip():  # surrounding whitespace is ignored
        assert parse_link(spec.path) == SerialLink(spec.path)


@given(st.text())
def test_any_text_parses_or_raises_link_error(text: str) -> None:
    try:
        spec = parse_link(text)
    except LinkError as error:
        assert "\n" not in str(error) or "\n" in text
        assert "(expected a URL like " in str(error)
        return
    assert parse_link(str(spec)) == spec


@given(st.sampled_from(["tcp://", "serial://", "/dev/", "serial:///dev/tty?", "tcp://["]), st.text(max_size=30))
def test_prefixed_text_parses_or_raises_link_error(prefix: str, tail: str) -> None:
    try:
        spec = parse_link(prefix + tail)
    except LinkError:
        return
    assert parse_link(str(spec)) == spec


# --- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("", "the link URL is empty"),
        ("tcp://localhost", "'localhost' has no port"),
        ("tcp://127.0.0.1:", "the port is missing"),
        ("tcp://:33333", "the host is missing"),
        ("tcp://127.0.0.1:http", "port 'http' is not a number"),
        ("tcp://127.0.0.1:-1", "port '-1' is not a number"),
        ("tcp://127.0.0.1:0", "port 0 is out of range 1..65535"),
        ("tcp://127.0.0.1:65536", "port 65536 is out of range 1..65535"),
        ("tcp://300.1.1.1:33333", "'300.1.1.1' is not an IPv4 address"),
        ("tcp://bad_host:33333", "'bad_host' is not a host name (letters, digits, '-' and '.')"),
        ("tcp://::1:33333", "'::1:33333': an IPv6 address needs brackets, as in [::1]:33333"),
        ("tcp://[::1:33333", "'[::1:33333' has no closing ']'"),
        ("tcp://[::1]", "'[::1]' needs ':port' after ']'"),
        ("tcp://[::1]x:5", "unexpected 'x:5' after ']'"),
        ("tcp://[::g]:5", "'::g' is not an IPv6 address"),
        ("tcp://127.0.0.1:33333/meter", "a tcp link takes no path, query or fragment, found '/meter'"),
        ("tcp://127.0.0.1:33333?timeout=5", "a tcp link takes no path, query or fragment, found '?timeout=5'"),
        ("tcp://user:pw@127.0.0.1:33333", "credentials do not belong in a link URL (use username and password_file)"),
        ("serial://dev/ttyUSB0", "the device path 'dev/ttyUSB0' is not absolute: write serial:///dev/ttyUSB0, with three slashes"),
        ("serial://", "the device path '' is not absolute: write serial:///, with three slashes"),
        ("serial:///dev/", "'/dev/' is a directory, not a device"),
        ("serial:///", "'/' is a directory, not a device"),
        ("/", "'/' is a directory, not a device"),
        ("serial:///dev/ttyUSB0#x", "a serial link takes no fragment ('#')"),
        ("serial:///dev/tty%ff", "'/dev/tty%ff' has %-escapes that are not UTF-8"),
        ("serial:///dev/tty%00", "the device path contains a NUL character"),
        ("serial:///dev/ttyUSB0?baudrate=9600", "unknown serial parameter 'baudrate' (did you mean baud?)"),
        ("serial:///dev/ttyUSB0?speed=9600", "unknown serial parameter 'speed' (known: baud, parity, bytesize, stopbits)"),
        ("serial:///dev/ttyUSB0?baud", "serial parameter 'baud' has no '=value'"),
        ("serial:///dev/ttyUSB0?baud=9600&baud=2400", "serial parameter 'baud' is given twice"),
        ("serial:///dev/ttyUSB0?baud=fast", "baud 'fast' is not a rate between 50 and 4000000"),
        ("serial:///dev/ttyUSB0?baud=0", "baud '0' is not a rate between 50 and 4000000"),
        ("serial:///dev/ttyUSB0?baud=9600.0", "baud '9600.0' is not a rate between 50 and 4000000"),
        ("serial:///dev/ttyUSB0?parity=X", "parity 'X' is not one of N, E, O"),
        ("serial:///dev/ttyUSB0?bytesize=5", "bytesize '5' is not one of 7, 8"),
        ("serial:///dev/ttyUSB0?stopbits=1.5", "stopbits '1.5' is not one of 1, 2"),
        ("tcp:/127.0.0.1:33333", "'tcp:/127.0.0.1:33333' needs '//' after 'tcp:'"),
        ("serial:/dev/ttyUSB0", "'serial:/dev/ttyUSB0' needs '//' after 'serial:'"),
        ("192.168.1.50:33333", "'192.168.1.50:33333' has no scheme: did you mean tcp://192.168.1.50:33333?"),
        ("dev/ttyUSB0", "'dev/ttyUSB0' is not a link URL; a device path starts with '/'"),
        ("ttyUSB0", "'ttyUSB0' is not a link URL; a device path starts with '/'"),
        ("meter", "'meter' is not a link URL (no scheme:// in front)"),
        ("tpc://127.0.0.1:33333", "unknown link kind 'tpc://' (did you mean tcp://?)"),
        ("udp://127.0.0.1:33333", "unknown link kind 'udp://' (known: tcp://, serial://, im871a://, amb8465://, rtlwmbus://, rtlwmbus+exec://, rs485://, gpio://)"),
        ("rs485:///dev/ttyS0", "an rs485 link names the meter's HDLC address (address=0x10..0x7D)"),
        ("rs485:///dev/ttyS0?address=0x7E", "address '0x7E' is not a number 1..125 (decimal or 0x hex)"),
        ("rs485:///dev/ttyS0?address=18&adress=1", "rs485 parameter 'adress=1' unknown (did you mean address?)"),
        ("rs485:///dev/ttyS0?address=18&direction=gpio", "direction 'gpio' is not one of auto, kernel, gpio:PIN (a BCM pin 0..53)"),
        ("im871a://dev/ttyUSB0", "the device path 'dev/ttyUSB0' is not absolute: write im871a:///dev/ttyUSB0, with three slashes"),
        ("amb8465:///dev/ttyUSB0?mode=x1", "radio mode 'x1' is not one of t1, c1, s1, c1,t1"),
        ("im871a:///dev/ttyUSB0?mdoe=t1", "im871a parameter 'mdoe=t1' unknown (did you mean mode?)"),
        ("im871a:///dev/ttyUSB0?baud=12", "baud '12' is not a rate between 1200 and 921600"),
    ],
)
def test_errors_name_the_problem_and_show_a_correct_url(url: str, problem: str) -> None:
    with pytest.raises(LinkError) as caught:
        parse_link(url)
    error = caught.value
    assert error.problem == problem
    assert str(error) == f"{problem} (expected a URL like {error.example})"
    for example in error.example.split(" or "):
        if example.split(":", 1)[0] in NOT_SUPPORTED_YET:
            continue
        parse_link(example)  # the example shown is itself correct


def test_example_matches_the_kind_meant() -> None:
    with pytest.raises(LinkError) as tcp:
        parse_link("tcp://localhost")
    with pytest.raises(LinkError) as serial:
        parse_link("serial:///dev/ttyUSB0?parity=X")
    with pytest.raises(LinkError) as rs485:
        parse_link("rs485:///dev/ttyS0")
    assert tcp.value.example.startswith("tcp://")
    assert serial.value.example.startswith("serial://")
    assert rs485.value.example.startswith("rs485://")


def test_link_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        parse_link("tcp://localhost")


@pytest.mark.parametrize(
    ("text", "default", "expected"),
    [
        ("pool.ntp.org", 123, ("pool.ntp.org", 123)),
        ("10.0.0.1:1123", 123, ("10.0.0.1", 1123)),
        ("::1", 123, ("::1", 123)),
        ("[::1]", 123, ("::1", 123)),
        ("[::1]:5", None, ("::1", 5)),
    ],
)
def test_host_port(text: str, default: int | None, expected: tuple[str, int]) -> None:
    assert parse_host_port(text, default) == expected


@given(st.ip_addresses().map(str), st.integers(1, 65535))
def test_host_port_round_trip(host: str, port: int) -> None:
    shown = f"[{host}]:{port}" if ipaddress.ip_address(host).version == 6 else f"{host}:{port}"
    assert parse_host_port(shown) == (host, port)


# --- the table of link kinds -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LoopLink(LinkSpec):
    """A link kind registered by a test, as a later link module would register itself."""

    name: str

    kind: ClassVar[str] = "loop"
    example: ClassVar[str] = "loop://a"
    can_stream: ClassVar[bool] = True

    @classmethod
    def from_url(cls, url: str) -> Self:
        return cls(url[len("loop://"):])

    @property
    def target(self) -> str:
        return self.name

    def __str__(self) -> str:
        return f"loop://{self.name}"


def test_link_kinds_table_is_data() -> None:
    assert set(LINK_KINDS) == {"tcp", "serial", "im871a", "amb8465", "rtlwmbus", "rtlwmbus+exec", "rs485", "gpio"}
    assert link_class("tcp") is TcpLink and link_class("serial") is SerialLink
    assert all(isinstance(target, str) and ":" in target for target in LINK_KINDS.values())


def test_a_new_kind_registers_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(LINK_KINDS, "loop", f"{__name__}:LoopLink")
    assert parse_link("loop://bus1") == LoopLink("bus1")
    assert parse_link("LOOP://bus1") == LoopLink("bus1")
    with pytest.raises(LinkError) as caught:
        parse_link("udp://x")
    assert "loop://a" in caught.value.example  # unknown kinds list every registered example


def test_a_table_row_that_is_not_a_link_spec_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(LINK_KINDS, "bad", "smgwd.links.url:parse_link")
    with pytest.raises(TypeError, match="is not a LinkSpec class"):
        parse_link("bad://x")


def test_spec_classes_load_lazily_from_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(LINK_KINDS, "tcp", f"{__name__}:LoopLink")
    assert isinstance(parse_link("tcp://x"), LoopLink)
    assert url_module.link_class("tcp") is LoopLink


def test_rtlwmbus_exec_link_names_a_program() -> None:
    from smgwd.links.dongle import RtlWmbusExecLink

    link = parse_link("rtlwmbus+exec:///usr/local/lib/smgwd/sdr%20receiver")
    assert isinstance(link, RtlWmbusExecLink) and link.path == "/usr/local/lib/smgwd/sdr receiver"
    assert str(link) == "rtlwmbus+exec:///usr/local/lib/smgwd/sdr%20receiver"
    with pytest.raises(LinkError, match="takes no parameters"):
        parse_link("rtlwmbus+exec:///usr/bin/x?args=-f")


def test_rs485_link_names_port_settings_and_address() -> None:
    from smgwd.links.rs485 import Rs485Link

    link = parse_link("rs485:///dev/ttyAMA0?baud=19200&parity=e&address=0x12&logical=1&client=16&turnaround=5")
    assert isinstance(link, Rs485Link)
    assert (link.path, link.baud, link.parity, link.address, link.logical, link.client, link.turnaround_ms) == \
        ("/dev/ttyAMA0", 19200, "E", 0x12, 1, 16, 5)
    assert parse_link(str(link)) == link
    assert link.target == "/dev/ttyAMA0" and link.can_request and link.can_stream
