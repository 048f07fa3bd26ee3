"""The fixed event types of the three TR-03109 logs, and which log each belongs in.

How this works: :data:`EVENTS` lists, per log, every event type smgwd
writes; :data:`PATTERNS` the two made from a variable part (``link_<state>``
and ``<kind>_error``, the meter's error kinds). The store checks each entry
against its log as it is queued (:func:`registered`): an entry of a type its
log does not list is still written (nothing is lost), but counted in
:data:`UNREGISTERED` and logged as an error once per type. A test reads every
event type the source writes and fails on one that is not listed here
(``tests/gateway/test_log_events.py``), so a new type cannot slip in unlisted.
"""

from __future__ import annotations

import logging
import re
from collections import Counter

__all__ = ["EVENTS", "PATTERNS", "UNREGISTERED", "registered"]

log = logging.getLogger(__name__)

_BOTH = frozenset({
    "time_quality", "time_correction",  # the timebase: quality changes, clock steps
    "meter_added", "meter_removed", "meter_replaced",  # the gateway's make-up (calibration_events)
    "certificate_added", "certificate_changed", "certificate_removed", "firmware_changed", "config_changed",
    "key_created",  # a new key of the gateway's (key rotation)
})
EVENTS: dict[str, frozenset[str]] = {
    "system": _BOTH | {
        "start", "stop", "reload", "reload_refused", "readings_dropped",
        "delivery_unavailable", "delivery_error", "delivery_failed", "delivery_resumed", "delivery_retry",
        "delivery_set_aside", "taf6_answered", "taf6_declined", "taf6_requests_refused",
        "taf_time_trusted", "taf_waiting_for_time", "log_seal_unavailable",
        "admin_command", "admin_done", "admin_failed", "admin_refused", "admin_unavailable",
        # in the journal only today (a delivery's routine steps), listed so they may go to the log too
        "delivery_enqueued", "taf_period_closed", "taf6_requests_available", "taf6_requests_unavailable",
    },
    "calibration": _BOTH | {"gap", "tariff_switch", "tariff_register_restart"},
    "consumer": frozenset({"data_sent"}),
}
PATTERNS: dict[str, tuple[re.Pattern[str], ...]] = {
    "system": (re.compile(r"link_(up|down|connecting)"), re.compile(r"[a-z][a-z0-9_]{0,40}_error")),
}
#: (log, event type) -> entries written of a type their log does not list
UNREGISTERED: Counter[tuple[str, str]] = Counter()


def registered(kind: str, event: str) -> bool:
    """Whether ``event`` is a type of the log ``kind``; counts and logs (once per type) when it is not."""
    if event in EVENTS.get(kind, ()) or any(p.fullmatch(event) for p in PATTERNS.get(kind, ())):
        return True
    if not UNREGISTERED[(kind, event)]:
        log.error("%s log: event type %r is not one of its fixed types (smgwd/gateway/log_events.py)", kind, event)
    UNREGISTERED[(kind, event)] += 1
    return False
