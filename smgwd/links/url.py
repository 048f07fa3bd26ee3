"""Link URLs: which wire a meter is on, parsed once into a frozen spec.

How this works: the scheme picks a row of :data:`LINK_KINDS`, a table of
``name -> "module:Class"`` (python-can style); the class is imported only
when a URL of that kind is parsed, so a later link kind registers by adding
one row. Each spec class parses the rest of its URL in ``from_url`` and
renders the canonical URL in ``__str__``, so ``parse_link(str(spec)) ==
spec``. A bare absolute path (``/dev/ttyAMA0``) is a serial link. Kinds that
are named in the design but not built yet (:data:`NOT_SUPPORTED_YET`) are
recognised and refused as such. Every problem is a :class:`LinkError` that
says what is wrong and shows a correct URL of the kind meant.

Each kind has its own module (spec and stream: :mod:`smgwd.links.tcp`,
:mod:`smgwd.links.serial`); opening goes through :mod:`smgwd.links.stream`.
This module has no I/O.
"""

from __future__ import annotations

import difflib
import importlib
import ipaddress
import re
from dataclasses import dataclass
from typing import ClassVar, Self

__all__ = [
    "LINK_KINDS",
    "NOT_SUPPORTED_YET",
    "LinkError",
    "LinkSpec",
    "link_class",
    "parse_host_port",
    "parse_link",
    "query_params",
]

#: link kind -> "module:Class" of its :class:`LinkSpec`; imported on first use.
LINK_KINDS: dict[str, str] = {
    "tcp": "smgwd.links.tcp:TcpLink",
    "serial": "smgwd.links.serial:SerialLink",
    "im871a": "smgwd.links.dongle:Im871aLink",
    "amb8465": "smgwd.links.dongle:Amb8465Link",
    "rtlwmbus": "smgwd.links.dongle:RtlWmbusLink",
    "rtlwmbus+exec": "smgwd.links.dongle:RtlWmbusExecLink",
    "rs485": "smgwd.links.rs485:Rs485Link",
    "gpio": "smgwd.links.gpio_link:GpioLink",
}

#: link kinds of the design that have no implementation yet -> (what they are, an example URL).
NOT_SUPPORTED_YET: dict[str, tuple[str, str]] = {}

TCP_EXAMPLE = "tcp://192.168.1.50:33333"
SERIAL_EXAMPLE = "serial:///dev/ttyUSB0?baud=9600&parity=N&bytesize=8&stopbits=1"

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_DIGITS = re.compile(r"[0-9]+")


class LinkError(ValueError):
    """A link URL that cannot be used; the text names the problem and shows a correct URL."""

    def __init__(self, problem: str, example: str) -> None:
        super().__init__(f"{problem} (expected a URL like {example})")
        self.problem = problem
        self.example = example


@dataclass(frozen=True, slots=True)
class LinkSpec:
    """A parsed link URL. Subclasses are frozen dataclasses registered in :data:`LINK_KINDS`.

    Class attributes say what the link can carry: ``can_stream`` (bytes a meter
    sends by itself: SML push) and ``can_request`` (request/response: SML pull).
    """

    kind: ClassVar[str] = ""
    example: ClassVar[str] = ""
    can_stream: ClassVar[bool] = False
    can_request: ClassVar[bool] = False
    opener: ClassVar[str] = ""  # "module:function" that opens it (see smgwd.links.stream), imported when used

    @classmethod
    def from_url(cls, url: str) -> Self:
        """Parse ``url`` (already known to be of this kind); raises :class:`LinkError`."""
        raise NotImplementedError

    @property
    def target(self) -> str:
        """What the link connects to (host:port, a device path): two meters with the same target share a wire."""
        raise NotImplementedError


def query_params(query: str, known: tuple[str, ...], kind: str, example: str) -> dict[str, str]:
    """``name=value&...`` of a link URL; an unknown, repeated or value-less parameter is a LinkError."""
    params: dict[str, str] = {}
    for item in query.split("&") if query else ():
        name, equals, value = item.partition("=")
        if not equals or name not in known or name in params:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean {close[0]}?" if close else f"known: {', '.join(known)}"
            problem = "given twice" if name in params else "unknown" if equals else "without '=value'"
            raise LinkError(f"{kind} parameter {item!r} {problem} ({hint})", example)
        params[name] = value
    return params


