"""SIA DC-09 frames: parse one (lenient), decrypt it, and build the receiver's answers.

``parse_frame`` turns the bytes of one frame into a :class:`SiaFrame`: id token, sequence,
receiver/line/account, the data block, extended ``[x…]`` blocks and timestamp, with the
CRC and length *checked but not enforced* (``crc_ok``/``length_ok``): the receiver decides
what a bad checksum earns. It is lenient where real panels deviate (lower-case hex, ``L``
with no digits or no ``L`` at all, NAK's ``A0`` account, a missing ``|`` after the pad,
a 2-byte binary CRC) and raises :class:`SiaDecodeError` for what cannot be read at all.
``build_ack``/``build_nak``/``build_duh`` make the answers; ``timestamp_ok`` applies the
±window. This is the module receivers import: it re-exports the frame record and errors
(:mod:`.sia_frame`), the keys and AES (:mod:`.sia_crypto`), and the CRC, envelope and
stream reassembly (:mod:`.sia_framing`). What the data block *means* (SIA-DCS, ADM-CID)
lives in :mod:`.sia_payload` and :mod:`.sia_codes`. No sockets, no clock (callers pass
``now``), no storage.

How a receiver usually answers one frame: a :class:`SiaDecodeError` (including no key or
the wrong key) or a CRC/length mismatch gets a NAK; a timestamp outside the window gets a
NAK carrying the receiver's UTC time (the check is required for encrypted frames, and for
clear ones that carry a timestamp); a token or event code it cannot process gets a DUH;
anything else an ACK once the event is safely stored (a ``NULL`` link test is ACKed too).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime

import msgspec

from tocsin.ingest.sia_crypto import decode_text, decrypt_body, encrypt_body, key_from_config
from tocsin.ingest.sia_frame import SiaDecodeError, SiaDecryptError, SiaFrame, SiaKeyRequired
from tocsin.ingest.sia_framing import (
    MAX_FRAME_BYTES,
    FrameBuffer,
    crc16_arc,
    encode_frame,
    is_binary_crc_header,
)

__all__ = (
    "MAX_FRAME_BYTES",
    "FrameBuffer",
    "KeyLookup",
    "SiaDecodeError",
    "SiaDecryptError",
    "SiaFrame",
    "SiaKeyRequired",
    "build_ack",
    "build_duh",
    "build_nak",
    "crc16_arc",
    "decrypt_body",
    "encode_frame",
    "encrypt_body",
    "format_timestamp",
    "key_from_config",
    "parse_frame",
    "timestamp_ok",
)

KeyLookup = Callable[[str | None], bytes | None]
"""Finds the AES key for the account named in an encrypted frame's header (None: no key)."""

_TOKEN = re.compile(r'"(\*?)([A-Za-z0-9-]{1,16})"')
_SEQUENCE = re.compile(r"[0-9]{4}")
# R and L are lazy so that NAK's "R0L0A0" reads as receiver 0, line 0, account "A0" (a
# greedy L[0-9A-F]+ would eat "0A0"). The A-form account exists only without a '#'.
_HEADER = re.compile(
    r"(?:R(?P<receiver>[0-9A-Fa-f]{0,6}?))?"
    r"(?:L(?P<line>[0-9A-Fa-f]{0,6}?))?"
    r"(?:#(?P<account>[0-9A-Za-z]{1,16})|(?P<nak_account>A[0-9A-Fa-f]{1,6}))?"
)
_TIMESTAMP = re.compile(r"([0-9]{2}):([0-9]{2}):([0-9]{2}),([0-9]{2})-([0-9]{2})-([0-9]{4})")
_DATA_ACCOUNT = re.compile(r"#([0-9A-Za-z]{1,16})\|")
_PLAIN = re.compile(
    r'"([A-Za-z0-9-]{1,16})"([0-9]{4})R([0-9A-Fa-f]{1,6})L([0-9A-Fa-f]{1,6})#([0-9A-Za-z]{1,16})\[([^\]]*)\](?:_(.*))?',
    re.DOTALL,
)
"""What nearly every frame is: clear, ``R`` and ``L`` with digits, ``#acct``, no extended block.
Read in one match (in :func:`parse_frame`; its groups are :func:`_new_frame`'s fields, in
order) instead of field by field; anything else is read the long way. Both read such a
frame alike (``test_sia_codec``, a hypothesis property)."""
_HEX = re.compile(r"[0-9A-Fa-f]*")


