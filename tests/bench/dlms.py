"""DLMS/COSEM push: messages per second through the gateway's PushReader, next to gurux-dlms, dlms-cosem and amshan.

Input: the real HDLC pushes of tests/data/dlms/captures.json (6 makers; HDLC segments, GBT
blocks, general-glo-ciphering), keys as published, layouts as a user configures them (the
``layout_for`` / ``keys_of`` of tests/meters/dlms/test_real_captures.py). Left out: the
negatives, the M-Bus and bare-APDU transports, and the Kamstrup CH capture whose key was
never published (nobody can decode its HDLC bytes). Work per message, ours:
``PushReader.feed`` of the capture's HDLC bytes as one contiguous ``bytes`` (and again in
64-byte chunks, as a serial line delivers them) -> one ``PushDecoded`` with its readings:
frame CRCs, S-bit segments, GBT blocks, AES-GCM with the tag checked wherever an AK is
published, A-XDR, the layout, OBIS/scaler/unit. One reader per meter, kept across messages
(a gateway's steady state); every result is first checked against the capture's published
values (``check_expectations``).

Peers, each on the captures it decodes correctly (its values at the published positions
equal the capture's ``expect`` list), and ours on exactly those captures:

- gurux-dlms 1.0.203: ``GXDLMSSecureClient.getData`` over the HDLC bytes until the
  notification is complete (the fastest correct path found: ``GXDLMSTranslator.messageToXml``
  is 1.5-2.2x slower on plain frames and neither joins GBT blocks nor deciphers). Client and
  server address configured from the first frame, the receive sequence reset before each
  message (else gurux refuses Kaifa's I-frame pushes). It checks the CRCs but **not the GCM
  tag** (it deciphers with its cipher stream in encrypt mode, so the tag comparison never
  runs: a wrong AK decodes the same), and its AES-GCM is pure Python. Its "Encryption is applied." prints go to /dev/null.
- dlms-cosem 25.1.0: it has no push listener. (a) "HDLC": its own UI/I-frame classes
  (HCS/FCS) on the frames as the capture lists them (pre-split: an advantage over a byte
  stream), segments joined by the bench, then its DataNotification, GeneralGlobalCipher +
  ``security.decrypt`` (tag checked; needs an AK) and ``utils.parse_as_dlms_data``;
  (b) "APDU": the reassembled APDU (HDLC segments and GBT blocks joined by our codec, not
  timed) into the same xDLMS/A-XDR layer, next to our ``PushReader.apdu`` on the same APDU
  (to readings), and to our ``decode_notification`` (APDU to typed values only, the same
  depth as dlms-cosem's output).
  Its A-XDR decoder can loop forever on truncated input, so the correctness probe runs
  under a 2 s alarm.
- amshan 2.1.1: ``HdlcFrameReader.read`` (FCS and length checked) + ``AutoDecoder.
  decode_message_payload`` (Norwegian/Swedish Aidon, Kaifa, Kamstrup lists only; no
  ciphering). Checked on its instantaneous values and ids (its energy scaling is the
  Norwegian one by design).

Interleaved per capture (ours and the peers measured close together in time): warm-up, then ``timeit.repeat`` (5 repeats of >= 10 ms), median; a row's
figure is the mean over its captures, all in this one process. Target: ours >= 2x the
fastest peer (on the captures all three peers decode), with the tag checked.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import statistics
import time
import timeit
from pathlib import Path
from typing import Any, Callable

from smgwd.codec.dlms import GBT_TAG, BlockAssembler, decode_notification, parse_block
from smgwd.codec.hdlc import HdlcDecoder, Reassembler, Received
from smgwd.meters.dlms.reader import PushDecoded, PushReader, pending
from tests.meters.dlms.test_real_captures import check_expectations, keys_of, layout_for

DATA = Path(__file__).resolve().parents[1] / "data" / "dlms" / "captures.json"
CHUNK = 64
REPEAT = 5
MIN_TIME = 0.010  # seconds per repeat
GURUX, COSEM, AMSHAN = "gurux-dlms 1.0.203", "dlms-cosem 25.1.0", "amshan 2.1.1"


class _Capture:
    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw
        self.name: str = raw["name"]
        self.frames = [bytes.fromhex(f) for f in raw["frames"]]
        self.data = b"".join(self.frames)
        self.chunks = [self.data[k : k + CHUNK] for k in range(0, len(self.data), CHUNK)]
        self.keys = keys_of(raw)
        self.tag_checked = bool(self.keys.encryption and self.keys.authentication)
        self.apdu = _whole_apdu(self.data)


def _corpus() -> tuple[list[_Capture], int]:
    captures, skipped = [], 0
    for raw in json.loads(DATA.read_text())["captures"]:
        if raw["reject"] or raw["transport"] != "hdlc":
            continue
        if raw.get("plaintext_apdu"):  # key never published: only the logged plaintext is known
            skipped += 1
            continue
        captures.append(_Capture(raw))
    return captures, skipped


def _whole_apdu(data: bytes) -> bytes:
    """The message's APDU with HDLC segments and GBT blocks joined (by our codec; input for APDU-level peers)."""
    decoder, segments, blocks, apdu = HdlcDecoder(), Reassembler(), BlockAssembler(), None
    decoder.feed(data)
    for event in decoder:
        assert isinstance(event, Received), event
        message = segments.add(event.frame)
        if message is None:
            continue
        part: bytes | None = message.apdu
        if part is not None and part[:1] == bytes((GBT_TAG,)):
            part = blocks.add(parse_block(part))
        if part is not None:
            apdu = part
    assert apdu is not None
    return apdu


