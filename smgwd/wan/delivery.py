"""Delivery to one EMP: build messages from the store into the outbox, send them until acknowledged.

How this works: an :class:`EmpDelivery` has two halves that share nothing but
the store.

The builder (:meth:`EmpDelivery.build`, every ``interval``) first lets the
store commit what it holds, then reads the readings of the chosen meters and
OBIS codes in the store's own order: by reading id, after the watermark
(gateway_state ``delivery.<emp>.seq``, the last id taken), up to the highest
id committed. Ids only grow (one writer hands them out in commit order, and
pruning keeps the newest row), so no reading is skipped or taken twice,
whatever the clocks do: a clock stepped back, readings stamped long before
they were stored. It encodes them (:func:`~smgwd.wan.delivery_build.renderable`; a reading that
cannot be rendered is set aside: counted in gateway_state
``delivery.<emp>.set_aside``, noted in the system log as
``delivery_set_aside`` with meter, OBIS, gateway time and reason, shown by
``smgwctl deliveries``, logged once, and passed by the watermark with the
rest, so it never blocks the readings behind it),
seals each document with CMS for the EMP's encryption certificate and gives
each a message id ``<gateway>-<emp>-<uuid4 hex>`` and, among its signed
attributes, its identity (:mod:`~smgwd.wan.message_identity`: gateway, EMP,
message id, the message's sequence number to this EMP, gateway_state
``delivery.<emp>.sequence``, and its creation time). The messages, the new
sequence and the new
watermark go to the store as ONE statement group, so they commit together or
not at all: after a crash, either the readings are in an outbox message or
they are still after the watermark, never both and never neither. Without a
watermark (a new EMP) every stored reading is due. A store whose delivery
went by gateway time (``delivery.<emp>.until``, before 0.2) goes on from the
first reading stamped after that time: a reading is sent twice rather than
never. One build takes at most MAX_READINGS readings; the rest follow at once.

An EMP whose profile is a periodic tariff use case (``taf1``, ``taf2``,
``taf7``: :mod:`smgwd.taf.use_case`) is built by period instead: its
watermark is the start of the next period to close (gateway_state
``delivery.<emp>.period``; for a new EMP the period of the first reading
whose time was trusted). A period is closed once the gateway's time, while
the timebase trusts it, is ``grace`` seconds past its end: its values (at most
MAX_PERIODS per build, the rest at once) become one profile per meter, sealed
like the others, committed with the new watermark, the use case's state and
its calibration log entries (gaps, tariff switches) in one transaction. While
the time is not trusted no period closes: a wrong clock never closes a day
that has not been. :meth:`EmpDelivery.on_demand` (TAF6) makes one message of
the latest value of every OBIS code of the EMP's meters, at once.

TAF6 asked by the EMP itself (:mod:`smgwd.wan.taf6_requests`): every
``request_poll`` seconds an EMP with ``on_demand`` is asked for its pending
requests after the last one handled (gateway_state ``delivery.<emp>.request``).
Each is answered like ``smgwctl taf6`` but with its id in the messages' signed
identity, committed with the new last-handled id, so a request is answered
once whatever the EMP hands out again. A request that cannot be answered (a
meter this EMP is not given, no value stored yet) is declined: the id is
committed as handled with a ``taf6_declined`` note in the system log and the
decline kept (``delivery.<emp>.declines``), then the reason is sent to the EMP;
one it did not take (no answer, 5xx) is sent again at each poll, so a decline
never holds up the requests after it (at most MAX_DECLINES wait). Entries of the EMP's answer that are not valid requests are counted
(``delivery.<emp>.requests_refused``) and logged when they change; they
never keep the valid ones from being answered.

The sender (:meth:`EmpDelivery.send_next`) reads the oldest message of this
EMP that is not done (``queued``, or ``sent`` and not acknowledged: a restart
sends it again; the EMP is idempotent on the id, so it stores it once). It
waits until that message is due, so later messages never overtake it. It
marks it ``sent``, POSTs it over mutual TLS with ``X-Message-Id``; a 200 whose
``ack`` is the id makes it ``acked``; 400/403/409/413/422 make it ``failed``
with the EMP's reason (the queue goes on); anything else (connection error,
timeout, 5xx, an answer without the ack) puts it back to ``queued`` with the
next attempt after ``backoff(attempts)`` seconds. Every mark is committed
before the next step, so the outbox on disk is never behind what the EMP saw
by more than one message.

:meth:`EmpDelivery.run` is the asyncio task the gateway runs per EMP; the
blocking work (store flushes, HTTP) runs in worker threads.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
import re
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterator, Sequence

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from smgwd.gateway.config import EmpConfig
from smgwd.gateway.logsetup import fields
from smgwd.gateway.memory import give_back
from smgwd.gateway.store import OutboxEntry, Store, StoreReader, SystemNote
from smgwd.reading import Reading, TimeQuality
from smgwd.calendars.periods import next_start, period_start
from smgwd.taf.use_case import UseCase, meters_of, use_case
from smgwd.wan.chain import load_certs
from smgwd.wan.cms import seal
from smgwd.wan.delivery_build import SetAside, renderable
from smgwd.wan.https import HttpsError, HttpsPoster
from smgwd.wan.message_identity import MessageIdentity
from smgwd.wan.pseudonyms import Pseudonyms
from smgwd.wan.taf6_requests import (MAX_REASON, OnDemandRequest, Problem, decline_path, parse_requests,
                                     requests_path)
from smgwd.wan.tls import client_context

__all__ = [
    "Backoff", "CONSUMER_EVENT", "DeliveryError", "EmpDelivery", "REFUSED", "SET_ASIDE_EVENT", "Sealer", "legacy_watermark_key",
    "declines_key", "on_demand_key", "period_key", "read_cert", "read_certs", "read_key", "request_key",
    "requests_refused_key",
    "sequence_key", "set_aside_key", "watermark_key",
]

log = logging.getLogger("smgwd.delivery")

MAX_READINGS = 1000
MAX_PERIODS = 31  # periods closed per build
MAX_DECLINES = 100  # TAF6 declines kept for an EMP that does not take them
_TRUSTED = (TimeQuality.SYNCHRONISED, TimeQuality.DRIFTING)
REFUSED = frozenset({400, 403, 409, 413, 422})  # the EMP will never take this message
FLUSH_TIMEOUT = 30.0
LOG_SET_ASIDE = 10  # log lines per build for readings set aside; the rest in one line
SET_ASIDE_EVENT = "delivery_set_aside"
CONSUMER_EVENT = "data_sent"  # the consumer log's entry for each meter of an acknowledged message
#: the tariff use case of a message -> what the consumer log calls its content
_PURPOSE = {None: "meter readings", "taf14": "high-frequency readings (TAF14)", "taf1": "billing values (TAF1)",
            "taf2": "tariff register values (TAF2)", "taf6": "readings on demand (TAF6)",
            "taf7": "a quarter-hour load profile (TAF7)"}
_NO_TIME = datetime.max.replace(tzinfo=timezone.utc)  # sorts a reading without a gateway time last
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


class DeliveryError(Exception):
    """An EMP's delivery cannot start (unreadable certificate or key); one line."""


