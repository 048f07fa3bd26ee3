"""TAF7 benchmark: build + seal one day of quarter-hour load profiles for 100 meters, next to ``openssl cms``.

Input: a real SQLite store (filled once, not timed, through ``Store.on_readings``,
one push of all meters per minute) with one local day, Europe/Berlin
2026-06-10 (a 24-hour day: 96 quarter hours), of 100 meters each pushing its
1-0:1.8.0 register (Wh, scaler -1, a household's ~0.3 to 0.7 kW) every 60 s,
1 to 9 s after the full minute (meter k: 1 + k % 9 s, within the default
``tolerance`` of 10 s), stamped with a synchronised gateway time: 144,000
readings, and gateway_state ``delivery.emp.period`` at the day's start, as
the daemon has it once the day before was delivered. The PKI is the
openssl-made one of tests/bench/cms.py (signer and EMP encryption certificate
on brainpoolP256r1, sub-CA sent along).

- smgwd, the daemon's own work per day and EMP (an ``EmpDelivery`` for an EMP
  with ``taf = "taf7"``, ``period = "day"``, ``shape = "k461"``):
  * build: ``LoadProfile.values`` (96 values per meter from the store, two
    index seeks each) + ``renderable`` (one K461 COSEM/XML load profile per
    meter), the functions ``EmpDelivery._build_periods`` calls;
  * seal: ``Sealer.seal`` of each of those 100 documents with its
    ``MessageIdentity`` (AES-128-GCM + ECDH, ECDSA/SHA-256 SignedData);
  * whole: ``EmpDelivery.build()`` itself on a fresh copy of the store (build,
    seal, and the commit of the 100 messages with the period watermark to the
    outbox; only the call is timed, not the copy, the store's start or the
    ``EmpDelivery`` set-up); its documents are checked to be the ones timed above.
  Each: best of 3.
- openssl 3.0 CLI: only the seal, of the very same 100 documents (openssl cannot
  make TAF7 values), ``cms -encrypt`` + ``cms -sign`` exactly as tests/bench/cms.py
  (its helper, process start subtracted per process, the ``asn1parse`` between
  them not timed), median of 3 per message, summed over the messages. The
  helper also opens each message with ``cms -verify`` + ``cms -decrypt`` and
  checks the document came back; that part is not reported.

Ratios are openssl time / smgwd time (above 1: smgwd faster): openssl seal vs
smgwd seal, and openssl seal vs smgwd build + seal (and vs the whole
``EmpDelivery.build()``): the latter two do more than openssl does.
"""

from __future__ import annotations

import cProfile
import pstats
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Iterator, TypeVar
from zoneinfo import ZoneInfo

from smgwd.cosem.obis import Obis
from smgwd.gateway.config import EmpConfig
from smgwd.gateway.store import Store, StoreReader
from smgwd.reading import Reading, TimeQuality
from smgwd.taf.use_case import LoadProfile
from smgwd.wan import cms as smgwd_cms
from smgwd.wan.delivery import EmpDelivery, Sealer, period_key
from smgwd.wan.delivery_build import SetAside, renderable
from smgwd.wan.message_identity import MessageIdentity
from tests.bench.cms import _openssl_stages, _process_start, _row
from tests.wan.cms_support import LabPki, make_pki

METERS = 100
PUSH = 60  # seconds between two readings of a meter
LOCAL = ZoneInfo("Europe/Berlin")
DAY = datetime(2026, 6, 10, tzinfo=LOCAL)
START, END = DAY.astimezone(timezone.utc), (DAY + timedelta(days=1)).astimezone(timezone.utc)
NOW = END + timedelta(hours=1)  # the period's grace (120 s) is over
CURVE = "brainpoolP256r1"
GATEWAY, EMP = "smgw-bench-1", "emp"
REPEAT = 3
T = TypeVar("T")


def _meter(k: int) -> str:
    return f"1EMH00{k:08d}"


