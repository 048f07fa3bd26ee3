"""The NTP timebase: answers from a fake NTP server on loopback, quality rules on an injected
clock, and one real chronyd (synchronised, and without ``local stratum``)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smgwd.gateway.timebase import (
    NtpAnswer,
    NtpError,
    NtpServer,
    QualityChange,
    Timebase,
    check_answer,
)
from smgwd.reading import TimeQuality
from tests.gateway.ntp_servers import FakeNtpServer, chronyd

SYNC, DRIFT, UNSYNC = TimeQuality.SYNCHRONISED, TimeQuality.DRIFTING, TimeQuality.UNSYNCHRONISED
EPOCH = 1_800_000_000.0  # the fake system clock's start (2027-01-15)


class FakeClock:
    """System and monotonic time that move only when told."""

    def __init__(self) -> None:
        self.elapsed = 0.0

    def time(self) -> float:
        return EPOCH + self.elapsed

    def monotonic(self) -> float:
        return self.elapsed

    def advance(self, seconds: float) -> None:
        self.elapsed += seconds


def answer(**changes: object) -> NtpAnswer:
    """A good answer (stratum 2, 1 ms delay), with ``changes``."""
    good = NtpAnswer(offset=0.001, delay=0.001, stratum=2, leap=0, mode=4, root_delay=0.01,
                     root_dispersion=0.01, ref_id=0x7F000001, orig_time=EPOCH,
                     dest_time=EPOCH + 0.002)
    return dataclasses.replace(good, **changes)


class ScriptedQuery:
    """A query whose answer per host the test sets: an NtpAnswer, or an exception to raise."""

    def __init__(self, **per_host: NtpAnswer | Exception) -> None:
        self.per_host = per_host
        self.calls: list[tuple[str, int, float]] = []

    def __call__(self, host: str, port: int, timeout: float) -> NtpAnswer:
        self.calls.append((host, port, timeout))
        result = self.per_host[host]
        if isinstance(result, Exception):
            raise result
        return result


def poll(timebase: Timebase) -> TimeQuality:
    return asyncio.run(timebase.poll_once())


@pytest.fixture
def fake() -> Iterator[FakeNtpServer]:
    with FakeNtpServer() as server:
        yield server


# --- answers from the fake server --------------------------------------------------------


@pytest.mark.parametrize("offset", [0.0, 0.25, -0.3, 12.5])
def test_offset_is_measured(fake: FakeNtpServer, offset: float) -> None:
    fake.offset = offset
    timebase = Timebase([fake.address], timeout=1.0)
    poll(timebase)
    state = timebase.state()
    assert state["offset"] == pytest.approx(offset, abs=0.01)
    assert 0 <= state["delay"] < 0.1
    assert state["stratum"] == 2 and state["server"] == fake.address
    assert fake.requests == 1


@pytest.mark.parametrize(
    ("settings", "error"),
    [
        ({"leap": 3}, "leap indicator 3"),
        ({"stratum": 0, "ref_id": b"\0\0\0\0"}, "stratum 0"),
        ({"stratum": 16}, "stratum 16"),
        ({"stratum": 0, "leap": 3, "ref_id": b"RATE"}, "kiss-o'-death RATE"),
        ({"stratum": 0, "ref_id": b"DENY"}, "kiss-o'-death DENY"),
        ({"mode": 3}, "mode 3 is not a server answer"),
        ({"mode": 5}, "mode 5"),
        ({"root_dispersion": 2.0}, "root distance 2.0"),
        ({"root_delay": 4.0}, "root distance 2.0"),
        ({"stale_origin": True}, "answer not in time"),
    ],
)
def test_bad_answers_are_rejected(fake: FakeNtpServer, settings: dict[str, object],
                                  error: str) -> None:
    for name, value in settings.items():
        setattr(fake, name, value)
    timebase = Timebase([fake.address], timeout=1.0)
    assert poll(timebase) is UNSYNC
    [status] = timebase.servers
    assert status.failing and status.answer is None
    assert status.last_error is not None and error in status.last_error
    assert error in str(timebase.state()["reason"])


def test_silent_server_times_out(fake: FakeNtpServer) -> None:
    fake.silent = True
    timebase = Timebase([fake.address], timeout=0.2)
    assert poll(timebase) is UNSYNC
    assert "No response received" in str(timebase.servers[0].last_error)
    assert fake.requests == 1


def test_unknown_port_is_an_error_not_a_crash() -> None:
    timebase = Timebase(["127.0.0.1:1"], timeout=0.2)  # ICMP port unreachable or silence
    assert poll(timebase) is UNSYNC
    assert timebase.servers[0].last_error


def test_lowest_stratum_wins_among_real_answers() -> None:
    with FakeNtpServer(stratum=3, offset=0.1) as far, FakeNtpServer(stratum=1, offset=0.2) as near:
        timebase = Timebase([far.address, near.address], timeout=1.0)
        poll(timebase)
        assert timebase.state()["server"] == near.address
        assert timebase.state()["offset"] == pytest.approx(0.2, abs=0.01)
        near.leap = 3
        poll(timebase)
        assert timebase.state()["server"] == far.address


# --- checks and selection with scripted answers -------------------------------------------


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"delay": -0.01}, "inconsistent timestamps"),
        ({"delay": 0.5}, "inconsistent timestamps"),
        ({"dest_time": EPOCH + 2.5}, "answer not in time"),
        ({"dest_time": EPOCH - 1.0}, "answer not in time"),
        ({"stratum": 0, "ref_id": int.from_bytes(b"RSTR", "big")}, "kiss-o'-death RSTR"),
        ({"stratum": 0, "leap": 3, "ref_id": 0}, "leap indicator 3"),
    ],
)
def test_check_answer_rejects(changes: dict[str, object], error: str) -> None:
    with pytest.raises(NtpError, match=error):
        check_answer(answer(**changes), timeout=2.0)


def test_check_answer_accepts_the_limits() -> None:
    check_answer(answer(stratum=15, root_delay=1.0, root_dispersion=1.0), timeout=2.0)
    check_answer(answer(stratum=1, dest_time=EPOCH + 2.0, delay=2.0), timeout=2.0)


@given(offset=st.floats(-1e6, 1e6), delay=st.floats(-10, 10), stratum=st.integers(0, 255),
       leap=st.integers(0, 3), mode=st.integers(0, 7), root=st.floats(0, 70000),
       ref_id=st.integers(0, 2**32 - 1), round_trip=st.floats(-10, 10))
def test_check_answer_passes_only_good_answers(offset: float, delay: float, stratum: int,
                                               leap: int, mode: int, root: float, ref_id: int,
                                               round_trip: float) -> None:
    candidate = answer(offset=offset, delay=delay, stratum=stratum, leap=leap, mode=mode,
                       root_delay=root, root_dispersion=root / 4, ref_id=ref_id,
                       dest_time=EPOCH + round_trip)
    try:
        check_answer(candidate, timeout=2.0)
    except NtpError:
        return
    assert mode == 4 and leap != 3 and 1 <= stratum <= 15 and root * 0.75 <= 1.5
    assert -0.001 <= delay <= round_trip + 0.001 <= 2.002


def test_best_server_lowest_stratum_then_delay() -> None:
    query = ScriptedQuery(a=answer(stratum=3, delay=0.001), b=answer(stratum=2, delay=0.0015),
                          c=answer(stratum=2, delay=0.001, offset=0.02))
    timebase = Timebase(["a", "b:1123", "c"], query=query)
    poll(timebase)
    assert timebase.state()["server"] == "c"
    assert timebase.state()["offset"] == 0.02
    assert sorted(query.calls) == [("a", 123, 2.0), ("b", 1123, 2.0), ("c", 123, 2.0)]
    query.per_host["c"] = NtpError("no answer")
    poll(timebase)
    assert timebase.state()["server"] == "b:1123"


def test_when_all_fail_the_server_heard_last_is_the_reference() -> None:
    clock = FakeClock()
    query = ScriptedQuery(a=answer(stratum=1), b=answer(stratum=2, offset=0.3))
    timebase = Timebase(["a", "b"], query=query, clock=clock.time, monotonic=clock.monotonic)
    poll(timebase)
    query.per_host["a"] = NtpError("gone")
    clock.advance(10)
    poll(timebase)  # b alone answers
    query.per_host["b"] = NtpError("gone too")
    clock.advance(10)
    poll(timebase)
    state = timebase.state()
    assert state["server"] == "b" and state["offset"] == 0.3
    assert state["last_sync"] == datetime.fromtimestamp(EPOCH + 10, timezone.utc).isoformat()


def test_a_broken_query_is_recorded_not_raised() -> None:
    timebase = Timebase(["a"], query=ScriptedQuery(a=ValueError("resolver exploded")))
    assert poll(timebase) is UNSYNC
    assert timebase.servers[0].last_error == "ValueError: resolver exploded"


def test_queries_run_off_the_event_loop() -> None:
    release = threading.Event()

    def blocking_query(host: str, port: int, timeout: float) -> NtpAnswer:
        assert release.wait(5), "the event loop was blocked"
        return answer()

    async def main() -> TimeQuality:
        polling = asyncio.create_task(Timebase(["a"], query=blocking_query).poll_once())
        await asyncio.sleep(0)  # the loop runs on while the query waits in its thread
        release.set()
        return await polling

    assert asyncio.run(main()) is SYNC


# --- quality rules on an injected clock ----------------------------------------------------


def test_every_quality_transition_once(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    changes: list[QualityChange] = []
    query = ScriptedQuery(a=answer(offset=0.01))
    timebase = Timebase(["a"], poll_interval=64, drift_limit=0.5, unsynchronised_after=3600,
                        clock=clock.time, monotonic=clock.monotonic, query=query,
                        on_quality_change=changes.append)
    caplog.set_level(logging.INFO, logger="smgwd.gateway.timebase")

    def expect(quality: TimeQuality) -> None:
        for _ in range(3):  # asking again changes nothing and logs nothing
            assert timebase.stamp() == (datetime.fromtimestamp(clock.time(), timezone.utc),
                                        quality)

    expect(UNSYNC)  # never synchronised
    poll(timebase)
    expect(SYNC)
    query.per_host["a"] = answer(offset=-0.8)
    poll(timebase)
    expect(DRIFT)  # offset beyond the limit
    query.per_host["a"] = answer(offset=0.5)
    poll(timebase)
    expect(SYNC)  # at the limit is still synchronised
    query.per_host["a"] = NtpError("No response received from a.")
    clock.advance(128)
    poll(timebase)
    expect(SYNC)  # two poll intervals old: still fine
    clock.advance(0.5)
    expect(DRIFT)  # older than two poll intervals
    clock.advance(3600 - 128.5 - 1)
    expect(DRIFT)
    clock.advance(1)
    expect(UNSYNC)  # unsynchronised_after reached
    query.per_host["a"] = answer(offset=0.9)
    poll(timebase)
    expect(DRIFT)  # back, but off by too much
    clock.advance(3600)
    expect(UNSYNC)  # a drifting clock ages out too
    query.per_host["a"] = answer()
    poll(timebase)
    expect(SYNC)

    assert [(c.old, c.new) for c in changes] == [
        (UNSYNC, SYNC), (SYNC, DRIFT), (DRIFT, SYNC), (SYNC, DRIFT), (DRIFT, UNSYNC),
        (UNSYNC, DRIFT), (DRIFT, UNSYNC), (UNSYNC, SYNC)]
    assert "offset -0.800 s to a exceeds 0.5 s" in changes[1].reason
    assert "last good NTP answer 128 s ago (a: No response" in changes[3].reason
    assert "no good NTP answer for 3600 s" in changes[4].reason
    assert changes[4].at == datetime.fromtimestamp(EPOCH + 3600, timezone.utc)
    logged = [r for r in caplog.records if r.getMessage().startswith("time quality")]
    assert [r.getMessage().split(":")[0] for r in logged] == [
        f"time quality {c.old.value} -> {c.new.value}" for c in changes]
    assert [r.levelno for r in logged] == [logging.INFO, logging.WARNING, logging.INFO,
                                           logging.WARNING, logging.WARNING, logging.INFO,
                                           logging.WARNING, logging.INFO]
    assert all(getattr(r, "SMGW_EVENT") == "time_quality" for r in logged)


def test_stale_answers_skip_drifting_when_the_limit_is_short() -> None:
    clock = FakeClock()
    timebase = Timebase(["a"], poll_interval=64, unsynchronised_after=100, clock=clock.time,
                        monotonic=clock.monotonic, query=ScriptedQuery(a=answer()))
    poll(timebase)
    clock.advance(100)
    assert timebase.quality() is UNSYNC


def test_server_errors_are_logged_once_per_change(caplog: pytest.LogCaptureFixture) -> None:
    query = ScriptedQuery(a=NtpError("No response received from a."))
    timebase = Timebase(["a"], query=query)
    caplog.set_level(logging.INFO, logger="smgwd.gateway.timebase")
    for _ in range(3):
        poll(timebase)
    query.per_host["a"] = NtpError("server not synchronised (leap indicator 3)")
    poll(timebase)
    assert timebase.state()["reason"] == (
        "never synchronised (a: server not synchronised (leap indicator 3))")
    query.per_host["a"] = answer()
    poll(timebase)
    poll(timebase)
    server_lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("NTP")]
    assert server_lines == ["NTP server a: No response received from a.",
                            "NTP server a: server not synchronised (leap indicator 3)",
                            "NTP server a answers again"]


def test_a_failing_listener_does_not_stop_the_timebase(caplog: pytest.LogCaptureFixture) -> None:
    def listener(change: QualityChange) -> None:
        raise RuntimeError("system log full")

    timebase = Timebase(["a"], query=ScriptedQuery(a=answer()), on_quality_change=listener)
    assert poll(timebase) is SYNC
    assert "time quality listener failed" in caplog.text


def test_no_servers_means_unsynchronised() -> None:
    timebase = Timebase([])
    assert poll(timebase) is UNSYNC
    assert timebase.state()["reason"] == "no NTP servers configured"


def test_state_before_and_after_sync() -> None:
    clock = FakeClock()
    timebase = Timebase(["a"], clock=clock.time, monotonic=clock.monotonic,
                        query=ScriptedQuery(a=answer(offset=0.002, delay=0.0005)))
    assert timebase.state() == {
        "quality": "unsynchronised", "reason": "never synchronised", "server": None,
        "offset": None, "delay": None, "stratum": None, "last_sync": None,
        "servers": [{"server": "a", "offset": None, "delay": None, "stratum": None,
                     "leap": None, "last_good": None, "failing": False, "last_error": None}]}
    poll(timebase)
    state = timebase.state()
    assert state["quality"] == "synchronised"
    assert (state["server"], state["offset"], state["delay"], state["stratum"]) == (
        "a", 0.002, 0.0005, 2)
    assert state["last_sync"] == "2027-01-15T08:00:00+00:00"


def test_run_polls_at_once_and_until_cancelled() -> None:
    async def main() -> int:
        polled = asyncio.Event()
        query = ScriptedQuery(a=answer())
        timebase = Timebase(["a"], poll_interval=0.001, query=query)
        original = timebase.poll_once

        async def counting_poll() -> TimeQuality:
            result = await original()
            if len(query.calls) >= 3:
                polled.set()
            return result

        timebase.poll_once = counting_poll
        task = asyncio.create_task(timebase.run())
        await asyncio.wait_for(polled.wait(), 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return len(query.calls)

    assert asyncio.run(main()) >= 3


# --- configuration --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "server", "text"),
    [
        ("pool.ntp.org", NtpServer("pool.ntp.org", 123), "pool.ntp.org"),
        ("127.0.0.1:11123", NtpServer("127.0.0.1", 11123), "127.0.0.1:11123"),
        (" ptb.de:123 ", NtpServer("ptb.de", 123), "ptb.de"),
        ("[::1]:11123", NtpServer("::1", 11123), "[::1]:11123"),
        ("[2001:db8::1]", NtpServer("2001:db8::1", 123), "[2001:db8::1]"),
        ("2001:db8::1", NtpServer("2001:db8::1", 123), "[2001:db8::1]"),
    ],
)
def test_server_addresses(spec: str, server: NtpServer, text: str) -> None:
    assert NtpServer.parse(spec) == server
    assert str(server) == text


@pytest.mark.parametrize("spec", ["", ":123", "host:0", "host:65536", "host:ntp", "[::1",
                                  "[::1]x", "[::1]:", "host:"])
def test_bad_server_addresses(spec: str) -> None:
    with pytest.raises(ValueError, match="NTP server"):
        NtpServer.parse(spec)


@pytest.mark.parametrize("settings", [{"poll_interval": 0}, {"timeout": -1.0},
                                      {"unsynchronised_after": 0}, {"drift_limit": -0.1}])
def test_bad_settings(settings: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=next(iter(settings))):
        Timebase(["a"], **settings)


def test_servers_may_be_host_port_objects() -> None:
    query = ScriptedQuery(a=answer())
    poll(Timebase([NtpServer("a", 1123)], query=query))
    assert query.calls == [("a", 1123, 2.0)]


def test_one_string_is_not_a_server_list() -> None:
    with pytest.raises(TypeError):
        Timebase("pool.ntp.org")


# --- a real chronyd on loopback ---------------------------------------------------------------


def test_chronyd_local_stratum_8_synchronises(tmp_path: Path) -> None:
    with chronyd(tmp_path / "sync", local_stratum=8) as port:
        timebase = Timebase([f"127.0.0.1:{port}"], timeout=2.0)
        assert poll(timebase) is SYNC
    state = timebase.state()
    assert state["stratum"] == 8
    assert abs(state["offset"]) < 0.01


def test_chronyd_without_a_reference_is_rejected(tmp_path: Path) -> None:
    with chronyd(tmp_path / "unsync", local_stratum=None) as port:
        timebase = Timebase([f"127.0.0.1:{port}"], timeout=2.0)
        assert poll(timebase) is UNSYNC
    assert timebase.servers[0].last_error == "server not synchronised (leap indicator 3)"