_Sums = tuple[bool, str, str, bytes]
"""A frame's checksums as sent: (binary CRC?, CRC hex, length hex, the region they cover)."""


def _strip_envelope(frame: bytes) -> bytes:
    """Drop trailing NULs, the CR and the LF, keeping a binary CRC that happens to be LF."""
    body = frame.rstrip(b"\x00")
    if body.endswith(b"\r"):
        body = body[:-1]
    if body.startswith(b"\n") and (body[9:10] == b'"' or is_binary_crc_header(body, 1)):
        body = body[1:]
    return body


def _checksums(body: bytes) -> _Sums:
    """Split off CRC and length: (binary CRC?, crc hex, length hex, region they cover)."""
    if body[8:9] == b'"' and _HEX.fullmatch(body[:8].decode("latin-1")):
        return False, body[:4].decode("ascii").upper(), body[4:8].decode("ascii"), body[8:]
    if is_binary_crc_header(body) and _HEX.fullmatch(body[2:6].decode("latin-1")):
        return True, body[:2].hex().upper(), body[2:6].decode("ascii"), body[6:]
    raise SiaDecodeError("not a DC-09 frame: expected 4 hex digits of CRC and 4 of length before the '\"' id token")


def _split_body(text: str, frame: SiaFrame) -> tuple[str, tuple[tuple[str, str], ...], str | None]:
    """Read ``<data>]<[x…]…><_ts>`` into data, extended blocks and timestamp text."""
    close = text.find("]")
    if close < 0:
        raise SiaDecodeError("data block is not closed by ']'", frame=frame)
    data, rest = text[:close], text[close + 1 :]
    extended: list[tuple[str, str]] = []
    while rest.startswith("["):
        end = rest.find("]")
        if end < 0:
            raise SiaDecodeError("extended data block is not closed by ']'", frame=frame)
        if end > 1:
            extended.append((rest[1], rest[2:end]))
        rest = rest[end + 1 :]
    if rest and not rest.startswith("_"):
        raise SiaDecodeError(f"unexpected text after the data block: {rest[:24]!r}", frame=frame)
    return data, tuple(extended), rest[1:] if rest else None


_TIMESTAMPS: dict[str, datetime | None] = {}
_MAX_TIMESTAMPS = 256  # panels reporting in the same second send the same text: parse it once


def _parse_timestamp(text: str | None) -> datetime | None:
    if text is None:
        return None
    if text in _TIMESTAMPS:
        return _TIMESTAMPS[text]
    match = _TIMESTAMP.fullmatch(text)
    if match is None:
        return None
    hour, minute, second, month, day, year = (int(group) for group in match.groups())
    try:
        at: datetime | None = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        at = None  # e.g. month 00 from a receiver that sent JavaScript's 0-based month
    if len(_TIMESTAMPS) >= _MAX_TIMESTAMPS:
        _TIMESTAMPS.clear()
    _TIMESTAMPS[text] = at
    return at


def _header(text: str, raw: bytes, sums: _Sums) -> tuple[SiaFrame, str]:
    """Read id token, sequence and R/L/account; return the frame so far and what follows '['."""
    token = _TOKEN.match(text)
    if token is None:
        raise SiaDecodeError('id token must be 1-16 letters, digits or "-" between double quotes')
    sequence = _SEQUENCE.match(text, token.end())
    if sequence is None:
        raise SiaDecodeError(f"sequence after {token.group(0)} must be 4 decimal digits")
    bracket = text.find("[", sequence.end())
    if bracket < 0:
        raise SiaDecodeError("no data block: '[' is missing")
    header = _HEADER.fullmatch(text, sequence.end(), bracket)
    if header is None:
        fields = text[sequence.end() : bracket]
        raise SiaDecodeError(f"cannot read receiver/line/account fields {fields[:40]!r}")
    frame = _new_frame(
        raw,
        sums,
        token=token.group(2),
        encrypted=token.group(1) == "*",
        sequence=sequence.group(0),
        receiver=header.group("receiver"),
        line=header.group("line"),
        account=header.group("account") or header.group("nak_account"),
        nak_account=header.group("nak_account") is not None,
    )
    return frame, text[bracket + 1 :]


