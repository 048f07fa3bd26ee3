"""TL encoding rules of SML v1.04, checked on hand-made byte strings that follow the spec
(reference/sml.md §2.3): types, multi-byte TL, integer widths and sign extension, optionals."""

from __future__ import annotations

import re

import pytest

from smgwd.codec.crc import crc16_kermit, crc16_x25
from smgwd.codec.sml import SmlCrcError, SmlQuirkError, SmlSyntaxError, decode_message, decode_messages
from smgwd.codec.sml import types as t
from smgwd.codec.sml.decoder import STRICT, SmlDialect, _Reader
from smgwd.codec.sml.encoder import _Writer

R = _Reader(SmlDialect())


@pytest.mark.parametrize(
    ("hex_", "value", "vtype"),
    [
        ("52ff", -1, "i8"),
        ("5380 25", -32731, "i16"),  # the DZG example in libsml's sml_list.c
        ("54ff fffe", -2, "i24"),
        ("64ff fffe", 0xFFFFFE, "u24"),
        ("5500 0000 01", 1, "i32"),
        ("56ff ffff ffff", -1, "i40"),
        ("5955 3ee9 f1d7 1cdc 0f", 0x553EE9F1D71CDC0F, "i64"),
        ("6901 0000 0000 0000 00", 1 << 56, "u64"),
        ("6201", 1, "u8"),
        ("4201", True, "bool"),
        ("4200", False, "bool"),
        ("0445 4d48", b"EMH", "octets"),
        ("01", b"", "octets"),
    ],
)
def test_value_types(hex_: str, value: object, vtype: str) -> None:
    data = bytes.fromhex(hex_)
    got, got_type, end = R.value(data, 0, "v")
    assert (got, got_type, end) == (value, vtype, len(data))


def test_multibyte_octet_string_length_counts_tl_bytes() -> None:
    # 83 02 = octet string of 0x32 = 50 bytes including the two TL bytes -> 48 data bytes
    data = bytes.fromhex("8302") + bytes(range(48))
    value, vtype, end = R.value(data, 0, "key")
    assert value == bytes(range(48)) and end == 50


def test_multibyte_list_length_counts_elements() -> None:
    # f1 04 = list of 0x14 = 20 entries (Holley GetList.Res)
    count, end = R.seq(bytes.fromhex("f104"), 0, "valList")
    assert (count, end) == (20, 2)


def test_list_tl_continuation_with_type_bits_is_a_named_quirk() -> None:
    # Hager EDL sends 25 entries as f1 79 (the continuation byte repeats the list type bits)
    reader = _Reader(SmlDialect())
    assert reader.seq(bytes.fromhex("f179"), 0, "valList") == (25, 2)
    assert "list_tl_type" in reader.quirks
    with pytest.raises(SmlQuirkError) as refused:
        _Reader(STRICT).seq(bytes.fromhex("f179"), 0, "valList")
    # its class name is what logs and `smgwctl decode` show: a public Sml...Error, not a private one
    assert re.fullmatch(r"Sml\w*Error", type(refused.value).__name__)


@pytest.mark.parametrize("length", [14, 15, 16, 200, 300, 5000])
def test_writer_tl_lengths_roundtrip(length: int) -> None:
    w = _Writer()
    w.octets(bytes(length))
    value, _, end = R.value(bytes(w.out), 0, "x")
    assert value == bytes(length) and end == len(w.out)


@pytest.mark.parametrize(
    "hex_",
    [
        "",  # nothing
        "53",  # integer without its bytes
        "5a00000000000000000000",  # integer of 9 bytes
        "0900",  # octet string longer than the input
        "8f",  # TL continuation missing
        "81f0",  # continuation byte with type bits
        "4302ff",  # boolean of 2 bytes
        "80",  # multi-byte TL with length shorter than itself
    ],
)
def test_bad_tl_raises_syntax_error(hex_: str) -> None:
    with pytest.raises(SmlSyntaxError):
        R.value(bytes.fromhex(hex_), 0, "v")


def test_time_choices_and_bare_quirk() -> None:
    assert R.time(bytes.fromhex("72620165 00000010"), 0, "t")[0] == t.SmlTime(t.TimeKind.SEC_INDEX, 16)
    assert R.time(bytes.fromhex("72620265 5f5e1000"), 0, "t")[0] == t.SmlTime(t.TimeKind.TIMESTAMP, 0x5F5E1000)
    # the localTimestamp quoted in reference/sml.md (EMH, smllib issue #26)
    local, _ = R.time(bytes.fromhex("72620373 65671b6322 53003c 53003c"), 0, "t")
    assert local == t.SmlTime(t.TimeKind.LOCAL_TIMESTAMP, 0x671B6322, 60, 60)
    bare, _ = R.time(bytes.fromhex("65 00123456"), 0, "t")
    assert bare.bare and bare.value == 0x123456 and "bare_time" in R.quirks
    with pytest.raises(SmlQuirkError):
        _Reader(STRICT).time(bytes.fromhex("65 00123456"), 0, "t")


def _close_response(crc_bytes: bytes) -> bytes:
    head = bytes.fromhex("76 0201 6200 6200 72 630201 71 01")
    return head + crc_bytes + b"\x00"


def test_message_crc_x25_kermit_and_short_form() -> None:
    head = _close_response(b"")[:-1]
    x25 = crc16_x25(head)
    msg, end = decode_message(head + b"\x63" + x25.to_bytes(2, "little") + b"\x00")
    assert isinstance(msg.body, t.CloseResponse) and msg.crc_kind.value == "x25"
    kermit = crc16_kermit(head)
    msg, _ = decode_message(head + b"\x63" + kermit.to_bytes(2, "big") + b"\x00")
    assert msg.crc_kind.value == "kermit"
    with pytest.raises(SmlCrcError):
        decode_message(head + b"\x63" + kermit.to_bytes(2, "big") + b"\x00", dialect=STRICT)
    with pytest.raises(SmlCrcError):
        decode_message(head + b"\x63\x00\x00\x00")


def test_missing_end_of_message() -> None:
    head = _close_response(b"")[:-1]
    with pytest.raises(SmlSyntaxError, match="endOfSmlMsg"):
        decode_message(head + b"\x63" + crc16_x25(head).to_bytes(2, "little") + b"\x01")


def test_fill_bytes_between_messages() -> None:
    head = _close_response(b"")[:-1]
    msg = head + b"\x63" + crc16_x25(head).to_bytes(2, "little") + b"\x00"
    out = decode_messages(msg + b"\x00\x00" + msg)
    assert len(out) == 2 and "fill_bytes" in out[1].quirks and not out[0].quirks
    with pytest.raises(SmlQuirkError):
        decode_messages(msg + b"\x00" + msg, STRICT)


def test_unknown_body_tag() -> None:
    data = bytes.fromhex("76 0201 6200 6200 72 630999 71 01 630000 00")
    with pytest.raises(SmlSyntaxError, match="tag 0x0999"):
        decode_message(data)


def test_deep_tree_is_refused_not_recursed() -> None:
    # 200 nested trees: each is list(3) name, no value, childList of 1
    data = bytes.fromhex("730101 71") * 200
    with pytest.raises(SmlSyntaxError, match="deeper"):
        R.tree(data, 0)
