"""GPIO input links: ``gpio://17?pull=up&debounce=20`` — an S0 pulse input on BCM pin 17.

``pull``: the internal pull resistor (``up``, the default: S0− to GND, S0+ to the pin, as
hardware/README.md wires it; ``down``); ``debounce``: milliseconds within which a second
edge is contact bounce (default 20; S0 pulses last at least 30 ms); ``backend``: ``rpi``
(RPi.GPIO or rpi-lgpio, the default) or ``fake`` (tests, the simulator).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Self

from smgwd.links.url import LinkError, LinkSpec, query_params

__all__ = ["GPIO_EXAMPLE", "GpioLink"]

GPIO_EXAMPLE = "gpio://17?pull=up&debounce=20"
_PARAMS = ("pull", "debounce", "backend")


@dataclass(frozen=True, slots=True)
class GpioLink(LinkSpec):
    pin: int
    pull_up: bool = True
    debounce_ms: int = 20
    backend: str = "rpi"

    kind: ClassVar[str] = "gpio"
    example: ClassVar[str] = GPIO_EXAMPLE
    can_stream: ClassVar[bool] = False
    can_request: ClassVar[bool] = False
    opener: ClassVar[str] = ""

    @classmethod
    def from_url(cls, url: str) -> Self:
        rest = url[len("gpio://"):]
        pin_text, _, query = rest.partition("?")
        if not pin_text.isdigit() or not 0 <= int(pin_text) <= 53:
            raise LinkError(f"GPIO pin {pin_text!r} is not a BCM pin number 0..53", GPIO_EXAMPLE)
        params = query_params(query, _PARAMS, cls.kind, GPIO_EXAMPLE)
        pull = params.get("pull", "up")
        if pull not in ("up", "down"):
            raise LinkError(f"pull {pull!r} is not one of up, down", GPIO_EXAMPLE)
        debounce = params.get("debounce", "20")
        if not debounce.isdigit() or not 0 <= int(debounce) <= 1000:
            raise LinkError(f"debounce {debounce!r} is not a number of milliseconds 0..1000", GPIO_EXAMPLE)
        backend = params.get("backend", "rpi")
        if backend not in ("rpi", "fake"):
            raise LinkError(f"backend {backend!r} is not one of rpi, fake", GPIO_EXAMPLE)
        return cls(int(pin_text), pull == "up", int(debounce), backend)

    @property
    def target(self) -> str:
        return f"gpio{self.pin}"

    def __str__(self) -> str:
        return f"gpio://{self.pin}?pull={'up' if self.pull_up else 'down'}&debounce={self.debounce_ms}&backend={self.backend}"
