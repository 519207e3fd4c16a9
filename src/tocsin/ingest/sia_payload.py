"""What a DC-09 data block says: SIA-DCS (DC-03) events and Ademco Contact ID (DC-05).

``parse_sia_dcs`` reads ``#acct|Nri1/BA503^name^|A…`` into :class:`SiaDcsEvent`s;
``parse_adm_cid`` reads the ``#acct|QXYZ GG CCC`` block of an ``ADM-CID`` frame into an
:class:`AdmCidEvent`; ``parse_contact_id`` reads the 16-digit phone-line form with its
checksum. Codes are kept as sent; their meaning and the alarm type they map to live in
:mod:`tocsin.ingest.sia_codes`. Frames, CRCs and encryption are :mod:`.sia_codec`'s.
"""

from __future__ import annotations

import re

import msgspec

from tocsin.ingest.sia_codes import cid_is_user
from tocsin.ingest.sia_frame import SiaDecodeError

__all__ = (
    "AdmCidEvent",
    "ContactIdMessage",
    "SiaDcsEvent",
    "contact_id_checksum",
    "parse_adm_cid",
    "parse_contact_id",
    "parse_sia_dcs",
)

_MODIFIER = re.compile(r"([a-z]{2})([0-9:.\-]*)")
# The address is lazy up to the next code, modifier, '/', '^' or the end, so "OP001NM" is
# OP 001 then NM, and "BA0A1" keeps its hex address when no code follows.
_EVENT = re.compile(r"([A-Z]{2})([0-9A-Fa-f:.\-]*?)(?=[A-Z]{2}|[a-z]{2}|[/^]|$)")
_EVENT_GREEDY = re.compile(r"([A-Z]{2})([0-9A-Fa-f:.\-]*)")
_PLAIN = re.compile(r"(?:#([0-9A-Za-z]*)\|)?N(?:ri([0-9]*)/)?([A-Z]{2})([0-9]*)")
"""What nearly every SIA-DCS data block is: one event, a decimal address, perhaps an area:
``#1234|Nri1/BA011``. Read in one match instead of block by block and character by
character; anything else is read the long way. Both read such a block alike
(``test_sia_payload``, a hypothesis property)."""
_ADM_CID = re.compile(
    r"\s*(?:#(?P<account>[0-9A-Za-z]*)\s*)?\|?\s*"
    r"(?P<qualifier>[0-9A-Fa-f])\s*(?P<code>[0-9A-Fa-f]{3})\s*"
    r"(?P<group>[0-9A-Fa-f]{2})\s*(?P<zone>[0-9A-Fa-f]{3})\s*"
)
_DTMF_VALUE = {**{str(d): d for d in range(1, 10)}, "0": 10, "B": 11, "C": 12, "D": 13, "E": 14, "F": 15}


