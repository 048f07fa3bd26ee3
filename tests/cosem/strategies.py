"""Hypothesis strategies for the COSEM model, shared by the tests in this folder."""

from __future__ import annotations

from datetime import datetime, timezone

from hypothesis import strategies as st

from smgwd.cosem.classes import (CaptureObject, Clock, CosemObject, Data, ExtendedRegister,
                                 LogicalDevice, ProfileGeneric, Register, to_structure)
from smgwd.cosem.cosemtime import datetime_to_cosem
from smgwd.cosem.datatypes import INTEGER_TYPES, NULL, DataType, DlmsValue
from smgwd.cosem.obis import Obis

obis_codes = st.builds(Obis, *[st.integers(0, 255)] * 6)

printable_ascii = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=12)
# Text XML 1.0 can carry: no surrogates, no C0 controls but tab/newline/CR, no non-characters.
xml_text = st.text(st.one_of(
    st.characters(blacklist_categories=("Cs", "Cc", "Cn")), st.sampled_from("\t\n\r")),
    max_size=12)


def _typed(kind: DataType, values: st.SearchStrategy[object]) -> st.SearchStrategy[DlmsValue]:
    return values.map(lambda v: DlmsValue(kind, v))  # type: ignore[arg-type]


scalar_values = st.one_of(
    st.just(NULL),
    _typed(DataType.BOOLEAN, st.booleans()),
    _typed(DataType.BIT_STRING, st.text("01", max_size=20)),
    *[_typed(kind, st.integers(low, high)) for kind, (low, high) in INTEGER_TYPES.items()],
    _typed(DataType.FLOAT32, st.floats(width=32, allow_nan=False)),
    _typed(DataType.FLOAT64, st.floats(allow_nan=False)),
    _typed(DataType.OCTET_STRING, st.binary(max_size=16)),
    _typed(DataType.VISIBLE_STRING, printable_ascii),
    _typed(DataType.UTF8_STRING, xml_text),
    _typed(DataType.DATE_TIME, st.binary(min_size=12, max_size=12)),
    _typed(DataType.DATE, st.binary(min_size=5, max_size=5)),
    _typed(DataType.TIME, st.binary(min_size=4, max_size=4)),
)


def _compound(children: st.SearchStrategy[DlmsValue]) -> st.SearchStrategy[DlmsValue]:
    structures = st.lists(children, max_size=4).map(
        lambda items: DlmsValue(DataType.STRUCTURE, tuple(items)))
    arrays = st.lists(children, max_size=4).map(  # arrays are homogeneous: keep the first type
        lambda items: DlmsValue(DataType.ARRAY, tuple(i for i in items if i.type == items[0].type)))
    return st.one_of(structures, arrays)


dlms_values = st.recursive(scalar_values, _compound, max_leaves=8)

numeric_values = st.one_of(
    *[_typed(kind, st.integers(low, high)) for kind, (low, high) in INTEGER_TYPES.items()
      if kind not in (DataType.ENUM, DataType.BCD)])

utc_instants = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                            timezones=st.just(timezone.utc)).map(
    lambda moment: moment.replace(microsecond=moment.microsecond // 10_000 * 10_000))
date_times = st.binary(min_size=12, max_size=12)
scalers = st.integers(-128, 127)
units = st.integers(0, 255)

data_objects = st.builds(Data, obis_codes, dlms_values)
registers = st.builds(Register, obis_codes, numeric_values, scalers, units)
extended_registers = st.builds(ExtendedRegister, obis_codes, numeric_values, scalers, units,
                               dlms_values, date_times)
capture_objects = st.builds(CaptureObject, st.integers(0, 65535), obis_codes,
                            st.integers(-128, 127), st.integers(0, 65535))
clocks = st.builds(Clock, obis_codes, date_times, st.integers(-32768, 32767), st.integers(0, 255),
                   date_times, date_times, st.integers(-128, 127), st.booleans(),
                   st.integers(0, 255))


@st.composite
def profiles(draw: st.DrawFn) -> ProfileGeneric:
    """Any Profile Generic: rows of arbitrary values, one per capture object."""
    captures = tuple(draw(st.lists(capture_objects, max_size=3)))
    rows = draw(st.lists(st.tuples(*[dlms_values] * len(captures)), max_size=3))
    u32 = st.integers(0, 2**32 - 1)
    return ProfileGeneric(draw(obis_codes), tuple(rows), captures, draw(u32),
                          draw(st.integers(0, 255)), draw(capture_objects), draw(u32), draw(u32))


cosem_objects: st.SearchStrategy[CosemObject] = st.one_of(
    data_objects, registers, extended_registers, profiles(), clocks)

logical_devices = st.builds(
    LogicalDevice,
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=20),
    st.lists(cosem_objects, max_size=4, unique_by=lambda o: o.logical_name).map(tuple))

meter_ids = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E).filter(lambda c: c != "."),
                    min_size=1, max_size=16)


@st.composite
def k461_profiles(draw: st.DrawFn) -> ProfileGeneric:
    """Profiles in the K461 shape: whole Extended Registers, UTC times, no empty row."""
    names = draw(st.lists(obis_codes, min_size=1, max_size=3))
    captures = tuple(CaptureObject(4, name, 0, 0) for name in names)

    def cell(name: Obis) -> st.SearchStrategy[DlmsValue]:
        register = st.builds(ExtendedRegister, st.just(name), dlms_values, scalers, units,
                             dlms_values, utc_instants.map(datetime_to_cosem))
        return register.map(to_structure)

    row = st.tuples(*[st.one_of(st.just(NULL), cell(n)) for n in names]).filter(
        lambda cells: any(c is not NULL for c in cells))
    rows = tuple(draw(st.lists(row, max_size=4)))
    return ProfileGeneric(draw(obis_codes), rows, captures,
                          entries_in_use=len(rows), profile_entries=len(rows))