def set_aside_key(emp: str) -> str:
    """The gateway_state key counting the readings set aside for ``emp`` (they could not be rendered)."""
    return f"delivery.{emp}.set_aside"


def watermark_key(emp: str) -> str:
    """The gateway_state key holding the id of the last reading taken for ``emp``."""
    return f"delivery.{emp}.seq"


def sequence_key(emp: str) -> str:
    """The gateway_state key counting the messages made for ``emp`` (each carries its number, signed)."""
    return f"delivery.{emp}.sequence"


def on_demand_key(emp: str) -> str:
    """The gateway_state key holding when ``emp`` last got readings on demand (TAF6)."""
    return f"delivery.{emp}.taf6"


def request_key(emp: str) -> str:
    """The gateway_state key holding the id of the last TAF6 request of ``emp`` handled (answered or declined)."""
    return f"delivery.{emp}.request"


def declines_key(emp: str) -> str:
    """The gateway_state key holding the declines ``emp`` has not taken yet (JSON: request id -> reason)."""
    return f"delivery.{emp}.declines"


def requests_refused_key(emp: str) -> str:
    """The gateway_state key counting entries of ``emp``'s requests answers that were not valid requests."""
    return f"delivery.{emp}.requests_refused"


def period_key(emp: str) -> str:
    """The gateway_state key holding the start of the next period a periodic use case closes for ``emp``."""
    return f"delivery.{emp}.period"


def legacy_watermark_key(emp: str) -> str:
    """Where delivery kept its watermark before it went by reading id: the gateway time of the last reading."""
    return f"delivery.{emp}.until"


def _number(state: dict[str, str], key: str) -> int:
    """A count or id kept in gateway_state (0 when missing or damaged)."""
    value = state.get(key, "0")
    return int(value) if value.isdigit() else 0


