"""The gateway's timebase: the time a reading gets, and how far that time can be trusted.

How this works: the gateway time is the system clock in UTC. smgwd never sets the
clock (chrony does); the timebase only watches it. It polls every configured NTP
server every ``poll_interval`` seconds (the first poll at once), each query in a
worker thread so the event loop never blocks. ntplib checks nothing, so the
timebase checks every answer itself (:func:`check_answer`) and keeps per server
the last good answer (offset, delay, stratum, leap), when it came and the last
error. The reference is the best server whose latest answer was good (lowest
stratum, then lowest delay); when every server is failing, the one heard from
last.

Quality rules, first match wins (``age`` = time since the reference's last good
answer, on the monotonic clock so a clock step by chrony does not age it):

1. UNSYNCHRONISED: no good answer ever, or ``age >= unsynchronised_after`` (1 h).
2. DRIFTING: ``|offset| > drift_limit`` (0.5 s), or ``age > 2 * poll_interval``.
3. SYNCHRONISED: otherwise (a good answer from the last two polls, offset in limit).

An answer is good when it is a server answer (mode 4) from a synchronised
server (leap indicator != 3, stratum 1..15; a stratum-0 answer with an ASCII
code is a kiss-o'-death, named in the error), its root distance (root delay / 2
+ root dispersion) is at most 1.5 s (RFC 5905 MAXDIST), it arrived within
``timeout`` of our request (the echoed originate timestamp) and its timestamps
are consistent (0 <= delay <= round trip).

Every change of quality is logged once (warning when worse, info when better)
and handed to ``on_quality_change`` (the daemon writes it to the system and
the calibration-relevant log). A step of the system clock (chrony stepping
it, an operator setting it) shows as a jump of system time against monotonic
time between two polls; one beyond ``STEP_LIMIT`` seconds is logged and
handed to ``on_clock_step`` (the daemon writes a ``time_correction``).
Use one Timebase from one event loop; it is not thread-safe.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Protocol, Sequence

from smgwd.gateway.logsetup import fields
from smgwd.reading import TimeQuality

__all__ = [
    "HostPort",
    "MAX_ROOT_DISTANCE",
    "NtpAnswer",
    "NtpError",
    "NtpServer",
    "QualityChange",
    "STEP_LIMIT",
    "Query",
    "ServerStatus",
    "Timebase",
    "check_answer",
    "ntplib_query",
]

log = logging.getLogger(__name__)

STEP_LIMIT = 1.0  # seconds of system-versus-monotonic jump between polls that count as a clock step

MAX_ROOT_DISTANCE = 1.5  # seconds, RFC 5905 MAXDIST
NTP_PORT = 123
_SERVER_MODE = 4
_LEAP_UNSYNCHRONISED = 3
_MAX_STRATUM = 15
_TOLERANCE = 1e-3  # seconds: rounding of 32-bit NTP fractions and float time
_RANK = {TimeQuality.SYNCHRONISED: 0, TimeQuality.DRIFTING: 1, TimeQuality.UNSYNCHRONISED: 2}


class NtpError(Exception):
    """No usable answer from an NTP server (the message says why)."""


@dataclass(frozen=True, slots=True)
class NtpAnswer:
    """What the timebase needs of one NTP answer; times are system time in seconds."""

    offset: float  # server clock minus system clock
    delay: float  # round trip minus the server's processing time
    stratum: int
    leap: int
    mode: int
    root_delay: float
    root_dispersion: float
    ref_id: int
    orig_time: float  # the originate timestamp the server echoed (our transmit time)
    dest_time: float  # when the answer arrived


Query = Callable[[str, int, float], NtpAnswer]
"""``query(host, port, timeout)``: one NTP exchange; raises on no answer. Runs in a thread."""


def ntplib_query(host: str, port: int, timeout: float) -> NtpAnswer:
    """One NTPv4 exchange with ntplib (Debian 0.3.3 and PyPI 0.4.0 share this API)."""
    ntplib = importlib.import_module("ntplib")  # untyped; imported by name for mypy
    try:
        stats = ntplib.NTPClient().request(host, version=4, port=port, timeout=timeout)
    except (ntplib.NTPException, OSError) as exc:
        raise NtpError(str(exc) or type(exc).__name__) from exc
    return NtpAnswer(
        offset=stats.offset, delay=stats.delay, stratum=stats.stratum, leap=stats.leap,
        mode=stats.mode, root_delay=stats.root_delay, root_dispersion=stats.root_dispersion,
        ref_id=stats.ref_id, orig_time=stats.orig_time, dest_time=stats.dest_time)


def check_answer(answer: NtpAnswer, timeout: float) -> None:
    """Raise :class:`NtpError` unless ``answer`` is good (see the module's rules)."""
    if answer.mode != _SERVER_MODE:
        raise NtpError(f"mode {answer.mode} is not a server answer")
    if answer.stratum == 0 and (code := _kiss_code(answer.ref_id)):
        raise NtpError(f"kiss-o'-death {code}")
    if answer.leap == _LEAP_UNSYNCHRONISED:
        raise NtpError("server not synchronised (leap indicator 3)")
    if not 1 <= answer.stratum <= _MAX_STRATUM:
        raise NtpError(f"server not synchronised (stratum {answer.stratum})")
    distance = answer.root_delay / 2 + answer.root_dispersion
    if distance > MAX_ROOT_DISTANCE:
        raise NtpError(f"root distance {distance:.3f} s exceeds {MAX_ROOT_DISTANCE} s")
    round_trip = answer.dest_time - answer.orig_time
    if not -_TOLERANCE <= round_trip <= timeout + _TOLERANCE:
        raise NtpError(f"answer not in time: its originate timestamp is {round_trip:.3f} s "
                       f"before its arrival, the limit is {timeout:g} s")
    if not -_TOLERANCE <= answer.delay <= round_trip + _TOLERANCE:
        raise NtpError(f"inconsistent timestamps (delay {answer.delay:.6f} s, "
                       f"round trip {round_trip:.6f} s)")


def _kiss_code(ref_id: int) -> str | None:
    """The ASCII kiss code (RATE, DENY, RSTR, ...) a stratum-0 answer carries, if any."""
    code = ref_id.to_bytes(4, "big").rstrip(b"\0")
    if code and all(0x20 < b < 0x7F for b in code):
        return code.decode("ascii")
    return None


class HostPort(Protocol):
    """Any server address with a host and a port (e.g. the configuration's)."""

    @property
    def host(self) -> str: ...

    @property
    def port(self) -> int: ...


@dataclass(frozen=True, slots=True)
class NtpServer:
    """An NTP server address: ``host``, ``host:port``, ``[v6]:port`` or a bare IPv6 address."""

    host: str
    port: int = NTP_PORT

    @classmethod
    def parse(cls, spec: str) -> NtpServer:
        """Read ``spec``; raise ValueError naming it when it is not an address."""
        host, port = spec.strip(), None
        if host.startswith("["):
            host, sep, rest = host[1:].partition("]")
            if not sep or (rest and not rest.startswith(":")):
                raise ValueError(f"NTP server {spec!r}: expected [address]:port")
            port = rest[1:] if rest else None
        elif host.count(":") == 1:
            host, _, port = host.partition(":")
        if not host:
            raise ValueError(f"NTP server {spec!r}: no host")
        if port is None:
            return cls(host)
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"NTP server {spec!r}: port {port!r} is not 1..65535")
        return cls(host, int(port))

    @classmethod
    def of(cls, server: str | HostPort) -> NtpServer:
        """From ``"host[:port]"`` text, or from an object with ``host`` and ``port``."""
        return cls.parse(server) if isinstance(server, str) else cls(server.host, server.port)

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == NTP_PORT else f"{host}:{self.port}"


