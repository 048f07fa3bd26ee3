"""The logs' hash chain and signed checkpoints: a removed, inserted, reordered or edited entry is found.

Every tampering is done the way an intruder with the database file would do
it, with sqlite3 on the file; ``smgwctl log verify`` is the real program. The
chain's bytes are checked against ``openssl dgst`` over the layout the
README documents, built here by hand; checkpoints are signed with a lab PKI
gateway key and checked with ``openssl pkeyutl``.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
import struct
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smgwd.gateway.config import GatewayConfig, GatewayIdentity, StoreConfig, TimeConfig
from smgwd.gateway.core import Gateway
from smgwd.gateway.log_seal import LogSeal, payload
from smgwd.gateway.log_verify import verify
from smgwd.gateway.sdnotify import Notifier
from smgwd.gateway.store import LOG_KINDS, Store, StoreReader
from smgwd.gateway.store.log_chain import GENESIS, entry_hash
from smgwd.gateway.store.schema import migrate
from tests.gateway.test_store_support import running
from tests.wan.test_delivery import pki  # noqa: F401 - the fixture: a lab PKI and another one

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


def seal_of(pki: Path, lab: str = "lab") -> LogSeal:
    return LogSeal(pki / lab / "smgw/smgw/sig.pem", pki / lab / "smgw/smgw/sig.key")


def fill(path: Path, count: int = 12, seal: LogSeal | None = None) -> None:
    """``count`` entries in each log, awkward text included, and (with ``seal``) a checkpoint at the head."""
    with running(path, flush_interval=0.05) as store:
        for k in range(count):
            for kind in LOG_KINDS:
                store.log(kind, f"event_{k % 3}", f"entry {k} of {kind}: Zählerstand ✓ \x00 '\"",
                          meter_id=None if k % 2 else f"m{k}", obis="1-0:1.8.0*255" if k % 3 else None,
                          data={"k": k} if k % 4 else None, at=T0 + timedelta(minutes=k))
        if seal is not None:
            assert store.flush(10)
            with StoreReader(path) as reader:
                assert seal.seal(store, reader) == 3


def smgwctl(path: Path, *words: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "smgwd.cli.main", "--db", str(path), "log", "verify", *words],
                          capture_output=True, text=True, timeout=60)


def verdicts(path: Path) -> dict[str, tuple[int | None, str | None]]:
    with StoreReader(path) as reader:
        return {kind: (v.broken, v.reason) for kind in LOG_KINDS for v in [verify(reader, kind)]}


def tamper(path: Path, *statements: str) -> None:
    with sqlite3.connect(path) as db:
        for statement in statements:
            db.execute(statement)


def test_the_chain_is_the_documented_sha256_as_openssl_computes_it(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    fill(path, 3)
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT id, at, event, meter_id, obis, message, data, hash FROM log_consumer "
                          "ORDER BY id").fetchall()
    previous = bytes(32)
    for entry_id, at, *fields, stored in rows:
        layout = b"smgwd log 1\0consumer\0" + previous + struct.pack(">Qq", entry_id, at)
        for value in fields:
            layout += b"\xff\xff\xff\xff" if value is None else struct.pack(">I", len(value.encode())) + value.encode()
        done = subprocess.run(["openssl", "dgst", "-sha256", "-binary"], input=layout, capture_output=True,
                              check=True, timeout=30)
        assert done.stdout == stored
        previous = stored


def test_an_untouched_log_verifies_with_smgwctl(tmp_path: Path, pki: Path) -> None:  # noqa: F811
    path = tmp_path / "s.db"
    fill(path, seal=seal_of(pki))
    done = smgwctl(path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == list(LOG_KINDS)
    assert all("intact, 12 entries (1..12), signed up to 12 by " in line for line in lines), lines
    record = json.loads(smgwctl(path, "calibration", "--format", "json").stdout)
    assert (record["intact"], record["entries"], record["signed_up_to"], record["unsigned"]) == (True, 12, 12, 0)


#: what an intruder does to the consumer log -> (the first broken entry, the start of the reason)
TAMPERING: dict[str, tuple[list[str], int, str]] = {
    "edited": (["UPDATE log_consumer SET message = 'nothing was sent' WHERE id = 5"], 5, "entry 5 does not match"),
    "edited time": (["UPDATE log_consumer SET at = at + 1 WHERE id = 7"], 7, "entry 7 does not match"),
    "removed": (["DELETE FROM log_consumer WHERE id = 4"], 4, "entry 4 is missing (the next one is 5)"),
    "removed first": (["DELETE FROM log_consumer WHERE id = 1"], 1, "entry 1 is missing (the next one is 2)"),
    "removed last": (["DELETE FROM log_consumer WHERE id = 12"], 12, "entry 12 is missing: checkpoint"),
    "reordered": (["UPDATE log_consumer SET id = -3 WHERE id = 3", "UPDATE log_consumer SET id = 3 WHERE id = 8",
                   "UPDATE log_consumer SET id = 8 WHERE id = -3"], 3, "entry 3 does not match"),
}


@pytest.mark.parametrize("kind", LOG_KINDS)
@pytest.mark.parametrize("case", TAMPERING)
def test_tampering_names_the_first_broken_entry(tmp_path: Path, pki: Path, case: str, kind: str) -> None:
    path = tmp_path / "s.db"
    fill(path, seal=seal_of(pki))
    statements, broken, reason = TAMPERING[case]
    tamper(path, *(statement.replace("log_consumer", f"log_{kind}") for statement in statements))
    found = verdicts(path)
    assert all(found[other] == (None, None) for other in LOG_KINDS if other != kind)  # the others are untouched
    assert found[kind][0] == broken and (found[kind][1] or "").startswith(reason), found
    done = smgwctl(path, kind)
    assert done.returncode == 2 and done.stdout.startswith(f"{kind}: BROKEN at entry {broken}: "), done.stdout


def test_an_inserted_entry_with_a_correct_hash_breaks_the_one_after_it(tmp_path: Path, pki: Path) -> None:
    """The intruder shifts entries 6.. up by one and writes a well-formed entry 6 chained to entry 5."""
    path = tmp_path / "s.db"
    fill(path, seal=seal_of(pki))
    with sqlite3.connect(path) as db:
        db.execute("UPDATE log_system SET id = -id WHERE id >= 6")
        db.execute("UPDATE log_system SET id = 1 - id WHERE id < 0")
        (previous,) = db.execute("SELECT hash FROM log_system WHERE id = 5").fetchone()
        forged = entry_hash("system", previous, 6, 0, "stop", None, None, "smgwd stopping", None)
        db.execute("INSERT INTO log_system (id, at, event, message, hash) VALUES (6, 0, 'stop', 'smgwd stopping', ?)",
                   (forged,))
    assert verdicts(path)["system"][0] == 7


def test_a_chain_rewritten_with_correct_hashes_is_caught_by_the_signed_checkpoint(tmp_path: Path, pki: Path) -> None:
    path = tmp_path / "s.db"
    fill(path, seal=seal_of(pki))
    with sqlite3.connect(path) as db:  # edit entry 3 and recompute every hash from there: the chain itself holds
        db.execute("UPDATE log_calibration SET message = 'no time correction' WHERE id = 3")
        previous = GENESIS
        for entry_id, *fields in db.execute("SELECT id, at, event, meter_id, obis, message, data FROM log_calibration "
                                            "ORDER BY id").fetchall():
            previous = entry_hash("calibration", previous, entry_id, *fields)
            db.execute("UPDATE log_calibration SET hash = ? WHERE id = ?", (previous, entry_id))
    broken, reason = verdicts(path)["calibration"]
    assert broken == 12 and reason is not None and "is not the one checkpoint" in reason


def test_a_checkpoint_forged_with_another_key_or_bytes_is_refused(tmp_path: Path, pki: Path) -> None:
    path = tmp_path / "s.db"
    fill(path, seal=seal_of(pki))
    with sqlite3.connect(path) as db:
        (signature,) = db.execute("SELECT signature FROM log_checkpoints WHERE kind = 'system'").fetchone()
        flipped = signature[:-1] + bytes([signature[-1] ^ 0x01])
        db.execute("UPDATE log_checkpoints SET signature = ? WHERE kind = 'system'", (flipped,))
    assert verdicts(path)["system"] == (12, "checkpoint 1 (of entry 12): its signature does not verify under "
                                            f"{seal_subject(pki)}")
    other = tmp_path / "other.db"  # a whole store signed by a gateway of another PKI, with the same name
    fill(other, seal=seal_of(pki, "other"))
    config = tmp_path / "smgwd.toml"
    gateway = (f'[store]\npath = "{other}"\n[gateway]\nsig_cert = "{pki / "lab/smgw/smgw/sig.pem"}"\n'
               f'sig_key = "{pki / "lab/smgw/smgw/sig.key"}"\n')
    for ca, reason in (("", "and no CA of the gateway's to check it against"),
                       (f'[admin]\ntrust = "{pki / "lab/root.pem"}"\nuntrusted = "{pki / "lab/subca.pem"}"\n',
                        "that does not chain to the gateway's CA")):
        config.write_text(gateway + ca)
        done = subprocess.run([sys.executable, "-m", "smgwd.cli.main", "--config", str(config), "log", "verify",
                               "system"], capture_output=True, text=True, timeout=60)
        assert done.returncode == 2 and reason in done.stdout, done.stdout + done.stderr
    assert smgwctl(other, "system").returncode == 0  # without a configuration, any valid signer is named
    assert "(not pinned: no configured sig_cert)" in smgwctl(other, "system").stdout


def test_checkpoints_of_an_earlier_key_of_the_gateway_still_verify(tmp_path: Path, pki: Path) -> None:
    """After a key rotation the old checkpoints name the old certificate: same gateway, same CA, accepted."""
    from smgwd.gateway.config import load_config
    from smgwd.gateway.log_verify import verify as check
    from smgwd.wan.log_signers import gateway_signers
    from smgwd.wan.pki import issue

    lab = tmp_path / "lab"
    shutil.copytree(pki / "lab", lab)
    path = tmp_path / "s.db"
    fill(path, seal=seal_of(tmp_path))  # signed with the key in use then
    issue(lab, "smgw", "smgw", force=True)  # the gateway's new keys and certificates
    config = tmp_path / "smgwd.toml"
    config.write_text(f'[store]\npath = "{path}"\n[gateway]\nsig_cert = "{lab / "smgw/smgw/sig.pem"}"\n'
                      f'sig_key = "{lab / "smgw/smgw/sig.key"}"\n[admin]\ntrust = "{lab / "root.pem"}"\n'
                      f'untrusted = "{lab / "subca.pem"}"\n')
    (lab / "smgw/smgw/sig.key").chmod(0o600)
    accept = gateway_signers(load_config(config))
    with StoreReader(path) as reader:
        assert all(check(reader, kind, accept).intact for kind in LOG_KINDS)


def seal_subject(pki: Path) -> str:
    from cryptography import x509

    return x509.load_pem_x509_certificate((pki / "lab/smgw/smgw/sig.pem").read_bytes()).subject.rfc4514_string()


def test_openssl_verifies_a_checkpoint_signature(tmp_path: Path, pki: Path) -> None:
    path = tmp_path / "s.db"
    fill(path, 2, seal=seal_of(pki))
    with StoreReader(path) as reader:
        (checkpoint,) = reader.checkpoints("consumer")
    (tmp_path / "signed").write_bytes(payload("consumer", checkpoint.upto, checkpoint.hash, checkpoint.at))
    (tmp_path / "sig").write_bytes(checkpoint.signature)
    subprocess.run(["openssl", "x509", "-in", str(pki / "lab/smgw/smgw/sig.pem"), "-pubkey", "-noout", "-out",
                    str(tmp_path / "pub.pem")], check=True, timeout=30)
    done = subprocess.run(["openssl", "dgst", "-sha256", "-verify", str(tmp_path / "pub.pem"), "-signature",
                           str(tmp_path / "sig"), str(tmp_path / "signed")], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and "Verified OK" in done.stdout, done.stdout + done.stderr


def test_retention_cuts_a_prefix_and_the_chain_still_verifies(tmp_path: Path, pki: Path) -> None:
    path = tmp_path / "s.db"
    fill(path, seal=seal_of(pki))
    with running(path) as store:
        store.prune(T0 + timedelta(minutes=5, seconds=30), timeout=30)  # entries at minutes 0..5 go
    with StoreReader(path) as reader:
        assert reader.log_anchor("system") is not None and reader.log_anchor("system")[0] == 6  # type: ignore[index]
        verdict = verify(reader, "system")
    assert (verdict.intact, verdict.first, verdict.anchor, verdict.signed_upto) == (True, 7, 6, 12)
    assert "older ones cut up to 6" in smgwctl(path, "system").stdout
    tamper(path, "UPDATE log_anchors SET hash = zeroblob(32) WHERE kind = 'system'")
    assert verdicts(path)["system"][0] == 7  # a forged anchor breaks the first entry kept
    tamper(path, "DELETE FROM log_consumer WHERE id = 9")
    assert verdicts(path)["consumer"][0] == 9


def test_retention_by_count_keeps_the_newest_and_the_chain(tmp_path: Path, pki: Path) -> None:
    path = tmp_path / "s.db"
    fill(path, seal=seal_of(pki))
    with running(path) as store:
        store.prune(datetime(1970, 1, 1, tzinfo=timezone.utc), timeout=30, keep_log_entries=5)
    with StoreReader(path) as reader:
        for kind in LOG_KINDS:
            verdict = verify(reader, kind)
            assert (verdict.intact, verdict.first, verdict.last, verdict.anchor) == (True, 8, 12, 7), kind


def test_retention_never_cuts_past_a_younger_entry_whatever_the_clock_did(tmp_path: Path) -> None:
    """A clock stepped back: entry 3 is older than entry 2. The cut stops before the first young entry."""
    path = tmp_path / "s.db"
    with running(path) as store:
        for minute in (0, 10, 5, 20):
            store.log("system", "start", f"at minute {minute}", at=T0 + timedelta(minutes=minute))
    with running(path) as store:
        store.prune(T0 + timedelta(minutes=7), timeout=30)
    with StoreReader(path) as reader:
        assert sorted((e.id, e.message) for e in reader.log("system")) == [
            (2, "at minute 10"), (3, "at minute 5"), (4, "at minute 20")]
        assert verify(reader, "system").intact


def test_a_store_from_before_the_chain_is_chained_when_opened(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    assert migrate(conn, target=2) == 2
    for k in range(3):
        conn.execute("INSERT INTO log_system (at, event, message) VALUES (?, 'start', ?)", (k, f"old {k}"))
    conn.close()
    done = smgwctl(path)
    assert done.returncode == 1 and "has no hash chain yet; start smgwd once" in done.stderr
    with running(path) as store:
        store.log("system", "start", "new")
    with StoreReader(path) as reader:
        verdict = verify(reader, "system")
        assert (verdict.intact, verdict.entries, reader.schema_version) == (True, 4, 3)


def test_the_daemon_signs_its_logs_at_stop(tmp_path: Path, pki: Path) -> None:
    config = GatewayConfig(
        gateway=GatewayIdentity("gw", sig_cert=pki / "lab/smgw/smgw/sig.pem", sig_key=pki / "lab/smgw/smgw/sig.key"),
        store=StoreConfig(path=tmp_path / "gw.db", flush_interval=0.05, log_checkpoint_interval=0.2),
        time=TimeConfig(servers=()))

    async def life() -> None:
        gateway = Gateway(config, notifier=Notifier.disabled())
        await gateway.start()
        stop = asyncio.Event()
        runner = asyncio.create_task(gateway.run(stop))
        await asyncio.sleep(1.5)  # a few checkpoint intervals: the start entry is signed meanwhile
        stop.set()
        await runner
        await gateway.stop()

    asyncio.run(life())
    with StoreReader(tmp_path / "gw.db") as reader:
        entries = reader.log("system")
        checkpoints = reader.checkpoints("system")
        verdict = verify(reader, "system")
    assert entries[-1].event == "stop" and checkpoints[-1].upto == entries[-1].id
    assert len(checkpoints) == 2  # the start entry, then the stop: nothing signed twice
    assert verdict.intact and verdict.unsigned == 0


_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries=st.lists(st.tuples(_TEXT, st.none() | _TEXT, _TEXT, st.integers(-2**40, 2**40)), min_size=2,
                        max_size=8),
       victim=st.integers(0, 7), column=st.sampled_from(["event", "meter_id", "message", "at", "data"]))
def test_any_single_change_is_found(tmp_path_factory: pytest.TempPathFactory, pki: Path,
                                    entries: list[tuple[str, str | None, str, int]], victim: int, column: str) -> None:
    path = tmp_path_factory.mktemp("h") / "s.db"
    with running(path, flush_interval=0.05) as store:
        for event, meter, message, at in entries:
            store.log("consumer", event or "e", message, meter_id=meter, at=datetime.fromtimestamp(0, timezone.utc)
                      + timedelta(microseconds=at))
        assert store.flush(10)
        with StoreReader(path) as reader:
            seal_of(pki).seal(store, reader)
    target = victim % len(entries) + 1
    value = "1" if column == "at" else "'changed ✗'"
    with sqlite3.connect(path) as db:
        before = db.execute(f"SELECT {column} FROM log_consumer WHERE id = ?", (target,)).fetchone()[0]
        db.execute(f"UPDATE log_consumer SET {column} = {value} WHERE id = ?", (target,))
    changed = before != (1 if column == "at" else "changed ✗")
    broken, _ = verdicts(path)["consumer"]
    assert broken == (target if changed else None)


@pytest.fixture(autouse=True)
def _openssl() -> Iterator[None]:
    if shutil.which("openssl") is None:
        pytest.fail("openssl is needed: the independent judge of the chain's hash and signatures")
    yield