def _declines(text: str | None) -> dict[int, str]:
    """The declines kept in gateway_state (JSON object of id -> reason); {} for none or a damaged entry."""
    try:
        found = json.loads(text or "{}")
    except ValueError:
        return {}
    if not isinstance(found, dict):
        return {}
    return {int(key): str(value) for key, value in found.items() if str(key).isdigit()}


@dataclass(frozen=True)
class Backoff:
    """Seconds before attempt ``n + 1``: base * 2**(n-1), capped, minus up to ``jitter`` of it at random."""

    base: float = 5.0
    cap: float = 900.0
    jitter: float = 0.5

    def __call__(self, attempts: int) -> float:
        delay = min(self.cap, self.base * 2.0 ** max(0, attempts - 1))
        return delay * (1.0 - self.jitter * random.random())


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def read_cert(path: Any) -> x509.Certificate:
    """The first certificate of the PEM or DER file ``path``; DeliveryError (one line naming it) if unusable."""
    return read_certs(path)[0]


def read_certs(path: Any) -> list[x509.Certificate]:
    """Every certificate of the file ``path``; DeliveryError naming it if unusable."""
    try:
        return load_certs(path.read_bytes())
    except (OSError, ValueError) as error:
        raise DeliveryError(f"{path}: not a usable certificate: {error}") from None


