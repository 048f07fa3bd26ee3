"""SML pull driver: the jOSEF flow against request/response meters (smgw-sim, SML over TCP).

How this works: a session connects an :class:`SmlClient`, discovers the
meter's object list (GetProcParameter on the object list) on its first
session and again every ``rediscover_interval``, then reads the objects'
details every ``interval`` seconds on a fixed schedule. Every request has a
timeout in the client, so a silent meter ends its own session and never
blocks another meter. Objects the meter refuses are reported once per
session. The details become readings through the same path as push frames
(meter profile fixes included).
"""

from __future__ import annotations

import asyncio

from smgwd.codec.sml import types as t
from smgwd.links.tcp import TcpLink
from smgwd.meters.driver import DriverEvents, MeterDriver, ReadingSink, Stamp
from smgwd.meters.sml.client import SmlClient
from smgwd.meters.sml.profiles import SmlProfile
from smgwd.meters.sml.readings import readings_from_messages

__all__ = ["SmlPullDriver"]


class SmlPullDriver(MeterDriver):
    """Reads a request/response SML meter on a schedule."""

    def __init__(
        self,
        meter_id: str,
        link: TcpLink,
        profile: SmlProfile,
        sink: ReadingSink,
        stamp: Stamp,
        events: DriverEvents,
        *,
        interval: float = 15.0,
        timeout: float = 5.0,
        rediscover_interval: float = 86_400.0,
        server_id: bytes | None = None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(meter_id, sink, stamp, events, **kwargs)  # type: ignore[arg-type]
        self.link = link
        self.profile = profile
        self.interval = interval
        self.timeout = timeout
        self.rediscover_interval = rediscover_interval
        self.server_id = server_id
        self.username = username
        self.password = password
        self.objects: list[bytes] = []
        self._discovered_at: float | None = None

    async def session(self) -> None:
        loop = asyncio.get_running_loop()
        client = SmlClient(
            self.link.host, self.link.port, server_id=self.server_id, username=self.username,
            password=self.password, timeout=self.timeout,
        )
        async with client:
            deadline = loop.time()
            while True:
                if self._discovered_at is None or loop.time() - self._discovered_at >= self.rediscover_interval:
                    self.objects = await client.discover()
                    self._discovered_at = loop.time()
                entries = await client.read_objects(self.objects)
                for obj, reason in client.skipped.items():
                    self.error("object", f"{obj.hex()}: {reason}")
                self.connected()
                self.stats.frames += 1
                server_id = self.server_id or b""
                result = readings_from_messages(
                    [t.SmlMessage(b"", t.GetListResponse(server_id, tuple(entries)))], self.profile
                )
                for problem in result.problems:
                    self.error("entry", problem)
                self.deliver(result.readings)
                deadline += self.interval
                await asyncio.sleep(max(0.0, deadline - loop.time()))
