"""The air between the simulated meters and one emulated stick.

How this works: a :class:`Radio` holds the transmitters of one ``<wmbus>`` listener and
its :class:`~smgwd.sim.wmbus.dongles.DongleEmulator`. Each meter sends every
``interval_seconds`` real seconds on a fixed schedule (no drift; missed deadlines are
skipped and counted), the first telegrams staggered over the first second. Each meter
has its own seeded signal strength (-55 .. -95 dBm) with ±2 dB per telegram.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time

from smgwd.sim.meter import unit_noise
from smgwd.sim.wmbus.dongles import DongleEmulator
from smgwd.sim.wmbus.transmitter import Transmitter

__all__ = ["Radio"]

log = logging.getLogger(__name__)


class Radio:
    """Meters sending to one emulated stick, until cancelled."""

    def __init__(self, listener_id: str, emulator: DongleEmulator, transmitters: list[Transmitter], seed: int = 0) -> None:
        self.id = listener_id
        self.emulator = emulator
        self.transmitters = transmitters
        self.seed = seed
        self.late = 0
        self._base_dbm = [-75.0 + 20.0 * unit_noise(seed, 500 + k) for k in range(len(transmitters))]

    def rssi_dbm(self, index: int, count: int) -> float:
        return self._base_dbm[index] + 2.0 * unit_noise(self.seed + index, count)

    def send(self, index: int) -> None:
        """Meter ``index`` sends its next telegram now."""
        tx = self.transmitters[index]
        telegram = tx.telegram()
        self.emulator.hear(telegram, self.rssi_dbm(index, tx.sent), tx.settings.radio_mode)

    async def run(self) -> None:
        start = time.monotonic()
        count = len(self.transmitters)
        queue = [(start + 0.2 + 0.8 * k / max(count, 1), k) for k in range(count)]
        heapq.heapify(queue)
        while queue:
            deadline, index = queue[0]
            delay = deadline - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            heapq.heappop(queue)
            try:
                self.send(index)
            except Exception:  # noqa: BLE001 - one meter's bad telegram must not stop the others
                log.exception("wM-Bus meter %s could not send", self.transmitters[index].model.id)
            interval = self.transmitters[index].settings.interval_seconds
            deadline += interval
            now = time.monotonic()
            if deadline < now:
                missed = int((now - deadline) // interval) + 1
                self.late += missed
                deadline += missed * interval
            heapq.heappush(queue, (deadline, index))
