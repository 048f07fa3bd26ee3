"""Logging: journald fields from ``extra``, one line per event on stderr, and the rate limiter
(bursts, summaries, meters apart) on an injected clock."""

from __future__ import annotations

import io
import logging
import os
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smgwd.gateway.logsetup import (
    LineFormatter,
    RateLimitFilter,
    fields,
    rate_limiter,
    setup_logging,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def clean_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No systemd-python, no journal stream; the root logger as it was afterwards."""
    monkeypatch.setitem(sys.modules, "systemd", None)
    monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


def record(msg: str = "meter %s timeout", *args: object, level: int = logging.WARNING,
           name: str = "smgwd.meter", created: float = 1_800_000_000.25,
           **extra: str) -> logging.LogRecord:
    made = logging.LogRecord(name, level, __file__, 1, msg, args or None, None)
    made.created = created
    for key, value in extra.items():
        setattr(made, key, value)
    return made


# --- fields and the line format ----------------------------------------------------------------


def test_fields_become_upper_case_journal_fields() -> None:
    assert fields(meter="1EMH0012345678", obis="1-0:1.8.0", emp=None, event="reading",
                  value_wh=12345) == {"SMGW_METER": "1EMH0012345678", "SMGW_OBIS": "1-0:1.8.0",
                                      "SMGW_EVENT": "reading", "SMGW_VALUE_WH": "12345"}
    assert fields() == {}


def test_fields_refuse_names_journald_would_drop() -> None:
    with pytest.raises(ValueError, match="only letters, digits"):
        fields(**{"bad-name": 1})


def test_a_line_per_event_with_time_stamp_and_fields() -> None:
    line = LineFormatter().format(
        record("meter %s timeout", "M1", **fields(meter="M1", event="read timeout")))
    assert line == ('2027-01-15T08:00:00.250Z WARNING smgwd.meter: meter M1 timeout '
                    '[meter=M1 event="read timeout"]')


def test_under_journald_no_time_stamp_but_a_priority_prefix() -> None:
    formatter = LineFormatter(journal_stream=True)
    assert formatter.format(record("up", level=logging.INFO, name="smgwd")) == "<6>INFO smgwd: up"
    assert formatter.format(record("x", level=logging.DEBUG)).startswith("<7>DEBUG")
    assert formatter.format(record("x", level=logging.ERROR)).startswith("<3>ERROR")
    assert formatter.format(record("x", level=logging.CRITICAL)).startswith("<2>CRITICAL")


def test_newlines_in_messages_stay_on_one_line() -> None:
    line = LineFormatter(journal_stream=True).format(
        record("bad frame %r", "a\nb", **fields(meter='M"1\n')))
    assert line == "<4>WARNING smgwd.meter: bad frame 'a\\nb' [meter=\"M\\\"1\\n\"]"


def test_exceptions_follow_their_line() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        failed = record("failed")
        failed.exc_info = sys.exc_info()
    text = LineFormatter(journal_stream=True).format(failed)
    assert text.startswith("<4>WARNING smgwd.meter: failed\nTraceback")
    assert text.endswith("ValueError: boom")


# --- setup_logging ------------------------------------------------------------------------------


def test_stderr_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    setup_logging("debug", journal="no", stream=stream)
    logging.getLogger("smgwd.meter").info("reading %s", 42, extra=fields(meter="M1"))
    line = stream.getvalue()
    assert line.endswith(" INFO smgwd.meter: reading 42 [meter=M1]\n")
    assert line[:4].isdigit()  # a time stamp: stderr is not the journal here
    assert logging.getLogger().level == logging.DEBUG


def test_setting_up_again_replaces_the_handler() -> None:
    first = setup_logging(journal="no", stream=io.StringIO())
    second = setup_logging("warning", journal="no", stream=io.StringIO())
    root = logging.getLogger()
    assert second in root.handlers and first not in root.handlers
    assert root.level == logging.WARNING


@pytest.mark.parametrize(("settings", "error"), [({"level": "loud"}, "log level 'loud'"),
                                                 ({"journal": "maybe"}, "journal 'maybe'")])
def test_bad_settings(settings: dict[str, str], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        setup_logging(**settings)  # type: ignore[arg-type]


def journal_stream(path: Path, monkeypatch: pytest.MonkeyPatch) -> io.TextIOWrapper:
    """A file standing in for the journal's stream, named in $JOURNAL_STREAM."""
    stream = open(path, "w")
    st = os.fstat(stream.fileno())
    monkeypatch.setenv("JOURNAL_STREAM", f"{st.st_dev}:{st.st_ino}")
    return stream


def test_stderr_read_by_journald_has_no_time_stamps(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    with journal_stream(tmp_path / "journal", monkeypatch) as stream:
        setup_logging(stream=stream)
        logging.getLogger("smgwd").warning("meter down", extra=fields(meter="M1"))
    assert (tmp_path / "journal").read_text() == "<4>WARNING smgwd: meter down [meter=M1]\n"


def test_another_stream_than_the_journals_keeps_time_stamps(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with journal_stream(tmp_path / "journal", monkeypatch), open(tmp_path / "other", "w") as other:
        setup_logging(stream=other)
        logging.getLogger("smgwd").warning("meter down")
    assert (tmp_path / "other").read_text()[:4].isdigit()


def test_journal_yes_without_systemd_python_warns_and_uses_stderr() -> None:
    stream = io.StringIO()
    handler = setup_logging(journal="yes", stream=stream)
    assert isinstance(handler, logging.StreamHandler)
    assert "journal=yes but systemd-python (Debian: python3-systemd) is not installed; " \
           "logging to stderr [event=log_fallback]" in stream.getvalue()


class FakeJournalHandler(logging.Handler):
    """systemd.journal.JournalHandler's shape: constructor fields, every record attribute sent."""

    def __init__(self, **fields: str) -> None:
        super().__init__()
        self.fields = fields
        self.sent: list[dict[str, object]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.sent.append({"MESSAGE": record.getMessage(), **self.fields,
                          **{k: v for k, v in vars(record).items() if k.isupper()}})


@pytest.fixture
def fake_journal(monkeypatch: pytest.MonkeyPatch) -> None:
    journal = types.ModuleType("systemd.journal")
    journal.JournalHandler = FakeJournalHandler  # type: ignore[attr-defined]
    package = types.ModuleType("systemd")
    package.journal = journal  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "systemd", package)
    monkeypatch.setitem(sys.modules, "systemd.journal", journal)


@pytest.mark.usefixtures("fake_journal")
def test_journald_gets_structured_fields(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with journal_stream(tmp_path / "journal", monkeypatch) as stream:
        handler = setup_logging(stream=stream, identifier="smgwd-lab")
    assert isinstance(handler, FakeJournalHandler)
    logging.getLogger("smgwd.meter").info("stored", extra=fields(meter="M1", obis="1-0:1.8.0"))
    assert handler.sent == [{"MESSAGE": "stored", "SYSLOG_IDENTIFIER": "smgwd-lab",
                             "SMGW_METER": "M1", "SMGW_OBIS": "1-0:1.8.0"}]
    assert (tmp_path / "journal").read_text() == ""


@pytest.mark.usefixtures("fake_journal")
def test_journal_auto_outside_systemd_and_no_stay_on_stderr() -> None:
    assert isinstance(setup_logging(stream=io.StringIO()), logging.StreamHandler)
    assert isinstance(setup_logging(journal="no", stream=io.StringIO()), logging.StreamHandler)
    assert isinstance(setup_logging(journal="yes", stream=io.StringIO()), FakeJournalHandler)


# --- the rate limiter -----------------------------------------------------------------------------


class Collected:
    """A RateLimitFilter with the records it let through and the summaries it sent."""

    def __init__(self, interval: float = 10.0, burst: int = 3) -> None:
        self.clock = FakeClock()
        self.out: list[logging.LogRecord] = []
        self.limiter = RateLimitFilter(interval=interval, burst=burst, clock=self.clock,
                                       emit=self.out.append)

    def log(self, made: logging.LogRecord) -> None:
        if self.limiter.filter(made):
            self.out.append(made)

    def messages(self) -> list[str]:
        return [r.getMessage() for r in self.out]


def test_a_burst_passes_then_repeats_are_counted() -> None:
    c = Collected()
    for i in range(10):
        c.log(record("meter %s timeout after %d s", "M1", i, **fields(meter="M1")))
        c.clock.now += 0.5
    assert c.messages() == [f"meter M1 timeout after {i} s" for i in range(3)]
    c.clock.now = 110.0  # the interval is over: the next record brings the summary first
    c.log(record("meter %s timeout after %d s", "M1", 99, **fields(meter="M1")))
    assert c.messages()[3:] == ['"meter M1 timeout after 9 s" repeated 7 more times in the last '
                                '10 s', "meter M1 timeout after 99 s"]
    summary = c.out[3]
    assert (summary.name, summary.levelno) == ("smgwd.meter", logging.WARNING)
    assert (getattr(summary, "SMGW_METER"), getattr(summary, "SMGW_SUPPRESSED")) == ("M1", "7")
    assert c.limiter.filter(summary)  # summaries are never limited themselves


def test_meters_are_limited_apart() -> None:
    c = Collected(burst=2)
    for _ in range(5):
        for meter in ("M1", "M2"):
            c.log(record("meter %s timeout", meter, **fields(meter=meter)))
    assert c.messages() == ["meter M1 timeout", "meter M2 timeout"] * 2


def test_loggers_and_templates_are_limited_apart() -> None:
    c = Collected(burst=1)
    for _ in range(3):
        c.log(record("link down"))
        c.log(record("link up"))
        c.log(record("link down", name="smgwd.other"))
    assert c.messages() == ["link down", "link up", "link down"]


def test_flush_sends_summaries_of_ended_intervals_only() -> None:
    c = Collected(interval=10.0, burst=1)
    for _ in range(4):
        c.log(record("a"))
    c.clock.now += 5
    c.log(record("b"))
    c.log(record("b"))
    c.limiter.flush()
    assert c.messages() == ["a", "b"]
    c.clock.now += 5
    c.limiter.flush()
    assert c.messages()[2:] == ['"a" repeated 3 more times in the last 10 s']
    c.clock.now += 5
    c.limiter.flush()
    c.limiter.flush()
    assert c.messages()[3:] == ['"b" repeated 1 more times in the last 10 s']


def test_no_summary_without_suppression() -> None:
    c = Collected(burst=3)
    c.log(record("a"))
    c.clock.now += 60
    c.limiter.flush()
    c.log(record("a"))
    assert c.messages() == ["a", "a"]


@given(events=st.lists(st.tuples(st.sampled_from(["M1", "M2", "M3"]), st.floats(0, 7)),
                       max_size=200),
       burst=st.integers(1, 5))
def test_every_record_is_either_logged_or_counted(events: list[tuple[str, float]],
                                                  burst: int) -> None:
    c = Collected(interval=10.0, burst=burst)
    for meter, pause in events:
        c.clock.now += pause
        c.log(record("meter %s timeout", meter, created=c.clock.now, **fields(meter=meter)))
    c.clock.now += 10
    c.limiter.flush()
    passed = [r for r in c.out if not hasattr(r, "SMGW_SUPPRESSED")]
    counted = sum(int(getattr(r, "SMGW_SUPPRESSED", 0)) for r in c.out)
    assert len(passed) + counted == len(events)
    for meter in ("M1", "M2", "M3"):  # windows of `burst`: at most 2 x burst in any 10 s
        times = [r.created for r in passed if getattr(r, "SMGW_METER") == meter]
        assert all(b - a >= 10 for a, b in zip(times, times[2 * burst:]))


def test_setup_logging_limits_repeats() -> None:
    stream, clock = io.StringIO(), FakeClock()
    handler = setup_logging(journal="no", stream=stream, rate_interval=30, rate_burst=2,
                            clock=clock)
    log = logging.getLogger("smgwd.meter")
    for _ in range(6):
        log.warning("CRC error", extra=fields(meter="M1"))
    clock.now += 30
    limiter = rate_limiter(handler)
    assert limiter is not None
    limiter.flush()
    lines = [line.split(" ", 1)[1] for line in stream.getvalue().splitlines()]
    assert lines == ["WARNING smgwd.meter: CRC error [meter=M1]"] * 2 + [
        'WARNING smgwd.meter: "CRC error" repeated 4 more times in the last 30 s '
        '[meter=M1 suppressed=4]']


def test_bad_limits() -> None:
    with pytest.raises(ValueError):
        RateLimitFilter(interval=0)
    with pytest.raises(ValueError):
        RateLimitFilter(burst=0)
