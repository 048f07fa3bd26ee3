"""The WAN delivery as a listener of the gateway: one :class:`~smgwd.wan.delivery.EmpDelivery` task per EMP.

How this works: on start, every enabled ``[[emps]]`` entry gets an
``EmpDelivery`` (outbox builder and sender) running as an asyncio task; one
that cannot start (an unreadable key, a missing certificate) is logged and
skipped, and the others run. On reload only the EMPs whose configuration (or
the gateway's identity) changed are restarted. :mod:`smgwd.wan.delivery` and
its cryptography are imported when the first EMP starts, so a gateway without
EMPs never loads them.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from smgwd.gateway.listener import Listener
from smgwd.gateway.logsetup import fields

if TYPE_CHECKING:
    from smgwd.gateway.config import EmpConfig, GatewayConfig, GatewayIdentity
    from smgwd.gateway.core import Gateway
    from smgwd.wan.delivery import EmpDelivery

__all__ = ["Deliveries"]

log = logging.getLogger("smgwd")


@dataclass
class Delivering:
    """One running EMP delivery."""

    config: EmpConfig
    delivery: EmpDelivery
    task: asyncio.Task[None]


class Deliveries(Listener):
    """Delivery to every enabled EMP of the gateway's configuration.

    ``options`` are passed to each ``EmpDelivery`` (e.g. clock and backoff, for tests).
    """

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        self.options = options or {}
        self.emps: dict[str, Delivering] = {}
        self._gateway: Gateway | None = None
        self._identity: GatewayIdentity | None = None

    async def start(self, gateway: Gateway) -> None:
        self._gateway = gateway
        self._identity = gateway.config.gateway
        for emp in gateway.config.emps:
            if emp.enabled:
                self._start_emp(emp)

    def _start_emp(self, emp: EmpConfig) -> None:
        from smgwd.wan.delivery import DeliveryError, EmpDelivery

        assert self._gateway is not None
        gateway = self._gateway
        try:
            delivery = EmpDelivery(emp, gateway.config.gateway.id, gateway.store, **self.options)
        except DeliveryError as error:
            log.error("emp %s: delivery not started: %s", emp.id, error,
                      extra=fields(emp=emp.id, event="delivery_unavailable"))
            gateway.store.log("system", "delivery_unavailable", f"emp {emp.id}: delivery not started: {error}",
                              data={"emp": emp.id})
            return
        task = asyncio.create_task(delivery.run(), name=f"emp-{emp.id}")
        self.emps[emp.id] = Delivering(emp, delivery, task)

    async def _stop_emp(self, emp_id: str) -> None:
        running = self.emps.pop(emp_id)
        running.task.cancel()
        await asyncio.gather(running.task, return_exceptions=True)
        running.delivery.close()

    async def reload(self, config: GatewayConfig) -> None:
        wanted = {e.id: e for e in config.emps if e.enabled}
        identity_changed = config.gateway != self._identity
        for emp_id in list(self.emps):
            if emp_id not in wanted or wanted[emp_id] != self.emps[emp_id].config or identity_changed:
                await self._stop_emp(emp_id)
        self._identity = config.gateway
        for emp_id, emp in wanted.items():
            if emp_id not in self.emps:
                self._start_emp(emp)

    async def stop(self) -> None:
        for emp_id in list(self.emps):
            await self._stop_emp(emp_id)
