"""Links: byte transports to meters, chosen by URL (``tcp://``, ``serial://``; see :mod:`smgwd.links.url`).

One module per way bytes arrive (:mod:`smgwd.links.tcp`, :mod:`smgwd.links.serial`), each
registered in :data:`~smgwd.links.url.LINK_KINDS` and imported when a URL of its kind is used.
"""

from smgwd.links.url import LINK_KINDS, LinkError, LinkSpec, parse_link

__all__ = ["LINK_KINDS", "LinkError", "LinkSpec", "parse_link"]
