"""Links: byte transports to meters, chosen by URL (``tcp://``, ``serial://``; see :mod:`smgwd.links.url`)."""

from smgwd.links.url import LINK_KINDS, LinkError, LinkSpec, SerialLink, TcpLink, parse_link

__all__ = ["LINK_KINDS", "LinkError", "LinkSpec", "SerialLink", "TcpLink", "parse_link"]
