"""Encode wireless M-Bus telegrams: the inverse of :func:`~smgwd.codec.wmbus.decode_telegram`.

How this works: the layers are built inside out. The transport layer's payload (with
0x2F2F check bytes in front when the CFG announces mode 5 or 7, padded with 0x2F fillers to
the announced number of blocks) is encrypted, the AFL MAC computed over the result (mode 7),
the ELL payload CRC computed over everything after it and that part AES-CTR encrypted when
the SN says so, then L is set and the link CRCs inserted if asked for. The values that
follow from others (L, AFL.L, the MAC, the ELL payload CRC) are computed; the ones given in
the objects are ignored. Inconsistent input raises ValueError: encoding is not decoding.
"""

from __future__ import annotations

from smgwd.codec.crc import crc16_en13757
from smgwd.codec.wmbus.crypto import (
    aes_cbc_encrypt,
    aes_cmac,
    aes_ctr,
    ctr_counter_block,
    mode5_iv,
    mode7_keys,
)
from smgwd.codec.wmbus.decoder import _mac_input
from smgwd.codec.wmbus.link import add_link_crcs
from smgwd.codec.wmbus.tables import AFL_CI, ELL_CI, TPL_CI, Content, Header, is_manufacturer_specific_ci
from smgwd.codec.wmbus.types import (
    AFL_MAC_LENGTHS,
    AuthFragment,
    CompactHeader,
    ExtendedLink,
    FrameFormat,
    LinkHeader,
    TransportHeader,
)

__all__ = ["config_word", "encode_telegram"]


def config_word(
    mode: int = 0,
    blocks: int = 0,
    *,
    bidirectional: bool = False,
    accessibility: bool = False,
    synchronous: bool = False,
    content: int = 0,
    repeated_access: bool = False,
    hop_counter: bool = False,
) -> int:
    """The transport layer's configuration word (CFG), e.g. ``config_word(5, 3)`` = 0x0530."""
    if not 0 <= mode <= 0x1F or not 0 <= blocks <= 0x0F or not 0 <= content <= 3:
        raise ValueError(f"mode {mode}, blocks {blocks} or content {content} out of range")
    return (
        (0x8000 if bidirectional else 0)
        | (0x4000 if accessibility else 0)
        | (0x2000 if synchronous else 0)
        | mode << 8
        | blocks << 4
        | content << 2
        | (0x02 if repeated_access else 0)
        | (0x01 if hop_counter else 0)
    )


def _tpl_header(tpl: TransportHeader) -> bytes:
    if is_manufacturer_specific_ci(tpl.ci):
        return bytes((tpl.ci,))
    entry = TPL_CI.get(tpl.ci)
    if entry is None:
        raise ValueError(f"CI 0x{tpl.ci:02X} is no transport-layer CI")
    out = bytearray((tpl.ci,))
    if entry[0] is Header.NONE:
        return bytes(out)
    if entry[0] is Header.LONG:
        if tpl.address is None:
            raise ValueError(f"CI 0x{tpl.ci:02X} has a long header: give its address")
        a = tpl.address
        out += a.id_bytes + bytes((a.m_field & 0xFF, a.m_field >> 8, a.version, a.device_type))
    if tpl.access_number is None or tpl.status is None or tpl.config is None:
        raise ValueError(f"CI 0x{tpl.ci:02X} has a header: give access number, status and config")
    out += bytes((tpl.access_number, tpl.status, tpl.config & 0xFF, tpl.config >> 8))
    if tpl.security_mode == 7:
        out.append(0x10 if tpl.config_ext is None else tpl.config_ext)
    return bytes(out)


def _afl_bytes(afl: AuthFragment, mac: bytes | None) -> bytes:
    fields = bytearray((afl.fcl & 0xFF, afl.fcl >> 8))
    if afl.fcl & 0x2000:
        if afl.mcl is None:
            raise ValueError("AFL FCL announces an MCL: give it")
        fields.append(afl.mcl)
    if afl.fcl & 0x0200:
        if afl.key_info is None:
            raise ValueError("AFL FCL announces key info: give it")
        fields += afl.key_info.to_bytes(2, "little")
    if afl.fcl & 0x0800:
        if afl.mcr is None:
            raise ValueError("AFL FCL announces a message counter: give it")
        fields += afl.mcr.to_bytes(4, "little")
    if afl.fcl & 0x0400:
        if mac is None:
            raise ValueError("AFL FCL announces a MAC: give the key (or the MAC)")
        fields += mac
    if afl.fcl & 0x1000:
        if afl.ml is None:
            raise ValueError("AFL FCL announces a message length: give it")
        fields += afl.ml.to_bytes(2, "little")
    return bytes((AFL_CI, len(fields))) + bytes(fields)