def parse_host_port(text: str, default_port: int | None = None) -> tuple[str, int]:
    """Split ``host:port``, ``[v6]:port``, or (with ``default_port``) a bare host or IPv6 address.

    Returns the host (an IPv6 address without brackets, compressed) and the
    port. Raises ValueError naming the problem.
    """
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ValueError(f"{text!r} has no closing ']'")
        host, rest = _ipv6(text[1:end]), text[end + 1:]
        if rest == "" and default_port is not None:
            return host, default_port
        if not rest.startswith(":"):
            raise ValueError(f"{text!r} needs ':port' after ']'" if rest == "" else f"unexpected {rest!r} after ']'")
        return host, _port(rest[1:])
    colons = text.count(":")
    if colons > 1:
        if default_port is not None:
            try:
                return _ipv6(text), default_port
            except ValueError:
                pass
        raise ValueError(f"{text!r}: an IPv6 address needs brackets, as in [::1]:{default_port or 33333}")
    if colons == 1:
        host, port = text.split(":")
        return _host(host), _port(port)
    if default_port is None:
        raise ValueError(f"{text!r} has no port")
    return _host(text), default_port


def _ipv6(text: str) -> str:
    try:
        return str(ipaddress.IPv6Address(text.replace("%25", "%")))
    except ValueError:
        raise ValueError(f"{text!r} is not an IPv6 address") from None


def _host(text: str) -> str:
    if text == "":
        raise ValueError("the host is missing")
    if all(c.isdigit() or c == "." for c in text):
        try:
            return str(ipaddress.IPv4Address(text))
        except ValueError:
            raise ValueError(f"{text!r} is not an IPv4 address") from None
    labels = text[:-1].split(".") if text.endswith(".") else text.split(".")
    if len(text) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise ValueError(f"{text!r} is not a host name (letters, digits, '-' and '.')")
    return text


def _port(text: str) -> int:
    if not _DIGITS.fullmatch(text):
        raise ValueError("the port is missing" if text == "" else f"port {text!r} is not a number")
    port = int(text)
    if not 1 <= port <= 65535:
        raise ValueError(f"port {port} is out of range 1..65535")
    return port


def link_class(kind: str) -> type[LinkSpec]:
    """The spec class registered for ``kind`` in :data:`LINK_KINDS` (imported now)."""
    module, _, name = LINK_KINDS[kind].partition(":")
    cls = getattr(importlib.import_module(module), name)
    if not (isinstance(cls, type) and issubclass(cls, LinkSpec)):
        raise TypeError(f"LINK_KINDS[{kind!r}] = {LINK_KINDS[kind]!r} is not a LinkSpec class")
    return cls


def _examples() -> str:
    return " or ".join(link_class(kind).example for kind in LINK_KINDS)


def parse_link(url: str) -> LinkSpec:
    """Parse a link URL into its spec; raises :class:`LinkError` saying what is wrong.

    Whitespace around ``url`` is ignored.
    """
    url = url.strip()
    if url == "":
        raise LinkError("the link URL is empty", _examples())
    if url.startswith("/"):
        return link_class("serial").from_url(url)
    scheme = _SCHEME.match(url)
    if scheme is None or not url[scheme.end():].startswith("//"):
        if url.startswith(("dev/", "tty")):
            raise LinkError(f"{url!r} is not a link URL; a device path starts with '/'", SERIAL_EXAMPLE)
        if scheme is not None and scheme.group(1).lower() in (*LINK_KINDS, *NOT_SUPPORTED_YET):
            name = scheme.group(1).lower()
            example = link_class(name).example if name in LINK_KINDS else NOT_SUPPORTED_YET[name][1]
            raise LinkError(f"{url!r} needs '//' after '{name}:'", example)
        try:
            parse_host_port(url)
        except ValueError:
            raise LinkError(f"{url!r} is not a link URL (no scheme:// in front)", _examples()) from None
        raise LinkError(f"{url!r} has no scheme: did you mean tcp://{url}?", TCP_EXAMPLE)
    kind = scheme.group(1).lower()
    if kind in LINK_KINDS:
        cls = link_class(kind)
        return cls.from_url(kind + url[len(kind):])
    if kind in NOT_SUPPORTED_YET:
        what, example = NOT_SUPPORTED_YET[kind]
        supported = ", ".join(f"{k}://" for k in LINK_KINDS)
        raise LinkError(f"{kind}:// links ({what}) are not supported yet; supported: {supported}", example)
    close = difflib.get_close_matches(kind, [*LINK_KINDS, *NOT_SUPPORTED_YET], n=1)
    hint = f"did you mean {close[0]}://?" if close else f"known: {', '.join(f'{k}://' for k in LINK_KINDS)}"
    raise LinkError(f"unknown link kind {kind + '://'!r} ({hint})", _examples())
