"""SIA DC-09 encryption: AES-CBC with a zero IV, and the pad-then-``|`` body layout.

An encrypted frame carries, after its ``[``, the hex of AES-CBC(``<pad>|<data>]<[x…]…>_ts``)
with a zero IV and no block padding: the protocol pads itself, with 1-16 random bytes that
are never ``|``, ``[`` or ``]``. This module turns configured keys into key bytes and
encrypts/decrypts that body; which frames are encrypted and what the body says is
:mod:`.sia_codec`'s business.
"""

from __future__ import annotations

import re
import secrets
from typing import Literal

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from tocsin.errors import ConfigError
from tocsin.ingest.sia_frame import SiaDecryptError

__all__ = ("decode_text", "decrypt_body", "encrypt_body", "key_from_config")

_PAD_FORBIDDEN = frozenset(b"|[]")
_ZERO_IV = bytes(16)
_HEX = re.compile(r"[0-9A-Fa-f]*")


def key_from_config(key: str, key_format: Literal["hex", "ascii"]) -> bytes:
    """Turn a configured key into AES key bytes.

    Receivers disagree on how the key is written: the standard (and most) read it as hex,
    pysiaalarm, ioBroker and some panels use the string's ASCII bytes. So the format is
    explicit per account.

    Args:
        key: the key as configured.
        key_format: ``"hex"`` (32/48/64 hex digits) or ``"ascii"`` (16/24/32 characters).

    Returns:
        16, 24 or 32 key bytes (AES-128/192/256).

    Raises:
        ConfigError: wrong length, a non-hex digit, or a non-ASCII character.
    """
    if key_format == "hex":
        text = key.strip()
        if not _HEX.fullmatch(text) or len(text) not in (32, 48, 64):
            raise ConfigError(f"a hex SIA key needs 32, 48 or 64 hex digits, got {len(text)} characters")
        return bytes.fromhex(text)
    if key_format == "ascii":
        if not key.isascii():
            raise ConfigError("an ascii SIA key must be plain ASCII characters")
        data = key.encode("ascii")
        if len(data) not in (16, 24, 32):
            raise ConfigError(f"an ascii SIA key needs 16, 24 or 32 characters, got {len(data)}")
        return data
    raise ConfigError(f"unknown SIA key format {key_format!r}: use 'hex' or 'ascii'")


def _cipher(key: bytes) -> Cipher[modes.CBC]:
    if len(key) not in (16, 24, 32):
        raise ValueError(f"AES key must be 16, 24 or 32 bytes, got {len(key)}")
    return Cipher(algorithms.AES(key), modes.CBC(_ZERO_IV))


def decode_text(data: bytes) -> str:
    """UTF-8, else Windows-1252 (what older panels send), else Latin-1 (never fails)."""
    for encoding in ("utf-8", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def decrypt_body(hex_text: str, key: bytes) -> str:
    """Decrypt the hex after an encrypted frame's ``[`` and drop the pad.

    AES-CBC, zero IV, no block padding. The plaintext is ``<pad>|<data>]<[x…]…>_<ts>``;
    everything up to and including the first ``|`` is discarded. Without a ``|`` before the
    first ``]`` (pysiaalarm pads with ``p`` and omits it) the pad is taken to run up to that
    ``]``, i.e. the data block is empty: the only such frames seen carry no data.

    Args:
        hex_text: the ciphertext as hex, upper or lower case.
        key: 16, 24 or 32 bytes.

    Returns:
        The text after the pad, starting with the data (``#acct|…]…_ts`` or ``]_ts``).

    Raises:
        SiaDecryptError: not hex, not whole AES blocks, or the plaintext is not a DC-09 body
            (which is what a wrong key gives).
    """
    text = hex_text.strip()
    if not text or not _HEX.fullmatch(text) or len(text) % 32:
        raise SiaDecryptError(f"encrypted body must be hex in whole 16-byte blocks, got {len(text)} characters")
    decryptor = _cipher(key).decryptor()
    plain = decryptor.update(bytes.fromhex(text)) + decryptor.finalize()
    bar, close = plain.find(b"|"), plain.find(b"]")
    if close < 0:
        raise SiaDecryptError("encrypted body does not decrypt to a DC-09 body: wrong key?")
    body = plain[bar + 1 :] if 0 <= bar < close else plain[close:]
    if any(byte < 0x20 or byte == 0x7F for byte in body):
        raise SiaDecryptError("encrypted body does not decrypt to text: wrong key?")
    return decode_text(body)


def _random_pad(count: int) -> bytes:
    pad = bytearray()
    while len(pad) < count:
        pad.extend(byte for byte in secrets.token_bytes(count) if byte not in _PAD_FORBIDDEN)
    return bytes(pad[:count])


def encrypt_body(plaintext: str, key: bytes, *, pad: bytes | None = None) -> str:
    """Encrypt what follows an encrypted frame's ``[``: pad, ``|``, then ``plaintext``.

    The pad makes the whole a multiple of 16 bytes, 1 to 16 bytes long (16 when it already
    is one), random bytes other than ``|``, ``[`` and ``]`` (DC-09-2013 5.4.4).

    Args:
        plaintext: ``<data>]<[x…]…>_<timestamp>``.
        key: 16, 24 or 32 bytes.
        pad: fixed pad bytes instead of random ones, for reproducible tests.

    Returns:
        The ciphertext as upper-case hex.

    Raises:
        ValueError: a given ``pad`` has the wrong length or a forbidden byte.
    """
    data = b"|" + plaintext.encode("utf-8")
    count = 16 - len(data) % 16
    if pad is None:
        pad = _random_pad(count)
    elif len(pad) != count or _PAD_FORBIDDEN.intersection(pad):
        raise ValueError(f"pad must be {count} bytes without '|', '[' or ']'")
    encryptor = _cipher(key).encryptor()
    return (encryptor.update(pad + data) + encryptor.finalize()).hex().upper()