class SiaDcsEvent(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One SIA-DCS event: a two-letter code, its address (zone, user, area… as the code says).

    ``modifiers`` are those in force for it (``ri`` area, ``id`` user, ``ti`` time, ``da``
    date, ``pi`` peripheral…), which carry over across ``/`` within one ``N`` block.
    """

    code: str
    address: str = ""
    text: str | None = None
    area: str | None = None
    area_name: str | None = None
    modifiers: dict[str, str] = {}
    account: str | None = None
    ascii_text: str | None = None


class AdmCidEvent(msgspec.Struct, frozen=True, kw_only=True):
    """One Contact ID event from an ``ADM-CID`` data block.

    ``qualifier`` is ``1`` new event / opening, ``3`` restore / closing, ``6`` still present
    (status); others are kept as sent. ``group`` is the partition (``00``: none).
    """

    account: str | None
    qualifier: str
    code: str
    group: str
    zone_or_user: str

    @property
    def is_user(self) -> bool:
        """Whether ``zone_or_user`` is a user number for this code (else a zone)."""
        return cid_is_user(self.code)


class ContactIdMessage(msgspec.Struct, frozen=True, kw_only=True):
    """A 16-digit Contact ID message ``ACCT MT Q XYZ GG CCC S`` as sent over a phone line."""

    account: str
    message_type: str
    qualifier: str
    code: str
    group: str
    zone_or_user: str
    checksum: str
    checksum_ok: bool


def _split_blocks(data: str) -> list[str]:
    """Split on '|' outside ``^text^``."""
    if "^" not in data:  # no text: every '|' separates (the usual frame, without a loop per character)
        return data.split("|")
    blocks, start, in_text = [], 0, False
    for index, char in enumerate(data):
        if char == "^":
            in_text = not in_text
        elif char == "|" and not in_text:
            blocks.append(data[start:index])
            start = index + 1
    blocks.append(data[start:])
    return blocks


def _caret_text(content: str, index: int) -> tuple[str, int]:
    """Read ``^text^`` starting at ``index`` (a missing closing '^' runs to the end)."""
    end = content.find("^", index + 1)
    if end < 0:
        return content[index + 1 :], len(content)
    return content[index + 1 : end], end + 1


def _event_block(content: str, account: str | None) -> list[SiaDcsEvent]:
    """Read one ``N`` block's content: modifiers and events, ``/`` between events."""
    events: list[SiaDcsEvent] = []
    modifiers: dict[str, str] = {}
    area_name: str | None = None
    index = 0
    while index < len(content):
        char = content[index]
        if char == "/":
            index += 1
        elif char.islower() and (modifier := _MODIFIER.match(content, index)):
            modifiers[modifier.group(1)] = modifier.group(2)
            index = modifier.end()
            if content.startswith("^", index):
                name, index = _caret_text(content, index)
                if modifier.group(1) == "ri":
                    area_name = name
        elif char.isupper() and (event := _EVENT.match(content, index) or _EVENT_GREEDY.match(content, index)):
            index = event.end()
            text = None
            if content.startswith("^", index):
                text, index = _caret_text(content, index)
            events.append(
                SiaDcsEvent(
                    code=event.group(1),
                    address=event.group(2),
                    text=text,
                    area=modifiers.get("ri"),
                    area_name=area_name if "ri" in modifiers else None,
                    modifiers=dict(modifiers),
                    account=account,
                )
            )
        else:
            index += 1  # a stray character: skip it rather than lose the block's events
    return events


def parse_sia_dcs(data: str) -> list[SiaDcsEvent]:
    """Read a SIA-DCS data block into its events.

    ``#acct|Nri1/BA503^Hall^|Atext``: blocks separated by ``|``; an optional first ``#acct``
    block; ``N`` blocks of modifiers and events; ``A`` blocks of ASCII text, which attach to
    the last event before them (``A`` then a capital opens an event block when no event came
    before, e.g. an un-marked ``AT`` AC trouble). A block without its ``N`` is read as one.
    Never raises: what cannot be read is skipped, so an empty list means "no event in there".

    Args:
        data: the frame's data block, without brackets.

    Returns:
        The events in the order sent.
    """
    plain = _PLAIN.fullmatch(data)
    if plain is not None:
        account, area, code, address = plain.groups()
        modifiers = {} if area is None else {"ri": area}
        return [SiaDcsEvent(code=code, address=address, area=area, modifiers=modifiers, account=account or None)]
    return _read_blocks(data)


def _read_blocks(data: str) -> list[SiaDcsEvent]:
    """:func:`parse_sia_dcs` block by block: every form it accepts."""
    events: list[SiaDcsEvent] = []
    account: str | None = None
    for position, block in enumerate(_split_blocks(data)):
        if not block:
            continue
        if position == 0 and block.startswith("#"):
            account = block[1:] or None
        elif block.startswith("A") and (events or not block[1:2].isupper()):
            if events:
                events[-1] = msgspec.structs.replace(events[-1], ascii_text=block[1:])
        else:
            events.extend(_event_block(block[1:] if block.startswith("N") else block, account))
    return events


def parse_adm_cid(data: str) -> AdmCidEvent:
    """Read the data block of an ``ADM-CID`` frame: ``#acct|QXYZ GG CCC``.

    No message type and no checksum inside DC-09. Spaces between the fields are optional.

    Args:
        data: the frame's data block, without brackets.

    Returns:
        The event; codes keep their case-folded-to-upper hex digits.

    Raises:
        SiaDecodeError: the block is not ``Q XYZ GG CCC``.
    """
    match = _ADM_CID.fullmatch(data)
    if match is None:
        raise SiaDecodeError(f"ADM-CID data must be '#acct|QXYZ GG CCC', got {data[:40]!r}")
    return AdmCidEvent(
        account=match.group("account") or None,
        qualifier=match.group("qualifier").upper(),
        code=match.group("code").upper(),
        group=match.group("group").upper(),
        zone_or_user=match.group("zone").upper(),
    )


def contact_id_checksum(digits: str) -> str:
    """The 16th digit that makes a Contact ID message's digit sum a multiple of 15.

    Digit ``0`` counts 10, ``B``…``F`` 11…15; a result of 10 is sent as ``0``, 15 as ``F``.

    Raises:
        ValueError: a character that is not a DC-05 digit (``A`` is not one).
    """
    try:
        total = sum(_DTMF_VALUE[char] for char in digits.upper())
    except KeyError as exc:
        raise ValueError(f"{exc.args[0]!r} is not a Contact ID digit (0-9, B-F)") from exc
    value = 15 - total % 15
    return "0" if value == 10 else "123456789_BCDEF"[value - 1]


def parse_contact_id(message: str) -> ContactIdMessage:
    """Read a 16-digit Contact ID message (``ACCT MT Q XYZ GG CCC S``) and check its sum.

    Args:
        message: the 16 DTMF digits, spaces allowed.

    Returns:
        The fields; ``checksum_ok`` says whether the sum rule holds.

    Raises:
        SiaDecodeError: not 16 Contact ID digits.
    """
    digits = message.replace(" ", "").upper()
    if len(digits) != 16 or any(char not in _DTMF_VALUE for char in digits):
        raise SiaDecodeError(f"a Contact ID message is 16 digits 0-9/B-F, got {message[:32]!r}")
    return ContactIdMessage(
        account=digits[0:4],
        message_type=digits[4:6],
        qualifier=digits[6],
        code=digits[7:10],
        group=digits[10:12],
        zone_or_user=digits[12:15],
        checksum=digits[15],
        checksum_ok=sum(_DTMF_VALUE[char] for char in digits) % 15 == 0,
    )
