"""The decoded SIA DC-09 frame, and the errors raised when bytes are not one.

:class:`SiaFrame` is what :func:`tocsin.ingest.sia_codec.parse_frame` returns and the
builders of answers read; :class:`SiaDecodeError` and its subclasses are what every SIA
decoding function raises, carrying the header when it could be read. Record and errors
only: parsing lives in :mod:`.sia_codec`, AES in :mod:`.sia_crypto`.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from tocsin.errors import DecodeError

__all__ = ("SiaDecodeError", "SiaDecryptError", "SiaFrame", "SiaKeyRequired")


class SiaFrame(msgspec.Struct, frozen=True, kw_only=True):
    """One decoded DC-09 frame.

    ``account`` is the header's (``#acct``, or ``A0``-style in a NAK with ``nak_account``
    set); ``data_account`` is the ``#acct|`` at the start of the data block, which some
    panels send instead (``effective_account`` picks). ``receiver`` and ``line`` are None
    when the field is absent and ``""`` when the letter came without digits. ``data`` and
    ``extended`` are the decrypted ones for an encrypted frame. ``timestamp`` is None when
    absent or unreadable; ``timestamp_text`` keeps what was sent. ``raw`` is the bytes as
    given to ``parse_frame``; ``crc_given``/``crc_computed`` are 4 upper-case hex digits
    (a binary CRC is shown in hex too), lengths are byte counts.
    """

    token: str
    encrypted: bool
    sequence: str
    receiver: str | None
    line: str | None
    account: str | None
    data: str
    extended: tuple[tuple[str, str], ...]
    timestamp: datetime | None
    crc_ok: bool
    length_ok: bool
    raw: bytes
    crc_given: str
    crc_computed: str
    length_given: int
    length_computed: int
    binary_crc: bool = False
    nak_account: bool = False
    data_account: str | None = None
    timestamp_text: str | None = None

    @property
    def effective_account(self) -> str | None:
        """The header's account, else the one at the start of the data block."""
        return self.account if self.account is not None else self.data_account

    @property
    def valid(self) -> bool:
        """CRC and length both match."""
        return self.crc_ok and self.length_ok

    def xdata(self, ident: str) -> list[str]:
        """Values of every extended-data block with identifier ``ident``, in order."""
        return [value for key, value in self.extended if key == ident]


class SiaDecodeError(DecodeError):
    """The bytes are not a readable DC-09 frame.

    ``frame`` holds what could be read of the header (token, sequence, account, CRC check)
    when the failure came later, so the receiver can still log and answer; else None.
    """

    def __init__(self, detail: str, *, frame: SiaFrame | None = None) -> None:
        super().__init__(detail)
        self.frame = frame


class SiaKeyRequired(SiaDecodeError):
    """The frame is encrypted and no key was given (or found) for its account."""


class SiaDecryptError(SiaDecodeError):
    """The encrypted body does not decrypt with the key given: wrong key, or damaged."""
