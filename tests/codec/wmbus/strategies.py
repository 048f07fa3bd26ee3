"""Hypothesis strategies for whole wireless M-Bus telegrams, built with our encoder.

A drawn :class:`Case` holds the layers, the key and the application bytes; ``wire()``
encodes it. The decoder must give the layers and the application bytes back.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import assume
from hypothesis import strategies as st

from smgwd.codec.wmbus import (
    Address,
    AuthFragment,
    ExtendedLink,
    FrameFormat,
    LinkHeader,
    TransportHeader,
    config_word,
    encode_telegram,
)


@dataclass(frozen=True)
class Case:
    dll: LinkHeader
    tpl: TransportHeader
    payload: bytes
    key: bytes | None
    ell: ExtendedLink | None
    afl: AuthFragment | None
    link_crc: bool
    frame_format: FrameFormat

    def wire(self, *, encrypt: bool = True) -> bytes:
        return encode_telegram(
            self.dll,
            self.tpl,
            self.payload,
            ell=self.ell,
            afl=self.afl,
            key=self.key,
            encrypt=encrypt,
            link_crc=self.link_crc,
            frame_format=self.frame_format,
        )

    @property
    def mode(self) -> int:
        return self.tpl.security_mode

    @property
    def ell_encrypted(self) -> bool:
        return self.ell is not None and self.ell.encrypted


_letters = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=3, max_size=3)
_digits = st.text(alphabet="0123456789", min_size=8, max_size=8)


@st.composite
def addresses(draw: st.DrawFn) -> Address:
    return Address.of(draw(_letters), draw(_digits), draw(st.integers(0, 255)), draw(st.integers(0, 255)))


@st.composite
def cases(draw: st.DrawFn, *, max_payload: int = 120) -> Case:
    """A telegram of CI 0x7A / 0x72 / 0x78 in security mode 0, 5 or 7, maybe behind an ELL."""
    dll = LinkHeader(draw(st.sampled_from((0x44, 0x46, 0x08))), draw(addresses()))
    ci = draw(st.sampled_from((0x7A, 0x72, 0x78)))
    mode = 0 if ci == 0x78 else draw(st.sampled_from((0, 5, 7)))
    payload = draw(st.binary(max_size=max_payload))
    blocks = (len(payload) + 2 + 15) // 16 if mode else 0
    cfg = config_word(mode, blocks, accessibility=draw(st.booleans()))
    address = draw(addresses()) if ci == 0x72 else None
    tpl = TransportHeader(ci, draw(st.integers(0, 255)), draw(st.integers(0, 255)), cfg, 0x10 if mode == 7 else None, address)
    if ci == 0x78:
        tpl = TransportHeader(ci)
    key = draw(st.binary(min_size=16, max_size=16)) if mode or draw(st.booleans()) else None
    afl = None
    if mode == 7:
        mcl = 0x25  # message counter present, AES-CMAC truncated to 8 bytes
        afl = AuthFragment(0x2C00, mcl, mcr=draw(st.integers(0, 2**32 - 1)))  # MCLP, MCRP, MACP
    ell = None
    if draw(st.booleans()):
        ell_ci = draw(st.sampled_from((0x8C, 0x8D, 0x8E, 0x8F)))
        session = None
        if ell_ci in (0x8D, 0x8F):
            secure = key is not None and draw(st.booleans())
            session = draw(st.integers(0, 2**29 - 1)) | ((1 << 29) if secure else 0)
        receiver = draw(addresses()) if ell_ci in (0x8E, 0x8F) else None
        ell = ExtendedLink(ell_ci, draw(st.integers(0, 255)), draw(st.integers(0, 255)), receiver, session)
    link_crc = draw(st.booleans())
    frame_format = draw(st.sampled_from(tuple(FrameFormat)))
    case = Case(dll, tpl, payload, key, ell, afl, link_crc, frame_format)
    # Keep within L = 255 (frame B counts its CRCs too).
    try:
        case.wire()
    except ValueError:
        assume(False)
    return case