# -- ours -------------------------------------------------------------------------------


def _our_reader(c: _Capture) -> PushReader:
    return PushReader(c.keys, layout=layout_for(c.raw))


def _check_ours(c: _Capture, results: list[Any], reader: PushReader) -> None:
    assert len(results) == 1 and isinstance(results[0], PushDecoded), (c.name, results)
    assert not pending(reader), c.name
    check_expectations(c.raw, results[0])
    assert not c.tag_checked or "tag_unchecked" not in results[0].quirks, c.name


def _ours_whole(c: _Capture) -> Callable[[], object]:
    reader, data = _our_reader(c), c.data
    _check_ours(c, reader.feed(data), reader)
    return lambda: reader.feed(data)


def _ours_chunked(c: _Capture) -> Callable[[], object]:
    reader, chunks = _our_reader(c), c.chunks

    def run() -> list[Any]:
        out: list[Any] = []
        for chunk in chunks:
            out += reader.feed(chunk)
        return out

    _check_ours(c, run(), reader)
    return run


def _ours_apdu(c: _Capture) -> Callable[[], object]:
    reader, apdu = _our_reader(c), c.apdu
    result = reader.apdu(apdu)
    _check_ours(c, [result], reader)
    return lambda: reader.apdu(apdu)


def _ours_notification(c: _Capture) -> Callable[[], object]:
    """The APDU layer alone: decrypted (tag checked), typed A-XDR values; no layout, no readings."""
    apdu, keys = c.apdu, c.keys
    note = decode_notification(apdu, keys)
    assert not c.tag_checked or note.tag_checked, c.name
    return lambda: decode_notification(apdu, keys)


# -- checking a peer's values against the capture ---------------------------------------


def _body_matches(body: Any, c: _Capture) -> bool:
    """The body structure a peer decoded holds the published raw values at their positions."""
    checked = 0
    for e in c.raw["expect"]:
        if e["raw"] is None:
            continue
        if not isinstance(body, list) or e["position"] >= len(body):
            return False
        x = body[e["position"]]
        if isinstance(x, list) and len(x) >= 2 and isinstance(x[0], (bytes, bytearray)) and len(x[0]) == 6:
            x = x[1]  # structure{obis, value, scaler_unit}
        if isinstance(e["raw"], int):
            if type(x) is bool or not isinstance(x, int) or x != e["raw"]:
                return False
            checked += 1
        elif isinstance(x, (bytes, bytearray)):
            if x.decode("latin-1") != e["raw"] and x.hex().upper() != e["raw"]:
                return False
        elif isinstance(x, str) and x != e["raw"]:
            return False
        # else: a date-time object: its hex form is not comparable, left unchecked
    return checked > 0


