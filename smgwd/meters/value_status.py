"""How a delivered value says how far its time can be trusted, in each COSEM/XML shape.

How this works: the gateway stamps every reading with its own time and a
:class:`~smgwd.reading.TimeQuality`. COSEM has two places for that quality:

* the clock status octet of a date-time (jOSEF shape, where the capture time
  is a COSEM date-time): synchronised 0x00, drifting 0x02 "doubtful value",
  unsynchronised 0x01 "invalid value";
* the combined status word of the FNN Lastenheft SMGW (K461 shape, where the
  capture time is ISO text and ``status`` is the gateway's): a 64-bit word, the
  gateway's status word in the upper 32 bits and the meter's (the "Basiszähler"
  word an SML meter sends as its status) in the lower 32. The gateway word
  carries the identification bits 0x05, ``Systemtime_Invalid`` 0x200 when the
  gateway time is unsynchronised and ``PTB_Warning`` 0x1000 when it is drifting.

A value the gateway derived rather than took (a tariff use case's value at a
quarter hour or a switch time, :mod:`smgwd.taf.values`) carries its mark in
the reading's ``quirks``, and the gateway word says it: :data:`INTERPOLATED`
sets ``PTB_Temp_Error_signed_invalid`` 0x2000 (PTB-A 50.8 "temporary error:
the value is marked invalid, the back end may use it as a substitute value"),
:data:`GAP` sets ``PTB_Temp_Error_is_invalid`` 0x4000 ("the value is invalid
and may not be used as a substitute either").

The bit values are those of PTB's transparency software TRuDI
(``TRuDI.Models.BasicData.StatusFNN``, ``SmgwStatusWord`` and ``StatusPTB``,
found through public code search): a
reading program, not the FNN document itself. Drifting as a PTB warning is our
choice: the FNN word has no "doubtful time" bit.
"""

from __future__ import annotations

from smgwd.cosem.cosemtime import CLOCK_DOUBTFUL, CLOCK_INVALID
from smgwd.cosem.errors import CosemError
from smgwd.reading import TimeQuality

__all__ = [
    "FNN_INVALID", "FNN_SMGW_IDENTIFICATION", "FNN_SUBSTITUTE", "FNN_SYSTEMTIME_INVALID", "FNN_WARNING", "GAP",
    "INTERPOLATED", "clock_status_of", "marks_of_fnn",
    "fnn_status", "meter_status_of_fnn", "quality_of_clock_status", "quality_of_fnn",
]

_CLOCK = {TimeQuality.SYNCHRONISED: 0x00, TimeQuality.DRIFTING: CLOCK_DOUBTFUL,
          TimeQuality.UNSYNCHRONISED: CLOCK_INVALID}

#: The bits that mark a gateway (SMGW) status word (the meter's word has 0x04).
FNN_SMGW_IDENTIFICATION = 0x05
#: Gateway word: the system time is not valid.
FNN_SYSTEMTIME_INVALID = 0x200
#: Gateway word: a warning in the sense of PTB (ours: the time is drifting).
FNN_WARNING = 0x1000
#: Gateway word: temporary error, the value is marked invalid but may serve as a substitute (interpolated).
FNN_SUBSTITUTE = 0x2000
#: Gateway word: temporary error, the value is invalid (a gap).
FNN_INVALID = 0x4000
#: The quirk of a value the gateway interpolated between two readings.
INTERPOLATED = "interpolated"
#: The quirk of a value the gateway has no reading for (a gap).
GAP = "gap"
_MARKS = {INTERPOLATED: FNN_SUBSTITUTE, GAP: FNN_INVALID}
_WORD = 1 << 32


def clock_status_of(quality: TimeQuality | None) -> int:
    """The clock status octet of a capture time of this quality (no quality: invalid)."""
    return CLOCK_INVALID if quality is None else _CLOCK[quality]


def quality_of_clock_status(status: int) -> TimeQuality:
    """The time quality a clock status octet says (0xFF, not specified, is unsynchronised)."""
    if status == 0xFF or status & CLOCK_INVALID:
        return TimeQuality.UNSYNCHRONISED
    if status & CLOCK_DOUBTFUL:
        return TimeQuality.DRIFTING
    return TimeQuality.SYNCHRONISED


def fnn_status(meter_status: int | None, quality: TimeQuality | None, marks: tuple[str, ...] = ()) -> int:
    """The combined 64-bit status word of a value: the gateway's word over the meter's.

    ``marks``: the value's quirks; :data:`INTERPOLATED` and :data:`GAP` set their bits.

    CosemError when the meter's status does not fit the 32 bits the FNN word gives it.
    """
    meter = 0 if meter_status is None else meter_status
    if not 0 <= meter < _WORD:
        raise CosemError(f"meter status 0x{meter:x} does not fit the 32 bits of the FNN status word")
    gateway = FNN_SMGW_IDENTIFICATION
    if quality is not TimeQuality.SYNCHRONISED:
        gateway |= FNN_WARNING if quality is TimeQuality.DRIFTING else FNN_SYSTEMTIME_INVALID
    for mark in marks:
        gateway |= _MARKS.get(mark, 0)
    return gateway << 32 | meter


def quality_of_fnn(word: int) -> TimeQuality | None:
    """The time quality a combined status word says; None when its upper half is no gateway word."""
    gateway = word >> 32
    if gateway & FNN_SMGW_IDENTIFICATION != FNN_SMGW_IDENTIFICATION:
        return None
    if gateway & FNN_SYSTEMTIME_INVALID:
        return TimeQuality.UNSYNCHRONISED
    if gateway & FNN_WARNING:
        return TimeQuality.DRIFTING
    return TimeQuality.SYNCHRONISED


def meter_status_of_fnn(word: int) -> int:
    """The meter's status word inside a combined status word."""
    return word & (_WORD - 1)


def marks_of_fnn(word: int) -> tuple[str, ...]:
    """The gateway's marks (:data:`GAP`, :data:`INTERPOLATED`) a combined status word says."""
    gateway = word >> 32
    if gateway & FNN_SMGW_IDENTIFICATION != FNN_SMGW_IDENTIFICATION:
        return ()
    return tuple(mark for mark, bit in _MARKS.items() if gateway & bit)
