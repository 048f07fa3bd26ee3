"""SML v1.04 data types (BSI TR-03109-1 Anlage IV): frozen value objects.

Every type here is what the decoder produces and what the encoder takes. Field
names follow the specification (snake_case); optional fields are ``None`` when
absent. Integers keep the meter's raw value; where the wire width matters for
value semantics (a list entry's value), it is kept as ``value_type`` such as
``"i16"`` or ``"u32"``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import NamedTuple, Union

from smgwd.codec.crc import CrcKind


class TimeKind(enum.IntEnum):
    """SML_Time choice tags."""

    SEC_INDEX = 1
    TIMESTAMP = 2
    LOCAL_TIMESTAMP = 3


class SmlTime(NamedTuple):
    """SML_Time: a meter's seconds index, a UTC Unix timestamp, or a local timestamp.

    ``local_offset`` and ``season_offset`` (minutes) belong to LOCAL_TIMESTAMP.
    ``bare`` marks a time that arrived as a bare Unsigned32 without the choice
    wrapper (a Holley quirk); it is then read as a seconds index.
    """

    kind: TimeKind
    value: int
    local_offset: int | None = None
    season_offset: int | None = None
    bare: bool = False


#: An SML_Value: bool, integer, octet string, or an SML_Time (SML_ListType).
SmlValue = Union[bool, int, bytes, SmlTime]


class ListEntry(NamedTuple):
    """SML_ListEntry: one value of a GetList.Res (objName is a 6-byte OBIS code).

    A named tuple, like :class:`SmlTime`: the two are made for every value of
    every frame, and a named tuple is made five times faster than a frozen dataclass.
    """

    obj_name: bytes
    value: SmlValue
    status: int | None = None
    val_time: SmlTime | None = None
    unit: int | None = None
    scaler: int | None = None
    value_signature: bytes | None = None
    value_type: str | None = None


@dataclass(frozen=True, slots=True)
class PeriodEntry:
    """SML_PeriodEntry: one value of a GetProfileList.Res or a ProcParValue."""

    obj_name: bytes
    unit: int
    scaler: int
    value: SmlValue
    value_signature: bytes | None = None
    value_type: str | None = None


@dataclass(frozen=True, slots=True)
class TupelEntry:
    """SML_TupelEntry: the EDL21 register tuple (positive/negative energy, R1..R4)."""

    server_id: bytes
    sec_index: SmlTime
    status: int
    unit_pa: int
    scaler_pa: int
    value_pa: int
    unit_r1: int
    scaler_r1: int
    value_r1: int
    unit_r4: int
    scaler_r4: int
    value_r4: int
    signature_pa_r1_r4: bytes
    unit_ma: int
    scaler_ma: int
    value_ma: int
    unit_r2: int
    scaler_r2: int
    value_r2: int
    unit_r3: int
    scaler_r3: int
    value_r3: int
    signature_ma_r2_r3: bytes


class ProcParKind(enum.IntEnum):
    """SML_ProcParValue choice tags."""

    VALUE = 1
    PERIOD_ENTRY = 2
    TUPEL_ENTRY = 3
    TIME = 4
    LIST_ENTRY = 5


@dataclass(frozen=True, slots=True)
class ProcParValue:
    """SML_ProcParValue: a tagged choice; ``value_type`` as for list entries (kind VALUE)."""

    kind: ProcParKind
    value: SmlValue | PeriodEntry | TupelEntry | ListEntry
    value_type: str | None = None


@dataclass(frozen=True, slots=True)
class SmlTree:
    """SML_Tree: a named parameter with an optional value and optional children."""

    parameter_name: bytes
    value: ProcParValue | None = None
    children: tuple[SmlTree, ...] | None = None


@dataclass(frozen=True, slots=True)
class ProfObjHeaderEntry:
    """SML_ProfObjHeaderEntry: a column of a GetProfilePack.Res."""

    obj_name: bytes
    unit: int
    scaler: int


@dataclass(frozen=True, slots=True)
class ValueEntry:
    """SML_ValueEntry: one cell of a GetProfilePack.Res period."""

    value: SmlValue
    value_signature: bytes | None = None
    value_type: str | None = None


@dataclass(frozen=True, slots=True)
class ProfObjPeriodEntry:
    """SML_ProfObjPeriodEntry: one row of a GetProfilePack.Res."""

    val_time: SmlTime
    status: int
    values: tuple[ValueEntry, ...]
    period_signature: bytes | None = None


# --- message bodies -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OpenRequest:
    client_id: bytes
    req_file_id: bytes
    codepage: bytes | None = None
    server_id: bytes | None = None
    username: bytes | None = None
    password: bytes | None = None
    sml_version: int | None = None


@dataclass(frozen=True, slots=True)
class OpenResponse:
    req_file_id: bytes
    server_id: bytes
    codepage: bytes | None = None
    client_id: bytes | None = None
    ref_time: SmlTime | None = None
    sml_version: int | None = None


@dataclass(frozen=True, slots=True)
class CloseRequest:
    global_signature: bytes | None = None


@dataclass(frozen=True, slots=True)
class CloseResponse:
    global_signature: bytes | None = None


@dataclass(frozen=True, slots=True)
class GetListRequest:
    client_id: bytes
    server_id: bytes | None = None
    username: bytes | None = None
    password: bytes | None = None
    list_name: bytes | None = None


@dataclass(frozen=True, slots=True)
class GetListResponse:
    server_id: bytes
    entries: tuple[ListEntry, ...]
    client_id: bytes | None = None
    list_name: bytes | None = None
    act_sensor_time: SmlTime | None = None
    list_signature: bytes | None = None
    act_gateway_time: SmlTime | None = None


@dataclass(frozen=True, slots=True)
class GetProcParameterRequest:
    tree_path: tuple[bytes, ...]
    server_id: bytes | None = None
    username: bytes | None = None
    password: bytes | None = None
    attribute: bytes | None = None


@dataclass(frozen=True, slots=True)
class GetProcParameterResponse:
    server_id: bytes
    tree_path: tuple[bytes, ...]
    tree: SmlTree


@dataclass(frozen=True, slots=True)
class SetProcParameterRequest:
    tree_path: tuple[bytes, ...]
    tree: SmlTree
    server_id: bytes | None = None
    username: bytes | None = None
    password: bytes | None = None


@dataclass(frozen=True, slots=True)
class _ProfileRequest:
    tree_path: tuple[bytes, ...]
    server_id: bytes | None = None
    username: bytes | None = None
    password: bytes | None = None
    with_rawdata: bool | None = None
    begin_time: SmlTime | None = None
    end_time: SmlTime | None = None
    object_list: tuple[bytes, ...] | None = None
    das_details: SmlTree | None = None


@dataclass(frozen=True, slots=True)
class GetProfileListRequest(_ProfileRequest):
    pass


@dataclass(frozen=True, slots=True)
class GetProfilePackRequest(_ProfileRequest):
    pass


@dataclass(frozen=True, slots=True)
class GetProfileListResponse:
    server_id: bytes
    act_time: SmlTime
    reg_period: int
    tree_path: tuple[bytes, ...]
    val_time: SmlTime
    status: int
    period_list: tuple[PeriodEntry, ...]
    rawdata: bytes | None = None
    period_signature: bytes | None = None


@dataclass(frozen=True, slots=True)
class GetProfilePackResponse:
    server_id: bytes
    act_time: SmlTime
    reg_period: int
    tree_path: tuple[bytes, ...]
    header_list: tuple[ProfObjHeaderEntry, ...]
    period_list: tuple[ProfObjPeriodEntry, ...]
    rawdata: bytes | None = None
    profile_signature: bytes | None = None


@dataclass(frozen=True, slots=True)
class AttentionResponse:
    server_id: bytes
    attention_no: bytes
    attention_msg: bytes | None = None
    attention_details: SmlTree | None = None


MessageBody = Union[
    OpenRequest,
    OpenResponse,
    CloseRequest,
    CloseResponse,
    GetListRequest,
    GetListResponse,
    GetProcParameterRequest,
    GetProcParameterResponse,
    SetProcParameterRequest,
    GetProfileListRequest,
    GetProfileListResponse,
    GetProfilePackRequest,
    GetProfilePackResponse,
    AttentionResponse,
]

#: messageBody choice tags (SML v1.04).
BODY_TAGS: dict[type, int] = {
    OpenRequest: 0x0100,
    OpenResponse: 0x0101,
    CloseRequest: 0x0200,
    CloseResponse: 0x0201,
    GetProfilePackRequest: 0x0300,
    GetProfilePackResponse: 0x0301,
    GetProfileListRequest: 0x0400,
    GetProfileListResponse: 0x0401,
    GetProcParameterRequest: 0x0500,
    GetProcParameterResponse: 0x0501,
    SetProcParameterRequest: 0x0600,
    GetListRequest: 0x0700,
    GetListResponse: 0x0701,
    AttentionResponse: 0xFF01,
}


@dataclass(frozen=True, slots=True)
class SmlMessage:
    """SML_Message: header fields, one body, and (when decoded) the CRC that matched.

    ``crc_kind`` and ``quirks`` describe how the message arrived; they take
    no part in equality, so a decoded message equals the one that was encoded.
    """

    transaction_id: bytes
    body: MessageBody
    group_no: int = 0
    abort_on_error: int = 0
    crc_kind: CrcKind | None = field(default=None, compare=False)
    quirks: frozenset[str] = field(default=frozenset(), compare=False)
