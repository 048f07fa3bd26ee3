"""Arbitrary and damaged bytes through the whole DLMS push path: nothing raises, nothing wrong is stored.

The reader must survive any line noise (HDLC and M-Bus framings), and a damaged encrypted
message must never decode when the tag can be checked.
"""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from smgwd.codec.dlms import DlmsKeys
from smgwd.meters.dlms.reader import PushDecoded, PushReader

CAPTURES = json.loads((Path(__file__).resolve().parents[2] / "data" / "dlms" / "captures.json").read_text())["captures"]
HDLC = [c for c in CAPTURES if c["transport"] == "hdlc" and not c["reject"]]
TAGGED = [c for c in HDLC if c["keys"]["encryption"] and c["keys"]["authentication"]]


def _keys(c: dict) -> DlmsKeys:  # type: ignore[type-arg]
    k = c["keys"]
    return DlmsKeys(bytes.fromhex(k["encryption"]) if k["encryption"] else None,
                    bytes.fromhex(k["authentication"]) if k["authentication"] else None)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3000), st.sampled_from(["hdlc", "mbus"]), st.integers(1, 300))
def test_arbitrary_bytes_never_raise(data: bytes, transport: str, chunk: int) -> None:
    reader = PushReader(DlmsKeys(bytes(16), bytes(16)), transport=transport)
    for k in range(0, len(data), chunk):
        for result in reader.feed(data[k : k + chunk]):
            assert isinstance(result, PushDecoded) or result.reason
    assert reader.hdlc.buffered <= 2 * 2049


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(HDLC), st.data())
def test_mutated_real_pushes_never_raise(capture: dict, data: st.DataObject) -> None:  # type: ignore[type-arg]
    raw = bytearray(b"".join(bytes.fromhex(f) for f in capture["frames"]))
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(raw) - 1))
        raw[at] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    reader = PushReader(_keys(capture), transport="hdlc")
    reader.feed(bytes(raw[:cut]))
    reader.feed(bytes(raw[cut:]))


def _ciphered_apdu(capture: dict) -> bytes:  # type: ignore[type-arg]
    """The whole general-glo-ciphering APDU of a capture (HDLC segments and GBT blocks undone)."""
    from smgwd.codec.dlms import GBT_TAG, BlockAssembler, parse_block
    from smgwd.codec.hdlc import HdlcDecoder, Reassembler, Received

    decoder, segments, blocks = HdlcDecoder(), Reassembler(), BlockAssembler()
    decoder.feed(b"".join(bytes.fromhex(f) for f in capture["frames"]))
    for event in decoder:
        assert isinstance(event, Received)
        message = segments.add(event.frame)
        if message is None:
            continue
        if message.apdu[0] != GBT_TAG:
            return message.apdu
        whole = blocks.add(parse_block(message.apdu))
        if whole is not None:
            return whole
    raise AssertionError("no whole APDU")


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(TAGGED), st.data())
def test_a_changed_encrypted_message_never_decodes_when_the_tag_is_checked(capture: dict, data: st.DataObject) -> None:  # type: ignore[type-arg]
    """Any changed byte of the ciphered APDU (title, SC, IC, ciphertext, tag) is refused, never read as data."""
    apdu = bytearray(_ciphered_apdu(capture))
    assert apdu[0] == 0xDB
    assert isinstance(PushReader(_keys(capture)).apdu(bytes(apdu)), PushDecoded)  # as captured it decodes
    at = data.draw(st.integers(1, len(apdu) - 1))
    apdu[at] ^= data.draw(st.integers(1, 255))
    result = PushReader(_keys(capture)).apdu(bytes(apdu))
    assert not isinstance(result, PushDecoded), (capture["name"], at)
