"""AES for wireless M-Bus: mode 5/7 CBC, ELL CTR, AES-CMAC and the OMS mode 7 key derivation.

How this works: building a ``Cipher`` costs more than decrypting a telegram, and CBC and
CTR would need a new one per IV. So each key gets one ECB context per direction, kept in
a bounded cache; CBC decryption is one ECB call over all blocks XORed with the IV and the
previous ciphertext blocks (as one big integer), CTR one ECB call over the counter blocks.
Encryption (the simulator's side) chains block by block. CMAC uses ``cryptography``'s
implementation. Only APIs present in python3-cryptography 38 (Debian 12) are used. The
cached contexts are not shared between threads safely: one decoder per thread.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms, modes

__all__ = [
    "aes_cbc_decrypt",
    "aes_cbc_encrypt",
    "aes_cmac",
    "aes_ctr",
    "ctr_counter_block",
    "mode5_iv",
    "mode7_keys",
]

_CACHE_LIMIT = 4096
_decryptors: dict[bytes, CipherContext] = {}
_encryptors: dict[bytes, CipherContext] = {}


def _context(cache: dict[bytes, CipherContext], key: bytes, encrypt: bool) -> CipherContext:
    ctx = cache.get(key)
    if ctx is None:
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        cipher = Cipher(algorithms.AES(key), modes.ECB())
        ctx = cipher.encryptor() if encrypt else cipher.decryptor()
        cache[key] = ctx
    return ctx


def _xor(a: bytes, b: bytes) -> bytes:
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(len(a), "big")


def aes_cbc_decrypt(key: bytes, iv: bytes, data: bytes) -> bytes:
    """AES-128-CBC decryption without padding; ``len(data)`` is a multiple of 16."""
    if not data:
        return b""
    plain = _context(_decryptors, key, False).update(data)
    return _xor(plain, iv + data[:-16])


def aes_cbc_encrypt(key: bytes, iv: bytes, data: bytes) -> bytes:
    """AES-128-CBC encryption without padding; ``len(data)`` is a multiple of 16."""
    ctx = _context(_encryptors, key, True)
    out = bytearray()
    prev = iv
    for pos in range(0, len(data), 16):
        prev = ctx.update(_xor(data[pos : pos + 16], prev))
        out += prev
    return bytes(out)


def aes_ctr(key: bytes, counter_block: bytes, data: bytes) -> bytes:
    """AES-128-CTR (both directions), the 128-bit counter incremented big-endian per block."""
    if not data:
        return b""
    start = int.from_bytes(counter_block, "big")
    blocks = (len(data) + 15) // 16
    counters = b"".join(((start + i) & ((1 << 128) - 1)).to_bytes(16, "big") for i in range(blocks))
    stream = _context(_encryptors, key, True).update(counters)
    return _xor(data, stream[: len(data)])


def aes_cmac(key: bytes, data: bytes) -> bytes:
    """AES-CMAC (RFC 4493), 16 bytes."""
    mac = cmac.CMAC(algorithms.AES(key))
    mac.update(data)
    return mac.finalize()


def mode5_iv(address_wire: bytes, access_number: int) -> bytes:
    """Security mode 5 IV: M (2) ‖ A (6) ‖ access number repeated 8 times."""
    return address_wire + bytes((access_number,)) * 8


def ctr_counter_block(address_wire: bytes, cc: int, session: bytes) -> bytes:
    """ELL AES-CTR initial counter: M ‖ A ‖ CC without the H (0x10) and R (0x02) bits ‖ SN ‖ FN=0 ‖ BC=0."""
    return address_wire + bytes((cc & ~0x12 & 0xFF,)) + session + b"\x00\x00\x00"


def mode7_keys(key: bytes, mcr: bytes, meter_id: bytes) -> tuple[bytes, bytes]:
    """OMS KDF-A for messages from the meter: (Kenc, Kmac).

    K_x = AES-CMAC(K, DC ‖ MCR ‖ ID ‖ 0x07 × 7) with DC 0x00 for Kenc and 0x01 for Kmac;
    MCR and ID as they are sent (least significant byte first).
    """
    tail = mcr + meter_id + b"\x07" * 7
    return aes_cmac(key, b"\x00" + tail), aes_cmac(key, b"\x01" + tail)
