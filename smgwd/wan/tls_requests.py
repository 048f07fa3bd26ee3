"""A requests transport adapter over a given SSL context (the lab tools and tests talk to the EMP with it).

The gateway itself does not import requests (:mod:`smgwd.wan.https` is its
client); this module is kept apart so that importing the TLS contexts does not
load requests and urllib3.
"""

from __future__ import annotations

import ssl
from typing import Any

from requests.adapters import HTTPAdapter

__all__ = ["TlsAdapter"]


class TlsAdapter(HTTPAdapter):
    """A requests transport adapter that connects with a given SSL context."""

    def __init__(self, context: ssl.SSLContext, **kwargs: Any) -> None:
        self.context = context
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["ssl_context"] = self.context
        super().init_poolmanager(*args, **kwargs)

    def proxy_manager_for(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["ssl_context"] = self.context
        return super().proxy_manager_for(*args, **kwargs)
