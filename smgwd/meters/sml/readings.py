"""Turn decoded SML messages into Readings.

How this works: each response type that carries values maps onto readings
of the meter named by its serverId: GetList.Res entries (push meters and
jOSEF-style pulls), the tree of a GetProcParameter.Res, and the rows of
GetProfileList/GetProfilePack responses. Times stay meter times. The meter
profile's value fixes run once per response. Entries whose objName is not a
6-byte OBIS code are reported, not guessed at.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Iterator

from smgwd.codec.sml import types as t
from smgwd.cosem.obis import Obis
from smgwd.meters.sml.profiles import SmlProfile, apply_fixes
from smgwd.reading import MeterTime, MeterTimeKind, Reading

__all__ = ["SmlResult", "meter_id", "meter_time", "readings_from_messages"]


@dataclass
class SmlResult:
    """Readings of some messages, and the entries that could not become readings."""

    readings: list[Reading] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def meter_id(server_id: bytes) -> str:
    """A meter's id: DIN 43863-5 form (``1EMH0012345678``) where the serverId has it, else hex."""
    if len(server_id) == 10 and server_id[1] < 10 and all(0x41 <= c <= 0x5A for c in server_id[2:5]):
        serial = int.from_bytes(server_id[6:], "big")
        return f"{server_id[1]}{server_id[2:5].decode()}{server_id[5]:02d}{serial:08d}"
    return server_id.hex()


def meter_time(time: t.SmlTime | None) -> MeterTime | None:
    """The SML_Time as a MeterTime (a seconds index stays a seconds index)."""
    if time is None:
        return None
    if time.kind is t.TimeKind.SEC_INDEX:
        return MeterTime(MeterTimeKind.SEC_INDEX, time.value)
    if time.kind is t.TimeKind.TIMESTAMP:
        return MeterTime(MeterTimeKind.UTC, time.value)
    return MeterTime(MeterTimeKind.LOCAL, time.value, (time.local_offset or 0) + (time.season_offset or 0))


def _entry_reading(
    meter: str, obj_name: bytes, value: t.SmlValue, scaler: int | None, unit: int | None,
    status: int | None, time: MeterTime | None, result: SmlResult,
) -> Reading | None:
    if len(obj_name) != 6:
        result.problems.append(f"meter {meter}: objName {obj_name.hex()} is not a 6-byte OBIS code; entry skipped")
        return None
    if isinstance(value, t.SmlTime):
        # a time as the value (e.g. a meter clock): the reading carries it as its meter time
        time = meter_time(value)
        value = value.value
    return Reading(meter, Obis.from_bytes(obj_name), value, scaler or 0, unit or None, status, time)


def _list_readings(body: t.GetListResponse, profile: SmlProfile, result: SmlResult) -> None:
    meter = meter_id(body.server_id)
    default_time = meter_time(body.act_sensor_time)
    readings: list[Reading] = []
    types: list[str | None] = []
    for e in body.entries:
        time = default_time if e.val_time is None else meter_time(e.val_time)
        value = e.value
        if len(e.obj_name) == 6 and not isinstance(value, t.SmlTime):  # the usual entry, inline
            reading: Reading | None = Reading(
                meter, Obis.from_bytes(e.obj_name), value, e.scaler or 0, e.unit or None, e.status, time
            )
        else:
            reading = _entry_reading(meter, e.obj_name, value, e.scaler, e.unit, e.status, time, result)
        if reading is not None:
            readings.append(reading)
            types.append(e.value_type)
    result.readings.extend(apply_fixes(profile, readings, types))


def _tree_values(tree: t.SmlTree) -> Iterator[tuple[bytes, t.ProcParValue]]:
    if tree.value is not None:
        yield tree.parameter_name, tree.value
    for child in tree.children or ():
        yield from _tree_values(child)


def _proc_readings(body: t.GetProcParameterResponse, result: SmlResult) -> None:
    meter = meter_id(body.server_id)
    for name, par in _tree_values(body.tree):
        v = par.value
        if par.kind is t.ProcParKind.VALUE:
            reading = _entry_reading(meter, name, v, None, None, None, None, result)  # type: ignore[arg-type]
        elif isinstance(v, t.PeriodEntry):
            reading = _entry_reading(meter, v.obj_name, v.value, v.scaler, v.unit, None, None, result)
        elif isinstance(v, t.ListEntry):
            reading = _entry_reading(
                meter, v.obj_name, v.value, v.scaler, v.unit, v.status, meter_time(v.val_time), result
            )
        else:
            continue  # times and tupel entries describe the meter, not a register
        if reading is not None:
            result.readings.append(reading)


def _profile_readings(body: t.GetProfileListResponse | t.GetProfilePackResponse, result: SmlResult) -> None:
    meter = meter_id(body.server_id)
    if isinstance(body, t.GetProfileListResponse):
        time = meter_time(body.val_time)
        for p in body.period_list:
            reading = _entry_reading(meter, p.obj_name, p.value, p.scaler, p.unit, body.status, time, result)
            if reading is not None:
                result.readings.append(reading)
        return
    for row in body.period_list:
        time = meter_time(row.val_time)
        if len(row.values) != len(body.header_list):
            result.problems.append(f"meter {meter}: profile row has {len(row.values)} values for {len(body.header_list)} columns")
            continue
        for head, cell in zip(body.header_list, row.values):
            reading = _entry_reading(meter, head.obj_name, cell.value, head.scaler, head.unit, row.status, time, result)
            if reading is not None:
                result.readings.append(reading)


def readings_from_messages(messages: Iterable[t.SmlMessage], profile: SmlProfile) -> SmlResult:
    """All readings carried by ``messages`` (requests and Open/Close carry none)."""
    result = SmlResult()
    for message in messages:
        body = message.body
        if isinstance(body, t.GetListResponse):
            _list_readings(body, profile, result)
        elif isinstance(body, t.GetProcParameterResponse):
            _proc_readings(body, result)
        elif isinstance(body, (t.GetProfileListResponse, t.GetProfilePackResponse)):
            _profile_readings(body, result)
    return result
