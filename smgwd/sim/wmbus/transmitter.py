"""A simulated meter's radio: its record area in an OMS telegram, as often as it sends.

How this works: a :class:`Transmitter` wraps a :class:`~smgwd.sim.wmbus.models.RadioModel`
with the radio settings of the configuration (:class:`RadioSettings`): security mode 0,
5 or 7 with the meter's key, optionally the extended link layer of C1 meters (CI 0x8D,
AES-CTR with the same key, as Kamstrup sends it), the link mode it sends in, how often.
Each ``telegram()`` counts the access number up (and, in mode 7, the AFL message
counter), builds the layers with :func:`~smgwd.codec.wmbus.encode_telegram` and returns
the telegram as a dongle delivers it: with its L-field, without the link CRCs. The
address is the meter's manufacturer and serial (8 BCD digits), version 1.
"""

from __future__ import annotations

from dataclasses import dataclass

from smgwd.codec.wmbus import Address, AuthFragment, ExtendedLink, LinkHeader, TransportHeader, config_word, encode_telegram
from smgwd.sim.wmbus.models import RadioModel

__all__ = ["RADIO_MODES", "RadioSettings", "Transmitter"]

RADIO_MODES = ("t1", "c1", "s1")
SND_NR = 0x44  # a meter's spontaneous send, no reply expected
_AFL_FCL = 0x2C00  # MCL present, MCR present, MAC present
_AFL_MCL = 0x25  # AES-CMAC-128 truncated to 8 bytes, message counter in the KDF


@dataclass(frozen=True, slots=True)
class RadioSettings:
    """How one meter sends (one ``<meter>`` of a ``<wmbus>`` listener)."""

    ref: str
    security: int = 5  # 0 none, 5 AES-CBC with IV, 7 AES-CBC with derived keys and CMAC
    key: bytes | None = None
    interval_seconds: float = 8.0
    ell: bool = False
    radio_mode: str = "t1"
    version: int = 1

    def __post_init__(self) -> None:
        if self.security not in (0, 5, 7):
            raise ValueError(f"security mode {self.security}: the simulator sends 0, 5 or 7")
        if (self.security or self.ell) and (self.key is None or len(self.key) != 16):
            raise ValueError("an encrypted meter needs a 16-byte key")
        if self.radio_mode not in RADIO_MODES:
            raise ValueError(f"radio mode {self.radio_mode!r}: one of {', '.join(RADIO_MODES)}")


class Transmitter:
    """One meter's telegrams, numbered."""

    def __init__(self, model: RadioModel, settings: RadioSettings, manufacturer: str, serial: int, seed: int = 0) -> None:
        if not 0 <= serial <= 99_999_999:
            raise ValueError(f"serial {serial} does not fit 8 BCD digits")
        self.model = model
        self.settings = settings
        self.address = Address.of(manufacturer, f"{serial:08d}", settings.version, model.device_type)
        self.access = seed & 0xFF
        self.counter = 0
        self.sent = 0

    @property
    def wmbus_id(self) -> str:
        return self.address.id

    def telegram(self) -> bytes:
        """The next telegram (L-field first, no link CRCs)."""
        s = self.settings
        self.access = (self.access + 1) & 0xFF
        self.counter = (self.counter + 1) & 0xFFFF_FFFF
        records = self.model.records()
        afl = None
        if s.security:
            blocks = (len(records) + 2 + 15) // 16
            config = config_word(s.security, blocks)
            if s.security == 7:
                afl = AuthFragment(_AFL_FCL, _AFL_MCL, mcr=self.counter)
        else:
            config = 0
        tpl = TransportHeader(0x7A, self.access, 0x00, config, 0x10 if s.security == 7 else None)
        ell = None
        if s.ell:  # SN: AES-CTR, the minutes of the meter's clock, session number 0
            minutes = int(self.model.now // 60) & 0x1FF_FFFF
            ell = ExtendedLink(0x8D, 0x20, self.access, session=(1 << 29) | minutes << 4)
        self.sent += 1
        return encode_telegram(LinkHeader(SND_NR, self.address), tpl, records, ell=ell, afl=afl, key=s.key)
