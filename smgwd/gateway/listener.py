"""The one interface between the gateway core and the applications that consume its readings.

How this works: a program (``smgwd``, ``smgwd demo``) hands the gateway a list
of :class:`Listener` objects: the WAN delivery now, tariff use cases, the HAN
view and feeds later. The core calls them at the points of its life (start,
each batch of readings, meter errors, reload, stop) and knows nothing else of
them, so the core never imports an application. Every method does nothing by
default; a listener overrides what it needs, and what it says of its
trouble joins the gateway's status line. ``on_readings`` and ``on_error``
run on the event loop inside ingest: they must be quick and must not raise
(a listener that needs time hands the work to its own task).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from smgwd.gateway.config import GatewayConfig
    from smgwd.gateway.core import Gateway
    from smgwd.reading import Reading

__all__ = ["Listener"]


class Listener:
    """A consumer of the gateway's readings and life events."""

    async def start(self, gateway: Gateway) -> None:
        """The gateway has started (store open, meters running)."""

    def on_readings(self, readings: list[Reading]) -> None:
        """A batch of stamped readings, already handed to the store."""

    def on_error(self, meter_id: str, kind: str, message: str) -> None:
        """A meter's decode or link error (already counted and logged)."""

    def trouble(self) -> list[str]:
        """What is wrong in this listener's part, as short phrases for the status line (none by default)."""
        return []

    async def reload(self, config: GatewayConfig) -> None:
        """A new, validated configuration is in force (``gateway.config`` is already ``config``)."""

    async def stop(self) -> None:
        """The gateway stops: meters are stopped, the store is still open."""
