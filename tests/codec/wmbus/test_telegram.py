"""The telegram layers on telegrams our encoder builds: round trips, keys, CRCs, fuzz.

Real telegrams are in test_real_telegrams.py; these tests cover the combinations no public
capture has (every ELL variant with and without AES-CTR, modes 5/7 behind an ELL, frame B).
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smgwd.codec.crc import crc16_en13757
from smgwd.codec.wmbus import (
    CrcError,
    FrameFormat,
    LinkCrc,
    MacError,
    MissingKeyError,
    WmbusError,
    WrongKeyError,
    add_link_crcs,
    decode_telegram,
    strip_link_crcs,
)
from tests.codec.wmbus.strategies import Case, cases

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_crc_check_values() -> None:
    """Check values of CRC-16/EN-13757 (catalogue) and wmbusmeters' test_crc vector."""
    assert crc16_en13757(b"123456789") == 0xC2B7
    assert crc16_en13757(bytes.fromhex("EE449ACE010000802307")) == 0xAABC


def _keys(case: Case) -> dict[str, bytes]:
    if case.key is None:
        return {}
    keys = {case.dll.address.id: case.key}
    if case.tpl.address is not None:
        keys[case.tpl.address.id] = case.key
    return keys


def _check_payload(case: Case, payload: bytes) -> None:
    if case.mode:
        # Modes 5/7 pad the last encrypted block with 0x2F fillers.
        assert payload[: len(case.payload)] == case.payload
        assert set(payload[len(case.payload) :]) <= {0x2F}
    else:
        assert payload == case.payload


@FAST
@given(cases())
def test_round_trip(case: Case) -> None:
    wire = case.wire()
    tel = decode_telegram(wire, _keys(case))
    assert tel.dll.c_field == case.dll.c_field
    assert tel.dll.address == case.dll.address
    assert tel.tpl.ci == case.tpl.ci
    assert tel.tpl.address == case.tpl.address
    assert tel.security_mode == case.mode
    assert tel.link_crc is case.link_crc
    assert tel.frame_format is (case.frame_format if case.link_crc else None)
    assert tel.encrypted is bool(case.mode or case.ell_encrypted)
    assert not tel.already_decrypted
    assert tel.mac_verified is (case.mode == 7)
    if case.ell is not None:
        assert tel.ell is not None and tel.ell.session == case.ell.session
    _check_payload(case, tel.payload)
    assert tel.meter_id == (case.tpl.address or case.dll.address).id


@FAST
@given(cases())
def test_link_crc_policy_explicit(case: Case) -> None:
    wire = case.wire()
    policy = LinkCrc.PRESENT if case.link_crc else LinkCrc.ABSENT
    assert decode_telegram(wire, _keys(case), link_crc=policy).payload == decode_telegram(wire, _keys(case)).payload


@FAST
@given(cases(), st.integers(0, 127), st.data())
def test_wrong_key_is_named(case: Case, bit: int, data: st.DataObject) -> None:
    if case.key is None or not (case.mode or case.ell_encrypted):
        return
    wrong = bytearray(case.key)
    wrong[bit // 8] ^= 1 << (bit % 8)
    keys = {k: bytes(wrong) for k in _keys(case)}
    with pytest.raises((WrongKeyError, MacError)) as err:
        decode_telegram(case.wire(), keys)
    assert err.value.meter_id in keys


@FAST
@given(cases())
def test_missing_key_names_the_meter(case: Case) -> None:
    if not (case.mode or case.ell_encrypted):
        return
    with pytest.raises(MissingKeyError) as err:
        decode_telegram(case.wire(), {})
    assert err.value.meter_id in _keys(case)


@FAST
@given(cases())
def test_logged_plaintext_decodes_without_key(case: Case) -> None:
    """A telegram written in the clear under a header that says encrypted (a replayed log)."""
    if not case.mode or case.ell_encrypted:
        return
    tel = decode_telegram(case.wire(encrypt=False), {})
    assert tel.already_decrypted and not tel.encrypted
    _check_payload(case, tel.payload)


@FAST
@given(cases(), st.data())
def test_flipped_bit_under_link_crcs(case: Case, data: st.DataObject) -> None:
    """Every single-bit error inside a CRC-guarded frame is caught (CRC-16 finds them all)."""
    if not case.link_crc:
        return
    wire = bytearray(case.wire())
    pos = data.draw(st.integers(1, len(wire) - 1))  # the L-field itself changes the layout
    wire[pos] ^= 1 << data.draw(st.integers(0, 7))
    with pytest.raises(WmbusError) as err:
        decode_telegram(bytes(wire), _keys(case), link_crc=LinkCrc.PRESENT)
    assert isinstance(err.value, (CrcError, WmbusError))


@FAST
@given(cases(), st.data())
def test_truncated(case: Case, data: st.DataObject) -> None:
    wire = case.wire()
    cut = data.draw(st.integers(0, len(wire) - 1))
    policy = LinkCrc.PRESENT if case.link_crc else LinkCrc.ABSENT
    with pytest.raises(WmbusError):
        decode_telegram(wire[:cut], _keys(case), link_crc=policy)


@FAST
@given(cases(), st.binary(min_size=1, max_size=4))
def test_trailing_bytes(case: Case, tail: bytes) -> None:
    tel = decode_telegram(case.wire() + tail, _keys(case), allow_trailing=True)
    assert tel.trailing == tail
    _check_payload(case, tel.payload)


@settings(max_examples=2000, deadline=None)
@given(st.binary(max_size=300), st.sampled_from(tuple(LinkCrc)))
def test_arbitrary_bytes(data: bytes, policy: LinkCrc) -> None:
    try:
        decode_telegram(data, {"12345678": bytes(16)}, link_crc=policy, allow_trailing=len(data) % 2 == 0)
    except WmbusError:
        pass


@FAST
@given(cases(), st.data())
def test_mutated_telegrams(case: Case, data: st.DataObject) -> None:
    """Bytes changed anywhere after the CRCs are gone: a telegram or a WmbusError, nothing else."""
    wire = bytearray(case.wire())
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(wire) - 1))
        wire[pos] = data.draw(st.integers(0, 255))
    try:
        decode_telegram(bytes(wire), _keys(case), allow_trailing=True)
    except WmbusError:
        pass


@pytest.mark.parametrize("size", [11, 12, 25, 26, 27, 100, 125, 126, 127, 200, 252])
@pytest.mark.parametrize("fmt", list(FrameFormat))
def test_link_crc_layout(size: int, fmt: FrameFormat) -> None:
    """add_link_crcs and strip_link_crcs are inverse at the block boundaries of A and B."""
    frame = bytes((size - 1,)) + bytes(range(1, size))
    if fmt is FrameFormat.B and size + (2 if size + 2 <= 128 else 4) > 256:
        pytest.skip("too long for frame B")
    wire = add_link_crcs(frame, fmt)
    stripped, layout = strip_link_crcs(wire, LinkCrc.PRESENT)
    assert stripped[1:] == frame[1:]
    assert layout.format is fmt and layout.wire_length == len(wire)
    for offset in range(len(stripped)):
        if offset:
            assert wire[layout.to_input(offset)] == stripped[offset]