@dataclass
class ServerStatus:
    """What the timebase knows of one server."""

    server: NtpServer
    answer: NtpAnswer | None = None  # the last good answer
    good_at: float | None = None  # monotonic time of it
    good_wall: float | None = None  # system time of it
    failing: bool = False  # the latest poll brought no good answer
    last_error: str | None = None

    def view(self) -> dict[str, object]:
        """JSON-friendly status."""
        answer = self.answer
        return {
            "server": str(self.server),
            "offset": None if answer is None else answer.offset,
            "delay": None if answer is None else answer.delay,
            "stratum": None if answer is None else answer.stratum,
            "leap": None if answer is None else answer.leap,
            "last_good": _iso(self.good_wall),
            "failing": self.failing,
            "last_error": self.last_error,
        }


@dataclass(frozen=True, slots=True)
class QualityChange:
    """The time quality went from ``old`` to ``new`` at ``at`` (gateway time) because of ``reason``."""

    old: TimeQuality
    new: TimeQuality
    reason: str
    at: datetime


def _iso(wall: float | None) -> str | None:
    return None if wall is None else datetime.fromtimestamp(wall, timezone.utc).isoformat()


class Timebase:
    """Watches NTP servers and stamps readings with the gateway time and its quality.

    Args:
        servers: ``"host"`` or ``"host:port"`` each, or objects with ``host`` and ``port``
            (may be empty: then always UNSYNCHRONISED).
        poll_interval: seconds between polls.
        timeout: seconds to wait for each answer.
        drift_limit: the largest |offset| in seconds that is still SYNCHRONISED.
        unsynchronised_after: seconds without a good answer until UNSYNCHRONISED.
        clock: the system clock (UTC seconds since the epoch); stamps come from it.
        monotonic: the clock answers are aged on.
        query: one NTP exchange (default :func:`ntplib_query`), run in a worker thread.
        on_quality_change: called with each :class:`QualityChange`.
        on_clock_step: called with (seconds the system clock jumped, gateway time after it).
    """

    def __init__(
        self,
        servers: Sequence[str | HostPort],
        *,
        poll_interval: float = 64.0,
        timeout: float = 2.0,
        drift_limit: float = 0.5,
        unsynchronised_after: float = 3600.0,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        query: Query | None = None,
        on_quality_change: Callable[[QualityChange], object] | None = None,
        on_clock_step: Callable[[float, datetime], object] | None = None,
    ) -> None:
        if isinstance(servers, str):
            raise TypeError("servers: a sequence of addresses, not one string")
        for name, value in (("poll_interval", poll_interval), ("timeout", timeout),
                            ("unsynchronised_after", unsynchronised_after)):
            if not value > 0:
                raise ValueError(f"{name} must be > 0, not {value!r}")
        if not drift_limit >= 0:
            raise ValueError(f"drift_limit must be >= 0, not {drift_limit!r}")
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.drift_limit = drift_limit
        self.unsynchronised_after = unsynchronised_after
        self._servers = [ServerStatus(NtpServer.of(server)) for server in servers]
        self._clock = clock
        self._monotonic = monotonic
        self._query = ntplib_query if query is None else query
        self._on_change = on_quality_change
        self._on_step = on_clock_step
        self._skew: float | None = None  # system minus monotonic time at the last poll
        self._quality = TimeQuality.UNSYNCHRONISED

    @property
    def servers(self) -> tuple[ServerStatus, ...]:
        """Every server's status, in configuration order."""
        return tuple(self._servers)

    async def run(self) -> None:
        """Poll at once, then every ``poll_interval`` seconds, until cancelled."""
        while True:
            await self.poll_once()
            await asyncio.sleep(self.poll_interval)

    async def poll_once(self) -> TimeQuality:
        """Ask every server once (concurrently); return the quality afterwards."""
        self._check_step()
        results = await asyncio.gather(*(self._ask(s.server) for s in self._servers))
        for status, result in zip(self._servers, results):
            self._record(status, result)
        return self.quality()

    def _check_step(self) -> None:
        wall = self._clock()
        skew = wall - self._monotonic()
        previous, self._skew = self._skew, skew
        if previous is None or abs(skew - previous) <= STEP_LIMIT:
            return
        step = skew - previous
        at = datetime.fromtimestamp(wall, timezone.utc)
        log.warning("the system clock was stepped by %+.3f s", step, extra=fields(event="time_correction"))
        if self._on_step is not None:
            try:
                self._on_step(step, at)
            except Exception:
                log.exception("clock step listener failed", extra=fields(event="time_correction"))

    def stamp(self) -> tuple[datetime, TimeQuality]:
        """The gateway time (system clock, UTC, timezone-aware) and its quality.

        To the hundredth of a second, the resolution of a COSEM date-time: what the
        store keeps is exactly what a delivery carries.
        """
        now = datetime.fromtimestamp(self._clock(), timezone.utc)
        return now.replace(microsecond=now.microsecond - now.microsecond % 10_000), self.quality()

    @property
    def current(self) -> TimeQuality:
        """The quality as last assessed, with no side effect: safe to read from any thread."""
        return self._quality

    def quality(self) -> TimeQuality:
        """The quality now; logs and reports a change."""
        return self._assess()[0]

    def state(self) -> dict[str, object]:
        """For status views: quality, reason, the reference server's offset, delay,
        stratum and last_sync (ISO 8601 UTC), and every server's status."""
        quality, reason, ref = self._assess()
        view = {} if ref is None else ref.view()
        return {
            "quality": quality.value,
            "reason": reason,
            "server": view.get("server"),
            "offset": view.get("offset"),
            "delay": view.get("delay"),
            "stratum": view.get("stratum"),
            "last_sync": view.get("last_good"),
            "servers": [s.view() for s in self._servers],
        }

    async def _ask(self, server: NtpServer) -> tuple[NtpAnswer, float, float] | str:
        """A good answer with its monotonic and system arrival times, or why there is none."""
        try:
            answer = await asyncio.to_thread(self._query, server.host, server.port, self.timeout)
            check_answer(answer, self.timeout)
        except NtpError as exc:
            return str(exc)
        except Exception as exc:  # a broken resolver or query must not stop the timebase
            return f"{type(exc).__name__}: {exc}"
        return answer, self._monotonic(), self._clock()

    def _record(self, status: ServerStatus, result: tuple[NtpAnswer, float, float] | str) -> None:
        extra = fields(event="ntp_server", server=status.server)
        if isinstance(result, str):
            if not status.failing or result != status.last_error:
                log.warning("NTP server %s: %s", status.server, result, extra=extra)
            status.failing, status.last_error = True, result
            return
        if status.failing:
            log.info("NTP server %s answers again", status.server, extra=extra)
        status.answer, status.good_at, status.good_wall = result
        status.failing = False

    def _reference(self) -> ServerStatus | None:
        current = [((a.stratum, a.delay), s) for s in self._servers
                   if (a := s.answer) is not None and not s.failing]
        if current:
            return min(current, key=lambda pair: pair[0])[1]
        heard = [s for s in self._servers if s.good_at is not None]
        return max(heard, key=lambda s: s.good_at or 0.0, default=None)

    def _assess(self) -> tuple[TimeQuality, str, ServerStatus | None]:
        """Apply the quality rules; log and report a change."""
        ref = self._reference()
        quality, reason = self._rules(ref)
        if quality is not self._quality:
            change = QualityChange(self._quality, quality, reason,
                                   datetime.fromtimestamp(self._clock(), timezone.utc))
            self._quality = quality
            level = logging.WARNING if _RANK[change.new] > _RANK[change.old] else logging.INFO
            log.log(level, "time quality %s -> %s: %s", change.old.value, change.new.value,
                    reason, extra=fields(event="time_quality", quality=change.new.value))
            if self._on_change is not None:
                try:
                    self._on_change(change)
                except Exception:
                    log.exception("time quality listener failed",
                                  extra=fields(event="time_quality"))
        return quality, reason, ref

    def _rules(self, ref: ServerStatus | None) -> tuple[TimeQuality, str]:
        if ref is None or ref.answer is None or ref.good_at is None:
            if not self._servers:
                return TimeQuality.UNSYNCHRONISED, "no NTP servers configured"
            errors = "; ".join(f"{s.server}: {s.last_error}" for s in self._servers
                               if s.last_error)
            return TimeQuality.UNSYNCHRONISED, "never synchronised" + (
                f" ({errors})" if errors else "")
        answer = ref.answer
        age = self._monotonic() - ref.good_at
        if age >= self.unsynchronised_after:
            return TimeQuality.UNSYNCHRONISED, (
                f"no good NTP answer for {age:.0f} s (limit {self.unsynchronised_after:g} s)")
        if abs(answer.offset) > self.drift_limit:
            return TimeQuality.DRIFTING, (
                f"offset {answer.offset:+.3f} s to {ref.server} exceeds {self.drift_limit:g} s")
        if age > 2 * self.poll_interval:
            why = f" ({ref.server}: {ref.last_error})" if ref.failing else ""
            return TimeQuality.DRIFTING, f"last good NTP answer {age:.0f} s ago{why}"
        return TimeQuality.SYNCHRONISED, (
            f"{ref.server} stratum {answer.stratum}, offset {answer.offset:+.6f} s")

