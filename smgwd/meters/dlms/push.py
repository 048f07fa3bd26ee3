"""A Data-Notification's body onto readings: the three push layouts real meters use.

How this works: the body is one structure. :func:`push_values` recognises how it names
its values and gives each as a :class:`PushValue` (OBIS, raw value, scaler, unit):

- **registers**: a structure of structures ``{obis, value[, {scaler, unit}]}`` (Aidon,
  the Austrian Kaifa lists), maybe after a clock or list id and before a meter number;
  the scaler and unit come with each value.
- **pairs**: a flat structure ``{header…, obis, value[, {scaler, unit}], obis, value…}``
  (Kamstrup; Netz NÖ and Sagemcom with the scaler after each value): every 6-byte octet
  string followed by a value names that value; elements before the first code are the
  list's header (its identifier, a clock).
- **IDIS**: ``{capture objects, value, value…}`` (Landis+Gyr E450, Iskra AM550): the
  first element is an array of capture object definitions ``{class id, logical name,
  attribute, data index}`` (it is the push setup's own attribute 2), and element k is the
  value of definition k.
- **positional**: anything else (Norwegian Kaifa lists carry no OBIS codes at all): the
  values in order, named by a :class:`ListLayout` the caller picked for the list.

Scalers and units missing from the push come from the layout (or the meter profile), and
a value whose scaler is unknown keeps scaler 0 and says so (``scaler_known`` False).
Octet strings that are dates (12 octets under a clock code, or any value typed date-time)
are the meter's clock, returned apart, never as a reading.
"""

from __future__ import annotations

from typing import NamedTuple, cast

from smgwd.codec.dlms import CosemDateTime, Data, DataType, decode_date_time
from smgwd.cosem.obis import Obis

__all__ = ["ListLayout", "Field", "PushValue", "PushValues", "list_identifier", "push_values"]


class Field(NamedTuple):
    """One position of a list layout: its OBIS code (None: no public source says what it is) and,
    where the push omits them, scaler and unit."""

    obis: Obis | None
    scaler: int | None = None
    unit: int | None = None
    name: str | None = None


class ListLayout(NamedTuple):
    """A published push list: what each position (or OBIS code) means."""

    name: str
    fields: tuple[Field, ...] = ()  # positional lists: one per body element (header included)
    # lists with codes but no scalers: OBIS code, or (C, D) for every code of that quantity -> (scaler, unit)
    scalers: dict[Obis | tuple[int, int], tuple[int, int | None]] = {}


class PushValue(NamedTuple):
    obis: Obis
    raw: int | bytes | bool
    scaler: int
    unit: int | None
    scaler_known: bool
    name: str | None = None


class PushValues(NamedTuple):
    layout: str  # registers | pairs | idis | positional
    values: tuple[PushValue, ...]
    clock: CosemDateTime | None  # a clock value in the body (0-0:1.0.0)
    list_id: str | None  # the list identifier the meter sent, if any
    skipped: int  # elements that are no reading (nulls, structures left over, floats)


def _children(item: Data) -> tuple[Data, ...] | None:
    """The elements of an array or structure (None for any other value)."""
    if item.type in (DataType.ARRAY, DataType.STRUCTURE):
        return cast("tuple[Data, ...]", item.value)
    return None


def _obis(item: Data) -> Obis | None:
    if item.type is DataType.OCTET_STRING and isinstance(item.value, bytes) and len(item.value) == 6:
        return Obis.from_bytes(item.value)
    return None