def _amshan_matches(decoded: dict[str, Any] | None, c: _Capture) -> bool:
    from han.obis_map import obis_name_map

    if not decoded:
        raise ValueError("no decoder accepts the payload")
    checked = 0
    for e in c.raw["expect"]:
        if not e["obis"]:
            continue
        cde = ".".join(e["obis"].split(":")[1].split(".")[:3])
        name = obis_name_map.get(cde)
        if name is None or name == "meter_datetime":
            continue
        if cde.split(".")[1] == "8":  # energies: amshan's Norwegian 10-Wh rule is not the corpus's reading
            continue
        if name not in decoded:
            return False
        got = decoded[name]
        if isinstance(e["raw"], str):
            if got != e["raw"]:
                return False
        elif abs(float(got) - float(e["value"])) > 1e-6 * max(1.0, abs(float(e["value"]))):
            return False
        checked += 1
    return checked > 0


def _amshan_ok(results: list[Any], c: _Capture) -> bool:
    decoded = [r for r in results if r]
    return _amshan_matches(decoded[0] if decoded else None, c) and len(decoded) == 1


# -- gurux-dlms -------------------------------------------------------------------------


def _gurux_client(c: _Capture) -> Any:
    from gurux_dlms import GXByteBuffer
    from gurux_dlms.enums import Security
    from gurux_dlms.internal._GXCommon import _GXCommon
    from gurux_dlms.secure import GXDLMSSecureClient

    head = GXByteBuffer(c.frames[0])
    head.position = 3
    target, source = _GXCommon.getHDLCAddress(head), _GXCommon.getHDLCAddress(head)
    client = GXDLMSSecureClient(True, target, source)
    if c.keys.encryption:
        client.ciphering.security = Security.AUTHENTICATION_ENCRYPTION
        client.ciphering.blockCipherKey = c.keys.encryption
        if c.keys.authentication:
            client.ciphering.authenticationKey = c.keys.authentication
    return client


def _gurux_pump(client: Any, buf: Any, reply: Any, notify: Any, out: list[Any]) -> None:
    while buf.position < buf.size:
        start = buf.position
        client.getData(buf, reply, notify)
        if notify.complete and not notify.isMoreData() and notify.value is not None:
            out.append(notify.value)
            notify.clear()
        reply.clear()
        if buf.position == start:  # the next frame is not complete yet
            break


def _gurux_whole(c: _Capture) -> Callable[[], list[Any]]:
    from gurux_dlms import GXByteBuffer, GXReplyData

    client, data = _gurux_client(c), c.data

    def run() -> list[Any]:
        client.settings.receiverFrame = 0xEE  # the next I-frame expected is 0x10, as Kaifa sends every push
        out: list[Any] = []
        _gurux_pump(client, GXByteBuffer(data), GXReplyData(), GXReplyData(), out)
        return out

    return run


def _gurux_chunked(c: _Capture) -> Callable[[], list[Any]]:
    from gurux_dlms import GXByteBuffer, GXReplyData

    client, chunks = _gurux_client(c), c.chunks
    buf, reply, notify = GXByteBuffer(), GXReplyData(), GXReplyData()

    def run() -> list[Any]:
        client.settings.receiverFrame = 0xEE
        out: list[Any] = []
        for chunk in chunks:
            buf.set(chunk)
            _gurux_pump(client, buf, reply, notify, out)
            if buf.position == buf.size:
                buf.clear()
            elif buf.position:
                buf.trim()
        return out

    return run


# -- dlms-cosem -------------------------------------------------------------------------


def _cosem_apdu(apdu: bytes, c: _Capture) -> Any:
    from dlms_cosem import security, utils
    from dlms_cosem.protocol.xdlms import DataNotification, GeneralGlobalCipher

    if apdu[0] == 0xDB:
        ciphered = GeneralGlobalCipher.from_bytes(apdu)
        apdu = security.decrypt(ciphered.security_control, ciphered.system_title, ciphered.invocation_counter,
                                c.keys.encryption, ciphered.ciphered_text, c.keys.authentication)
    return utils.parse_as_dlms_data(DataNotification.from_bytes(apdu).body)


