"""The WAN delivery as a listener of the gateway: one :class:`~smgwd.wan.delivery.EmpDelivery` task per EMP.

How this works: on start, every enabled ``[[emps]]`` entry gets an
``EmpDelivery`` (outbox builder and sender) running as an asyncio task. Its
keys and certificates are checked first, as ``smgwctl config check`` checks
them (:func:`~smgwd.wan.credentials.check_emp`: readable, each key belonging
to its certificate, none expired). An EMP that cannot start is logged and
skipped, and the others run: the meters go on being read and stored, and the
readings wait in the store until the EMP's delivery starts. The reason stays
in the gateway's status line (``STATUS=``, ``smgwctl status``) until a reload
starts that EMP; a certificate that expires within 30 days is a warning in
the log. On reload only the EMPs whose configuration (or
the gateway's identity) changed are restarted. The control socket's ``taf6
EMP [METER ...]`` makes that EMP's delivery answer with the current values at
once (TAF6, :meth:`~smgwd.wan.delivery.EmpDelivery.on_demand`). Periodic use
cases close periods only while the gateway's timebase trusts its time. An EMP
with ``pseudonymize`` gets the gateway secret (:mod:`smgwd.gateway.secret`),
made here on its first start; one that cannot be read keeps that EMP from
starting, with the reason. :mod:`smgwd.wan.delivery` and
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
        self.unavailable: dict[str, str] = {}  # EMP id -> why its delivery did not start
        self._gateway: Gateway | None = None
        self._identity: GatewayIdentity | None = None

    async def start(self, gateway: Gateway) -> None:
        self._gateway = gateway
        self._identity = gateway.config.gateway
        gateway.control.register("taf6", self.taf6)
        for emp in gateway.config.emps:
            if emp.enabled:
                self._start_emp(emp)

    def trouble(self) -> list[str]:
        return [f"emp {emp_id}: delivery not started" for emp_id in sorted(self.unavailable)]

    def _start_emp(self, emp: EmpConfig) -> None:
        from smgwd.gateway.secret import SecretError, load_or_create
        from smgwd.wan.credentials import CredentialError, check_emp
        from smgwd.wan.delivery import DeliveryError, EmpDelivery

        assert self._gateway is not None
        gateway = self._gateway
        at = f"emps[{gateway.config.emps.index(emp)}]"
        try:
            for warning in check_emp(emp, at):
                log.warning("emp %s: %s", emp.id, warning, extra=fields(emp=emp.id, event="credential_warning"))
            options: dict[str, Any] = {"quality": lambda: gateway.timebase.current, **self.options}
            if emp.pseudonymize:
                options["secret"] = load_or_create(gateway.config.gateway.secret)
            delivery = EmpDelivery(emp, gateway.config.gateway.id, gateway.store, **options)
        except (CredentialError, DeliveryError, SecretError) as error:
            self.unavailable[emp.id] = str(error)
            log.error("emp %s: delivery not started: %s", emp.id, error,
                      extra=fields(emp=emp.id, event="delivery_unavailable"))
            gateway.store.log("system", "delivery_unavailable", f"emp {emp.id}: delivery not started: {error}",
                              data={"emp": emp.id})
            return
        self.unavailable.pop(emp.id, None)
        task = asyncio.create_task(delivery.run(), name=f"emp-{emp.id}")
        self.emps[emp.id] = Delivering(emp, delivery, task)

    async def taf6(self, words: list[str]) -> dict[str, Any]:
        """``taf6 EMP [METER ...]``: readings on demand for that EMP, queued and sent at once."""
        if not words:
            return {"error": "usage: taf6 EMP [METER ...]"}
        running = self.emps.get(words[0])
        if running is None:
            known = ", ".join(sorted(self.emps)) or "none"
            return {"error": f"no delivery runs for emp {words[0]!r} (running: {known})"}
        try:
            messages = await asyncio.to_thread(running.delivery.on_demand, tuple(words[1:]))
        except ValueError as error:
            return {"error": str(error)}
        running.delivery.wake()
        return {"emp": words[0], "messages": messages}

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
        self.unavailable = {emp_id: why for emp_id, why in self.unavailable.items() if emp_id in wanted}
        for emp_id, emp in wanted.items():
            if emp_id not in self.emps:
                self._start_emp(emp)

    async def stop(self) -> None:
        for emp_id in list(self.emps):
            await self._stop_emp(emp_id)