def parse_frame(frame: bytes, *, key: bytes | KeyLookup | None = None) -> SiaFrame:
    """Decode one DC-09 frame.

    Args:
        frame: one frame, with or without its LF/CR envelope (trailing NULs are ignored).
        key: the AES key for encrypted frames, or a function from the header's account to
            the key (None when unknown). Unencrypted frames are decoded whatever is given:
            whether an account may send in clear is the receiver's policy.

    Returns:
        The frame, with ``crc_ok``/``length_ok`` telling whether the checksums matched.

    Raises:
        SiaKeyRequired: the frame is encrypted and there is no key for it (``frame`` has
            the header, so the account can be looked up or the frame answered).
        SiaDecryptError: the key does not decrypt it.
        SiaDecodeError: anything else that makes the bytes unreadable.
    """
    raw, sums, text = _decoded(frame)
    plain = _PLAIN.fullmatch(text)
    if plain is not None:  # the usual frame, in one match (about 1.4 us less)
        return _new_frame(raw, sums, *plain.groups())
    return _parsed(text, raw, sums, key)


def _decoded(frame: bytes) -> tuple[bytes, _Sums, str]:
    """The frame's bytes, its checksums as sent, and the text they cover (from the id token on)."""
    raw = bytes(frame)
    sums = _checksums(_strip_envelope(raw))
    if not sums[3].startswith(b'"'):
        raise SiaDecodeError("not a DC-09 frame: no id token")
    return raw, sums, decode_text(sums[3])


def _new_frame(
    raw: bytes,
    sums: _Sums,
    token: str,
    sequence: str,
    receiver: str | None,
    line: str | None,
    account: str | None,
    data: str = "",
    timestamp_text: str | None = None,
    *,
    encrypted: bool = False,
    nak_account: bool = False,
) -> SiaFrame:
    """A frame with its checksums checked, its timestamp read and its data block's account found.

    The positional fields are :data:`_PLAIN`'s groups, in its order.
    """
    binary, crc_text, length_text, region = sums
    crc = crc16_arc(region)
    return SiaFrame(
        token=token,
        encrypted=encrypted,
        sequence=sequence,
        receiver=receiver,
        line=line,
        account=account,
        nak_account=nak_account,
        data=data,
        extended=(),
        timestamp=_parse_timestamp(timestamp_text),
        timestamp_text=timestamp_text,
        data_account=_data_account(data),
        crc_ok=int(crc_text, 16) == crc,
        length_ok=int(length_text, 16) == len(region),
        raw=raw,
        crc_given=crc_text,
        crc_computed=f"{crc:04X}",
        length_given=int(length_text, 16),
        length_computed=len(region),
        binary_crc=binary,
    )


def _parsed(text: str, raw: bytes, sums: _Sums, key: bytes | KeyLookup | None) -> SiaFrame:
    """Read the frame field by field: every form :func:`parse_frame` accepts."""
    head, rest = _header(text, raw, sums)
    if head.encrypted:
        aes_key = key(head.account) if callable(key) else key
        if aes_key is None:
            raise SiaKeyRequired(
                f"frame is encrypted ({head.token}, account {head.account}) and no key was given",
                frame=head,
            )
        try:
            rest = decrypt_body(rest, aes_key)
        except SiaDecryptError as exc:
            raise SiaDecryptError(exc.detail, frame=head) from exc
    data, extended, timestamp_text = _split_body(rest, head)
    return msgspec.structs.replace(
        head,
        data=data,
        extended=extended,
        timestamp=_parse_timestamp(timestamp_text),
        timestamp_text=timestamp_text,
        data_account=_data_account(data),
    )


def _data_account(data: str) -> str | None:
    """The ``#acct`` a data block starts with (``#acct|…``), for panels that name it only there."""
    found = _DATA_ACCOUNT.match(data)
    return found.group(1) if found else None


# --- answers and the timestamp window ------------------------------------------------------------


def _utc(now: datetime) -> datetime:
    if now.tzinfo is UTC:
        return now
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (DC-09 timestamps are UTC)")
    return now.astimezone(UTC)


_last_stamp: tuple[int, str] = (-1, "")
"""The second and text of the last timestamp formatted: every answer within one second has the same."""