def _ell_head(ell: ExtendedLink) -> bytes:
    if ell.ci not in ELL_CI:
        raise ValueError(f"CI 0x{ell.ci:02X} is no ELL CI")
    out = bytearray((ell.ci, ell.cc, ell.acc))
    if ell.ci in (0x8E, 0x8F):
        if ell.receiver is None:
            raise ValueError(f"ELL CI 0x{ell.ci:02X} carries a receiver address: give it")
        out += ell.receiver.wire()
    if ell.ci in (0x8D, 0x8F):
        if ell.session is None:
            raise ValueError(f"ELL CI 0x{ell.ci:02X} carries a session number: give it")
        out += ell.session.to_bytes(4, "little")
    return bytes(out)


def encode_telegram(
    dll: LinkHeader,
    tpl: TransportHeader,
    payload: bytes = b"",
    *,
    ell: ExtendedLink | None = None,
    afl: AuthFragment | None = None,
    compact: CompactHeader | None = None,
    key: bytes | None = None,
    ell_key: bytes | None = None,
    encrypt: bool = True,
    link_crc: bool = False,
    frame_format: FrameFormat = FrameFormat.A,
) -> bytes:
    """Build a telegram (starting with L) from its layers and application-layer ``payload``.

    ``key`` is the meter key for mode 5/7 (and the ELL key unless ``ell_key`` is given).
    ``encrypt=False`` writes announced-encrypted parts in the clear, as logged telegrams
    are. ``compact`` puts the format signature and full-frame CRC in front of ``payload``
    for the compact-frame CIs. With CFG blocks = 0 the whole 16-byte blocks are encrypted
    and any rest stays plain, the way the decoder reads it: give the block count to avoid
    that. ``link_crc`` inserts the CRCs of ``frame_format``.
    """
    body = payload
    if tpl.content is Content.COMPACT and not is_manufacturer_specific_ci(tpl.ci):
        if compact is None:
            raise ValueError(f"CI 0x{tpl.ci:02X} is a compact frame: give its CompactHeader")
        body = compact.format_signature.to_bytes(2, "little") + compact.full_frame_crc.to_bytes(2, "little") + body
    header = _tpl_header(tpl)
    mode = tpl.security_mode if not is_manufacturer_specific_ci(tpl.ci) and tpl.config is not None else 0
    meter = tpl.address if tpl.address is not None else dll.address
    k_mac = None
    if mode in (5, 7) and (body or tpl.encrypted_blocks):
        plain = b"\x2f\x2f" + body
        blocks = tpl.encrypted_blocks
        size = blocks * 16 if blocks else max(16, len(plain) - len(plain) % 16)
        if len(plain) < size:
            plain += b"\x2f" * (size - len(plain))
        region, rest = plain[:size], plain[size:]
        if key is None and (encrypt or mode == 7 and afl is not None and afl.fcl & 0x0400):
            raise ValueError(f"security mode {mode}: give the meter key (or encrypt=False)")
        if mode == 5:
            assert tpl.access_number is not None
            iv = mode5_iv(meter.wire(), tpl.access_number)
            cipher = aes_cbc_encrypt(key, iv, region) if encrypt and key is not None else region
        else:
            if afl is None or afl.mcr is None:
                raise ValueError("security mode 7 needs an AFL with a message counter")
            if key is not None:
                k_enc, k_mac = mode7_keys(key, afl.mcr.to_bytes(4, "little"), meter.id_bytes)
                cipher = aes_cbc_encrypt(k_enc, b"\x00" * 16, region) if encrypt else region
            else:
                cipher = region
        tpl_bytes = header + cipher + rest
    elif mode not in (0, 5, 7):
        raise ValueError(f"security mode {mode} cannot be encoded")
    else:
        tpl_bytes = header + body

    afl_bytes = b""
    if afl is not None:
        mac = afl.mac
        if afl.fcl & 0x0400 and k_mac is not None:
            mac_len = AFL_MAC_LENGTHS.get((afl.mcl or 0) & 0x0F)
            if mac_len is None:
                raise ValueError(f"AFL MCL {afl.mcl!r} names no MAC length")
            mac = aes_cmac(k_mac, _mac_input(afl, tpl_bytes))[:mac_len]
        afl_bytes = _afl_bytes(afl, mac)

    rest = afl_bytes + tpl_bytes
    ell_bytes = b""
    if ell is not None:
        ell_bytes = _ell_head(ell)
        if ell.ci in (0x8D, 0x8F):
            rest = crc16_en13757(rest).to_bytes(2, "little") + rest
            if ell.encrypted and encrypt:
                ekey = ell_key if ell_key is not None else key
                if ekey is None:
                    raise ValueError("ELL AES-CTR: give the key")
                session = ell_bytes[-4:]
                rest = aes_ctr(ekey, ctr_counter_block(dll.address.wire(), ell.cc, session), rest)

    a = dll.address
    head = bytes((dll.c_field, a.m_field & 0xFF, a.m_field >> 8)) + a.id_bytes + bytes((a.version, a.device_type))
    frame_wo_l = head + ell_bytes + rest
    if len(frame_wo_l) > 255:
        raise ValueError(f"telegram of {len(frame_wo_l) + 1} bytes exceeds L = 255")
    frame = bytes((len(frame_wo_l),)) + frame_wo_l
    return add_link_crcs(frame, frame_format) if link_crc else frame
