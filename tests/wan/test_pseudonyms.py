"""Pseudonymous delivery: no byte of a sealed or opened message names the meter, in any encoding.

The readings come from real captures (SML frames of an EMH eHZ, an EasyMeter
Q3A and a Holley DTZ541; wM-Bus telegrams of a Kamstrup OmniPower and an
Engelmann water meter, tests/data), decoded by the gateway's own readers and
stored in a real store, and from the SML simulator. Each goes to a real lab
EMP over mutual TLS in the readings and the TAF7 profile. The meter's
encodings searched for: its id as ASCII and UTF-16, hex (both cases) and
base64 of that, the SML server id (as the capture's independent decode gives
it: raw bytes, hex, base64), and the wM-Bus address (M-field and BCD id as on
the air, the id digits as printed on the meter).
"""

from __future__ import annotations

import base64
import json
import subprocess
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from smgwd.cli.main import main
from smgwd.gateway.config import ConfigError, load_config
from smgwd.gateway.secret import SecretError, load_or_create, read_secret
from smgwd.gateway.store import Store, StoreReader
from smgwd.meters.sml.profiles import PROFILES
from smgwd.meters.sml.stream import FrameDecoded, SmlFrameReader
from smgwd.meters.wmbus.reader import TelegramReader
from smgwd.reading import Reading, TimeQuality
from smgwd.sim.clock import SteppedClock
from smgwd.sim.meter import MeterSpec, SimMeter
from smgwd.sim.sml_push import push_frame
from smgwd.wan.cms import open_
from smgwd.wan.delivery import EmpDelivery
from smgwd.wan.pseudonyms import PATTERN, Pseudonyms, is_quantity, pseudonym
from tests.wan.test_delivery import Emp, emp, emp_config, pki  # noqa: F401 - fixtures

DATA = Path(__file__).parents[1] / "data"
SML_CAPTURES = ("emh_ehz_vzlogger", "easymeter_q3a", "holley_dtz541_rs485_kermit")
WMBUS_CAPTURES = ("wm_omnipower_full", "wm_engelmann_faw_full")
DAY = datetime(2026, 6, 10, tzinfo=timezone.utc)  # 00:00 UTC = 02:00 in Berlin
SECRET = bytes(range(32))


# --- the pseudonym and the secret ------------------------------------------------------------

def test_pseudonyms_are_stable_per_emp_and_differ_between_emps_meters_and_secrets() -> None:
    name = pseudonym(SECRET, "emp", "1EMH0012345678")
    assert PATTERN.fullmatch(name) and len(name) == 16  # a COSEM logical device name's length
    assert pseudonym(SECRET, "emp", "1EMH0012345678") == name
    others = {pseudonym(SECRET, "dso", "1EMH0012345678"), pseudonym(SECRET, "emp", "1EMH0012345679"),
              pseudonym(bytes(32), "emp", "1EMH0012345678"), pseudonym(SECRET, "emp1", "EMH0012345678")}
    assert name not in others and len(others) == 4
    many = {pseudonym(SECRET, "emp", f"meter-{k}") for k in range(10_000)}
    assert len(many) == 10_000


def test_the_pseudonym_is_the_documented_hmac_as_openssl_computes_it() -> None:
    """The construction (HMAC-SHA256 over a context, the EMP and the meter) checked by openssl, not by us."""
    message = b"smgwd pseudonym 1\x00emp\x001EMH0012345678"
    digest = subprocess.run(["openssl", "dgst", "-sha256", "-mac", "HMAC", "-macopt", f"hexkey:{SECRET.hex()}"],
                            input=message, capture_output=True, check=True).stdout.decode().split()[-1]
    assert pseudonym(SECRET, "emp", "1EMH0012345678") == "ps-" + digest[:13]