def read_key(path: Any) -> ec.EllipticCurvePrivateKey:
    """The unencrypted PEM EC private key in ``path``; DeliveryError naming it if unusable."""
    try:
        key = load_pem_private_key(path.read_bytes(), None)
    except (OSError, ValueError, TypeError) as error:
        raise DeliveryError(f"{path}: not a usable private key: {error}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise DeliveryError(f"{path}: not an EC private key")
    return key


class Sealer:
    """CMS for one EMP: signed with the gateway's signature key, encrypted for the EMP's certificate."""

    def __init__(self, emp: EmpConfig) -> None:
        """Load the certificates and key ``emp`` names; DeliveryError (one line) if one is not usable."""
        self._signer_cert, self._signer_key = read_cert(emp.sig_cert), read_key(emp.sig_key)
        self._chain = read_certs(emp.chain) if emp.chain is not None else []
        self._recipient = read_cert(emp.recipient)

    def seal(self, document: bytes, identity: MessageIdentity | None = None) -> bytes:
        """The DER CMS message carrying ``document`` (and ``identity`` among the signed attributes)."""
        return seal(document, signer_cert=self._signer_cert, signer_key=self._signer_key,
                    recipient_certs=[self._recipient], chain=self._chain, identity=identity)


class EmpDelivery:
    """Builder and sender for one configured EMP (see the module comment)."""

    def __init__(
        self, emp: EmpConfig, gateway_id: str, store: Store, *,
        clock: Callable[[], datetime] = _utcnow, backoff: Callable[[int], float] = Backoff(),
        quality: Callable[[], TimeQuality] | None = None, secret: bytes | None = None,
    ) -> None:
        """``quality``: the timebase's current time quality (None: the clock is trusted, for tests);
        ``secret``: the gateway secret, which an EMP with ``pseudonymize`` needs."""
        self.emp = emp
        self.pseudonyms: Pseudonyms | None = None
        if emp.pseudonymize:
            if secret is None:
                raise DeliveryError(f"emp {emp.id}: pseudonymize needs the gateway secret")
            self.pseudonyms = Pseudonyms(secret, emp.id)
        self.quality = quality
        self._lock = threading.Lock()  # one build or on-demand answer at a time: they share the sequence
        self._wake: asyncio.Event | None = None
        self.use_case: UseCase | None = use_case(emp)
        self._waiting_for_time = False
        self.store = store
        self.clock = clock
        self.backoff = backoff
        self._prefix = f"{_ID_UNSAFE.sub('_', gateway_id)[:40]}-{emp.id[:40]}-"
        self._sealer = Sealer(emp)
        try:
            context = client_context(emp.tls_cert, emp.tls_key, emp.server_ca, crl=emp.crl)
        except (OSError, ValueError) as error:  # ssl.SSLError is an OSError
            raise DeliveryError(f"emp {emp.id}: TLS certificate, key or CA not usable: {error}") from None
        try:
            self._poster = HttpsPoster(emp.url, context, emp.timeout)
        except ValueError as error:
            raise DeliveryError(f"emp {emp.id}: {error}") from None
        self._reader: StoreReader | None = None
        self._users_lock = threading.Lock()
        self._users = 0  # worker threads inside a blocking entry point (see _in_use)
        self._closed = False
        self._watermark = 0  # the id of the last reading taken
        self._sequence = 0  # messages made for this EMP so far (the last one's sequence number)
        self.gateway_id = gateway_id
        self._loaded = False
        self._failing = False
        self.set_aside = 0  # readings ever set aside for this EMP (they cannot be rendered)
        self._last_request = 0  # the id of the EMP's last TAF6 request handled
        self.requests_refused = 0  # entries of the EMP's requests answers that were not valid requests
        self._request_problems: tuple[str, ...] = ()
        self._declines: dict[int, str] = {}  # request id -> the reason the EMP has not been told yet
        self._requests_trouble: str | None = None
        self._requests_path = requests_path(self._poster.path)
        self.truncated = False  # the last build stopped at MAX_READINGS: more readings wait

    def close(self) -> None:
        """Release the HTTPS connection and the store reader; safe while a worker thread still builds or
        sends: the connection is dropped at once, the reader only when the last worker is done with it."""
        self._poster.close()
        with self._users_lock:
            self._closed = True
            idle = self._users == 0
        if idle:
            self._release()

    def _release(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    @contextmanager
    def _in_use(self) -> Iterator[None]:
        """Around each blocking entry point: a closed delivery refuses, and the last user releases it."""
        with self._users_lock:
            if self._closed:
                raise DeliveryError(f"emp {self.emp.id}: the delivery was stopped")
            self._users += 1
        try:
            yield
        finally:
            with self._users_lock:
                self._users -= 1
                last = self._closed and self._users == 0
            if last:
                self._release()

    def _store_reader(self) -> StoreReader:
        if self._reader is None:
            self._reader = StoreReader(self.store.path)
        return self._reader

    def _event(self, level: int, event: str, message: str, *, log_it: bool = True) -> None:
        log.log(level, "emp %s: %s", self.emp.id, message, extra=fields(emp=self.emp.id, event=event))
        if log_it:
            self.store.log("system", event, f"emp {self.emp.id}: {message}", data={"emp": self.emp.id})

    # --- builder ----------------------------------------------------------------------

    def _load(self) -> None:
        state = self._store_reader().state()
        value = state.get(watermark_key(self.emp.id))
        if value is not None and value.isdigit():
            self._watermark = int(value)
        elif (legacy := state.get(legacy_watermark_key(self.emp.id))) is not None:
            self._watermark = self._store_reader().id_before_time(datetime.fromisoformat(legacy))
        else:
            self._watermark = 0
        self.set_aside = _number(state, set_aside_key(self.emp.id))
        self._sequence = _number(state, sequence_key(self.emp.id))
        self._last_request = _number(state, request_key(self.emp.id))
        self.requests_refused = _number(state, requests_refused_key(self.emp.id))
        self._declines = _declines(state.get(declines_key(self.emp.id)))
        self._loaded = True

    def build(self) -> list[str]:
        """Enqueue the new readings as messages (watermark moved in the same transaction); their ids.

        Blocking: call it in a worker thread. Raises DeliveryError when the store does not commit.
        """
        with self._in_use():
            return self._build()

    def _build(self) -> list[str]:
        if not self.store.flush(FLUSH_TIMEOUT):
            raise DeliveryError("the store did not commit in time")
        with self._lock:
            if not self._loaded:
                self._load()
            if self.use_case is not None:
                return self._build_periods(self.use_case)
            return self._build_readings()

    def _build_readings(self) -> list[str]:
        reader = self._store_reader()
        upto = reader.last_reading_id()
        if upto <= self._watermark:
            return []
        found = reader.readings_after(self._watermark, upto, self.emp.meters, self.emp.obis, limit=MAX_READINGS)
        self.truncated = len(found) >= MAX_READINGS
        last = found[-1][0] if self.truncated else upto  # readings of other meters up to ``upto`` are passed
        # in gateway-time order within the build: a document groups what was taken at the same time
        readings = sorted((reading for _, reading in found), key=lambda r: r.gateway_time or _NO_TIME)
        poison: list[SetAside] = []
        created = self.clock()
        taf = "taf14" if self.emp.taf == "taf14" else None
        messages = self._commit(readings, poison, created, taf, watermark_key(self.emp.id), str(last))
        self._watermark = last
        if readings:
            self._event(logging.INFO, "delivery_enqueued",
                        f"{len(messages)} message(s) with {len(readings)} reading(s) up to reading {last}",
                        log_it=False)
        return messages

    def _commit(self, readings: list[Reading], poison: list[SetAside], created: datetime, taf: str | None,
                watermark: str, mark: str, notes: list[SystemNote] | None = None,
                state: dict[str, str] | None = None, request: int | None = None) -> list[str]:
        """Seal the documents of ``readings`` and commit them with ``watermark`` = ``mark``, notes and state."""
        messages: list[tuple[str, bytes]] = []
        summaries: dict[str, dict[str, Any]] = {}
        if self.pseudonyms is not None:
            readings = self.pseudonyms.apply(readings)
        for document, held in renderable(readings, self.emp.shape, poison):
            message_id = self._prefix + uuid.uuid4().hex
            identity = MessageIdentity(self.gateway_id, self.emp.id, message_id, self._sequence + len(messages) + 1,
                                       created, taf, request)
            messages.append((message_id, self._sealer.seal(document, identity)))
            summaries[message_id] = self._summary(held, taf)
        total = self.set_aside + len(poison)
        state = dict(state or {})
        state[sequence_key(self.emp.id)] = str(self._sequence + len(messages))
        if poison:
            state[set_aside_key(self.emp.id)] = str(total)
        notes = [*(notes or []), *(self._set_aside_note(*p) for p in poison)]
        self.store.enqueue(self.emp.id, messages, watermark, mark, created_at=created, notes=notes, more_state=state,
                           summaries=summaries)
        if not self.store.flush(FLUSH_TIMEOUT):
            raise DeliveryError("the store did not commit the new messages in time")
        self._sequence += len(messages)
        self.set_aside = total
        self._log_set_aside(poison)
        give_back()  # the documents and CMS work are gone: their pages need not stay resident
        return [message_id for message_id, _ in messages]

    def _summary(self, readings: Sequence[Reading], taf: str | None) -> dict[str, Any]:
        """What a message holds per meter (its own id), for the consumer log when the EMP acknowledges it."""
        meters: dict[str, dict[str, Any]] = {}
        for reading in readings:
            own = self._own(reading)
            entry = meters.setdefault(own.meter_id, {"values": 0, "from": None, "until": None})
            entry["values"] += 1
            if reading.gateway_time is not None:
                when = reading.gateway_time.astimezone(timezone.utc).isoformat(timespec="seconds")
                entry["from"] = min(entry["from"] or when, when)
                entry["until"] = max(entry["until"] or when, when)
        return {"taf": taf, "pseudonymous": self.pseudonyms is not None, "meters": meters}

    def _consumer_notes(self, entry: OutboxEntry) -> list[SystemNote]:
        """The consumer log's entries for an acknowledged message: one per meter, in plain words."""
        summary = entry.summary if isinstance(entry.summary, dict) else {}
        found = summary.get("meters")
        meters: dict[str, Any] = found if isinstance(found, dict) else {}
        what = _PURPOSE.get(summary.get("taf"), "meter readings")
        disguise = " under a pseudonym" if summary.get("pseudonymous") else ""
        notes = []
        for meter, held in sorted(meters.items()):
            count, since, until = held.get("values", 0), held.get("from"), held.get("until")
            span = "" if since is None else f", taken {since} to {until}" if since != until else f", taken {since}"
            notes.append(SystemNote(
                CONSUMER_EVENT, f"{count} value{'' if count == 1 else 's'} of your meter {meter}{span} sent to "
                f"{self.emp.id} as {what}{disguise}", meter_id=meter, log="consumer",
                data={"emp": self.emp.id, "message": entry.message_id, "values": count, "from": since,
                      "until": until, "taf": summary.get("taf"), "pseudonymous": bool(disguise)}))
        return notes

    def _time_trusted(self) -> bool:
        quality = None if self.quality is None else self.quality()
        trusted = quality is None or quality in _TRUSTED
        if trusted == self._waiting_for_time:
            self._waiting_for_time = not trusted
            if trusted:
                self._event(logging.INFO, "taf_time_trusted", "the time is trusted again: periods close again")
            else:
                self._event(logging.WARNING, "taf_waiting_for_time",
                            f"the gateway time is {quality.value if quality else 'unknown'}: "
                            f"no {self.emp.taf} period closes until it is trusted")
        return trusted

    def _build_periods(self, case: UseCase) -> list[str]:
        """Close every period that is over (see the module comment); the ids of the messages made."""
        self.truncated = False
        if not self._time_trusted():
            return []
        reader = self._store_reader()
        zone = self.emp.time_zone
        known = reader.state().get(period_key(self.emp.id))
        if known is not None:
            start = datetime.fromisoformat(known)
        else:
            first = reader.first_trusted_time(meters_of(self.emp, reader))
            if first is None:
                return []
            start = period_start(first, self.emp.period, zone)
        made: list[str] = []
        for _ in range(MAX_PERIODS):
            end = next_start(start, self.emp.period, zone)
            now = self.clock()
            if now < end + timedelta(seconds=self.emp.grace):
                return made
            state = reader.state()
            values = case.values(reader, start, end, state)
            poison: list[SetAside] = []
            made += self._commit(values.readings, poison, now, self.emp.taf, period_key(self.emp.id),
                                 end.isoformat(), values.notes, values.state)
            self._event(logging.INFO, "taf_period_closed",
                        f"{self.emp.taf} period {start.isoformat()} .. {end.isoformat()} closed: "
                        f"{len(values.readings)} value(s)", log_it=False)
            start = end
        self.truncated = True
        return made

    def on_demand(self, meters: tuple[str, ...] = (), request: int | None = None) -> list[str]:
        """TAF6: one message now with the latest value of every OBIS code of ``meters`` (the EMP's if empty).

        ``request``: the EMP's request this answers (signed in the messages, committed as the last handled).
        Blocking: call it in a worker thread. ValueError for a meter this EMP is not given, or, for a
        request, when there is no value to send.
        """
        with self._in_use():
            return self._on_demand(meters, request)

    def _on_demand(self, meters: tuple[str, ...], request: int | None) -> list[str]:
        if not self.emp.on_demand:
            raise ValueError(f"emp {self.emp.id} may not ask for readings on demand (on_demand = false)")
        if not self.store.flush(FLUSH_TIMEOUT):
            raise DeliveryError("the store did not commit in time")
        if not self._loaded:
            self._load()
        reader = self._store_reader()
        allowed = meters_of(self.emp, reader)
        foreign = [m for m in meters if m not in allowed]
        if foreign:
            raise ValueError(f"emp {self.emp.id} is not given meter {foreign[0]}")
        readings = [r for meter in (meters or tuple(allowed)) for r in reader.last_readings(meter)
                    if not self.emp.obis or str(r.obis) in self.emp.obis]
        readings.sort(key=lambda r: r.gateway_time or _NO_TIME)
        if request is not None and not readings:
            raise ValueError(f"no value stored yet of {', '.join(meters) if meters else 'any meter of this EMP'}")
        poison: list[SetAside] = []
        created = self.clock()
        state = None if request is None else {request_key(self.emp.id): str(request)}
        with self._lock:
            made = self._commit(readings, poison, created, "taf6", on_demand_key(self.emp.id), created.isoformat(),
                                state=state, request=request)
            if request is not None:
                self._last_request = request
        asked = "" if request is None else f" (request {request} of the EMP)"
        self._event(logging.INFO, "taf6_answered", f"readings on demand{asked}: {len(readings)} value(s) in "
                    f"{len(made)} message(s)")
        return made

    # --- TAF6 requests of the EMP -------------------------------------------------------

    def poll_requests(self) -> int:
        """Ask the EMP for its pending TAF6 requests, answer or decline each new one; how many were handled.

        Blocking: call it in a worker thread.
        """
        with self._in_use():
            return self._poll_requests()

    def _poll_requests(self) -> int:
        if not self._loaded:
            self._load()
        try:
            answer = self._poster.get(f"{self._requests_path}?after={self._last_request}")
        except HttpsError as error:
            self._requests_unavailable(logging.WARNING, f"no answer: {error}")
            return 0
        if answer.status != 200:
            level = logging.INFO if answer.status == 404 else logging.WARNING
            self._requests_unavailable(level, f"HTTP {answer.status}" + (
                ": the EMP offers no TAF6 requests" if answer.status == 404 else ""))
            return 0
        if self._requests_trouble is not None:
            self._requests_trouble = None
            self._event(logging.INFO, "taf6_requests_available", "the EMP answers requests for TAF6 again",
                        log_it=False)
        requests, problems = parse_requests(answer.body)
        self._note_problems(problems)
        handled = 0
        for request in requests:
            if request.id > self._last_request:
                self._handle(request)
                handled += 1
        self._send_declines()
        return handled

    def _handle(self, request: OnDemandRequest) -> None:
        """Answer ``request``; or decline it: committed as handled with the decline kept to send."""
        try:
            if self.on_demand(request.meters, request=request.id):
                return
            reason = "every value was set aside: none can be rendered (see smgwctl deliveries on the gateway)"
        except ValueError as refusal:
            reason = str(refusal)[:MAX_REASON]
        note = SystemNote("taf6_declined", f"emp {self.emp.id}: request {request.id} declined: {reason}",
                          data={"emp": self.emp.id, "request": request.id, "reason": reason})
        with self._lock:
            self._declines[request.id] = reason
            while len(self._declines) > MAX_DECLINES:  # an EMP that takes no declines: the oldest are given up
                given_up = min(self._declines)
                del self._declines[given_up]
                log.warning("emp %s: the decline of request %d is given up (%d wait for the EMP)", self.emp.id,
                            given_up, MAX_DECLINES, extra=fields(emp=self.emp.id, event="taf6_declined"))
            self._commit([], [], self.clock(), "taf6", request_key(self.emp.id), str(request.id), [note],
                         {declines_key(self.emp.id): json.dumps(self._declines)})
            self._last_request = request.id
        log.warning("emp %s: request %d declined: %s", self.emp.id, request.id, reason,
                    extra=fields(emp=self.emp.id, event="taf6_declined"))

    def _send_declines(self) -> None:
        """Tell the EMP of the declines it has not taken yet, oldest first; stop at the first it does not take."""
        sent = False
        for number, reason in sorted(self._declines.items()):
            try:
                answer = self._poster.post(json.dumps({"reason": reason}).encode(),
                                           {"Content-Type": "application/json"},
                                           path=decline_path(self._poster.path, number))
            except HttpsError as error:
                log.warning("emp %s: declining request %d not delivered (%s): tried again at the next poll",
                            self.emp.id, number, error, extra=fields(emp=self.emp.id, event="taf6_declined"))
                break
            if answer.status >= 500:
                break
            del self._declines[number]  # taken, or refused for good (4xx: the EMP no longer has it pending)
            sent = True
        if sent:
            self.store.set_state(declines_key(self.emp.id), json.dumps(self._declines))

    def _requests_unavailable(self, level: int, why: str) -> None:
        """Log once per streak that the EMP's requests could not be had."""
        if self._requests_trouble is None:
            self._event(level, "taf6_requests_unavailable", f"asking for TAF6 requests: {why}", log_it=False)
        self._requests_trouble = why

    def _note_problems(self, problems: list[Problem]) -> None:
        """Count and log the refused entries of an answer, when their reasons differ from the last answer's."""
        reasons = tuple(sorted(problem.reason for problem in problems))
        if reasons == self._request_problems:
            return
        self._request_problems = reasons
        if not problems:
            return
        self.requests_refused += len(problems)
        self.store.set_state(requests_refused_key(self.emp.id), self.requests_refused)
        self._event(logging.WARNING, "taf6_requests_refused",
                    f"{len(problems)} entr{'y' if len(problems) == 1 else 'ies'} of the EMP's requests refused "
                    f"({self.requests_refused} in all), first: {problems[0]}")

    def wake(self) -> None:
        """Let :meth:`run` send at once (call it on the loop, after :meth:`on_demand`)."""
        if self._wake is not None:
            self._wake.set()

    def _set_aside_note(self, reading: Reading, reason: str) -> SystemNote:
        reading = self._own(reading)
        when = None if reading.gateway_time is None else reading.gateway_time.isoformat()
        return SystemNote(SET_ASIDE_EVENT, f"emp {self.emp.id}: reading of meter {reading.meter_id} "
                          f"{reading.obis} at {when} set aside, it cannot be rendered: {reason}",
                          meter_id=reading.meter_id, obis=str(reading.obis),
                          data={"emp": self.emp.id, "gateway_time": when, "reason": reason})

    def _own(self, reading: Reading) -> Reading:
        """``reading`` under its meter's own id (the gateway's logs name meters, not pseudonyms)."""
        if self.pseudonyms is None:
            return reading
        return reading._replace(meter_id=self.pseudonyms.meter(reading.meter_id))

    def _log_set_aside(self, poison: list[SetAside]) -> None:
        """One line per reading set aside, at most LOG_SET_ASIDE per build, then one line for the rest."""
        for pseudonymous, reason in poison[:LOG_SET_ASIDE]:
            reading = self._own(pseudonymous)
            log.warning("emp %s: reading of meter %s %s set aside (cannot be rendered): %s", self.emp.id,
                        reading.meter_id, reading.obis, reason,
                        extra=fields(emp=self.emp.id, meter=reading.meter_id, event=SET_ASIDE_EVENT))
        if len(poison) > LOG_SET_ASIDE:
            log.warning("emp %s: %d more reading(s) set aside in this build (see smgwctl deliveries)",
                        self.emp.id, len(poison) - LOG_SET_ASIDE, extra=fields(emp=self.emp.id, event=SET_ASIDE_EVENT))

    # --- sender -----------------------------------------------------------------------

    def send_next(self) -> float | None:
        """Try the oldest message not done if it is due. Seconds until the next try (0: at once), None: empty.

        Blocking: call it in a worker thread.
        """
        with self._in_use():
            return self._send_next()

    def _send_next(self) -> float | None:
        entry = self._store_reader().next_outbox(self.emp.id)
        if entry is None:
            return None
        now = self.clock()
        if entry.next_attempt_at is not None and entry.next_attempt_at > now:
            return (entry.next_attempt_at - now).total_seconds()
        attempts = entry.attempts + 1
        self._mark(entry.message_id, "sent", attempts=attempts, last_error=entry.last_error)
        outcome, reason = self._post(entry.message_id, entry.payload)
        if outcome == "acked":
            self._mark(entry.message_id, "acked", attempts=attempts, acked_at=self.clock(),
                       notes=self._consumer_notes(entry))
            if self._failing:
                self._failing = False
                self._event(logging.INFO, "delivery_resumed", f"the EMP answers again ({entry.message_id} acked)")
            return 0.0
        if outcome == "failed":
            self._mark(entry.message_id, "failed", attempts=attempts, last_error=reason)
            self._event(logging.ERROR, "delivery_failed", f"message {entry.message_id} refused: {reason}")
            return 0.0
        delay = self.backoff(attempts)
        self._mark(entry.message_id, "queued", attempts=attempts, last_error=reason,
                   next_attempt_at=self.clock() + timedelta(seconds=delay))
        if not self._failing:
            self._failing = True
            self._event(logging.WARNING, "delivery_retry",
                        f"message {entry.message_id} not delivered ({reason}); retrying with back-off")
        return delay

    def _mark(self, message_id: str, state: str, **details: Any) -> None:
        self.store.mark_outbox(message_id, state, **details)
        if not self.store.flush(FLUSH_TIMEOUT):
            raise DeliveryError("the store did not commit an outbox change in time")

    def _post(self, message_id: str, payload: bytes) -> tuple[str, str | None]:
        """('acked' | 'failed' | 'retry', reason) for one POST."""
        try:
            response = self._poster.post(
                payload, {"X-Message-Id": message_id, "Content-Type": "application/pkcs7-mime"})
        except HttpsError as error:
            return "retry", str(error)[:500]
        try:
            answer = json.loads(response.body)
        except ValueError:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            answer = {}
        if not isinstance(answer, dict):
            answer = {}
        if response.status == 200:
            if answer.get("ack") == message_id:
                return "acked", None
            return "retry", "HTTP 200 without the acknowledgement of this message id"
        reason = f"HTTP {response.status}"
        if answer.get("error") or answer.get("reason"):
            reason += f" {answer.get('error', '')}: {answer.get('reason', '')}"
        return ("failed" if response.status in REFUSED else "retry"), reason[:500]

    # --- the task ---------------------------------------------------------------------

    async def run(self) -> None:
        """Build every ``interval`` and send whatever is due, until cancelled (or woken by :meth:`wake`)."""
        self._wake = asyncio.Event()
        next_build = time.monotonic()
        polls = self.emp.on_demand and self.emp.request_poll > 0
        next_poll = next_build if polls else math.inf
        while True:
            wait = self.emp.interval
            try:
                if time.monotonic() >= next_build:
                    await asyncio.to_thread(self.build)
                    next_build = time.monotonic() + (0.0 if self.truncated else self.emp.interval)
                if time.monotonic() >= next_poll:
                    next_poll = time.monotonic() + self.emp.request_poll
                    await asyncio.to_thread(self.poll_requests)
                due: float | None = 0.0
                sent = 0
                while due == 0.0:
                    due = await asyncio.to_thread(self.send_next)
                    sent += 1
                if sent > 1:
                    give_back()  # the messages read, posted and answered are gone
                wait = max(0.0, min(next_build, next_poll) - time.monotonic())
                if due is not None:
                    wait = min(wait, due)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - one EMP's trouble must not end the task
                self._event(logging.ERROR, "delivery_error", f"{type(error).__name__}: {error}")
            try:
                async with asyncio.timeout(max(0.05, wait)):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()
