"""RS-485 bus links: ``rs485:///dev/ttyAMA0?baud=9600&address=0x12`` — one meter on an HDLC bus.

How this works: the link names the port, its line settings and the meter's HDLC address on
it (``address``: the physical address, the lower HDLC address; ``logical``: the logical
device, the upper address, 1 by default; ``client``: the gateway's own address, 16, the
public client). Every meter on one port shares one bus (one task owns the port and polls
them in turn). ``direction`` says who switches the transceiver between sending and
receiving: ``auto`` (default) the adapter itself (USB adapters, most HATs), ``kernel`` the
UART's RS-485 mode through pyserial, which a pty or a UART without it cannot do: then one
log line says so and the bus runs as with ``auto``; ``gpio:PIN`` a GPIO pin wired to the
transceiver's DE/RE, driven high while smgwd sends (through the GPIO backend ``backend``:
``rpi``, or ``fake`` for tests). ``turnaround`` is the pause in
milliseconds after the line went quiet before the gateway sends (slow transceivers).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import ClassVar, Self

from smgwd.links.serial import SerialStream, device_url_parts, open_port, quote_path
from smgwd.links.stream import LinkUnavailable
from smgwd.links.url import LinkError, LinkSpec, query_params

__all__ = ["RS485_EXAMPLE", "Rs485Link", "open_rs485"]

log = logging.getLogger(__name__)

RS485_EXAMPLE = "rs485:///dev/ttyAMA0?baud=9600&address=0x12"
_PARAMS = ("baud", "parity", "address", "logical", "client", "direction", "turnaround", "backend")


def _number(name: str, value: str, low: int, high: int) -> int:
    try:
        number = int(value, 16) if value.lower().startswith("0x") else int(value)
    except ValueError:
        number = -1
    if not low <= number <= high:
        raise LinkError(f"{name} {value!r} is not a number {low}..{high} (decimal or 0x hex)", RS485_EXAMPLE)
    return number


@dataclass(frozen=True, slots=True)
class Rs485Link(LinkSpec):
    path: str
    address: int
    baud: int = 9600
    parity: str = "N"
    logical: int = 1
    client: int = 16
    direction: str = "auto"  # auto | kernel | gpio:PIN
    turnaround_ms: int = 2
    backend: str = "rpi"  # the GPIO backend of a gpio:PIN direction pin (fake: tests)

    kind: ClassVar[str] = "rs485"
    example: ClassVar[str] = RS485_EXAMPLE
    can_stream: ClassVar[bool] = True
    can_request: ClassVar[bool] = True
    opener: ClassVar[str] = "smgwd.links.rs485:open_rs485"

    @classmethod
    def from_url(cls, url: str) -> Self:
        path, query = device_url_parts(url, cls.kind, RS485_EXAMPLE)
        params = query_params(query, _PARAMS, cls.kind, RS485_EXAMPLE)
        if "address" not in params:
            raise LinkError("an rs485 link names the meter's HDLC address (address=0x10..0x7D)", RS485_EXAMPLE)
        parity = params.get("parity", "N").upper()
        if parity not in ("N", "E", "O"):
            raise LinkError(f"parity {params['parity']!r} is not one of N, E, O", RS485_EXAMPLE)
        direction = params.get("direction", "auto")
        if direction not in ("auto", "kernel") and not (direction.startswith("gpio:") and direction[5:].isdigit()
                                                         and int(direction[5:]) <= 53):
            raise LinkError(f"direction {direction!r} is not one of auto, kernel, gpio:PIN (a BCM pin 0..53)",
                            RS485_EXAMPLE)
        backend = params.get("backend", "rpi")
        if backend not in ("rpi", "fake"):
            raise LinkError(f"backend {backend!r} is not one of rpi, fake", RS485_EXAMPLE)
        return cls(
            path, _number("address", params["address"], 0x01, 0x7D), _number("baud", params.get("baud", "9600"), 300, 921_600),
            parity, _number("logical", params.get("logical", "1"), 0, 0x7F), _number("client", params.get("client", "16"), 1, 0x7F),
            direction, _number("turnaround", params.get("turnaround", "2"), 0, 1000), backend,
        )

    @property
    def target(self) -> str:
        return self.path

    @property
    def bus(self) -> tuple[str, int, str, str, int, str]:
        """What all meters on one port must agree on."""
        return self.path, self.baud, self.parity, self.direction, self.turnaround_ms, self.backend

    @property
    def direction_pin(self) -> int | None:
        """The BCM pin that drives the transceiver's DE/RE, for ``direction=gpio:PIN``."""
        return int(self.direction[5:]) if self.direction.startswith("gpio:") else None

    def __str__(self) -> str:
        return (f"rs485://{quote_path(self.path)}?baud={self.baud}&parity={self.parity}&address=0x{self.address:02X}"
                f"&logical={self.logical}&client={self.client}&direction={self.direction}&turnaround={self.turnaround_ms}"
                + (f"&backend={self.backend}" if self.backend != "rpi" else ""))


_KERNEL_MODE_REPORTED: set[str] = set()


def _open(link: Rs485Link) -> SerialStream:
    stream = open_port(link, link.path, link.baud, link.parity)
    if link.direction == "kernel":
        import serial.rs485

        port = stream._port  # noqa: SLF001 - the pyserial port the stream reads
        try:
            port.rs485_mode = serial.rs485.RS485Settings(rts_level_for_tx=True, rts_level_for_rx=False)  # type: ignore[attr-defined]
        except (ValueError, OSError) as error:
            if link.path not in _KERNEL_MODE_REPORTED:
                _KERNEL_MODE_REPORTED.add(link.path)
                log.warning("RS-485 bus %s: the port has no kernel RS-485 mode (%s); the adapter must switch "
                            "direction by itself", link.path, error)
    return stream


async def open_rs485(link: LinkSpec, timeout: float) -> SerialStream:
    """Open an RS-485 bus port (exclusively), with the kernel's RS-485 mode where asked for."""
    if not isinstance(link, Rs485Link):
        raise LinkUnavailable(f"{link} is no rs485 link")
    return await asyncio.to_thread(_open, link)