def test_the_secret_is_made_once_private_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "gateway.secret"
    results: list[bytes] = []
    threads = [threading.Thread(target=lambda: results.append(load_or_create(path))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 1 and len(results[0]) == 32  # racing makers agree on one secret
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.read_text() == results[0].hex() + "\n"
    assert load_or_create(path) == results[0] == read_secret(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gateway.secret"]  # no temporary file left


@pytest.mark.parametrize("content, mode, problem", [
    ("00" * 32 + "\n", 0o644, "mode 0644, so group or others can access it (expected a file only smgwd's user can "
                              "read, mode 0600 or 0400: chmod 600"),
    ("00" * 31 + "\n", 0o600, "is not 64 hex digits on one line"),
    ("zz" * 32 + "\n", 0o600, "is not 64 hex digits on one line"),
    ("00" * 70 + "\n", 0o600, "is larger than 128 bytes"),
])
def test_a_bad_secret_is_refused_with_one_line(tmp_path: Path, content: str, mode: int, problem: str) -> None:
    path = tmp_path / "gateway.secret"
    path.write_text(content)
    path.chmod(mode)
    with pytest.raises(SecretError, match="gateway secret: ") as caught:
        load_or_create(path)
    assert problem in str(caught.value) and "\n" not in str(caught.value)
    assert path.read_text() == content  # never replaced: that would change every pseudonym


def test_config_puts_the_secret_beside_the_store_and_checks_it_when_used(tmp_path: Path, pki: Path) -> None:  # noqa: F811
    lab = pki / "lab"
    emp = (f'[[emps]]\nid = "emp"\nurl = "https://localhost:8443/v1/meterdata"\ntls_cert = "{lab}/smgw/smgw/tls.pem"\n'
           f'tls_key = "{lab}/smgw/smgw/tls.key"\nserver_ca = "{lab}/ca-chain.pem"\n'
           f'sig_cert = "{lab}/smgw/smgw/sig.pem"\nsig_key = "{lab}/smgw/smgw/sig.key"\n'
           f'recipient = "{lab}/emp/emp/enc.pem"\npseudonymize = true\n')
    config_path = tmp_path / "smgwd.toml"
    config_path.write_text('[store]\npath = "state/smgwd.db"\n' + emp)
    config = load_config(config_path)
    assert config.gateway.secret == tmp_path / "state/gateway.secret"
    assert config.emps[0].pseudonymize
    secret = tmp_path / "own.secret"
    secret.write_text("00" * 32 + "\n")
    secret.chmod(0o640)
    config_path.write_text(f'[gateway]\nsecret = "own.secret"\n' + emp)
    with pytest.raises(ConfigError, match=r"gateway\.secret: .*own\.secret has mode 0640"):
        load_config(config_path)
    config_path.write_text(f'[gateway]\nsecret = "own.secret"\n' + emp.replace("pseudonymize = true", ""))
    assert load_config(config_path).gateway.secret == secret  # not used: not checked


def test_smgwctl_pseudonyms_shows_which_pseudonym_is_which_meter(
        tmp_path: Path, pki: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    lab = pki / "lab"
    config = tmp_path / "smgwd.toml"
    emp = (f'url = "https://localhost:8443/v1/meterdata"\ntls_cert = "{lab}/smgw/smgw/tls.pem"\n'
           f'tls_key = "{lab}/smgw/smgw/tls.key"\nserver_ca = "{lab}/ca-chain.pem"\n'
           f'sig_cert = "{lab}/smgw/smgw/sig.pem"\nsig_key = "{lab}/smgw/smgw/sig.key"\n'
           f'recipient = "{lab}/emp/emp/enc.pem"\n')
    config.write_text('[store]\npath = "gw.db"\n[[meters]]\nid = "household"\nlink = "tcp://127.0.0.1:1"\n'
                      '[[meters]]\nid = "heat-pump"\nlink = "tcp://127.0.0.1:2"\n'
                      f'[[emps]]\nid = "dso"\npseudonymize = true\n{emp}[[emps]]\nid = "supplier"\n{emp}')
    assert main(["--config", str(config), "pseudonyms", "dso"]) == 1  # the daemon has not made the secret yet
    assert "smgwd makes it when it first starts" in capsys.readouterr().err
    secret = load_or_create(tmp_path / "gateway.secret")
    assert main(["--config", str(config), "pseudonyms", "dso", "--format", "json"]) == 0
    shown = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert shown == [{"emp": "dso", "meter": meter, "pseudonym": pseudonym(secret, "dso", meter)}
                     for meter in ("household", "heat-pump")]
    assert main(["--config", str(config), "pseudonyms", "dso", "1EMH0012345678"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["meter", "pseudonym"]
    assert lines[1].split() == ["1EMH0012345678", pseudonym(secret, "dso", "1EMH0012345678")]
    assert main(["--config", str(config), "pseudonyms", "supplier"]) == 1
    assert "gets the meters' own ids" in capsys.readouterr().err


# --- what an EMP sees -----------------------------------------------------------------------

class Meter:
    """A meter in the store: its gateway id and the byte strings that would name it."""

    def __init__(self, meter_id: str, *encodings: bytes) -> None:
        self.id = meter_id
        self.needles = _encodings(meter_id.encode("ascii"), *encodings)


def _encodings(*values: bytes) -> set[bytes]:
    found: set[bytes] = set()
    for value in values:
        hexed = value.hex().encode()
        found |= {value, hexed, hexed.upper(), base64.b64encode(value).rstrip(b"=")}
        if value.isascii():
            found.add(value.decode().encode("utf-16-le"))
    return {n for n in found if len(n) >= 4}  # shorter ones are in any message by chance


def _sml_capture(stem: str, at: datetime) -> tuple[list[Reading], list[Meter]]:
    """The readings of a real SML capture, stamped at ``at``, and its meters with their server ids."""
    expected = json.loads((DATA / "sml" / f"{stem}.json").read_text())["expect"]["readings"]
    data = bytes.fromhex("".join((DATA / "sml" / f"{stem}.hex").read_text().split()))
    reader = SmlFrameReader(PROFILES["generic"])
    readings = [r.stamped(r.meter_id, at, TimeQuality.SYNCHRONISED)
                for event in reader.feed(data) if isinstance(event, FrameDecoded) for r in event.readings]
    server_ids = {bytes.fromhex(entry["server_id"]) for entry in expected}
    meters = [Meter(meter_id, *server_ids) for meter_id in sorted({r.meter_id for r in readings})]
    assert readings and server_ids
    return readings, meters


def _wmbus_capture(name: str, at: datetime) -> tuple[list[Reading], list[Meter]]:
    """A real wM-Bus telegram's readings under the meter id a user would give it, and its address bytes."""
    telegram = next(t for t in json.loads((DATA / "wmbus" / "telegrams.json").read_text())["telegrams"]
                    if t["name"] == name)
    wire = bytes.fromhex(telegram["hex"])
    result = TelegramReader().read(wire)
    assert result.telegram is not None and result.readings
    printed = result.meter_id  # the id digits as printed on the meter
    assert printed is not None
    address = wire[2:10]  # M-field (2 bytes) + BCD id (4) + version + device type, as on the air
    meter = Meter(f"water-{printed}", address, address[:6], address[2:6], printed.encode())
    return [w.reading.stamped(meter.id, at, TimeQuality.SYNCHRONISED) for w in result.readings], [meter]


def _simulated(at: datetime) -> tuple[list[Reading], list[Meter]]:
    sim = SimMeter(MeterSpec("flat-3", serial=4711, seed=7), SteppedClock(at.timestamp()))
    (decoded,) = [e for e in SmlFrameReader(PROFILES["generic"]).feed(push_frame(sim, 1)) if isinstance(e, FrameDecoded)]
    server_id = decoded.messages[1].body.server_id  # type: ignore[union-attr]
    readings = [r.stamped(r.meter_id, at, TimeQuality.SYNCHRONISED) for r in decoded.readings]
    return readings, [Meter(readings[0].meter_id, server_id)]


@pytest.fixture
def fed(tmp_path: Path) -> Iterator[tuple[Store, list[Meter], list[Reading]]]:
    """A store with two hours of readings (every 5 minutes) from each capture and the simulator."""
    store = Store(tmp_path / "gw.db", batch_size=10_000, flush_interval=0.05)
    store.start()
    meters: list[Meter] = []
    everything: list[Reading] = []
    for step in range(0, 2 * 12 + 1):
        at = DAY + timedelta(minutes=5 * step, seconds=2)
        batch: list[Reading] = []
        for stem in SML_CAPTURES:
            readings, found = _sml_capture(stem, at)
            batch += readings
            meters += found if step == 0 else []
        for name in WMBUS_CAPTURES:
            readings, found = _wmbus_capture(name, at)
            batch += readings
            meters += found if step == 0 else []
        readings, found = _simulated(at)
        batch += readings
        meters += found if step == 0 else []
        store.on_readings(batch)
        everything += batch
    assert store.flush(30)
    yield store, meters, everything
    store.stop(30)


def _messages(store: Store, emp: Emp, pki: Path) -> list[tuple[bytes, bytes, bytes]]:  # noqa: F811
    """(sealed, opened content, signed identity) of every message the gateway made."""
    lab = pki / "lab"
    key = load_pem_private_key((lab / "emp/emp/enc.key").read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    cert = x509.load_pem_x509_certificate((lab / "emp/emp/enc.pem").read_bytes())
    trust = [x509.load_pem_x509_certificate((lab / "root.pem").read_bytes())]
    with StoreReader(store.path) as reader:
        sealed = [entry.payload for entry in reader.outbox()]
    opened = [open_(data, recipient_key=key, recipient_cert=cert, trust=trust) for data in sealed]
    return [(data, message.content, message.identity.to_der() if message.identity else b"")
            for data, message in zip(sealed, opened)]


#: needles at least this long are searched in the whole sealed message; a shorter one could turn up by
#: chance in its random parts (ciphertext, signature, ephemeral key: a 4-byte needle once did, in CI), so
#: it is searched where the message says something: the opened content and the signed identity
WHOLE_MESSAGE = 8


def _leaks(messages: list[tuple[bytes, bytes, bytes]], meters: list[Meter]) -> list[tuple[str, bytes]]:
    return [(meter.id, needle) for meter in meters for needle in meter.needles
            for sealed, opened, identity in messages
            if needle in opened or needle in identity or (len(needle) >= WHOLE_MESSAGE and needle in sealed)]


@pytest.mark.parametrize("taf, shape", [("readings", "josef"), ("readings", "k461"), ("taf7", "k461")])
def test_no_byte_of_a_pseudonymous_message_names_the_meter(
        pki: Path, emp: Emp, fed: tuple[Store, list[Meter], list[Reading]], taf: str, shape: str) -> None:  # noqa: F811
    store, meters, fed_readings = fed
    assert len(meters) == len(SML_CAPTURES) + len(WMBUS_CAPTURES) + 1
    config = emp_config(pki, emp.port, taf=taf, shape=shape, pseudonymize=True, period="day")
    sender = EmpDelivery(config, "smgw-lab-1", store, clock=lambda: DAY + timedelta(days=2), backoff=lambda n: 60.0,
                         secret=SECRET)
    try:
        assert sender.build()
        while sender.truncated:  # a build takes at most MAX_READINGS readings
            sender.build()
        messages = _messages(store, emp, pki)
        assert _leaks(messages, meters) == []
        while sender.send_next() == 0.0:
            pass
    finally:
        sender.close()
    names = Pseudonyms(SECRET, "emp")
    rows = emp.service.store.readings(limit=1_000_000)
    assert {row.meter for row in rows} == {names.of(meter.id) for meter in meters}
    quantities = {(r.meter_id, str(r.obis)) for r in fed_readings if is_quantity(r)}
    delivered = {(names.meter(row.meter), row.obis) for row in rows}
    if taf == "readings":  # every physical quantity, and nothing else
        assert delivered == quantities
        assert len(rows) == sum(1 for r in fed_readings if is_quantity(r))
    else:  # the registers among them, at each quarter hour
        assert delivered and delivered <= quantities
        assert {datetime.fromisoformat(row.gateway_time).minute % 15 for row in rows} == {0}


def test_the_search_finds_the_meter_where_nothing_is_pseudonymous(
        pki: Path, emp: Emp, fed: tuple[Store, list[Meter], list[Reading]]) -> None:  # noqa: F811
    """The same build without pseudonyms: each meter is found, so the search above can fail."""
    store, meters, _ = fed
    sender = EmpDelivery(emp_config(pki, emp.port), "smgw-lab-1", store, clock=lambda: DAY + timedelta(days=2))
    try:
        while not sender.build() or sender.truncated:
            pass
        leaked = {meter for meter, _ in _leaks(_messages(store, emp, pki), meters)}
    finally:
        sender.close()
    assert leaked == {meter.id for meter in meters}


def test_set_aside_notes_name_the_meter_not_the_pseudonym(pki: Path, emp: Emp, tmp_path: Path) -> None:  # noqa: F811
    """The gateway's own log keeps the real meter, so its operator can act on it."""
    from smgwd.cosem.obis import Obis

    store = Store(tmp_path / "gw.db", flush_interval=0.05)
    store.start()
    try:
        poison = Reading("1EMH0012345678", Obis.parse("1-0:1.8.0*255"), 5, 0, 30, -1 << 40,
                         gateway_time=DAY, time_quality=TimeQuality.SYNCHRONISED)  # a status no word holds
        store.on_readings([poison])
        assert store.flush(10)
        sender = EmpDelivery(emp_config(pki, emp.port, shape="k461", pseudonymize=True), "smgw-lab-1", store,
                             clock=lambda: DAY, secret=SECRET)
        try:
            sender.build()
        finally:
            sender.close()
        with StoreReader(store.path) as reader:
            notes = reader.log("system", event="delivery_set_aside")
    finally:
        store.stop(10)
    assert [note.meter_id for note in notes] == ["1EMH0012345678"]
    assert "1EMH0012345678" in notes[0].message and "ps-" not in notes[0].message


def test_pseudonymize_without_the_secret_does_not_start(pki: Path, emp: Emp, tmp_path: Path) -> None:  # noqa: F811
    from smgwd.wan.delivery import DeliveryError

    store = Store(tmp_path / "gw.db")
    with pytest.raises(DeliveryError, match="pseudonymize needs the gateway secret"):
        EmpDelivery(emp_config(pki, emp.port, pseudonymize=True), "smgw-lab-1", store)
