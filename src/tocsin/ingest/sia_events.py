"""What a SIA DC-09 frame's data block means as tocsin events, and their idempotency keys.

Turns a verified SIA-DCS or ADM-CID frame into :class:`~tocsin.model.EventIn` values: the
alarm type and condition from :mod:`.sia_codes`, the zone/user/area attributes from
:mod:`.sia_payload`, the alarm text from the event or the ``[I…]`` extended data, and an
``external_id`` that is equal for a retransmission (see :func:`frame_external_id`). It owns
no sockets and no reply policy: :mod:`.sia` decides what to answer, and answers DUH when
this module raises :class:`Unprocessable`.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from tocsin.ingest.sia_codec import SiaDecodeError, SiaFrame
from tocsin.ingest.sia_codes import classify_cid, classify_sia, describe_cid, describe_sia, sia_address_kind
from tocsin.ingest.sia_payload import parse_adm_cid, parse_sia_dcs
from tocsin.model import Condition, EventIn, Scalar

__all__ = ("MAX_TEXT", "RETRANSMIT_WINDOW_S", "Unprocessable", "frame_events", "frame_external_id")

RETRANSMIT_WINDOW_S = 600
"""Width of the receipt-time bucket in an event's external id (see :func:`frame_external_id`)."""
MAX_TEXT = 1000
"""Longest alarm text kept in an event's ``text`` attribute and description."""

# Header fields an address kind must not overwrite ("LT" addresses a phone *line*).
_RESERVED_ATTRIBUTES = frozenset({"account", "sequence", "receiver", "line", "code", "text", "condition", "mfrdef"})


def frame_external_id(account: str, frame: SiaFrame, index: int, received: datetime) -> str:
    """The external id of the ``index``-th event of a frame: equal for a retransmission.

    ``{account}:{sequence}:{index}:{tag}``. The sequence alone is not enough: it wraps at
    9999 and many panels restart it at 0001 on power-up, so a new alarm would be taken
    for a copy of an old one and silently not stored. ``tag`` hashes what a resend
    repeats (the token and the decrypted data block) with the receipt time in
    :data:`RETRANSMIT_WINDOW_S` buckets; the timestamp and extended data are left out, as
    a resend may carry new ones. A resend that straddles a bucket edge is stored twice: a
    duplicate event in the same incident, never a lost one.
    """
    return _external_id(account, frame, index, _resend_tag(frame, received))


def _external_id(account: str, frame: SiaFrame, index: int, tag: str) -> str:
    return f"{account}:{frame.sequence}:{index}:{tag}"


def _resend_tag(frame: SiaFrame, received: datetime) -> str:
    """The ``tag`` of :func:`frame_external_id`: the same for every event of one frame."""
    bucket = int(received.timestamp()) // RETRANSMIT_WINDOW_S
    seed = f"{frame.token.upper()}\x00{frame.data}\x00{bucket}".encode()
    return hashlib.blake2b(seed, digest_size=5).hexdigest()


class Unprocessable(Exception):
    """A frame read correctly whose content we cannot make events of: answered with DUH."""


def _text(*candidates: str | None) -> str | None:
    for value in candidates:
        if value:
            return value
    return None


def frame_events(frame: SiaFrame, account: str, site: str | None, received: datetime) -> list[EventIn]:
    """The events of a verified SIA-DCS or ADM-CID frame, in the order sent.

    Args:
        frame: a frame whose CRC and length matched, from a configured account.
        account: the account's canonical (upper-case) id: the events' source is ``sia:<account>``.
        site: the account's site.
        received: when the receiver read it; the events' time when the frame carries none.

    Returns:
        One event per SIA-DCS event block, or the one Contact ID event.

    Raises:
        Unprocessable: no event could be read from the data block.
    """
    base: dict[str, Scalar] = {"account": account, "sequence": frame.sequence}
    if frame.receiver is not None:
        base["receiver"] = frame.receiver
    if frame.line is not None:
        base["line"] = frame.line
    xtext = next(iter(frame.xdata("I")), None)
    # (alarm-type key, condition, fallback type, attributes, code name, text)
    found: list[tuple[str | None, Condition, str, dict[str, Scalar], str | None, str | None]] = []
    if frame.token.upper() == "SIA-DCS":
        for dcs in parse_sia_dcs(frame.data):
            key, condition = classify_sia(dcs.code)
            attrs = {**base, "code": dcs.code}
            if dcs.address:
                kind = sia_address_kind(dcs.code)
                attrs["address" if kind is None or kind in _RESERVED_ATTRIBUTES else kind] = dcs.address
            if dcs.area is not None:
                attrs.setdefault("area", dcs.area)
            if dcs.area_name:
                attrs["area_name"] = dcs.area_name
            if "id" in dcs.modifiers:
                attrs.setdefault("user", dcs.modifiers["id"])
            text = _text(dcs.text, dcs.ascii_text, xtext)
            found.append((key, condition, f"sia.{dcs.code}", attrs, describe_sia(dcs.code), text))
    else:
        try:
            cid = parse_adm_cid(frame.data)
        except SiaDecodeError as exc:
            raise Unprocessable(exc.detail) from exc
        key, condition = classify_cid(cid.qualifier, cid.code)
        attrs = {**base, "code": cid.code, "qualifier": cid.qualifier}
        if cid.group != "00":
            attrs["partition"] = cid.group
        attrs["user" if cid.is_user else "zone"] = cid.zone_or_user
        found.append((key, condition, f"cid.{cid.code}", attrs, describe_cid(cid.code), xtext))
    if not found:
        raise Unprocessable("no event in the data block")
    events = []
    tag = _resend_tag(frame, received)  # hashed once per frame, not once per event
    for index, (key, condition, fallback, attrs, name, text) in enumerate(found):
        if text:
            attrs["text"] = text[:MAX_TEXT]
        events.append(
            EventIn(
                type=key or fallback,
                method="equipment",
                source=f"sia:{account}",
                site=site,
                occurred_at=frame.timestamp or received,
                condition=condition,
                description=_describe(name, text),
                attributes=attrs,
                external_id=_external_id(account, frame, index, tag),
            )
        )
    return events


def _describe(name: str | None, text: str | None) -> str | None:
    if text:
        return (f"{name}: {text}" if name else text)[:MAX_TEXT]
    return name
