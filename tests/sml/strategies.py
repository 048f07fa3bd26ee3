"""Hypothesis strategies for every SML type (used by round-trip tests)."""

from __future__ import annotations

from hypothesis import strategies as st

from smgwd.codec.sml import types as t

octets = st.binary(min_size=0, max_size=40)
opt_octets = st.none() | st.binary(min_size=1, max_size=40)  # b"" and None share the encoding 01
obis = st.binary(min_size=6, max_size=6)
u8 = st.integers(0, 0xFF)
i8 = st.integers(-128, 127)
u32 = st.integers(0, 0xFFFF_FFFF)
u64 = st.integers(0, 2**64 - 1)
i16 = st.integers(-(2**15), 2**15 - 1)
minutes = st.integers(-24 * 60, 24 * 60)  # local/season offsets: Integer16, value range one day
i64 = st.integers(-(2**63), 2**63 - 1)


@st.composite
def sml_time(draw: st.DrawFn) -> t.SmlTime:
    kind = draw(st.sampled_from(list(t.TimeKind)))
    value = draw(u32)
    if kind is t.TimeKind.LOCAL_TIMESTAMP:
        local = draw(minutes)
        season = draw(st.integers(max(-24 * 60, -1439 - local), min(24 * 60, 1439 - local)))  # sum: a UTC offset
        return t.SmlTime(kind, value, local, season)
    return t.SmlTime(kind, value)


@st.composite
def typed_int(draw: st.DrawFn) -> tuple[int, str]:
    signed = draw(st.booleans())
    bits = draw(st.sampled_from([8, 16, 24, 32, 40, 48, 56, 64]))
    if signed:
        value = draw(st.integers(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1))
    else:
        value = draw(st.integers(0, 2**bits - 1))
    return value, ("i" if signed else "u") + str(bits)


@st.composite
def sml_value(draw: st.DrawFn) -> tuple[t.SmlValue, str]:
    choice = draw(st.integers(0, 4))
    if choice == 0:
        return draw(typed_int())
    if choice == 1:
        return draw(octets), "octets"
    if choice == 2:
        return draw(st.booleans()), "bool"
    return draw(sml_time()), ("time" if choice == 3 else "list-time")


@st.composite
def list_entry(draw: st.DrawFn) -> t.ListEntry:
    value, vtype = draw(sml_value())
    return t.ListEntry(
        draw(obis), value, draw(st.none() | u64), draw(st.none() | sml_time()),
        draw(st.none() | u8), draw(st.none() | i8), draw(opt_octets), vtype,
    )


@st.composite
def period_entry(draw: st.DrawFn) -> t.PeriodEntry:
    value, vtype = draw(sml_value())
    return t.PeriodEntry(draw(obis), draw(u8), draw(i8), value, draw(opt_octets), vtype)


@st.composite
def tupel_entry(draw: st.DrawFn) -> t.TupelEntry:
    regs = [draw(x) for x in [u8, i8, i64] * 6]
    return t.TupelEntry(
        draw(octets), draw(sml_time()), draw(u64), *regs[:9], draw(octets), *regs[9:], draw(octets)
    )


@st.composite
def proc_par_value(draw: st.DrawFn) -> t.ProcParValue:
    kind = draw(st.sampled_from(list(t.ProcParKind)))
    if kind is t.ProcParKind.VALUE:
        value, vtype = draw(sml_value())
        return t.ProcParValue(kind, value, vtype)
    inner = {
        t.ProcParKind.PERIOD_ENTRY: period_entry(),
        t.ProcParKind.TUPEL_ENTRY: tupel_entry(),
        t.ProcParKind.TIME: sml_time(),
        t.ProcParKind.LIST_ENTRY: list_entry(),
    }[kind]
    return t.ProcParValue(kind, draw(inner))


sml_tree = st.recursive(
    st.builds(t.SmlTree, octets, st.none() | proc_par_value(), st.none()),
    lambda children: st.builds(
        t.SmlTree, octets, st.none() | proc_par_value(), st.lists(children, max_size=3).map(tuple)
    ),
    max_leaves=6,
)
tree_path = st.lists(octets, max_size=4).map(tuple)


def _profile_request(cls: type) -> st.SearchStrategy:
    return st.builds(
        cls, tree_path, opt_octets, opt_octets, opt_octets, st.none() | st.booleans(),
        st.none() | sml_time(), st.none() | sml_time(), st.none() | tree_path, st.none() | sml_tree,
    )


@st.composite
def value_entry(draw: st.DrawFn) -> t.ValueEntry:
    value, vtype = draw(sml_value())
    return t.ValueEntry(value, draw(opt_octets), vtype)


bodies = st.one_of(
    st.builds(t.OpenRequest, octets, octets, opt_octets, opt_octets, opt_octets, opt_octets, st.none() | u8),
    st.builds(t.OpenResponse, octets, octets, opt_octets, opt_octets, st.none() | sml_time(), st.none() | u8),
    st.builds(t.CloseRequest, opt_octets),
    st.builds(t.CloseResponse, opt_octets),
    st.builds(t.GetListRequest, octets, opt_octets, opt_octets, opt_octets, opt_octets),
    st.builds(
        t.GetListResponse, octets, st.lists(list_entry(), max_size=4).map(tuple), opt_octets, opt_octets,
        st.none() | sml_time(), opt_octets, st.none() | sml_time(),
    ),
    st.builds(t.GetProcParameterRequest, tree_path, opt_octets, opt_octets, opt_octets, opt_octets),
    st.builds(t.GetProcParameterResponse, octets, tree_path, sml_tree),
    st.builds(t.SetProcParameterRequest, tree_path, sml_tree, opt_octets, opt_octets, opt_octets),
    _profile_request(t.GetProfileListRequest),
    _profile_request(t.GetProfilePackRequest),
    st.builds(
        t.GetProfileListResponse, octets, sml_time(), u32, tree_path, sml_time(), u64,
        st.lists(period_entry(), max_size=3).map(tuple), opt_octets, opt_octets,
    ),
    st.builds(
        t.GetProfilePackResponse, octets, sml_time(), u32, tree_path,
        st.lists(st.builds(t.ProfObjHeaderEntry, obis, u8, i8), max_size=3).map(tuple),
        st.lists(
            st.builds(t.ProfObjPeriodEntry, sml_time(), u64, st.lists(value_entry(), max_size=3).map(tuple), opt_octets),
            max_size=3,
        ).map(tuple),
        opt_octets, opt_octets,
    ),
    st.builds(t.AttentionResponse, octets, st.binary(min_size=6, max_size=6), opt_octets, st.none() | sml_tree),
)

messages = st.builds(t.SmlMessage, st.binary(min_size=1, max_size=12), bodies, u8, u8)
