"""Wireless M-Bus layers as frozen value objects: what the decoder returns and the encoder takes.

Every object keeps the wire values (raw integers, raw address bytes); names, flags and
bit fields are properties computed from them, so an object never disagrees with itself.
Multi-byte integers are stored as numbers (the wire sends them little-endian, except the
link-layer block CRCs, which are not kept here).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from smgwd.codec.wmbus.tables import (
    TPL_CI,
    Content,
    Header,
    device_type_name,
    manufacturer_code,
    manufacturer_field,
)


class LinkCrc(enum.Enum):
    """Whether the input still carries the link-layer block CRCs.

    ``AUTO`` decides from the L-field and the CRCs themselves: CUL sticks give frames with
    CRCs, rtl_wmbus and the iM871A/AMB8465 dongles give them without.
    """

    AUTO = "auto"
    PRESENT = "present"
    ABSENT = "absent"


class FrameFormat(enum.Enum):
    """EN 13757-4 frame format: A (CRC per 16-byte block) or B (one or two CRCs, L counts them)."""

    A = "A"
    B = "B"


def _id_string(id_bytes: bytes) -> str:
    return id_bytes[::-1].hex()


@dataclass(frozen=True, slots=True)
class Address:
    """A meter address: M-field and A-field (ID, version, device type).

    ``id_bytes`` are the four ID bytes in wire order (least significant BCD pair first).
    ``id`` reads them as eight digits; a meter ID with non-BCD nibbles (they exist) shows
    them as lowercase hex digits, and ``id_is_bcd`` is then False.
    """

    m_field: int
    id_bytes: bytes
    version: int
    device_type: int

    @classmethod
    def of(cls, manufacturer: str, meter_id: str, version: int, device_type: int, *, flag: bool = False) -> Address:
        """Build an address from its readable parts, e.g. ``Address.of("KAM", "12345678", 0x1B, 0x16)``."""
        if len(meter_id) != 8:
            raise ValueError(f"meter id must have 8 digits, not {meter_id!r}")
        m_field = manufacturer_field(manufacturer) | (0x8000 if flag else 0)
        return cls(m_field, bytes.fromhex(meter_id)[::-1], version, device_type)

    @classmethod
    def from_wire(cls, m: bytes | bytearray, a: bytes | bytearray) -> Address:
        """From the two M-field bytes and the six A-field bytes as sent."""
        return cls(m[0] | (m[1] << 8), bytes(a[0:4]), a[4], a[5])

    @property
    def manufacturer(self) -> str:
        """Three-letter manufacturer code (FLAG association), e.g. ``"KAM"``."""
        return manufacturer_code(self.m_field)

    @property
    def manufacturer_flag(self) -> bool:
        """Bit 15 of the M-field (some meters send it; it is not part of the code)."""
        return bool(self.m_field & 0x8000)

    @property
    def id(self) -> str:
        """The meter ID as eight digits, most significant first, e.g. ``"12345678"``."""
        return _id_string(self.id_bytes)

    @property
    def id_is_bcd(self) -> bool:
        return self.id.isdigit()

    @property
    def medium(self) -> str:
        """Name of the device type ("water", "electricity", ...)."""
        return device_type_name(self.device_type)

    def wire(self) -> bytes:
        """M (2 bytes) and A (6 bytes) as sent: the first half of the mode 5 and ELL IVs."""
        return bytes((self.m_field & 0xFF, self.m_field >> 8)) + self.id_bytes + bytes((self.version, self.device_type))


@dataclass(frozen=True, slots=True)
class LinkHeader:
    """Data link layer (EN 13757-4): L, C, M, A.

    ``length`` is the L-field as received (frame B counts its CRCs; the encoder computes it).
    Common C-fields: 0x44 SND_NR (a meter's spontaneous send), 0x46 SND_IR (installation),
    0x08 RSP_UD (a response).
    """

    c_field: int
    address: Address
    length: int = 0

    @property
    def manufacturer(self) -> str:
        return self.address.manufacturer

    @property
    def id(self) -> str:
        return self.address.id


@dataclass(frozen=True, slots=True)
class ExtendedLink:
    """Extended link layer (CI 0x8C..0x8F, EN 13757-4).

    ``session`` is the SN field (32 bits: session number 0..3, time 4..28, security 29..31),
    ``payload_crc`` the CRC over the rest of the frame as found after any decryption
    (both None for ELL I/III). ``receiver`` is the M2/A2 address of ELL III/IV.
    """

    ci: int
    cc: int
    acc: int
    receiver: Address | None = None
    session: int | None = None
    payload_crc: int | None = None

    @property
    def session_number(self) -> int | None:
        return None if self.session is None else self.session & 0x0F

    @property
    def session_time(self) -> int | None:
        """Minutes counter of the SN field (bits 4..28)."""
        return None if self.session is None else (self.session >> 4) & 0x1FFFFFF

    @property
    def security(self) -> int:
        """SN bits 29..31: 0 none, 1 AES-128-CTR."""
        return 0 if self.session is None else self.session >> 29

    @property
    def encrypted(self) -> bool:
        return self.security == 1

    @property
    def bidirectional(self) -> bool:
        return bool(self.cc & 0x80)

    @property
    def response_delay(self) -> bool:
        return bool(self.cc & 0x40)

    @property
    def synchronous(self) -> bool:
        return bool(self.cc & 0x20)

    @property
    def hop(self) -> bool:
        """Relayed once by a repeater (the H bit, masked out of the CTR IV)."""
        return bool(self.cc & 0x10)

    @property
    def priority(self) -> bool:
        return bool(self.cc & 0x08)

    @property
    def accessibility(self) -> bool:
        return bool(self.cc & 0x04)

    @property
    def repeated_access(self) -> bool:
        """The R bit (masked out of the CTR IV)."""
        return bool(self.cc & 0x02)


#: AFL MCL authentication type (low nibble) -> MAC length in bytes (EN 13757-7 / OMS).
AFL_MAC_LENGTHS = {3: 2, 4: 4, 5: 8, 6: 12, 7: 16}


@dataclass(frozen=True, slots=True)
class AuthFragment:
    """Authentication and fragmentation layer (CI 0x90, EN 13757-7).

    ``fcl`` is the fragmentation control field; the optional fields are present when its
    bits say so (MCL 0x2000, KI 0x0200, MCR 0x0800, MAC 0x0400, ML 0x1000). ``mac`` is the
    truncated AES-CMAC as sent; the encoder computes it and AFL.L.
    """

    fcl: int
    mcl: int | None = None
    key_info: int | None = None
    mcr: int | None = None
    mac: bytes | None = None
    ml: int | None = None
    length: int = 0

    @property
    def fragment_id(self) -> int:
        return self.fcl & 0xFF

    @property
    def more_fragments(self) -> bool:
        return bool(self.fcl & 0x4000)

    @property
    def auth_type(self) -> int | None:
        """MCL bits 0..3: 5 = AES-CMAC-128 truncated to 8 bytes (the OMS mode 7 case)."""
        return None if self.mcl is None else self.mcl & 0x0F

    @property
    def mac_length(self) -> int | None:
        return None if self.mcl is None else AFL_MAC_LENGTHS.get(self.mcl & 0x0F)


@dataclass(frozen=True, slots=True)
class TransportHeader:
    """Transport layer (EN 13757-7): CI, and for short and long headers ACC, STS, CFG.

    A long header adds the address of the meter behind a radio converter or adapter
    (it then replaces the link address for the mode 5 IV and the mode 7 KDF). Mode 7
    has one more configuration byte, ``config_ext``.
    """

    ci: int
    access_number: int | None = None
    status: int | None = None
    config: int | None = None
    config_ext: int | None = None
    address: Address | None = None

    @property
    def header(self) -> Header:
        entry = TPL_CI.get(self.ci)
        return Header.NONE if entry is None else entry[0]

    @property
    def content(self) -> Content:
        entry = TPL_CI.get(self.ci)
        return Content.OTHER if entry is None else entry[1]

    @property
    def security_mode(self) -> int:
        """CFG bits 8..12: 0 none, 5 AES-CBC with IV, 7 AES-CBC with derived keys, ..."""
        return 0 if self.config is None else (self.config >> 8) & 0x1F

    @property
    def encrypted_blocks(self) -> int:
        """CFG bits 4..7 (modes 5 and 7): number of encrypted 16-byte blocks."""
        return 0 if self.config is None else (self.config >> 4) & 0x0F

    @property
    def bidirectional(self) -> bool:
        return bool((self.config or 0) & 0x8000)

    @property
    def accessibility(self) -> bool:
        return bool((self.config or 0) & 0x4000)

    @property
    def synchronous(self) -> bool:
        return bool((self.config or 0) & 0x2000)

    @property
    def content_type(self) -> int:
        """CFG bits 2..3 in mode 5: 0 standard data, 1 static, ..."""
        return ((self.config or 0) >> 2) & 0x03

    @property
    def repeated_access(self) -> bool:
        return bool((self.config or 0) & 0x02)

    @property
    def hop_counter(self) -> bool:
        return bool((self.config or 0) & 0x01)

    @property
    def kdf_selection(self) -> int | None:
        """Mode 7 configuration extension bits 4..5: 1 = KDF-A (AES-CMAC, OMS Vol. 2)."""
        return None if self.config_ext is None else (self.config_ext >> 4) & 0x03

    @property
    def alarm(self) -> bool:
        """STS bits 0..1 say alarm (3) or error (2)."""
        return (self.status or 0) & 0x03 >= 2


@dataclass(frozen=True, slots=True)
class CompactHeader:
    """The two checks that open a compact frame (CI 0x79/0x7B/0x73), both CRC-16/EN-13757.

    ``format_signature`` is the CRC over the DIF/VIF header bytes of the full frame,
    ``full_frame_crc`` the CRC over the full frame's record bytes; the values alone follow.
    """

    format_signature: int
    full_frame_crc: int


@dataclass(frozen=True, slots=True)
class Telegram:
    """One decoded telegram, down to where the application layer (DIF/VIF records) begins.

    ``payload`` holds the application-layer bytes: after the 0x2F2F check bytes when the
    header announces encryption, after the format signature and frame CRC in a compact
    frame, and raw for CIs whose content is not EN 13757-3 records. ``payload_offset`` is
    its position in ``frame``, the telegram without link CRCs (as decrypted).

    ``encrypted``: the bytes on air were ciphertext and were decrypted here (TPL or ELL).
    ``encrypted_end``: where the transport layer's encrypted blocks end in ``frame`` (mode
    5/7 may encrypt fewer blocks than the telegram holds; what follows was sent in the clear
    and is not covered by the 0x2F2F check). ``already_decrypted``: a header announced encryption but the bytes were plaintext
    already (a logged, replayed telegram); no key was needed. ``mac_verified``: an AFL MAC
    was present and verified. ``trailing`` holds bytes after the frame (only with
    ``allow_trailing``).
    """

    dll: LinkHeader
    ell: ExtendedLink | None
    afl: AuthFragment | None
    tpl: TransportHeader
    security_mode: int
    encrypted: bool
    payload: bytes
    payload_offset: int
    link_crc: bool
    frame_format: FrameFormat | None = None
    compact: CompactHeader | None = None
    already_decrypted: bool = False
    mac_verified: bool = False
    encrypted_end: int | None = None
    frame: bytes = b""
    trailing: bytes = b""

    @property
    def meter(self) -> Address:
        """The meter's address: the long transport header's, else the link layer's."""
        return self.tpl.address if self.tpl.address is not None else self.dll.address

    @property
    def meter_id(self) -> str:
        return self.meter.id