def _cosem_hdlc(c: _Capture) -> Any:
    from dlms_cosem.hdlc.frames import InformationFrame, UnnumberedInformationFrame

    info = b""
    for raw in c.frames:
        try:
            frame = UnnumberedInformationFrame.from_bytes(raw)
        except Exception as ui_error:  # noqa: BLE001 - maybe an I-frame push (Kaifa)
            try:
                frame = InformationFrame.from_bytes(raw)
            except Exception as i_error:  # noqa: BLE001
                raise ValueError(f"as UI frame: {_short(ui_error)}; as I-frame: {_short(i_error)}") from None
        payload = frame.payload
        if not info and payload[:3] == b"\xe6\xe7\x00":
            payload = payload[3:]
        info += payload
    return _cosem_apdu(info, c)


def _short(error: Exception) -> str:
    text = str(error).split(" Calculated")[0].split(". ")[0]
    return text or type(error).__name__


# -- amshan -----------------------------------------------------------------------------


def _amshan(c: _Capture, chunked: bool) -> Callable[[], list[Any]]:
    from han.autodecoder import AutoDecoder
    from han.hdlc import HdlcFrameReader

    reader, decoder = HdlcFrameReader(), AutoDecoder()
    pieces = c.chunks if chunked else [c.data]

    def run() -> list[Any]:
        out = []
        for piece in pieces:
            for frame in reader.read(piece):
                if frame.is_good_ffc and frame.is_expected_length:
                    out.append(decoder.decode_message_payload(frame.payload))
        return out

    return run


# -- probing and timing -----------------------------------------------------------------


class _Hang(Exception):
    pass


def _alarm(signum: int, frame: object) -> None:
    raise _Hang()


def _probe(fn: Callable[[], Any], ok: Callable[[Any], bool]) -> str | None:
    """None when ``fn`` decodes the capture correctly, else why not."""
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, 2.0)
    try:
        result = fn()
        return None if ok(result) else "values differ from the published ones"
    except _Hang:
        return "hangs (> 2 s)"
    except Exception as error:  # noqa: BLE001 - the peer's own refusal, reported
        return f"{type(error).__name__}: {str(error)[:90]}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _median(fn: Callable[[], object]) -> float:
    fn()  # warm-up
    start = time.perf_counter()
    fn()
    once = time.perf_counter() - start
    number = max(1, int(MIN_TIME / max(once, 1e-9)))
    return statistics.median(timeit.repeat(fn, number=number, repeat=REPEAT)) / number


def _mean(times: dict[str, float], names: list[str]) -> float:
    return sum(times[n] for n in names) / len(names)


