"""One kept-alive HTTPS connection to an EMP, over a given mutual-TLS context (POSTs, and GETs on its host).

How this works: :class:`HttpsPoster` holds at most one
:class:`http.client.HTTPSConnection` to the URL's host and reuses it while the
EMP keeps it open (``Connection: close`` or any error drops it; the next POST
connects again). An idle connection the EMP has closed meanwhile (its socket
is readable: the end, or a TLS close_notify) is dropped before it is used, so
an EMP's idle time-out does not cost a failed attempt. :meth:`HttpsPoster.close`
may come from another thread while a POST is under way (the daemon stops
while its worker thread waits for an answer): that POST's connection is then
closed when it ends instead of being kept. Every socket operation is bounded by ``timeout``; the answer's
body is read up to MAX_ANSWER bytes (an EMP answers with a short JSON object:
a longer one is an error, never a reason to fill memory). It is the gateway's
only HTTP client, and small on purpose: http.client and ssl are in the
standard library, where requests and urllib3 would cost the daemon some 11 MiB
of resident memory for one POST per interval.
"""

from __future__ import annotations

import http.client
import select
import ssl
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["Answer", "HttpsError", "HttpsPoster", "MAX_ANSWER"]

MAX_ANSWER = 64 * 1024


class HttpsError(Exception):
    """The POST got no complete HTTP answer (connection, TLS, time-out or protocol trouble); one line."""


@dataclass(frozen=True)
class Answer:
    """An EMP's answer: status code and body."""

    status: int
    body: bytes


class HttpsPoster:
    """POSTs to one ``https://`` URL with ``context``; see the module comment."""

    def __init__(self, url: str, context: ssl.SSLContext, timeout: float) -> None:
        parts = urlsplit(url)
        if parts.scheme != "https" or not parts.hostname:
            raise ValueError(f"not an https:// URL with a host: {url!r}")
        self.host = parts.hostname
        self.port = parts.port or 443
        self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.context = context
        self.timeout = timeout
        self._connection: http.client.HTTPSConnection | None = None
        self._lock = threading.Lock()
        self._closed = False

    def post(self, body: bytes, headers: dict[str, str], path: str | None = None) -> Answer:
        """POST ``body`` to the URL's path (or ``path`` on its host); the answer, or HttpsError."""
        return self._exchange("POST", path or self.path, body, headers)

    def get(self, path: str) -> Answer:
        """GET ``path`` on the URL's host; the answer, or HttpsError."""
        return self._exchange("GET", path, None, {})

    def _exchange(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> Answer:
        connection = self._kept() or http.client.HTTPSConnection(
            self.host, self.port, timeout=self.timeout, context=self.context)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read(MAX_ANSWER + 1)
            if len(data) > MAX_ANSWER:
                raise HttpsError(f"answer longer than {MAX_ANSWER} bytes")
            if not response.isclosed():
                response.read()  # a body shorter than announced raises here, not on the next request
        except HttpsError:
            connection.close()
            raise
        except (OSError, http.client.HTTPException) as error:  # ssl.SSLError and time-outs are OSErrors
            connection.close()
            raise HttpsError(f"{type(error).__name__}: {error}" if str(error) else type(error).__name__) from None
        with self._lock:
            if response.will_close or self._closed:
                connection.close()
            else:
                self._connection = connection
        return Answer(response.status, data)

    def _kept(self) -> http.client.HTTPSConnection | None:
        """The kept-alive connection if the EMP has not closed it meanwhile (nothing may be readable on it)."""
        with self._lock:
            connection, self._connection = self._connection, None
        if connection is not None and (connection.sock is None or select.select([connection.sock], [], [], 0)[0]):
            connection.close()
            return None
        return connection

    def close(self) -> None:
        """Drop the kept-alive connection, and keep none from a POST still under way."""
        with self._lock:
            self._closed = True
            connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()