def format_timestamp(now: datetime) -> str:
    """DC-09 timestamp text ``HH:MM:SS,MM-DD-YYYY`` in UTC (calendar month, 01-12)."""
    global _last_stamp
    at = _utc(now)
    second = int(at.timestamp())
    if second == _last_stamp[0]:
        return _last_stamp[1]
    # Formatted field by field: strftime costs more than the rest of an ACK's text.
    text = f"{at.hour:02d}:{at.minute:02d}:{at.second:02d},{at.month:02d}-{at.day:02d}-{at.year:04d}"
    _last_stamp = (second, text)
    return text


def _echo(req: SiaFrame) -> str:
    """The request's sequence, receiver, line and account, as an ACK or DUH repeats them.

    Fields are echoed as received (an absent ``L`` stays absent): the panel matches the
    answer against what it sent. A header without account echoes the data block's.
    """
    parts = [req.sequence]
    if req.receiver is not None:
        parts.append(f"R{req.receiver}")
    if req.line is not None:
        parts.append(f"L{req.line}")
    if req.account is not None:
        parts.append(req.account if req.nak_account else f"#{req.account}")
    elif req.data_account is not None:
        parts.append(f"#{req.data_account}")
    return "".join(parts)


def build_ack(req: SiaFrame, *, key: bytes | None, now: datetime, pad: bytes | None = None) -> bytes:
    """The ACK for a frame received without error.

    Echoes sequence, receiver, line and account, with an empty data block and ``now`` as
    timestamp. When the request was encrypted the ACK is too (``"*ACK"``): random pad
    without ``|[]``, then ``|``, then ``]_timestamp``.

    Args:
        req: the frame being acknowledged.
        key: its account's key; required when ``req.encrypted``.
        now: the receiver's current time, timezone-aware.
        pad: fixed pad bytes, for reproducible tests only.

    Returns:
        The complete frame (LF…CR), in the CRC form the request used.

    Raises:
        ValueError: the request was encrypted and no key is given, or ``now`` is naive.
    """
    timestamp = format_timestamp(now)
    if req.encrypted:
        if key is None:
            raise ValueError("an encrypted request is acknowledged encrypted: its key is needed")
        cipher = encrypt_body(f"]_{timestamp}", key, pad=pad)
        body = f'"*ACK"{_echo(req)}[{cipher}'
    else:
        body = f'"ACK"{_echo(req)}[]_{timestamp}'
    return encode_frame(body.encode("ascii"), binary_crc=req.binary_crc)


def build_nak(now: datetime, *, binary_crc: bool = False) -> bytes:
    """The NAK: ``"NAK"0000R0L0A0[]_HH:MM:SS,MM-DD-YYYY`` with ``now`` in UTC, never encrypted.

    Sent when the timestamp test fails (the panel corrects its clock from it) and for
    frames that cannot be read.

    Args:
        now: the receiver's current time, timezone-aware.
        binary_crc: answer a Lupusec panel in its 2-byte CRC form.

    Returns:
        The complete frame (LF…CR).
    """
    body = f'"NAK"0000R0L0A0[]_{format_timestamp(now)}'
    return encode_frame(body.encode("ascii"), binary_crc=binary_crc)


def build_duh(req: SiaFrame, *, now: datetime | None = None) -> bytes:
    """The DUH: received correctly but not understood (unknown token or code); never encrypted.

    Args:
        req: the frame that could not be processed.
        now: when given, appended as the timestamp.

    Returns:
        The complete frame (LF…CR).
    """
    timestamp = f"_{format_timestamp(now)}" if now is not None else ""
    body = f'"DUH"{_echo(req)}[]{timestamp}'
    return encode_frame(body.encode("ascii"), binary_crc=req.binary_crc)


def timestamp_ok(ts: datetime | None, now: datetime, *, before_s: int = 40, after_s: int = 20) -> bool:
    """Whether a frame's timestamp lies in the accepted window ``now - before_s … now + after_s``.

    A missing or unreadable timestamp (None) is *not* ok. Encrypted frames must carry one;
    clear frames may omit it, so a receiver checks those only when ``timestamp_text`` is
    not None. Out of window, the answer is a NAK carrying the receiver's time.

    Args:
        ts: the frame's timestamp (UTC).
        now: the receiver's current time, timezone-aware.
        before_s: how far in the past it may be (DC-09: 40 s).
        after_s: how far in the future it may be (DC-09: 20 s).

    Returns:
        True if inside the window, bounds included.
    """
    if ts is None:
        return False
    offset = (_utc(ts) - _utc(now)).total_seconds()
    return -before_s <= offset <= after_s
