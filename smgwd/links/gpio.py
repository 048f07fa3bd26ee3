"""GPIO pins behind one interface: RPi.GPIO (or its drop-in rpi-lgpio) on a Pi, a fake for tests.

How this works: :data:`BACKENDS` maps a name to ``"module:Class"``; :func:`gpio_backend`
imports the one asked for when a pin is first used, so a gateway without S0 inputs or
direction pins never loads a GPIO library. Pins are BCM numbers. The ``rpi`` backend is
RPi.GPIO's API, which rpi-lgpio implements over ``/dev/gpiochip*`` (the Pi 5 needs
rpi-lgpio: RPi.GPIO's edge detection is broken on current kernels); it is not in Debian 12,
so it is an optional dependency (``pip install rpi-lgpio``). The ``fake`` backend keeps pin
levels in memory and lets tests (and the simulator) drive inputs: :meth:`FakeGpio.pulse`
runs the edge callbacks as the real library would, from another thread if asked.
"""

from __future__ import annotations

import importlib
import threading
from typing import Callable, Protocol

__all__ = ["BACKENDS", "FakeGpio", "GpioBackend", "GpioError", "RpiGpio", "gpio_backend"]

EdgeCallback = Callable[[int], None]


class GpioError(OSError):
    """A pin that cannot be used (no GPIO library, no permission, a pin in use)."""


class GpioBackend(Protocol):
    name: str

    def setup_output(self, pin: int, level: bool = False) -> None: ...

    def write(self, pin: int, level: bool) -> None: ...

    def setup_input(self, pin: int, *, pull_up: bool, falling: bool, callback: EdgeCallback) -> None: ...

    def read(self, pin: int) -> bool: ...

    def release(self, pin: int) -> None: ...


class RpiGpio:
    """RPi.GPIO's API (RPi.GPIO on older Pis, rpi-lgpio everywhere)."""

    name = "rpi"

    def __init__(self) -> None:
        try:
            from RPi import GPIO
        except (ImportError, RuntimeError) as error:
            raise GpioError(f"no GPIO library: {error} (on a Pi: apt install python3-rpi-lgpio, or pip install rpi-lgpio)") from None
        self._gpio = GPIO
        try:
            GPIO.setmode(GPIO.BCM)
            GPIO.setwarnings(False)
        except Exception as error:  # noqa: BLE001 - lgpio raises its own error type
            raise GpioError(f"GPIO not usable here: {error}") from None

    def setup_output(self, pin: int, level: bool = False) -> None:
        g = self._gpio
        g.setup(pin, g.OUT, initial=g.HIGH if level else g.LOW)

    def write(self, pin: int, level: bool) -> None:
        self._gpio.output(pin, bool(level))

    def setup_input(self, pin: int, *, pull_up: bool, falling: bool, callback: EdgeCallback) -> None:
        g = self._gpio
        try:
            g.setup(pin, g.IN, pull_up_down=g.PUD_UP if pull_up else g.PUD_DOWN)
            g.add_event_detect(pin, g.FALLING if falling else g.RISING, callback=callback)
        except Exception as error:  # noqa: BLE001
            raise GpioError(f"GPIO {pin}: {error}") from None

    def read(self, pin: int) -> bool:
        return bool(self._gpio.input(pin))

    def release(self, pin: int) -> None:
        try:
            self._gpio.remove_event_detect(pin)
        except Exception:  # noqa: BLE001 - an output pin has none
            pass
        self._gpio.cleanup(pin)


class FakeGpio:
    """Pins in memory: outputs record their changes, inputs are driven by :meth:`pulse`."""

    name = "fake"

    def __init__(self) -> None:
        self.levels: dict[int, bool] = {}
        self.changes: list[tuple[int, bool]] = []  # (pin, level) of every output write
        self.callbacks: dict[int, tuple[bool, EdgeCallback]] = {}
        self._lock = threading.Lock()

    def setup_output(self, pin: int, level: bool = False) -> None:
        self._claim(pin)
        self.levels[pin] = level

    def write(self, pin: int, level: bool) -> None:
        self.levels[pin] = level
        self.changes.append((pin, level))

    def setup_input(self, pin: int, *, pull_up: bool, falling: bool, callback: EdgeCallback) -> None:
        self._claim(pin)
        self.levels[pin] = pull_up
        self.callbacks[pin] = (falling, callback)

    def read(self, pin: int) -> bool:
        return self.levels.get(pin, False)

    def release(self, pin: int) -> None:
        self.levels.pop(pin, None)
        self.callbacks.pop(pin, None)

    def _claim(self, pin: int) -> None:
        if pin in self.levels:
            raise GpioError(f"GPIO {pin} is in use")

    def edge(self, pin: int, level: bool) -> None:
        """Set an input's level; the callback runs on the edge it listens for."""
        with self._lock:
            before = self.levels.get(pin, True)
            self.levels[pin] = level
            listener = self.callbacks.get(pin)
        if listener is not None and before != level and (level is False) == listener[0]:
            listener[1](pin)

    def pulse(self, pin: int, bounces: int = 0) -> None:
        """One S0 pulse (active low), with ``bounces`` extra edges of contact bounce first."""
        for _ in range(bounces):
            self.edge(pin, False)
            self.edge(pin, True)
        self.edge(pin, False)
        self.edge(pin, True)


BACKENDS: dict[str, str] = {"rpi": "smgwd.links.gpio:RpiGpio", "fake": "smgwd.links.gpio:FakeGpio"}
_INSTANCES: dict[str, GpioBackend] = {}


def gpio_backend(name: str = "rpi") -> GpioBackend:
    """The process's backend ``name`` (made on first use)."""
    backend = _INSTANCES.get(name)
    if backend is None:
        if name not in BACKENDS:
            raise GpioError(f"unknown GPIO backend {name!r} (known: {', '.join(BACKENDS)})")
        module, _, cls = BACKENDS[name].partition(":")
        backend = _INSTANCES[name] = getattr(importlib.import_module(module), cls)()
    return backend
