"""The gateway's life: configuration, store, timebase, meter drivers, systemd, reload and stop.

How this works: :class:`Gateway` has an explicit life. ``start()`` opens the
store and starts the timebase, then every enabled meter's driver, and tells
systemd READY=1. ``run()`` is the main loop: once a second (or every half
watchdog ping interval, if shorter) it checks its own health (store writer
alive, loop not stalled per :class:`~smgwd.gateway.loopwatch.LoopWatch`) and
only then pings the systemd watchdog, so a dead writer or a stuck loop lets
systemd's watchdog fire; every few seconds it publishes STATUS= (meters up/down, readings
per minute) and persists link states and time quality into the store, where
``smgwctl status`` reads them. ``reload(new_config)`` (SIGHUP) restarts only
the drivers whose meter configuration changed, so readings keep flowing; a
bad new configuration is rejected by the caller and the old one stays.
The applications that consume readings (the WAN delivery, later tariffs, the
HAN view) are :class:`~smgwd.gateway.listener.Listener` objects the program
hands in; the core calls them at start, per batch, on errors, on reload and
at stop, and imports none of them.
``stop()`` cancels the drivers (closing their links), lets the store commit
what it holds and closes it, within the time limit systemd gives.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
import logging
import os
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterable

from smgwd.gateway.config import GatewayConfig, MeterConfig, MeterMode
from smgwd.gateway.control import ControlServer
from smgwd.gateway.listener import Listener
from smgwd.gateway.log_sealing import LogSealing
from smgwd.gateway.logsetup import RateLimitFilter, fields
from smgwd.gateway.loopwatch import LoopWatch
from smgwd.gateway.plausibility import flag_implausible
from smgwd.gateway.sdnotify import Notifier
from smgwd.gateway.store import Store
from smgwd.gateway.timebase import QualityChange, Timebase
from smgwd.links.dongle import WmbusReceiverLink
from smgwd.links.tcp import TcpLink
from smgwd.meters.driver import LinkState, MeterDriver
from smgwd.meters.sml.pull_driver import SmlPullDriver
from smgwd.meters.sml.push_driver import SmlPushDriver
from smgwd.reading import Reading, TimeQuality

__all__ = ["Gateway", "make_driver"]

log = logging.getLogger("smgwd")

STATUS_EVERY = 5.0
RETENTION_EVERY = 86_400.0


def make_driver(meter: MeterConfig, gateway: Gateway) -> MeterDriver:
    """The driver for one configured meter (the configuration has checked link and mode)."""
    if meter.protocol == "wmbus":
        from smgwd.meters.wmbus.receiver import WmbusDriver

        assert isinstance(meter.link, WmbusReceiverLink) and meter.wmbus_id is not None
        return WmbusDriver(
            meter.id, meter.link, meter.wmbus_id, meter.key, gateway, gateway.stamp, gateway,
            interval=meter.interval, silence_intervals=meter.silence_intervals,
        )
    if meter.protocol == "dlms":
        from smgwd.codec.dlms import DlmsKeys
        from smgwd.meters.dlms.push_driver import DlmsPushDriver

        return DlmsPushDriver(
            meter.id, meter.link, DlmsKeys(meter.key, meter.auth_key), gateway, gateway.stamp, gateway,
            layout=meter.layout, transport=meter.transport, interval=meter.interval,
            silence_intervals=meter.silence_intervals,
        )
    if meter.protocol == "s0":
        from smgwd.links.gpio_link import GpioLink
        from smgwd.meters.s0.driver import S0Driver, resume_count

        assert isinstance(meter.link, GpioLink) and meter.pulses_per_unit is not None
        start = resume_count(gateway.last_readings(meter.id), meter.pulse_unit, meter.pulses_per_unit)
        return S0Driver(meter.id, meter.link, meter.pulses_per_unit, meter.pulse_unit, gateway, gateway.stamp, gateway,
                        interval=meter.interval, start_count=start)
    from smgwd.links.rs485 import Rs485Link

    if isinstance(meter.link, Rs485Link):
        from smgwd.meters.bus.driver import BusMeterDriver

        return BusMeterDriver(meter.id, meter.link, gateway, gateway.stamp, gateway, interval=meter.interval)
    if meter.mode is MeterMode.PULL:
        assert isinstance(meter.link, TcpLink)
        return SmlPullDriver(
            meter.id, meter.link, meter.profile, gateway, gateway.stamp, gateway,
            interval=meter.interval, timeout=meter.timeout, rediscover_interval=meter.rediscover_interval,
            server_id=meter.server_id, username=meter.username, password=meter.password,
        )
    return SmlPushDriver(
        meter.id, meter.link, meter.profile, gateway, gateway.stamp, gateway,
        crc=meter.crc, interval=meter.interval, silence_intervals=meter.silence_intervals,
        server_id=meter.server_id,
    )


def _bus_status() -> list[dict[str, object]]:
    """The RS-485 buses' figures, when the bus master was loaded (never imported for them)."""
    module = sys.modules.get("smgwd.meters.bus.master")
    return module.bus_status() if module is not None else []


