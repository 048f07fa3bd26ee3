"""The running simulator: a clock, its meters, their TCP servers, serial pushers and radios.

How this works: :class:`Simulator` is built from a :class:`SimConfig` (and,
for tests, a clock of their choice), then has an explicit life: ``start()``
opens every listener and sink, ``stop()`` closes them. Meters integrate
lazily: every read brings a meter up to the clock, so there is no global
tick and idle meters cost nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Callable

from smgwd.sim.clock import AcceleratedClock, RealClock, SimClock, SteppedClock
from smgwd.codec.dlms import DlmsKeys
from smgwd.sim.config import DlmsListener, SimConfig, TcpListener, TimeSettings, WmbusListener
from smgwd.sim.dlms_push import DlmsPushSettings, push_frames
from smgwd.sim.meter import SimMeter
from smgwd.sim.sml_push import Pusher, open_sink
from smgwd.sim.rs485_bus import BusStation, SimBus
from smgwd.sim.s0_pulses import S0Pulser
from smgwd.sim.sml_server import SmlServer
from smgwd.sim.wmbus.dongles import emulator_for
from smgwd.sim.wmbus.models import ElectricityModel, HeatModel, HeatSpec, RadioModel, WaterModel
from smgwd.sim.wmbus.radio import Radio
from smgwd.sim.wmbus.transmitter import Transmitter

__all__ = ["Simulator", "make_clock"]

log = logging.getLogger(__name__)


def _dlms_encoder(listener: DlmsListener, meter: SimMeter) -> Callable[[SimMeter, int], bytes]:
    """The push encoder of a DLMS listener: its layout, keys, blocks and frame size."""
    keys = DlmsKeys(listener.key, listener.auth_key) if listener.key else None
    settings = DlmsPushSettings(listener.layout, keys, listener.block_size, listener.max_info)
    title = meter.spec.manufacturer.encode("ascii") + meter.spec.serial.to_bytes(5, "big")
    return lambda m, sequence: b"".join(push_frames(m, sequence, settings, title))


def make_clock(settings: TimeSettings) -> SimClock:
    """The clock the configuration asks for (start: now unless configured)."""
    start = time.time() if settings.start is None else settings.start
    if settings.mode == "real":
        return RealClock()
    if settings.mode == "stepped":
        return SteppedClock(start)
    return AcceleratedClock(start, settings.quarter_hour_seconds, settings.resolution_ms)


@dataclass
class _Listening:
    """A TCP server with the configuration it came from (for status views)."""

    listener: TcpListener
    server: SmlServer

    @property
    def port(self) -> int:
        return self.server.port


class Simulator:
    """All meters and wires of one configuration.

    Args:
        config: the checked configuration.
        clock: overrides the configured time (tests pass a stepped clock).
        port_override: listen on this port instead of the configured ones (0: any free port).
    """

    def __init__(self, config: SimConfig, clock: SimClock | None = None, port_override: int | None = None) -> None:
        self.config = config
        self.clock = clock or make_clock(config.time)
        self.meters = {spec.id: SimMeter(spec, self.clock) for spec in config.meters}
        self.tcp_servers = [
            _Listening(listener, SmlServer(
                [self.meters[ref] for ref in listener.meters], host=listener.host,
                port=listener.port if port_override is None else port_override,
                username=listener.username, password=listener.password,
            ))
            for listener in config.tcp
        ]
        self.radio_models: dict[str, RadioModel] = {mid: ElectricityModel(m) for mid, m in self.meters.items()}
        for spec in config.radio_meters:
            self.radio_models[spec.id] = HeatModel(spec, self.clock) if isinstance(spec, HeatSpec) else WaterModel(spec, self.clock)
        self.pushers: list[Pusher] = []
        self.radios: list[Radio] = []
        self.buses: list[SimBus] = []
        self.s0_outputs: list[S0Pulser] = []
        self._tasks: list[asyncio.Task[None]] = []

    def _identity(self, meter_id: str) -> tuple[str, int, int]:
        """Manufacturer, serial and seed of any configured meter."""
        spec = next(s for s in (*self.config.meters, *self.config.radio_meters) if s.id == meter_id)
        return spec.manufacturer, spec.serial, spec.seed

    def _open_radio(self, listener: WmbusListener) -> Radio:
        port = open_sink(listener.device, listener.baud, "N")
        emulator = emulator_for(listener.dongle, port, listener.faults, listener.seed, transparent=listener.transparent)
        transmitters = []
        for settings in listener.meters:
            manufacturer, serial, seed = self._identity(settings.ref)
            transmitters.append(Transmitter(self.radio_models[settings.ref], settings, manufacturer, serial, seed))
        return Radio(listener.id, emulator, transmitters, listener.seed)

    async def start(self) -> None:
        """Open every listener and sink and start pushing."""
        for listening in self.tcp_servers:
            await listening.server.start()
        for serial in self.config.serial:
            sink = open_sink(serial.device, serial.baud, serial.parity)
            pusher = Pusher(self.meters[serial.meter], sink, serial.interval_seconds)
            self.pushers.append(pusher)
            log.info("meter %s pushes SML every %g s to %s", serial.meter, serial.interval_seconds, sink.description)
            self._tasks.append(asyncio.create_task(pusher.run(), name=f"push-{serial.id}"))
        for dlms in self.config.dlms:
            sink = open_sink(dlms.device, dlms.baud, dlms.parity)
            pusher = Pusher(self.meters[dlms.meter], sink, dlms.interval_seconds, encode=_dlms_encoder(dlms, self.meters[dlms.meter]),
                            protocol="DLMS")
            self.pushers.append(pusher)
            log.info("meter %s pushes DLMS (%s%s) every %g s to %s", dlms.meter, dlms.layout,
                     ", encrypted" if dlms.key else "", dlms.interval_seconds, sink.description)
            self._tasks.append(asyncio.create_task(pusher.run(), name=f"dlms-{dlms.id}"))
        for bus_config in self.config.buses:
            port = open_sink(bus_config.device, bus_config.baud, bus_config.parity)
            bus = SimBus(port, [BusStation(self.meters[st.meter], st.address, st.behaviour, st.delay_ms, st.reset_every)
                                for st in bus_config.stations], bus_config.seed)
            bus.start()
            self.buses.append(bus)
            log.info("RS-485 bus %s on %s: %s", bus_config.id, port.description,
                     ", ".join(f"{st.meter} at 0x{st.address:02X} ({st.behaviour})" for st in bus_config.stations))
        for output in self.config.s0:
            pulser = S0Pulser(self.meters[output.meter], output.pin, output.pulses_per_kwh)
            self.s0_outputs.append(pulser)
            log.info("meter %s pulses %g imp/kWh on fake GPIO %d", output.meter, output.pulses_per_kwh, output.pin)
            self._tasks.append(asyncio.create_task(pulser.run(), name=f"s0-{output.id}"))
        for listener in self.config.wmbus:
            radio = self._open_radio(listener)
            radio.emulator.start()
            self.radios.append(radio)
            log.info("%s emulated on %s hears %s", radio.emulator.name, radio.emulator.port.description,
                     ", ".join(f"{t.model.id} ({t.wmbus_id})" for t in radio.transmitters))
            self._tasks.append(asyncio.create_task(radio.run(), name=f"wmbus-{listener.id}"))

    async def stop(self) -> None:
        """Stop pushing and close every listener and sink."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        for pusher in self.pushers:
            pusher.sink.close()
        for radio in self.radios:
            radio.emulator.close()
        for bus in self.buses:
            bus.close()
        for listening in self.tcp_servers:
            await listening.server.close()
