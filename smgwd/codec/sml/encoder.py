"""SML v1.04 message encoder: SmlMessage objects -> bytes.

How this works: the mirror of the decoder. A ``_Writer`` appends TL-encoded
fields to one bytearray; each body type has a method listing its fields in
specification order. Integer widths follow the specification's type for each
field (Unsigned8 unit, Integer8 scaler, Unsigned32 times, ...); a value
carries its own wire type in ``value_type`` when it was decoded, and the
smallest fitting integer otherwise. The message CRC (X-25 by default, or
KERMIT) covers the message from its list TL up to the CRC field.
"""

from __future__ import annotations

from typing import Callable, Iterable

from smgwd.codec.crc import CrcKind, crc16_kermit, crc16_x25
from smgwd.codec.sml import types as t

__all__ = ["SmlEncodeError", "encode_message", "encode_messages"]


class SmlEncodeError(ValueError):
    """A value that SML cannot carry (an integer too wide, a bad OBIS length...)."""


def _width(value: int, signed: bool) -> int:
    for width in (1, 2, 4, 8):
        if signed and -(1 << (8 * width - 1)) <= value < (1 << (8 * width - 1)):
            return width
        if not signed and 0 <= value < (1 << (8 * width)):
            return width
    raise SmlEncodeError(f"integer {value} does not fit in 64 bits")


