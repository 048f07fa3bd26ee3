"""CMS benchmark: build (encrypt + sign) and open (verify + decrypt) per message, next to ``openssl cms``.

Input: one COSEM/XML document (jOSEF shape) holding a 15-minute load profile
(1-0:1.8.0, one day = 96 rows) of each of 10 meters, ~500 KB. The PKI is made
by the openssl binary (tests/wan/cms_support.py): sub-CA brainpoolP256r1,
signer and recipient on the curve of the row.

- smgwd: ``seal`` (AES-128-GCM, one ECDH KeyAgreeRecipientInfo, SignedData with
  ECDSA/SHA-256, sub-CA included) and ``open_`` (signature, message digest,
  chain to the root, ECDH, unwrap, GCM tag); mean of several calls, best of 3.
- openssl 3.0 CLI doing the same work: build = ``cms -encrypt -aes-128-gcm
  -keyopt ecdh_kdf_md:sha256`` + ``cms -sign -econtent_type
  id-smime-ct-authEnvelopedData``; open = ``cms -verify`` + ``cms -decrypt``.
  Each process's wall time minus the start of an ``openssl version`` process
  (measured next to each run), summed per stage, median of 9 runs; the ``asn1parse`` that cuts the AuthEnvelopedData
  out of its ContentInfo for ``-sign`` is not timed (our API needs no such step).

Ratios are openssl time / smgwd time (above 1: smgwd faster).
"""

from __future__ import annotations

import statistics
import subprocess
import tempfile
import time
import timeit
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

from smgwd.cosem import xml_josef
from smgwd.cosem.classes import LogicalDevice
from smgwd.cosem.obis import Obis
from smgwd.meters.cosem_map import load_profile
from smgwd.reading import Reading, TimeQuality
from smgwd.wan import cms
from tests.wan.cms_support import LabPki, Party, inner_of_content_info, make_pki, wrap_auth_enveloped

METERS = 10
ROWS = 96  # one day of 15-minute values
START = datetime(2025, 1, 1, tzinfo=timezone.utc)
CURVES = ("brainpoolP256r1", "prime256v1")


def document() -> bytes:
    """The COSEM/XML load profile of 10 meters (one Profile Generic per logical device)."""
    devices = []
    for meter in range(METERS):
        meter_id = f"1EMH00{meter:08d}"
        readings = [Reading(meter_id, Obis(1, 0, 1, 8, 0), 12_000_000 + meter * 10_000 + row * 25, -1, 30, 0, None,
                            START + timedelta(minutes=15 * row), TimeQuality.SYNCHRONISED) for row in range(ROWS)]
        devices.append(LogicalDevice(meter_id, (load_profile(readings),)))
    return xml_josef.encode(devices)


def _per_call(fn: Callable[[], object], number: int) -> float:
    return min(timeit.repeat(fn, number=number, repeat=3)) / number


def _process(*args: str | Path) -> float:
    """Wall time of one openssl process (it must succeed)."""
    start = time.perf_counter()
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)
    return time.perf_counter() - start


def _process_start() -> float:
    """The wall time of a trivial openssl process (``openssl version``), median of a few."""
    return statistics.median(_process("version") for _ in range(5))


def _openssl_stages(pki: LabPki, work: Path, plain: Path, signer: Party, recipient: Party) -> tuple[float, float]:
    """One openssl build and open of ``plain``: the two stage times with process starts subtracted."""
    start = _process_start()  # measured next to each run: the machine's load changes
    envelope, inner, signed = work / "aed_ci.der", work / "aed.der", work / "signed.der"
    verified, wrapped, out = work / "verified.der", work / "verified_ci.der", work / "out.xml"
    build = _process("cms", "-encrypt", "-binary", "-aes-128-gcm", "-in", plain, "-recip", recipient.cert_path,
                     "-keyopt", "ecdh_kdf_md:sha256", "-outform", "DER", "-out", envelope)
    inner_of_content_info(envelope, inner)  # not timed: only the CLI needs the AuthEnvelopedData cut out
    build += _process("cms", "-sign", "-binary", "-nodetach", "-md", "sha256", "-econtent_type",
                      "id-smime-ct-authEnvelopedData", "-in", inner, "-signer", signer.cert_path,
                      "-inkey", signer.key_path, "-certfile", pki.sub.cert_path, "-outform", "DER", "-out", signed)
    opened = _process("cms", "-verify", "-inform", "DER", "-in", signed, "-CAfile", pki.trust_path, "-out", verified)
    wrapped.write_bytes(wrap_auth_enveloped(verified.read_bytes()))
    opened += _process("cms", "-decrypt", "-inform", "DER", "-in", wrapped, "-recip", recipient.cert_path,
                       "-inkey", recipient.key_path, "-out", out)
    if out.read_bytes() != plain.read_bytes():
        raise AssertionError("openssl round trip changed the document")
    return build - 2 * start, opened - 2 * start


def _row(name: str, ours: float, peer: float) -> None:
    print(f"  {name:<30} smgwd {ours * 1e3:8.2f} ms   openssl cms {peer * 1e3:8.2f} ms   ratio {peer / ours:5.2f}")


def main() -> None:
    content = document()
    with tempfile.TemporaryDirectory(prefix="smgwd-bench-cms-") as name:
        work = Path(name)
        pki = make_pki(work)
        plain = work / "profile.xml"
        plain.write_bytes(content)
        print(f"CMS (TR-03116-3 §8): COSEM/XML load profile of {METERS} meters x {ROWS} rows, {len(content)} bytes;"
              f" openssl process start ({_process_start() * 1e3:.1f} ms) subtracted per process")
        for curve in CURVES:
            signer, recipient = pki.sig(curve), pki.enc(curve)

            def build() -> bytes:
                return cms.seal(content, signer_cert=signer.cert, signer_key=signer.key,
                                recipient_certs=[recipient.cert], chain=[pki.sub.cert])

            message = build()

            def open_() -> bytes:
                return cms.open_(message, recipient_key=recipient.key, recipient_cert=recipient.cert,
                                 trust=[pki.root.cert]).content

            assert open_() == content
            ours_build, ours_open = _per_call(build, 10), _per_call(open_, 10)
            runs = [_openssl_stages(pki, work, plain, signer, recipient) for _ in range(9)]
            peer_build, peer_open = (statistics.median(run[stage] for run in runs) for stage in (0, 1))
            print(f" {curve} ({len(message)} bytes per message)")
            _row("build (encrypt + sign)", ours_build, peer_build)
            _row("open (verify + decrypt)", ours_open, peer_open)


if __name__ == "__main__":
    main()