@dataclass
class _Running:
    config: MeterConfig
    driver: MeterDriver
    task: asyncio.Task[None]


@dataclass
class _Rate:
    """Readings per minute over a sliding window of (time, count) samples."""

    samples: deque[tuple[float, int]] = field(default_factory=lambda: deque(maxlen=120))
    total: int = 0

    def add(self, count: int) -> None:
        self.total += count

    def per_minute(self, now: float) -> float:
        self.samples.append((now, self.total))
        while self.samples and now - self.samples[0][0] > 60.0:
            self.samples.popleft()
        first_time, first_total = self.samples[0]
        span = now - first_time
        return (self.total - first_total) * 60.0 / span if span > 0 else 0.0


class Gateway:
    """One running gateway (the daemon, or the demo)."""

    def __init__(
        self, config: GatewayConfig, notifier: Notifier | None = None, log_limiter: RateLimitFilter | None = None,
        listeners: Iterable[Listener] = (), clock: Callable[[], float] = time.time,
    ) -> None:
        """``clock``: the system clock the gateway stamps readings with (UTC seconds; tests shift it)."""
        self.config = config
        self.log_limiter = log_limiter
        self.notifier = notifier or Notifier.from_environment()
        self.store = Store(
            config.store.path, batch_size=config.store.batch_size, flush_interval=config.store.flush_interval
        )
        self.timebase = Timebase(
            config.time.servers, poll_interval=config.time.poll_interval, timeout=config.time.timeout,
            drift_limit=config.time.drift_limit, unsynchronised_after=config.time.unsynchronised_after,
            on_quality_change=self._quality_changed, on_clock_step=self._clock_stepped, clock=clock,
        )
        self.meters: dict[str, _Running] = {}
        self.listeners: list[Listener] = list(listeners)
        self.rate = _Rate()
        self.started_at = time.monotonic()
        self._tasks: list[asyncio.Task[None]] = []
        self._healthy = True
        self.loopwatch: LoopWatch | None = None  # while run() runs
        self.control = ControlServer(config.control.socket, self.live_status)
        self.sealing: LogSealing | None = None  # from start()

    # --- what drivers call --------------------------------------------------------------

    def stamp(self) -> tuple[datetime, TimeQuality]:
        return self.timebase.stamp()

    def last_readings(self, meter_id: str) -> list[Reading]:
        """What the store holds as the meter's latest readings (committed ones; [] if none or unreadable)."""
        from smgwd.gateway.store.reader import StoreReader

        self.store.flush(timeout=5.0)
        try:
            with StoreReader(self.config.store.path) as reader:
                return reader.last_readings(meter_id)
        except Exception:  # noqa: BLE001 - a store that cannot be read yet gives no history
            return []

    def on_readings(self, readings: list[Reading]) -> None:
        readings = flag_implausible(readings)  # kept, but a meter time it cannot believe is flagged
        self.store.on_readings(readings)
        self.rate.add(len(readings))
        for listener in self.listeners:
            listener.on_readings(readings)

    def on_state(self, meter_id: str, state: LinkState, reason: str) -> None:
        running = self.meters.get(meter_id)
        level = logging.INFO if state is LinkState.UP else logging.WARNING
        retries = f" after {running.driver.stats.reconnects} reconnect(s)" if running and state is LinkState.UP else ""
        log.log(level, "meter %s %s%s: %s", meter_id, state.value, retries, reason,
                extra=fields(meter=meter_id, event=f"link_{state.value}"))
        self.store.set_meter_state(meter_id, state.value, reason)
        self.store.log("system", f"link_{state.value}", f"meter {meter_id} {state.value}: {reason}", meter_id=meter_id)

    def _quality_changed(self, change: QualityChange) -> None:
        message = f"time quality {change.old.value} -> {change.new.value}: {change.reason}"
        data = {"old": change.old.value, "new": change.new.value, "reason": change.reason}
        for kind in ("system", "calibration"):
            self.store.log(kind, "time_quality", message, at=change.at, data=data)

    def _clock_stepped(self, step: float, at: datetime) -> None:
        message = f"the system clock was stepped by {step:+.3f} s"
        for kind in ("system", "calibration"):
            self.store.log(kind, "time_correction", message, at=at, data={"step_seconds": round(step, 6)})

    def on_error(self, meter_id: str, kind: str, message: str) -> None:
        self.store.on_error(meter_id, kind, message)
        running = self.meters.get(meter_id)
        if running is None or message not in running.driver.reason:  # else its down line just named it
            log.warning("meter %s: %s error: %s", meter_id, kind, message,
                        extra=fields(meter=meter_id, event=f"{kind}_error"))
        for listener in self.listeners:
            listener.on_error(meter_id, kind, message)

    # --- life ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the store, start time and meters, then READY=1."""
        self.store.start()
        self.store.log("system", "start", f"smgwd starting with {len(self.config.meters)} meter(s)")
        await asyncio.to_thread(self._record_make_up, self.config)
        self.sealing = LogSealing(self.config.gateway, self.store)
        self._tasks.append(asyncio.create_task(self.timebase.run(), name="timebase"))
        try:
            await self.control.start()
        except OSError as error:
            log.warning("control socket %s not available (smgwctl status reads the store only): %s",
                        self.config.control.socket, error, extra=fields(event="control_unavailable"))
        for meter in self.config.meters:
            if meter.enabled:
                self._start_meter(meter)
        for listener in self.listeners:
            await listener.start(self)
        self.publish_state()
        self.notifier.ready()
        log.info("smgwd ready: %d meter(s), store %s", len(self.meters), self.config.store.path,
                 extra=fields(event="ready"))

    def _start_meter(self, meter: MeterConfig) -> None:
        driver = make_driver(meter, self)
        self.store.upsert_meter(meter.id, protocol=meter.protocol, mode=meter.mode, link=meter.link,
                                server_id=meter.server_id)
        task = asyncio.create_task(driver.run(), name=f"meter-{meter.id}")
        self.meters[meter.id] = _Running(meter, driver, task)

    def _record_make_up(self, config: GatewayConfig) -> None:
        """Calibration-log what changed in meters, certificates and versions since last time (blocking)."""
        from smgwd.gateway.calibration_events import record_changes
        from smgwd.gateway.store import StoreError
        from smgwd.gateway.store.reader import StoreReader

        try:
            self.store.flush(timeout=5.0)
            with StoreReader(self.store.path) as reader:
                state = reader.state()
        except StoreError as error:
            log.error("calibration log: the store cannot be read: %s", error, extra=fields(event="store_error"))
            return
        record_changes(config, state, self.store)

    async def _stop_meter(self, meter_id: str) -> None:
        running = self.meters.pop(meter_id)
        running.task.cancel()
        await asyncio.gather(running.task, return_exceptions=True)

    async def reload(self, config: GatewayConfig) -> None:
        """Apply a new (already validated) configuration without dropping readings."""
        self.notifier.reloading()
        wanted = {m.id: m for m in config.meters if m.enabled}
        for meter_id in list(self.meters):
            if meter_id not in wanted or wanted[meter_id] != self.meters[meter_id].config:
                await self._stop_meter(meter_id)
        for meter_id, meter in wanted.items():
            if meter_id not in self.meters:
                self._start_meter(meter)
        if config.gateway != self.config.gateway:
            self.sealing = LogSealing(config.gateway, self.store)
        await asyncio.to_thread(self._record_make_up, config)
        self.config = config
        for listener in self.listeners:
            await listener.reload(config)
        self.store.log("system", "reload", f"configuration reloaded: {len(self.meters)} meter(s)")
        log.info("configuration reloaded: %d meter(s)", len(self.meters), extra=fields(event="reload"))
        self.notifier.ready()

    async def run(self, stop: asyncio.Event) -> None:
        """The main loop until ``stop`` is set: health, watchdog, status, state, retention."""
        watchdog = self.notifier.watchdog_interval()
        ping_every = watchdog / 2 if watchdog else None
        tick_every = min(1.0, ping_every / 2) if ping_every else 1.0
        loop = asyncio.get_running_loop()
        watch = self.loopwatch = LoopWatch(stall_after=min(5.0, watchdog / 2) if watchdog else 5.0)
        watch.start(loop)
        try:
            await self._main_loop(stop, loop, ping_every, tick_every, watch)
        finally:
            watch.stop()

    async def _main_loop(self, stop: asyncio.Event, loop: asyncio.AbstractEventLoop, ping_every: float | None,
                         tick_every: float, watch: LoopWatch) -> None:
        last_ping = float("-inf")
        last_status = last_prune = last_seal = loop.time()
        while not stop.is_set():
            try:
                async with asyncio.timeout(tick_every):
                    await stop.wait()
            except asyncio.TimeoutError:
                pass
            now = loop.time()
            self._healthy = self.store.alive() and not watch.stalled
            if ping_every is not None and self._healthy and now - last_ping >= ping_every:
                self.notifier.watchdog()
                last_ping = now
            if now - last_status >= STATUS_EVERY:
                self.publish_state()
                last_status = now
            store = self.config.store
            if (store.retention_days or store.log_max_entries) and now - last_prune >= RETENTION_EVERY:
                cut = datetime.now(timezone.utc) - timedelta(days=store.retention_days) if store.retention_days \
                    else datetime(1970, 1, 1, tzinfo=timezone.utc)
                await asyncio.to_thread(functools.partial(self.store.prune, cut, keep_log_entries=store.log_max_entries))
                last_prune = now
            if self.sealing is not None and now - last_seal >= self.config.store.log_checkpoint_interval:
                await asyncio.to_thread(self.sealing.seal_now)
                last_seal = now

    def status_line(self) -> str:
        """One line for STATUS= and status views."""
        states = [m.driver.state for m in self.meters.values()]
        counts = ", ".join(f"{states.count(state)} {state.value}" for state in LinkState.__members__.values())
        quality = self.timebase.quality().value
        per_minute = self.rate.per_minute(time.monotonic())
        return f"meters {counts}; {per_minute:.0f} readings/min; time {quality}{self._trouble()}"

    def _trouble(self) -> str:
        """What is wrong with the gateway itself, as ``; ...`` parts of the status line ("" when nothing)."""
        parts = []
        stats = self.store.stats
        if stats.failing_since is not None:
            since = stats.failing_since.astimezone(timezone.utc).strftime("%H:%M:%S")
            parts.append(f"store: commits failing since {since} UTC ({stats.commit_failures})")
        if not self.store.alive():
            parts.append("store: writer not running")
        if self.loopwatch is not None:
            loop = self.loopwatch.stats
            if loop.stalled:
                parts.append("event loop stalled")
            if loop.stalls:
                parts.append(f"event loop stalls {loop.stalls} (longest {loop.longest_stall:.1f} s)")
        for listener in self.listeners:
            parts.extend(listener.trouble())
        return "".join(f"; {part}" for part in parts)

    def live_status(self) -> dict[str, object]:
        """What the control socket answers to ``status``."""
        return {
            "pid": os.getpid(),
            "uptime": round(time.monotonic() - self.started_at, 1),
            "status": self.status_line(),
            "healthy": self._healthy,
            "meters": [
                {"id": meter_id, "state": m.driver.state.value, "reason": m.driver.reason,
                 **dataclasses.asdict(m.driver.stats)}
                for meter_id, m in self.meters.items()
            ],
            "time": self.timebase.state(),
            "store": dataclasses.asdict(self.store.stats),
            "loop": None if self.loopwatch is None else dataclasses.asdict(self.loopwatch.stats),
            "buses": _bus_status(),
        }

    def publish_state(self) -> None:
        """STATUS= for systemd; time state for ``smgwctl status``; summaries of suppressed log lines."""
        self.notifier.status(self.status_line())
        for key, value in self.timebase.state().items():
            text = json.dumps(value) if isinstance(value, (list, dict)) else "" if value is None else str(value)
            self.store.set_state(f"time.{key}", text)
        if self.log_limiter is not None:
            self.log_limiter.flush()

    async def stop(self, timeout: float = 4.0) -> None:
        """Stop meters, commit what the store holds, close it (within ``timeout`` seconds)."""
        self.notifier.stopping()
        for meter_id in list(self.meters):
            await self._stop_meter(meter_id)
        for listener in self.listeners:
            await listener.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.control.close()
        self.publish_state()
        self.store.log("system", "stop", "smgwd stopping")
        if self.sealing is not None:
            await asyncio.to_thread(self.sealing.seal_now)  # the last checkpoint covers the stop
        await asyncio.to_thread(self.store.stop, timeout)
        log.info("smgwd stopped", extra=fields(event="stop"))