def _raw(item: Data) -> int | bytes | bool | None:
    value = item.value
    if item.type is DataType.BOOLEAN:
        return bool(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    return None


def _as_datetime(item: Data) -> CosemDateTime | None:
    if isinstance(item.value, CosemDateTime):
        return item.value
    if item.type is DataType.OCTET_STRING and isinstance(item.value, bytes) and len(item.value) == 12:
        return decode_date_time(item.value)
    return None


def _scaler_unit(item: Data) -> tuple[int, int | None] | None:
    value = _children(item)
    if item.type is DataType.STRUCTURE and value is not None and len(value) == 2:
        scaler, unit = value
        if isinstance(scaler.value, int) and isinstance(unit.value, int) and scaler.type in (DataType.INTEGER, DataType.LONG) \
                and unit.type in (DataType.ENUM, DataType.UNSIGNED):
            return scaler.value, unit.value
    return None


def _list_id(item: Data) -> str | None:
    if item.type in (DataType.VISIBLE_STRING, DataType.UTF8_STRING) and isinstance(item.value, str):
        return item.value
    if item.type is DataType.OCTET_STRING and isinstance(item.value, bytes) and len(item.value) != 6 and item.value.isascii():
        text = item.value.decode("ascii")
        return text if text.isprintable() else None
    return None


class _Builder:
    def __init__(self, layout: ListLayout | None) -> None:
        self.layout = layout
        self.values: list[PushValue] = []
        self.clock: CosemDateTime | None = None
        self.skipped = 0

    def add(self, obis: Obis, item: Data, scaler_unit: tuple[int, int | None] | None = None, name: str | None = None) -> None:
        is_clock = obis.a == 0 and obis.c == 1 and obis.d == 0  # the clock object of any channel (Kamstrup: 0-1:1.0.0)
        stamp = _as_datetime(item) if is_clock or item.type is DataType.DATE_TIME else None
        if stamp is not None:
            self.clock = stamp
            return
        raw = _raw(item)
        if raw is None:
            self.skipped += 1
            return
        known = scaler_unit is not None
        if scaler_unit is None and self.layout is not None and self.layout.scalers:
            table = self.layout.scalers
            scaler_unit = table.get(obis) or table.get((obis.c, obis.d))
            known = scaler_unit is not None
        scaler, unit = scaler_unit if scaler_unit is not None else (0, None)
        if isinstance(raw, (bytes, bool)):
            known = True  # no scaler applies to a string or a flag
        self.values.append(PushValue(obis, raw, scaler, unit, known, name))


def push_values(body: Data, layout: ListLayout | None = None) -> PushValues:
    """The values of a push body (see the module doc); ``layout`` names positional lists."""
    b = _Builder(layout)
    items = _children(body)  # a structure; Aidon sends an array
    if items is None:
        items = (body,)
    registers = [_children(i) if i.type is DataType.STRUCTURE else None for i in items]
    codes = [_obis(r[0]) if r and len(r) >= 2 else None for r in registers]
    named = [c is not None for c in codes]
    if any(named) and all(named[named.index(True) : len(named) - named[::-1].index(True)]):
        list_id = None
        for item, register, obis in zip(items, registers, codes):
            if obis is None:  # a leading clock or list id, a trailing meter number
                stamp = _as_datetime(item)
                if stamp is not None:
                    b.clock = stamp
                else:
                    list_id = list_id or _list_id(item)
                    b.skipped += 1
                continue
            assert register is not None
            su = _scaler_unit(register[2]) if len(register) > 2 else None
            b.add(obis, register[1], su)
        return PushValues("registers", tuple(b.values), b.clock, list_id, b.skipped)
    first = _children(items[0]) if items[0].type is DataType.ARRAY else None
    if first and all(_capture_def(d) is not None for d in first):
        defs = [_capture_def(d) for d in first]
        for definition, item in zip(defs[1:], items[1:]):
            assert definition is not None
            b.add(definition, item)
        b.skipped += max(0, len(items) - len(defs))
        return PushValues("idis", tuple(b.values), b.clock, None, b.skipped)
    first_code = next((k for k, i in enumerate(items[:-1]) if _obis(i) is not None), None)
    if layout is not None and layout.fields:
        list_id = next((x for x in (_list_id(i) for i in items[:1]) if x), None)
        for field, item in zip(layout.fields, items):
            if field.obis is None:
                b.skipped += 1
                continue
            su = (field.scaler, field.unit) if field.scaler is not None else None
            b.add(field.obis, item, su, field.name)
        b.skipped += max(0, len(items) - len(layout.fields))
        return PushValues("positional", tuple(b.values), b.clock, list_id, b.skipped)
    if first_code is not None:
        list_id = None
        for item in items[:first_code]:  # the header: list id, a clock
            stamp = _as_datetime(item)
            if stamp is not None:
                b.clock = stamp
            else:
                list_id = list_id or _list_id(item)
        k = first_code
        while k < len(items):
            obis = _obis(items[k]) if k < len(items) - 1 else None
            if obis is None:
                b.skipped += 1
                k += 1
                continue
            su = _scaler_unit(items[k + 2]) if k + 2 < len(items) else None
            b.add(obis, items[k + 1], su)
            k += 3 if su is not None else 2
        return PushValues("pairs", tuple(b.values), b.clock, list_id, b.skipped)
    list_id = next((x for x in (_list_id(i) for i in items[:1]) if x), None)
    return PushValues("positional", (), None, list_id, len(items))


def list_identifier(body: Data) -> tuple[str | None, int]:
    """The list identifier a push names in its header (first elements before any code), and its element count."""
    items = _children(body)
    if items is None:
        return None, 1
    for item in items[:3]:
        if item.type is DataType.STRUCTURE or item.type is DataType.ARRAY or _obis(item) is not None:
            break
        text = _list_id(item)
        if text is not None:
            return text, len(items)
    return None, len(items)


def _capture_def(item: Data) -> Obis | None:
    parts = _children(item)
    if item.type is not DataType.STRUCTURE or parts is None or len(parts) != 4:
        return None
    class_id, name, attribute, _index = parts
    if class_id.type is not DataType.LONG_UNSIGNED or attribute.type not in (DataType.INTEGER, DataType.UNSIGNED):
        return None
    return _obis(name)