def _pushes() -> Iterator[list[Reading]]:
    """One list per minute: every meter's 1-0:1.8.0 reading of that minute (see the module comment)."""
    code = Obis(1, 0, 1, 8, 0)
    for minute in range(int((END - START).total_seconds()) // PUSH):
        yield [Reading(_meter(k), code, 40_000_000 + 1_000 * k + minute * (50 + k % 70), -1, 30, 0x1C0104, None,
                       START + timedelta(seconds=minute * PUSH + 1 + k % 9), TimeQuality.SYNCHRONISED)
               for k in range(METERS)]


def fill(path: Path) -> int:
    """The store at ``path`` with the day's readings and the EMP's period watermark at its start; how many."""
    store = Store(path, batch_size=5000, max_queue=500_000, flush_interval=0.5)
    store.start()
    count = 0
    try:
        for push in _pushes():
            store.on_readings(push)
            count += len(push)
        store.set_state(period_key(EMP), START.isoformat())  # the day before was delivered: the daemon's day N
        if not store.flush(120):
            raise AssertionError("the store did not commit the readings")
    finally:
        store.stop(60)
    return count


def emp_config(pki: LabPki) -> EmpConfig:
    """A TAF7 EMP on the openssl-made PKI (TLS made from the signer's files: nothing is sent)."""
    signer, recipient = pki.sig(CURVE), pki.enc(CURVE)
    return EmpConfig(EMP, "https://localhost:1/v1/meterdata", signer.cert_path, signer.key_path, pki.trust_path,
                     signer.cert_path, signer.key_path, recipient.cert_path, chain=pki.sub.cert_path,
                     shape="k461", taf="taf7", period="day", time_zone=LOCAL)


@dataclass
class Ours:
    documents: list[bytes]
    values: int
    build: float
    seal: float
    whole: float


def _best(fn: Callable[[], T]) -> tuple[float, T]:
    """The shortest of REPEAT calls of ``fn``, and its last result."""
    times, result = [], None
    for _ in range(REPEAT):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    assert result is not None
    return min(times), result


def _build(emp: EmpConfig, path: Path) -> tuple[int, list[bytes]]:
    """What ``_build_periods`` does before sealing: the day's values and their documents."""
    with StoreReader(path) as reader:
        values = LoadProfile(emp).values(reader, START, END, reader.state())
    poison: list[SetAside] = []
    documents = [document for document, _ in renderable(values.readings, emp.shape, poison)]
    assert not poison and not values.notes, "every value is there: no reading set aside, no gap"
    return len(values.readings), documents


def _whole(emp: EmpConfig, filled: Path, work: Path) -> tuple[float, list[bytes]]:
    """``EmpDelivery.build()`` on a fresh copy of the filled store: its time, the sealed messages it committed."""
    path = work / "gw.db"
    path.unlink(missing_ok=True)
    shutil.copyfile(filled, path)
    store = Store(path, flush_interval=0.05)
    store.start()
    sender = EmpDelivery(emp, GATEWAY, store, clock=lambda: NOW)
    try:
        started = time.perf_counter()
        made = sender.build()
        elapsed = time.perf_counter() - started
        with StoreReader(path) as reader:
            messages = [bytes(entry.payload) for entry in reader.outbox()]
    finally:
        sender.close()
        store.stop(30)
    assert len(made) == len(messages) == METERS, (len(made), len(messages))
    return elapsed, messages


def ours(pki: LabPki, emp: EmpConfig, filled: Path, work: Path) -> Ours:
    build, (values, documents) = _best(lambda: _build(emp, filled))
    sealer = Sealer(emp)
    identities = [MessageIdentity(GATEWAY, EMP, f"{GATEWAY}-{EMP}-{k:032x}", k + 1, NOW, "taf7")
                  for k in range(len(documents))]
    seal, _ = _best(lambda: [sealer.seal(d, i) for d, i in zip(documents, identities)])
    runs = [_whole(emp, filled, work) for _ in range(REPEAT)]
    whole, messages = min(elapsed for elapsed, _ in runs), runs[-1][1]
    recipient = pki.enc(CURVE)
    opened = [smgwd_cms.open_(m, recipient_key=recipient.key, recipient_cert=recipient.cert,
                              trust=[pki.root.cert]).content for m in messages]
    if opened != documents:
        raise AssertionError("EmpDelivery.build() sealed other documents than the ones timed")
    return Ours(documents, values, build, seal, whole)


def openssl_seal(pki: LabPki, work: Path, documents: list[bytes]) -> float:
    """openssl's ``cms -encrypt`` + ``cms -sign`` of every document (median of REPEAT), summed."""
    plain = work / "document.xml"
    total = 0.0
    for document in documents:
        plain.write_bytes(document)
        total += statistics.median(_openssl_stages(pki, work, plain, pki.sig(CURVE), pki.enc(CURVE))[0]
                                   for _ in range(REPEAT))
    return total


def profile(emp: EmpConfig, filled: Path, top: int = 10) -> None:
    """cProfile of one build (values + documents), the ``top`` entries by cumulative time."""
    profiler = cProfile.Profile()
    profiler.runcall(_build, emp, filled)
    pstats.Stats(profiler, stream=sys.stdout).sort_stats("cumulative").print_stats(top)


def main(profile_only: bool = False) -> None:
    """The benchmark; ``profile_only``: instead, print a cProfile of one build."""
    with tempfile.TemporaryDirectory(prefix="smgwd-bench-taf7-") as name:
        work = Path(name)
        pki = make_pki(work)
        emp = emp_config(pki)
        filled = work / "filled.db"
        readings = fill(filled)
        if profile_only:
            return profile(emp, filled)
        result = ours(pki, emp, filled, work)
        peer = openssl_seal(pki, work, result.documents)
        size = sum(map(len, result.documents))
        print(f"TAF7: {DAY.date()} ({LOCAL.key}), {METERS} meters, a 1-0:1.8.0 reading every {PUSH} s "
              f"({readings} in the store) -> {result.values} quarter-hour values, {len(result.documents)} K461 "
              f"messages ({size // len(result.documents)} bytes of XML each); {CURVE}; openssl process start "
              f"({_process_start() * 1e3:.1f} ms) subtracted per process; openssl only seals")
        print(f"  {'build (values + COSEM/XML)':<30} smgwd {result.build * 1e3:8.2f} ms   (openssl: no such step)")
        _row("seal (encrypt + sign)", result.seal, peer)
        _row("build + seal", result.build + result.seal, peer)
        _row("EmpDelivery.build() whole", result.whole, peer)


if __name__ == "__main__":
    main()