def main() -> None:
    captures, unpublished = _corpus()
    devnull = open(os.devnull, "w")  # noqa: SIM115 - gurux prints while decrypting
    timings: dict[str, dict[str, float]] = {k: {} for k in (
        "ours", "ours64", "oursapdu", "oursnote", "gurux", "gurux64", "cosem", "cosemapdu", "amshan", "amshan64")}
    refused: dict[str, dict[str, str]] = {GURUX: {}, COSEM + " HDLC": {}, COSEM + " APDU": {}, AMSHAN: {}}
    with contextlib.redirect_stdout(devnull):
        for c in captures:  # interleaved per capture: ours and the peers measured close together in time
            t = timings
            t["ours"][c.name] = _median(_ours_whole(c))
            t["ours64"][c.name] = _median(_ours_chunked(c))
            t["oursapdu"][c.name] = _median(_ours_apdu(c))
            t["oursnote"][c.name] = _median(_ours_notification(c))
            whole, chunked = _gurux_whole(c), _gurux_chunked(c)
            why = _probe(whole, lambda r: len(r) == 1 and _body_matches(r[0], c)) \
                or _probe(chunked, lambda r: len(r) == 1 and _body_matches(r[0], c))
            if why:
                refused[GURUX][c.name] = why
            else:
                t["gurux"][c.name], t["gurux64"][c.name] = _median(whole), _median(chunked)
            why = _probe(lambda: _cosem_hdlc(c), lambda r: _body_matches(r, c))
            if why:
                refused[COSEM + " HDLC"][c.name] = why
            else:
                t["cosem"][c.name] = _median(lambda: _cosem_hdlc(c))
            why = _probe(lambda: _cosem_apdu(c.apdu, c), lambda r: _body_matches(r, c))
            if why:
                refused[COSEM + " APDU"][c.name] = why
            else:
                t["cosemapdu"][c.name] = _median(lambda: _cosem_apdu(c.apdu, c))
            whole, chunked = _amshan(c, False), _amshan(c, True)
            why = _probe(whole, lambda r: _amshan_ok(r, c)) or _probe(chunked, lambda r: _amshan_ok(r, c))
            if why:
                refused[AMSHAN][c.name] = why
            else:
                t["amshan"][c.name], t["amshan64"][c.name] = _median(whole), _median(chunked)
    devnull.close()

    names = [c.name for c in captures]
    tagged = [c.name for c in captures if c.tag_checked]
    print(f"DLMS push, HDLC bytes -> readings ({len(names)} real captures, {unpublished} with an unpublished key "
          f"left out): µs per message, median of {REPEAT} repeats")
    whole, chunked = _mean(timings["ours"], names), _mean(timings["ours64"], names)
    print(f"  smgwd PushReader: whole {whole * 1e6:.1f} µs ({1 / whole:.0f}/s), {CHUNK}-byte chunks {chunked * 1e6:.1f} µs; "
          f"GCM tag checked on the {len(tagged)} with an AK ({_mean(timings['ours'], tagged) * 1e6:.1f} µs each)")
    print(f"  {'peer, input':50} {'captures':>8} {'smgwd':>8} {'peer':>8} {'ratio':>6}")

    def row(label: str, peer: str, ours: str, subset: list[str] | None = None) -> None:
        got = [n for n in names if n in timings[peer] and (subset is None or n in subset)]
        if not got:
            return
        o, p = _mean(timings[ours], got), _mean(timings[peer], got)
        print(f"  {label:50} {len(got):8} {o * 1e6:8.1f} {p * 1e6:8.1f} {p / o:5.1f}x")

    ciphered = [c.name for c in captures if c.keys.encryption]
    plain = [c.name for c in captures if not c.keys.encryption]
    row(f"{GURUX}, whole (tag not checked)", "gurux", "ours")
    row("    plaintext only", "gurux", "ours", plain)
    row("    ciphered only (pure-Python GCM)", "gurux", "ours", ciphered)
    row(f"{GURUX}, {CHUNK}-byte chunks", "gurux64", "ours64")
    row(f"{COSEM}, HDLC frames (pre-split)", "cosem", "ours")
    row(f"{COSEM}, reassembled APDU -> readings", "cosemapdu", "oursapdu")
    row("    ciphered, tag checked by both", "cosemapdu", "oursapdu", tagged)
    row("    APDU -> values only (decode_notification)", "cosemapdu", "oursnote")
    row(f"{AMSHAN}, whole", "amshan", "ours")
    row(f"{AMSHAN}, {CHUNK}-byte chunks", "amshan64", "ours64")

    common = [n for n in names if all(n in timings[k] for k in ("gurux", "cosem", "amshan"))]
    if common:
        peers = {GURUX: "gurux", COSEM: "cosem", AMSHAN: "amshan"}
        fastest = min(peers, key=lambda p: _mean(timings[peers[p]], common))
        ours, best = _mean(timings["ours"], common), _mean(timings[peers[fastest]], common)
        ratio = best / ours
        print(f"  common to all three peers ({len(common)} captures): fastest peer {fastest} {best * 1e6:.1f} µs, "
              f"smgwd {ours * 1e6:.1f} µs; ratio {ratio:.1f}x   (target >= 2x: {'met' if ratio >= 2 else 'NOT met'})")
    makers = {c.name: c.raw["maker"] for c in captures}
    for peer, why in refused.items():
        reasons: dict[str, list[str]] = {}
        for name, reason in why.items():
            reasons.setdefault(reason, []).append(makers[name])
        parts = []
        for reason, found in sorted(reasons.items(), key=lambda kv: -len(kv[1])):
            who = ", ".join(f"{m} {found.count(m)}" for m in sorted(set(found)))
            parts.append(f"{len(found)}x {reason} ({who})")
        print(f"  {peer} left out {len(why)}: " + ("; ".join(parts) or "-"))


if __name__ == "__main__":
    main()
