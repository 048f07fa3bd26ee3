"""Decode one wireless M-Bus telegram down to the application layer.

How this works: ``decode_telegram`` runs the layers in wire order on one buffer.

1. Link layer: the L-field rules and block CRCs (:mod:`.link`) give the CRC-free frame;
   C, M and A follow L.
2. Extended link layer (CI 0x8C..0x8F): CC, ACC, the receiver address (ELL III/IV) and
   the session number (ELL II/IV). With SN security 1 the rest of the frame, starting
   with the payload CRC, is AES-128-CTR encrypted under the sender's key; the payload
   CRC over the decrypted rest tells a right key from a wrong one.
3. Authentication and fragmentation layer (CI 0x90): FCL, MCL, KI, MCR, MAC, ML.
   Fragmented messages are refused.
4. Transport layer: the CI field picks no, short or long header (ACC, STS, CFG, and the
   meter address of a long header); mode 7 adds a configuration byte.
5. Security: mode 5 is AES-128-CBC with IV = M ‖ A ‖ ACC×8; mode 7 verifies the AFL MAC
   with Kmac and then decrypts AES-128-CBC with Kenc (IV 0), both keys derived from the
   meter key, the AFL message counter and the meter ID (OMS KDF-A). A long header's
   address takes the link address's place in both. Only the number of blocks the CFG
   announces is encrypted (0: all whole blocks); plaintext may follow them. The first two
   decrypted bytes must be 0x2F2F, else the key is wrong. An announced-encrypted payload
   that is plaintext already (0x2F2F in the clear, or a matching ELL payload CRC) is a
   logged telegram replayed: it decodes without key and says so (``already_decrypted``).
6. Compact frames (CI 0x79/0x7B/0x73) open with the format signature and the full-frame
   CRC; they are exposed for the application layer's per-meter format cache.

On any input the decoder returns a :class:`Telegram` or raises a :class:`WmbusError`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Union

from smgwd.codec.crc import crc16_en13757
from smgwd.codec.wmbus.crypto import (
    aes_cbc_decrypt,
    aes_cmac,
    aes_ctr,
    ctr_counter_block,
    mode5_iv,
    mode7_keys,
)
from smgwd.codec.wmbus.errors import (
    CrcError,
    FormatError,
    FragmentedError,
    MacError,
    MissingKeyError,
    SecurityError,
    TruncatedError,
    UnknownCiError,
    UnsupportedError,
    WrongKeyError,
)
from smgwd.codec.wmbus.link import Layout, strip_link_crcs
from smgwd.codec.wmbus.tables import (
    AFL_CI,
    ELL_CI,
    ELL_VARIABLE_CI,
    NWL_CI,
    TPL_CI,
    Content,
    Header,
    is_manufacturer_specific_ci,
)
from smgwd.codec.wmbus.types import (
    AFL_MAC_LENGTHS,
    Address,
    AuthFragment,
    CompactHeader,
    ExtendedLink,
    LinkCrc,
    LinkHeader,
    Telegram,
    TransportHeader,
)

__all__ = ["KeySource", "decode_telegram"]

#: Meter keys: a mapping or a function from the meter ID (8 lowercase digits) to a 16-byte key.
KeySource = Union[Callable[[str], Union[bytes, None]], Mapping[str, bytes], None]

_CHECK = b"\x2f\x2f"


def _lookup(keys: KeySource, meter_id: str) -> bytes | None:
    if keys is None:
        return None
    key = keys.get(meter_id) if isinstance(keys, Mapping) else keys(meter_id)
    if key is not None and len(key) != 16:
        raise SecurityError(f"key for meter {meter_id} has {len(key)} bytes, not 16")
    return key


class _Decoder:
    """One telegram's decoding state (frame, layout, keys)."""

    __slots__ = ("frame", "layout", "keys", "encrypted", "already_decrypted", "mac_verified", "encrypted_end")

    def __init__(self, frame: bytes, layout: Layout, keys: KeySource) -> None:
        self.frame = frame
        self.layout = layout
        self.keys = keys
        self.encrypted = False
        self.already_decrypted = False
        self.mac_verified = False
        self.encrypted_end: int | None = None

    def at(self, offset: int) -> int:
        return self.layout.to_input(offset)

    def need(self, pos: int, count: int, what: str) -> None:
        if pos + count > len(self.frame):
            raise TruncatedError(f"{what} needs {count} bytes, {max(len(self.frame) - pos, 0)} left", self.at(min(pos, len(self.frame))))

    # -- extended link layer --------------------------------------------------------

    def ell(self, pos: int, dll: LinkHeader) -> tuple[ExtendedLink, int]:
        frame = self.frame
        ci = frame[pos]
        size = ELL_CI[ci]
        self.need(pos + 1, size, f"ELL CI 0x{ci:02X}")
        cc, acc = frame[pos + 1], frame[pos + 2]
        p = pos + 3
        receiver = None
        if ci in (0x8E, 0x8F):
            receiver = Address.from_wire(frame[p : p + 2], frame[p + 2 : p + 8])
            p += 8
        if ci not in (0x8D, 0x8F):
            return ExtendedLink(ci, cc, acc, receiver), p
        sn_bytes = frame[p : p + 4]
        session = int.from_bytes(sn_bytes, "little")
        crc_pos = p + 4
        security = session >> 29
        if security not in (0, 1):
            raise UnsupportedError(f"ELL security {security} (only none and AES-CTR exist)", self.at(p))
        body = frame[crc_pos:]
        if _payload_crc_ok(body):
            if security == 1:
                key = _lookup(self.keys, dll.address.id)
                plain = None if key is None else aes_ctr(key, ctr_counter_block(dll.address.wire(), cc, sn_bytes), body)
                if plain is not None and _payload_crc_ok(plain):
                    # Both check: a 1 in 65536 coincidence; the key wins.
                    self.frame = frame[:crc_pos] + plain
                    self.encrypted = True
                else:
                    self.already_decrypted = True
        elif security == 0:
            raise CrcError(f"ELL payload CRC 0x{_le16(body):04X}, computed 0x{crc16_en13757(body[2:]):04X}", self.at(crc_pos))
        else:
            key = _lookup(self.keys, dll.address.id)
            if key is None:
                raise MissingKeyError(dll.address.id, "ELL AES-CTR encrypted", self.at(crc_pos))
            plain = aes_ctr(key, ctr_counter_block(dll.address.wire(), cc, sn_bytes), body)
            if not _payload_crc_ok(plain):
                raise WrongKeyError(dll.address.id, "ELL payload CRC fails after AES-CTR", self.at(crc_pos))
            self.frame = frame[:crc_pos] + plain
            self.encrypted = True
        return ExtendedLink(ci, cc, acc, receiver, session, _le16(self.frame[crc_pos:])), crc_pos + 2

    # -- authentication and fragmentation layer --------------------------------------

    def afl(self, pos: int) -> tuple[AuthFragment, int, int]:
        """Returns the AFL, the position after it and the MAC's position (or -1)."""
        frame = self.frame
        self.need(pos, 4, "AFL")
        length = frame[pos + 1]
        end = pos + 2 + length
        self.need(pos + 2, length, "AFL")
        fcl = frame[pos + 2] | frame[pos + 3] << 8
        p = pos + 4
        mcl = key_info = mcr = ml = None
        mac = None
        mac_pos = -1
        if fcl & 0x2000:
            self.need(p, 1, "AFL MCL")
            mcl = frame[p]
            p += 1
        if fcl & 0x0200:
            self.need(p, 2, "AFL KI")
            key_info = frame[p] | frame[p + 1] << 8
            p += 2
        if fcl & 0x0800:
            self.need(p, 4, "AFL MCR")
            mcr = int.from_bytes(frame[p : p + 4], "little")
            p += 4
        if fcl & 0x0400:
            mac_len = None if mcl is None else AFL_MAC_LENGTHS.get(mcl & 0x0F)
            if mac_len is None:
                raise FormatError(f"AFL MAC present but MCL {mcl!r} names no MAC length", self.at(pos + 2))
            self.need(p, mac_len, "AFL MAC")
            mac = bytes(frame[p : p + mac_len])
            mac_pos = p
            p += mac_len
        if fcl & 0x1000:
            self.need(p, 2, "AFL ML")
            ml = frame[p] | frame[p + 1] << 8
            p += 2
        if p != end:
            raise FormatError(f"AFL.L is {length} but its fields take {p - pos - 2} bytes", self.at(pos + 1))
        afl = AuthFragment(fcl, mcl, key_info, mcr, mac, ml, length)
        if afl.more_fragments or afl.fragment_id != 0:
            raise FragmentedError(
                f"AFL fragment {afl.fragment_id}{' with more to follow' if afl.more_fragments else ''}"
                " of a split message (reassembly is not supported)",
                self.at(pos + 2),
            )
        return afl, end, mac_pos

    # -- transport layer and security -------------------------------------------------

    def tpl(self, pos: int, dll: LinkHeader) -> tuple[TransportHeader, int]:
        frame = self.frame
        ci = frame[pos]
        header = TPL_CI[ci][0]
        p = pos + 1
        if header is Header.NONE:
            return TransportHeader(ci), p
        address = None
        if header is Header.LONG:
            self.need(p, 8, "long transport header address")
            address = Address(frame[p + 4] | frame[p + 5] << 8, bytes(frame[p : p + 4]), frame[p + 6], frame[p + 7])
            p += 8
        self.need(p, 4, "transport header ACC, STS, CFG")
        acc, sts = frame[p], frame[p + 1]
        cfg = frame[p + 2] | frame[p + 3] << 8
        p += 4
        cfg_ext = None
        if (cfg >> 8) & 0x1F == 7:
            self.need(p, 1, "mode 7 configuration extension")
            cfg_ext = frame[p]
            p += 1
        return TransportHeader(ci, acc, sts, cfg, cfg_ext, address), p

    def decrypt(self, pos: int, tpl: TransportHeader, meter: Address, afl: AuthFragment | None, tpl_pos: int, mac_pos: int) -> int:
        """Decrypt the TPL payload at ``pos`` in place; returns where the application bytes start."""
        mode = tpl.security_mode
        frame = self.frame
        left = len(frame) - pos
        blocks = tpl.encrypted_blocks
        if blocks == 0 and left == 0:
            return pos
        size = blocks * 16 if blocks else left - left % 16
        if size == 0 or size > left:
            raise TruncatedError(
                f"mode {mode} announces {blocks or 'all'} encrypted blocks, {left} bytes left", self.at(len(frame))
            )
        region = frame[pos : pos + size]
        key = _lookup(self.keys, meter.id)
        clear_already = region[:2] == _CHECK
        if mode == 5:
            if key is None:
                if clear_already:
                    self.already_decrypted = True
                    return pos + 2
                raise MissingKeyError(meter.id, "mode 5 encrypted", self.at(pos))
            plain = aes_cbc_decrypt(key, mode5_iv(meter.wire(), tpl.access_number or 0), region)
        else:  # mode 7
            if afl is None or afl.mcr is None:
                raise FormatError("mode 7 without an AFL message counter", self.at(tpl_pos))
            if tpl.kdf_selection != 1:
                raise UnsupportedError(f"mode 7 key derivation {tpl.kdf_selection} (only KDF-A = 1)", self.at(tpl_pos))
            if key is None:
                if clear_already:
                    self.already_decrypted = True
                    return pos + 2
                raise MissingKeyError(meter.id, "mode 7 encrypted", self.at(pos))
            mcr = afl.mcr.to_bytes(4, "little")
            k_enc, k_mac = mode7_keys(key, mcr, meter.id_bytes)
            if afl.mac is not None:
                if aes_cmac(k_mac, _mac_input(afl, frame[tpl_pos:]))[: len(afl.mac)] != afl.mac:
                    if clear_already:
                        self.already_decrypted = True
                        return pos + 2
                    raise MacError(meter.id, "AFL MAC does not verify (wrong key or altered telegram)", self.at(mac_pos))
                self.mac_verified = True
            plain = aes_cbc_decrypt(k_enc, b"\x00" * 16, region)
        if plain[:2] != _CHECK:
            if clear_already and not self.mac_verified:
                self.already_decrypted = True
                return pos + 2
            raise WrongKeyError(meter.id, f"mode {mode} decryption gives {plain[:2].hex()}, not 2f2f", self.at(pos))
        self.frame = frame[:pos] + plain + frame[pos + size :]
        self.encrypted = True
        self.encrypted_end = pos + size
        return pos + 2


