"""Tell systemd how the daemon is doing (sd_notify(3)): ready, status, watchdog, reload, stop.

How this works: systemd hands a ``Type=notify`` service the address of a
datagram socket in ``$NOTIFY_SOCKET`` (a path, or ``@name`` in the abstract
namespace). :meth:`Notifier.from_environment` reads it once. When systemd-python
imports, messages go through ``systemd.daemon.notify``; otherwise one
``AF_UNIX``/``SOCK_DGRAM`` datagram per message is sent with the standard library
(what libsystemd does). Without a socket the notifier is a no-op, so the daemon
calls it unconditionally. Sending never raises: a lost notification is logged,
the daemon goes on.

The watchdog: ``$WATCHDOG_USEC`` (for this process, when ``$WATCHDOG_PID`` is
set) is the time after which systemd kills a silent service;
:meth:`Notifier.watchdog_interval` returns it in seconds and the daemon sends
``WATCHDOG=1`` every half of it, only while it is healthy.
"""

from __future__ import annotations

import importlib
import logging
import os
import socket
import time
from types import ModuleType
from typing import Callable

__all__ = ["Notifier", "systemd_module"]

log = logging.getLogger(__name__)

Sender = Callable[[str], bool]


def systemd_module(name: str) -> ModuleType | None:
    """Import a part of systemd-python (``"systemd.daemon"``, ``"systemd.journal"``) or None.

    Imported by name: the package is optional, untyped, and absent on many machines.
    """
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def _socket_sender(address: str) -> Sender:
    """Send each message as one datagram to ``address`` (a path or ``@abstract``)."""
    target = "\0" + address[1:] if address.startswith("@") else address

    def send(message: str) -> bool:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(target)
            sock.sendall(message.encode())
        return True

    return send


def _module_sender(module: ModuleType) -> Sender:
    def send(message: str) -> bool:
        return bool(module.notify(message))

    return send


class Notifier:
    """Sends sd_notify messages; every method returns True when the message was sent."""

    def __init__(self, send: Sender | None, *, watchdog_usec: int | None = None) -> None:
        self._send = send
        self._watchdog_usec = watchdog_usec

    @classmethod
    def from_environment(cls) -> Notifier:
        """The notifier for this process, from ``$NOTIFY_SOCKET`` and ``$WATCHDOG_USEC``/``_PID``."""
        address = os.environ.get("NOTIFY_SOCKET", "")
        send: Sender | None = None
        if address.startswith(("/", "@")) and len(address) > 1:
            module = systemd_module("systemd.daemon")
            send = _socket_sender(address) if module is None else _module_sender(module)
        elif address:
            log.warning("NOTIFY_SOCKET=%r is neither an absolute path nor @abstract; "
                        "not notifying systemd", address)
        return cls(send, watchdog_usec=_watchdog_usec())

    @classmethod
    def disabled(cls) -> Notifier:
        """A notifier that sends nothing (demo runs, tests)."""
        return cls(None)

    @property
    def enabled(self) -> bool:
        """True when there is a socket to notify."""
        return self._send is not None

    def notify(self, *assignments: str) -> bool:
        """Send ``KEY=value`` assignments in one datagram."""
        if self._send is None:
            return False
        message = "\n".join(assignments)
        try:
            return self._send(message)
        except OSError as exc:
            log.warning("sd_notify %r failed: %s", message.split("=", 1)[0], exc)
            return False

    def ready(self, status: str | None = None) -> bool:
        """READY=1, with a STATUS= line when given."""
        return self.notify("READY=1", *([] if status is None else [_status(status)]))

    def status(self, text: str) -> bool:
        """STATUS=text (one line, shown by ``systemctl status``)."""
        return self.notify(_status(text))

    def watchdog(self) -> bool:
        """WATCHDOG=1: the daemon is alive and well."""
        return self.notify("WATCHDOG=1")

    def stopping(self) -> bool:
        """STOPPING=1: a graceful stop has begun."""
        return self.notify("STOPPING=1")

    def reloading(self) -> bool:
        """RELOADING=1 with MONOTONIC_USEC= (systemd >= 253 wants both); send ready() when done."""
        return self.notify("RELOADING=1", f"MONOTONIC_USEC={time.monotonic_ns() // 1000}")

    def watchdog_interval(self) -> float | None:
        """systemd's watchdog timeout for this process in seconds (ping at half), or None."""
        return None if self._watchdog_usec is None else self._watchdog_usec / 1e6


def _status(text: str) -> str:
    return "STATUS=" + " ".join(text.splitlines())


def _watchdog_usec() -> int | None:
    """``$WATCHDOG_USEC`` when it is meant for this process (sd_watchdog_enabled(3))."""
    pid = os.environ.get("WATCHDOG_PID")
    if pid is not None and pid != str(os.getpid()):
        return None
    value = os.environ.get("WATCHDOG_USEC")
    if value is None:
        return None
    try:
        usec = int(value)
    except ValueError:
        usec = 0
    if usec <= 0:
        log.warning("WATCHDOG_USEC=%r is not a positive number; no watchdog", value)
        return None
    return usec