class _Writer:
    __slots__ = ("out",)

    def __init__(self) -> None:
        self.out = bytearray()

    # --- primitives -------------------------------------------------------------

    def tl(self, typ: int, length: int, is_list: bool = False) -> None:
        if is_list:
            nibbles = max(1, (length.bit_length() + 3) // 4)
        else:
            nibbles = 1
            while length + nibbles >= 16**nibbles:
                nibbles += 1
            length += nibbles
        for k in range(nibbles - 1, -1, -1):
            byte = (length >> (4 * k)) & 0x0F
            if k == nibbles - 1:
                byte |= typ
            if k:
                byte |= 0x80
            self.out.append(byte)

    def none(self) -> None:
        self.out.append(0x01)

    def octets(self, value: bytes | None) -> None:
        if value is None:
            self.out.append(0x01)
            return
        self.tl(0x00, len(value))
        self.out += value

    def uint(self, value: int | None, width: int | None = None) -> None:
        self._int(value, width, signed=False)

    def sint(self, value: int | None, width: int | None = None) -> None:
        self._int(value, width, signed=True)

    def _int(self, value: int | None, width: int | None, signed: bool) -> None:
        if value is None:
            self.out.append(0x01)
            return
        if width is None:
            width = _width(value, signed)
        try:
            data = value.to_bytes(width, "big", signed=signed)
        except OverflowError:
            kind = "signed" if signed else "unsigned"
            raise SmlEncodeError(f"{value} does not fit a {kind} integer of {width} bytes") from None
        self.out.append((0x50 if signed else 0x60) | (width + 1))
        self.out += data

    def boolean(self, value: bool | None) -> None:
        if value is None:
            self.out.append(0x01)
        else:
            self.out += b"\x42\x01" if value else b"\x42\x00"

    def list(self, count: int) -> None:
        self.tl(0x70, count, is_list=True)

    # --- composite types --------------------------------------------------------

    def time(self, value: t.SmlTime | None) -> None:
        if value is None:
            self.out.append(0x01)
        elif value.bare:
            self.uint(value.value, 4)
        elif value.kind is t.TimeKind.LOCAL_TIMESTAMP:
            self.list(2)
            self.uint(3, 1)
            self.list(3)
            self.uint(value.value, 4)
            self.sint(value.local_offset or 0, 2)
            self.sint(value.season_offset or 0, 2)
        else:
            self.list(2)
            self.uint(int(value.kind), 1)
            self.uint(value.value, 4)

    def value(self, value: t.SmlValue, value_type: str | None) -> None:
        if isinstance(value, bool):
            self.boolean(value)
        elif isinstance(value, int):
            if value_type and value_type[0] in "iu" and value_type[1:].isdigit():
                bits = int(value_type[1:])
                if bits % 8 or not 8 <= bits <= 64:
                    raise SmlEncodeError(f"unknown value type {value_type!r}")
                self._int(value, bits // 8, signed=value_type[0] == "i")
            else:
                self._int(value, None, signed=value < 0)
        elif isinstance(value, (bytes, bytearray)):
            self.tl(0x00, len(value))
            self.out += value
        elif isinstance(value, t.SmlTime):
            if value_type == "list-time":
                self.list(2)
                self.uint(1, 1)
            self.time(value)
        else:
            raise SmlEncodeError(f"not an SML_Value: {type(value).__name__}")

    def obis(self, name: bytes) -> None:
        self.octets(name)

    def list_entry(self, e: t.ListEntry) -> None:
        self.list(7)
        self.obis(e.obj_name)
        self.uint(e.status)
        self.time(e.val_time)
        self.uint(e.unit, 1 if e.unit is not None and e.unit < 256 else None)
        self.sint(e.scaler, 1 if e.scaler is not None and -128 <= e.scaler < 128 else None)
        self.value(e.value, e.value_type)
        self.octets(e.value_signature)

    def period_entry(self, e: t.PeriodEntry) -> None:
        self.list(5)
        self.obis(e.obj_name)
        self.uint(e.unit, 1)
        self.sint(e.scaler, 1)
        self.value(e.value, e.value_type)
        self.octets(e.value_signature)

    def tupel_entry(self, e: t.TupelEntry) -> None:
        self.list(23)
        self.octets(e.server_id)
        self.time(e.sec_index)
        self.uint(e.status, 8)
        for unit, scaler, value in (
            (e.unit_pa, e.scaler_pa, e.value_pa),
            (e.unit_r1, e.scaler_r1, e.value_r1),
            (e.unit_r4, e.scaler_r4, e.value_r4),
        ):
            self.uint(unit, 1)
            self.sint(scaler, 1)
            self.sint(value, 8)
        self.octets(e.signature_pa_r1_r4)
        for unit, scaler, value in (
            (e.unit_ma, e.scaler_ma, e.value_ma),
            (e.unit_r2, e.scaler_r2, e.value_r2),
            (e.unit_r3, e.scaler_r3, e.value_r3),
        ):
            self.uint(unit, 1)
            self.sint(scaler, 1)
            self.sint(value, 8)
        self.octets(e.signature_ma_r2_r3)

    def proc_par_value(self, v: t.ProcParValue) -> None:
        self.list(2)
        self.uint(int(v.kind), 1)
        kind = v.kind
        if kind is t.ProcParKind.VALUE:
            self.value(v.value, v.value_type)  # type: ignore[arg-type]
        elif kind is t.ProcParKind.PERIOD_ENTRY:
            self.period_entry(v.value)  # type: ignore[arg-type]
        elif kind is t.ProcParKind.TUPEL_ENTRY:
            self.tupel_entry(v.value)  # type: ignore[arg-type]
        elif kind is t.ProcParKind.TIME:
            self.time(v.value)  # type: ignore[arg-type]
        else:
            self.list_entry(v.value)  # type: ignore[arg-type]

    def tree(self, tree: t.SmlTree | None) -> None:
        if tree is None:
            self.none()
            return
        self.list(3)
        self.octets(tree.parameter_name)
        if tree.value is None:
            self.none()
        else:
            self.proc_par_value(tree.value)
        if tree.children is None:
            self.none()
        else:
            self.list(len(tree.children))
            for child in tree.children:
                self.tree(child)

    def octet_list(self, items: Iterable[bytes] | None) -> None:
        if items is None:
            self.none()
            return
        items = tuple(items)
        self.list(len(items))
        for item in items:
            self.octets(item)

    # --- message bodies ---------------------------------------------------------

    def open_request(self, b: t.OpenRequest) -> None:
        self.list(7)
        for field in (b.codepage, b.client_id, b.req_file_id, b.server_id, b.username, b.password):
            self.octets(field)
        self.uint(b.sml_version, 1)

    def open_response(self, b: t.OpenResponse) -> None:
        self.list(6)
        for field in (b.codepage, b.client_id, b.req_file_id, b.server_id):
            self.octets(field)
        self.time(b.ref_time)
        self.uint(b.sml_version, 1)

    def close(self, b: t.CloseRequest | t.CloseResponse) -> None:
        self.list(1)
        self.octets(b.global_signature)

    def get_list_request(self, b: t.GetListRequest) -> None:
        self.list(5)
        for field in (b.client_id, b.server_id, b.username, b.password, b.list_name):
            self.octets(field)

    def get_list_response(self, b: t.GetListResponse) -> None:
        self.list(7)
        self.octets(b.client_id)
        self.octets(b.server_id)
        self.octets(b.list_name)
        self.time(b.act_sensor_time)
        self.list(len(b.entries))
        for entry in b.entries:
            self.list_entry(entry)
        self.octets(b.list_signature)
        self.time(b.act_gateway_time)

    def get_proc_parameter_request(self, b: t.GetProcParameterRequest) -> None:
        self.list(5)
        for field in (b.server_id, b.username, b.password):
            self.octets(field)
        self.octet_list(b.tree_path)
        self.octets(b.attribute)

    def get_proc_parameter_response(self, b: t.GetProcParameterResponse) -> None:
        self.list(3)
        self.octets(b.server_id)
        self.octet_list(b.tree_path)
        self.tree(b.tree)

    def set_proc_parameter_request(self, b: t.SetProcParameterRequest) -> None:
        self.list(5)
        for field in (b.server_id, b.username, b.password):
            self.octets(field)
        self.octet_list(b.tree_path)
        self.tree(b.tree)

    def profile_request(self, b: t._ProfileRequest) -> None:
        self.list(9)
        for field in (b.server_id, b.username, b.password):
            self.octets(field)
        self.boolean(b.with_rawdata)
        self.time(b.begin_time)
        self.time(b.end_time)
        self.octet_list(b.tree_path)
        self.octet_list(b.object_list)
        self.tree(b.das_details)

    def get_profile_list_response(self, b: t.GetProfileListResponse) -> None:
        self.list(9)
        self.octets(b.server_id)
        self.time(b.act_time)
        self.uint(b.reg_period, 4)
        self.octet_list(b.tree_path)
        self.time(b.val_time)
        self.uint(b.status, 8)
        self.list(len(b.period_list))
        for entry in b.period_list:
            self.period_entry(entry)
        self.octets(b.rawdata)
        self.octets(b.period_signature)

    def get_profile_pack_response(self, b: t.GetProfilePackResponse) -> None:
        self.list(8)
        self.octets(b.server_id)
        self.time(b.act_time)
        self.uint(b.reg_period, 4)
        self.octet_list(b.tree_path)
        self.list(len(b.header_list))
        for header in b.header_list:
            self.list(3)
            self.octets(header.obj_name)
            self.uint(header.unit, 1)
            self.sint(header.scaler, 1)
        self.list(len(b.period_list))
        for period in b.period_list:
            self.list(4)
            self.time(period.val_time)
            self.uint(period.status, 8)
            self.list(len(period.values))
            for cell in period.values:
                self.list(2)
                self.value(cell.value, cell.value_type)
                self.octets(cell.value_signature)
            self.octets(period.period_signature)
        self.octets(b.rawdata)
        self.octets(b.profile_signature)

    def attention_response(self, b: t.AttentionResponse) -> None:
        self.list(4)
        self.octets(b.server_id)
        self.octets(b.attention_no)
        self.octets(b.attention_msg)
        self.tree(b.attention_details)


_BODY_WRITERS: dict[type, Callable[[_Writer, t.MessageBody], None]] = {
    t.OpenRequest: _Writer.open_request,  # type: ignore[dict-item]
    t.OpenResponse: _Writer.open_response,  # type: ignore[dict-item]
    t.CloseRequest: _Writer.close,  # type: ignore[dict-item]
    t.CloseResponse: _Writer.close,  # type: ignore[dict-item]
    t.GetProfilePackRequest: _Writer.profile_request,  # type: ignore[dict-item]
    t.GetProfilePackResponse: _Writer.get_profile_pack_response,  # type: ignore[dict-item]
    t.GetProfileListRequest: _Writer.profile_request,  # type: ignore[dict-item]
    t.GetProfileListResponse: _Writer.get_profile_list_response,  # type: ignore[dict-item]
    t.GetProcParameterRequest: _Writer.get_proc_parameter_request,  # type: ignore[dict-item]
    t.GetProcParameterResponse: _Writer.get_proc_parameter_response,  # type: ignore[dict-item]
    t.SetProcParameterRequest: _Writer.set_proc_parameter_request,  # type: ignore[dict-item]
    t.GetListRequest: _Writer.get_list_request,  # type: ignore[dict-item]
    t.GetListResponse: _Writer.get_list_response,  # type: ignore[dict-item]
    t.AttentionResponse: _Writer.attention_response,  # type: ignore[dict-item]
}


def encode_message(message: t.SmlMessage, crc: CrcKind = CrcKind.X25) -> bytes:
    """Encode one SML_Message with its CRC (X-25 unless ``crc`` is KERMIT)."""
    body_type = type(message.body)
    writer_fn = _BODY_WRITERS.get(body_type)
    if writer_fn is None:
        raise SmlEncodeError(f"not an SML message body: {body_type.__name__}")
    w = _Writer()
    w.list(6)
    w.octets(message.transaction_id)
    w.uint(message.group_no, 1)
    w.uint(message.abort_on_error, 1)
    w.list(2)
    w.uint(t.BODY_TAGS[body_type], 2)
    writer_fn(w, message.body)
    if crc is CrcKind.KERMIT:
        check = crc16_kermit(w.out).to_bytes(2, "big")
    else:
        check = crc16_x25(w.out).to_bytes(2, "little")
    w.out += b"\x63" + check + b"\x00"
    return bytes(w.out)


def encode_messages(messages: Iterable[t.SmlMessage], crc: CrcKind = CrcKind.X25) -> bytes:
    """Encode several messages back to back (a transport payload)."""
    return b"".join(encode_message(m, crc) for m in messages)
