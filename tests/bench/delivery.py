"""Delivery benchmark: messages per second from the gateway's outbox to a local lab EMP over TLS.

A day of quarter-hour values of 10 meters (3 OBIS codes each) is built into K461 messages
(one per meter), sealed (AES-128-GCM + ECDH for the EMP, ECDSA signature) and sent one by
one through the real sender: mutual TLS on brainpoolP256r1, the EMP verifying, decrypting,
validating and storing each, and acknowledging it. Peer on the same messages to the same EMP:
``curl`` posting each already-sealed message with the same client certificate (its process
start, measured with ``curl --version``, subtracted), so the ratio shows what our client side
costs next to a C client that does no CMS work.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from smgwd.cosem.obis import Obis
from smgwd.gateway.store import Store, StoreReader
from smgwd.reading import Reading
from smgwd.wan.delivery import EmpDelivery
from smgwd.wan.pki import init_pki
from tests.wan.test_delivery import OBIS, Emp, emp_config

METERS = 10
DAY = 96
T0 = datetime(2026, 3, 1, tzinfo=timezone.utc)


def _readings() -> list[Reading]:
    return [
        Reading(f"m{m}", Obis.parse(code), 1000 * q + i, -1, 30, gateway_time=T0 + timedelta(minutes=15 * q))
        for m in range(METERS) for q in range(DAY) for i, code in enumerate(OBIS)
    ]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        init_pki(base / "lab")
        emp = Emp(base, base / "emp.db")
        emp.start()
        store = Store(base / "gw.db", flush_interval=0.05)
        store.start()
        try:
            store.on_readings(_readings())
            store.flush(60)
            clock = T0 + timedelta(days=1, hours=1)
            sender = EmpDelivery(emp_config(base, emp.port, shape="k461"), "bench", store, clock=lambda: clock,
                                 backoff=lambda n: 60.0)
            started = time.perf_counter()
            built = sender.build()
            build_time = time.perf_counter() - started
            store.flush(60)
            started = time.perf_counter()
            while sender.send_next() == 0.0:
                pass
            send_time = time.perf_counter() - started
            with StoreReader(store.path) as reader:
                payloads = [e for e in reader.outbox()]
            acked = sum(1 for e in payloads if e.state == "acked")
            peer = _curl(base, emp.port, [bytes(e.payload) for e in payloads])
        finally:
            sender.close()
            store.stop(30)
            emp.stop()
            emp.service.store.close()
    n = len(built)
    print(f"delivery: {METERS} meters x {DAY} quarter hours x {len(OBIS)} codes -> {n} K461 messages, "
          f"{acked} acknowledged by the EMP")
    print(f"smgwd: build + seal {build_time / n * 1000:.1f} ms/message; send over mutual TLS until acked "
          f"{n / send_time:.1f} messages/s")
    if peer is not None:
        print(f"peer: curl posting the same sealed messages {peer:.1f} messages/s (process start subtracted); "
              f"ratio smgwd/curl {n / send_time / peer:.2f}x")


def _curl(base: Path, port: int, payloads: list[bytes]) -> float | None:
    """Messages per second with curl on the same TLS credentials (a fresh id each, so the EMP stores them)."""
    lab = base / "lab"
    try:
        start = time.perf_counter()
        subprocess.run(["curl", "--version"], capture_output=True, check=True)
        launch = time.perf_counter() - start
    except (OSError, subprocess.CalledProcessError):
        return None
    total = 0.0
    for k, payload in enumerate(payloads):
        body = base / "m.p7m"
        body.write_bytes(payload)
        started = time.perf_counter()
        subprocess.run(["curl", "-s", "--fail", "--tlsv1.2", "--tls-max", "1.2", "--curves", "brainpoolP256r1",
                        "--cert", str(lab / "smgw/smgw/tls.pem"), "--key", str(lab / "smgw/smgw/tls.key"),
                        "--cacert", str(lab / "ca-chain.pem"), "-H", f"X-Message-Id: curl-{k}",
                        "--data-binary", f"@{body}", f"https://localhost:{port}/v1/meterdata"],
                       capture_output=True, check=True)
        total += max(time.perf_counter() - started - launch, 1e-6)
    return len(payloads) / total


if __name__ == "__main__":
    main()
