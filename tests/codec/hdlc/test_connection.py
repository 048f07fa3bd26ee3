"""HDLC connections, primary (the gateway) against secondary (the simulator's meter), in memory."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from smgwd.codec.hdlc import HdlcAddress, decode_frame
from smgwd.codec.hdlc.connection import HdlcParameters, LinkState, Primary, Step
from smgwd.codec.hdlc.secondary import Secondary

CLIENT, METER = HdlcAddress(16), HdlcAddress(1, 0x12)


def frame(wire: bytes):  # type: ignore[no-untyped-def]
    assert wire[0] == 0x7E and wire[-1] == 0x7E
    return decode_frame(wire[1:-1])


def run(primary: Primary, secondary: Secondary, first: bytes, lose: set[int] | None = None) -> list[Step]:
    """Frames back and forth until the primary has nothing to send; ``lose``: indexes of secondary frames dropped."""
    steps, pending, sent = [], [first], 0
    while pending:
        answers = secondary.receive(frame(pending.pop(0)))
        for wire in answers:
            sent += 1
            if lose and sent in lose:
                continue
            step = primary.receive(frame(wire))
            steps.append(step)
            if step.send:
                pending.append(step.send)
    return steps


def connected(primary_params: HdlcParameters = HdlcParameters(), meter_params: HdlcParameters = HdlcParameters(),
              handler=lambda request: b"answer:" + request) -> tuple[Primary, Secondary]:  # type: ignore[no-untyped-def]
    primary = Primary(CLIENT, METER, primary_params)
    secondary = Secondary(METER, handler, meter_params)
    run(primary, secondary, primary.connect())
    assert primary.state is LinkState.CONNECTED and secondary.connected
    return primary, secondary


def test_snrm_ua_negotiates_the_smaller_sizes() -> None:
    primary, secondary = connected(HdlcParameters(512, 1024), HdlcParameters(200, 300))
    # the primary sends at most what the meter can receive (300) and takes what the meter sends (200)
    assert primary.agreed.max_info_tx == 300 and primary.agreed.max_info_rx == 200
    assert secondary.agreed.max_info_tx == 200 and secondary.agreed.max_info_rx == 300


def test_parameters_on_the_wire() -> None:
    """The UA parameter example of IEC 62056-46 as the reference notes give it (154 bytes, window 1)."""
    wire = bytes.fromhex("81801205019A06019A0704000000010804 00000001".replace(" ", ""))
    assert HdlcParameters.parse(wire) == HdlcParameters(0x9A, 0x9A, 1, 1)
    assert HdlcParameters(0x9A, 0x9A).encode() == wire


def test_segmented_request_and_answer_with_sequence_numbers_wrapping() -> None:
    primary, secondary = connected(HdlcParameters(64, 64), HdlcParameters(64, 64))
    for n in range(12):  # more than 8 exchanges: N(S) and N(R) wrap
        request = bytes([n]) * (50 + 37 * n)
        steps = run(primary, secondary, primary.send(request))
        messages = [s.message for s in steps if s.message is not None]
        assert messages == [b"answer:" + request]
        assert not [s.problem for s in steps if s.problem]
        assert primary.idle
    assert secondary.requests == 12


def test_a_lost_answer_segment_is_asked_for_again() -> None:
    primary, secondary = connected(HdlcParameters(40, 40), HdlcParameters(40, 40))
    request = b"r" * 60  # two request segments, a two-segment answer
    steps = run(primary, secondary, primary.send(request), lose={2})  # the first answer segment is lost
    assert not [s.message for s in steps if s.message]
    steps = run(primary, secondary, primary.poll())  # the bus master's time-out: poll
    assert [s.message for s in steps if s.message] == [b"answer:" + request]


def test_a_lost_acknowledgement_is_met_by_repeating() -> None:
    primary, secondary = connected(HdlcParameters(40, 40), HdlcParameters(40, 40))
    request = b"q" * 100  # three segments
    steps = run(primary, secondary, primary.send(request), lose={1})  # the RR of the first segment is lost
    assert not [s.message for s in steps if s.message]
    repeat = primary.repeat()
    assert repeat is not None
    steps = run(primary, secondary, repeat)  # the meter has it already: its RR names the next
    assert [s.message for s in steps if s.message] == [b"answer:" + request]


def test_disconnect_dm_frmr_and_foreign_frames() -> None:
    from smgwd.codec.hdlc import FrameKind, control_byte, encode_frame

    primary, secondary = connected()
    run(primary, secondary, primary.disconnect())
    assert primary.state is LinkState.DISCONNECTED and not secondary.connected
    dm = secondary.receive(frame(Primary(CLIENT, METER, state=LinkState.CONNECTED).poll()))
    assert frame(dm[0]).kind is FrameKind.DM  # a meter not connected answers DM
    lost = Primary(CLIENT, METER, state=LinkState.CONNECTED)
    step = lost.receive(frame(dm[0]))
    assert step.problem and "DM" in step.problem and lost.state is LinkState.DISCONNECTED
    assert Secondary(HdlcAddress(1, 0x13), lambda r: r).receive(frame(primary.connect())) == []  # not its address
    meter = Secondary(METER, lambda r: r, connected=True)
    rej = encode_frame(METER, CLIENT, 0x19)  # REJ: not used by DLMS
    assert frame(meter.receive(frame(rej))[0]).kind is FrameKind.FRMR
    frmr = Primary(CLIENT, METER, state=LinkState.CONNECTED)
    step = frmr.receive(frame(encode_frame(CLIENT, METER, control_byte(FrameKind.FRMR, poll_final=True))))
    assert step.problem and "FRMR" in step.problem and frmr.state is LinkState.DISCONNECTED
    stranger = primary.receive(frame(encode_frame(CLIENT, HdlcAddress(1, 0x77), control_byte(FrameKind.UA))))
    assert stranger.ignored


@settings(max_examples=100, deadline=None)
@given(st.integers(32, 300), st.integers(32, 300), st.binary(max_size=2000), st.binary(max_size=2000))
def test_any_sizes_round_trip(primary_size: int, meter_size: int, request: bytes, answer: bytes) -> None:
    primary, secondary = connected(HdlcParameters(primary_size, primary_size), HdlcParameters(meter_size, meter_size),
                                   handler=lambda r: answer)
    got: list[bytes] = []
    secondary.handler = lambda r: (got.append(r), answer)[1]  # type: ignore[assignment]
    steps = run(primary, secondary, primary.send(request))
    assert got == [request]
    assert [s.message for s in steps if s.message is not None] == [answer]