def _le16(b: bytes) -> int:
    return b[0] | b[1] << 8


def _payload_crc_ok(body: bytes) -> bool:
    return len(body) >= 2 and crc16_en13757(body[2:]) == body[0] | body[1] << 8


def _mac_input(afl: AuthFragment, tpl_bytes: bytes) -> bytes:
    """AFL.MCL ‖ [AFL.KI] ‖ AFL.MCR ‖ [AFL.ML] ‖ TPL CI … last byte (OMS Vol. 2 / EN 13757-7)."""
    mcl = afl.mcl or 0
    parts = [bytes((mcl,))]
    if mcl & 0x10 and afl.key_info is not None:
        parts.append(afl.key_info.to_bytes(2, "little"))
    if afl.mcr is not None:
        parts.append(afl.mcr.to_bytes(4, "little"))
    if mcl & 0x40 and afl.ml is not None:
        parts.append(afl.ml.to_bytes(2, "little"))
    parts.append(tpl_bytes)
    return b"".join(parts)


def decode_telegram(
    data: bytes | bytearray,
    keys: KeySource = None,
    *,
    link_crc: LinkCrc | str = LinkCrc.AUTO,
    allow_trailing: bool = False,
) -> Telegram:
    """Decode a telegram that starts with its L-field.

    ``keys`` maps a meter ID (8 digits, lowercase hex for non-BCD IDs) to its AES key; the
    TPL key is looked up under the meter's ID (a long header's, else the link layer's),
    the ELL key under the link layer's. ``link_crc`` says whether the link-layer CRCs are
    still in ``data`` (a :class:`LinkCrc` or its value: "auto", "present", "absent").
    ``allow_trailing`` accepts bytes after the frame (a receiver's RSSI, say) and returns
    them in ``Telegram.trailing``.

    Raises a :class:`WmbusError` subclass naming what is wrong and the input offset.
    """
    buf = bytes(data)
    policy = link_crc if isinstance(link_crc, LinkCrc) else LinkCrc(link_crc)
    frame, layout = strip_link_crcs(buf, policy, allow_trailing=allow_trailing)
    dec = _Decoder(frame, layout, keys)
    dll = LinkHeader(frame[1], Address.from_wire(frame[2:4], frame[4:10]), buf[0])

    pos = 10
    ell = None
    ci = frame[pos]
    if ci in ELL_CI:
        ell, pos = dec.ell(pos, dll)
        dec.need(pos, 1, "CI field after the ELL")
        ci = dec.frame[pos]
    elif ci == ELL_VARIABLE_CI:
        raise UnsupportedError("ELL V (CI 0x86, variable length)", dec.at(pos))
    if ci == NWL_CI:
        raise UnsupportedError("network layer (CI 0x81)", dec.at(pos))
    afl = None
    mac_pos = -1
    if ci == AFL_CI:
        afl, pos, mac_pos = dec.afl(pos)
        dec.need(pos, 1, "CI field after the AFL")
        ci = dec.frame[pos]

    tpl_pos = pos
    if is_manufacturer_specific_ci(ci):
        tpl = TransportHeader(ci)
        start = pos + 1
    elif ci in TPL_CI:
        tpl, start = dec.tpl(pos, dll)
        mode = tpl.security_mode
        if mode in (5, 7):
            meter = tpl.address if tpl.address is not None else dll.address
            start = dec.decrypt(start, tpl, meter, afl, tpl_pos, mac_pos)
        elif mode != 0:
            raise UnsupportedError(f"security mode {mode}", dec.at(tpl_pos))
    else:
        raise UnknownCiError(ci, dec.at(pos))

    frame = dec.frame
    compact = None
    if tpl.content is Content.COMPACT and not is_manufacturer_specific_ci(ci):
        dec.need(start, 4, "compact frame signature and CRC")
        compact = CompactHeader(_le16(frame[start : start + 2]), _le16(frame[start + 2 : start + 4]))
        start += 4
    return Telegram(
        dll=dll,
        ell=ell,
        afl=afl,
        tpl=tpl,
        security_mode=tpl.security_mode,
        encrypted=dec.encrypted,
        payload=frame[start:],
        payload_offset=start,
        link_crc=layout.format is not None,
        frame_format=layout.format,
        compact=compact,
        already_decrypted=dec.already_decrypted,
        mac_verified=dec.mac_verified,
        encrypted_end=dec.encrypted_end,
        frame=frame,
        trailing=buf[layout.wire_length :],
    )
