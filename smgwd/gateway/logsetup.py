"""Logging for smgwd: journald with structured fields, or one plain line per event on stderr.

How this works: :func:`setup_logging` puts one handler on the root logger. Under
systemd (stderr is the journal stream named by ``$JOURNAL_STREAM``, or
``journal="yes"``) and with systemd-python installed, that handler is
``systemd.journal.JournalHandler``: it sends every attribute of a record, and
journald keeps the upper-case ones, so the ``SMGW_*`` fields that :func:`fields`
builds for ``extra=`` become journal fields (``journalctl SMGW_METER=…``).
Otherwise the handler writes ``LEVEL logger: message [meter=… event=…]`` to
stderr, with a UTC time stamp in front unless journald is the reader (it adds its
own time and takes the priority from a ``<N>`` prefix).

Either way a :class:`RateLimitFilter` on the handler stops floods: the same
(logger, message template, meter) passes ``burst`` times per ``interval``, the
rest is counted, and once the interval is over one summary line says how many
were suppressed. Summaries go out when the next record passes the handler or
when :meth:`RateLimitFilter.flush` is called (the daemon calls it on its
housekeeping tick and at shutdown).
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, TextIO

from smgwd.gateway.sdnotify import systemd_module

__all__ = ["FIELD_PREFIX", "LineFormatter", "RateLimitFilter", "fields", "rate_limiter",
           "setup_logging"]

FIELD_PREFIX = "SMGW_"
_FIELD_NAME = re.compile(r"[A-Z0-9_]+")
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
           "error": logging.ERROR, "critical": logging.CRITICAL}
# sd-daemon(3) priorities, for the "<N>" prefix journald reads on stderr.
_SYSLOG_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3,
                    logging.CRITICAL: 2}
_SUMMARY = "rate_limit_summary"  # marks summary records, which the filter lets through
_SMGWD_HANDLER = "smgwd_handler"  # marks the handler setup_logging installed

log = logging.getLogger(__name__)


def fields(*, meter: object = None, obis: object = None, emp: object = None,
           event: object = None, **more: object) -> dict[str, str]:
    """Build ``extra=`` for a log call: ``fields(meter="1EMH…", event="timeout")``.

    Each given (not None) value becomes an ``SMGW_<NAME>`` journal field, as text.
    """
    given = {"meter": meter, "obis": obis, "emp": emp, "event": event, **more}
    extra: dict[str, str] = {}
    for name, value in given.items():
        if value is None:
            continue
        key = FIELD_PREFIX + name.upper()
        if not _FIELD_NAME.fullmatch(key):
            raise ValueError(f"log field name {name!r}: only letters, digits and '_'")
        extra[key] = str(value)
    return extra


def _record_fields(record: logging.LogRecord) -> dict[str, str]:
    """The SMGW_* fields on a record, in the order they were given."""
    return {k: str(v) for k, v in vars(record).items() if k.startswith(FIELD_PREFIX)}


class LineFormatter(logging.Formatter):
    """``[time ]LEVEL logger: message [meter=… event=…]``, one line per event.

    ``journal_stream=True`` drops the time stamp and puts a ``<N>`` priority in
    front, for stderr that journald reads.
    """

    def __init__(self, *, journal_stream: bool = False) -> None:
        super().__init__()
        self.journal_stream = journal_stream

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage().replace("\r", "\\r").replace("\n", "\\n")
        line = f"{record.levelname} {record.name}: {message}"
        extra = _record_fields(record)
        if extra:
            pairs = (f"{k[len(FIELD_PREFIX):].lower()}={_quote(v)}" for k, v in extra.items())
            line += " [" + " ".join(pairs) + "]"
        if record.exc_info:
            record.exc_text = record.exc_text or self.formatException(record.exc_info)
        if record.exc_text:
            line += "\n" + record.exc_text
        if self.journal_stream:
            return f"<{_priority(record.levelno)}>{line}"
        stamp = datetime.fromtimestamp(record.created, timezone.utc)
        return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z {line}"


def _quote(value: str) -> str:
    if value and not any(c.isspace() or c in '"[]=' for c in value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _priority(levelno: int) -> int:
    for threshold in (logging.CRITICAL, logging.ERROR, logging.WARNING, logging.INFO):
        if levelno >= threshold:
            return _SYSLOG_PRIORITY[threshold]
    return _SYSLOG_PRIORITY[logging.DEBUG]


@dataclass
class _Window:
    start: float
    passed: int = 0
    suppressed: int = 0
    last: logging.LogRecord | None = None  # the last suppressed record


class RateLimitFilter(logging.Filter):
    """Let the same (logger, template, meter) through ``burst`` times per ``interval`` seconds.

    Suppressed records are counted; when their interval is over, one summary
    record (same logger, level and fields, plus ``SMGW_SUPPRESSED``) goes to
    ``emit`` — the handler's ``handle`` when :func:`setup_logging` installs it.
    """

    def __init__(self, *, interval: float = 60.0, burst: int = 5,
                 clock: Callable[[], float] = time.monotonic,
                 emit: Callable[[logging.LogRecord], object] | None = None) -> None:
        super().__init__()
        if interval <= 0 or burst < 1:
            raise ValueError("rate limit: interval must be > 0 and burst >= 1")
        self.interval = interval
        self.burst = burst
        self.emit = emit
        self._clock = clock
        self._windows: dict[tuple[str, str, str | None], _Window] = {}
        self._next_end = float("inf")
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, _SUMMARY, False):
            return True
        now = self._clock()
        key = (record.name, str(record.msg), _record_fields(record).get(FIELD_PREFIX + "METER"))
        with self._lock:
            summaries = self._expire(now)
            window = self._windows.get(key)
            if window is None:
                window = self._windows[key] = _Window(start=now)
                self._next_end = min(self._next_end, now + self.interval)
            if window.passed < self.burst:
                window.passed += 1
                allowed = True
            else:
                window.suppressed += 1
                window.last = record
                allowed = False
        self._send(summaries)
        return allowed

    def flush(self) -> None:
        """Send the summaries of every interval that is over."""
        with self._lock:
            summaries = self._expire(self._clock())
        self._send(summaries)

    def _expire(self, now: float) -> list[logging.LogRecord]:
        """Drop the windows that are over; return their summaries (lock held)."""
        if now < self._next_end:
            return []
        summaries = []
        for key, window in list(self._windows.items()):
            if now - window.start < self.interval:
                continue
            del self._windows[key]
            if window.last is not None:
                summaries.append(_summary(window.last, window.suppressed, now - window.start))
        self._next_end = min((w.start + self.interval for w in self._windows.values()),
                             default=float("inf"))
        return summaries

    def _send(self, summaries: list[logging.LogRecord]) -> None:
        if self.emit is not None:
            for summary in summaries:
                self.emit(summary)


def _summary(last: logging.LogRecord, count: int, span: float) -> logging.LogRecord:
    message = f'"{last.getMessage()}" repeated {count} more times in the last {span:.0f} s'
    summary = logging.LogRecord(last.name, last.levelno, last.pathname, last.lineno,
                                message, None, None, last.funcName)
    for key, value in _record_fields(last).items():
        setattr(summary, key, value)
    setattr(summary, FIELD_PREFIX + "SUPPRESSED", str(count))
    setattr(summary, _SUMMARY, True)
    return summary


def _is_journal_stream(stream: TextIO) -> bool:
    """True when ``stream`` is the journal stream named by ``$JOURNAL_STREAM`` (systemd.exec(5))."""
    value = os.environ.get("JOURNAL_STREAM", "")
    device, _, inode = value.partition(":")
    try:
        st = os.fstat(stream.fileno())
        return (st.st_dev, st.st_ino) == (int(device), int(inode))
    except (OSError, ValueError, AttributeError):  # no fd (captured), or a malformed variable
        return False


def _level(level: str | int) -> int:
    if isinstance(level, int):
        return level
    try:
        return _LEVELS[level.lower()]
    except KeyError:
        raise ValueError(f"log level {level!r}: expected one of {', '.join(_LEVELS)}") from None


def setup_logging(level: str | int = "info", journal: str = "auto",
                  identifier: str = "smgwd", *, stream: TextIO | None = None,
                  rate_interval: float = 60.0, rate_burst: int = 5,
                  clock: Callable[[], float] = time.monotonic) -> logging.Handler:
    """Install smgwd's log handler on the root logger (replacing an earlier one) and return it.

    ``journal``: "auto" uses journald when stderr is the journal stream and
    systemd-python is installed; "yes" wants journald (warns and falls back to
    stderr without systemd-python); "no" always writes lines to ``stream``
    (default ``sys.stderr``). ``identifier`` is journald's SYSLOG_IDENTIFIER.
    ``rate_interval``/``rate_burst``/``clock`` configure the :class:`RateLimitFilter`.
    """
    if journal not in ("auto", "yes", "no"):
        raise ValueError(f"journal {journal!r}: expected auto, yes or no")
    numeric = _level(level)
    stream = sys.stderr if stream is None else stream
    journal_stream = _is_journal_stream(stream)
    module = systemd_module("systemd.journal") if journal == "yes" or (
        journal == "auto" and journal_stream) else None
    handler: logging.Handler
    if module is not None:
        handler = module.JournalHandler(SYSLOG_IDENTIFIER=identifier)
    else:
        handler = logging.StreamHandler(stream)
        handler.setFormatter(LineFormatter(journal_stream=journal_stream))
    limiter = RateLimitFilter(interval=rate_interval, burst=rate_burst, clock=clock,
                              emit=handler.handle)
    handler.addFilter(limiter)
    setattr(handler, _SMGWD_HANDLER, True)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _SMGWD_HANDLER, False)]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(numeric)
    if journal == "yes" and module is None:
        log.warning("journal=yes but systemd-python (Debian: python3-systemd) is not "
                    "installed; logging to stderr", extra=fields(event="log_fallback"))
    return handler


def rate_limiter(handler: logging.Handler) -> RateLimitFilter | None:
    """The rate limiter :func:`setup_logging` put on ``handler`` (for ``flush()``)."""
    return next((f for f in handler.filters if isinstance(f, RateLimitFilter)), None)
