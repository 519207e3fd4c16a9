"""ONVIF events: WS-BaseNotification ``Notify`` bodies and ``PullMessages`` responses.

One entry point, :func:`parse_onvif_notify`, turns the bytes a camera pushed (``Notify``) or
answered (``PullMessagesResponse``; also the ``tt:MetadataStream`` events of an RTSP
metadata track) into :class:`~tocsin.ingest.camera.CameraEvent` values, one per
``wsnt:NotificationMessage``. The topic's QName prefixes are resolved through the
namespaces in scope on the ``wsnt:Topic`` element, so ``x:RuleEngine/…`` with
``xmlns:x="http://www.onvif.org/ver10/topics"`` reads as ``tns1:RuleEngine/…``; topics in
namespaces this module does not know keep their URI (``{uri}Local``). Subscribing, renewing
and pulling are the caller's job; this module parses only.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from xml.etree.ElementTree import Element

from tocsin.ingest.camera import (
    DEFAULT_MAX_BYTES,
    MAX_CODE_CHARS,
    CameraDecodeError,
    CameraEvent,
    CameraPayloadTooLarge,
    Details,
    check_size,
    is_dropped_field,
    local_name,
    parse_xml,
)

__all__ = ("MAX_MESSAGES", "TOPIC_PREFIXES", "parse_onvif_notify", "parse_onvif_bool")

MAX_MESSAGES = 1000
"""Most notification messages accepted in one body (PullMessages asks for at most ~100)."""

TOPIC_PREFIXES: dict[str, str] = {
    "http://www.onvif.org/ver10/topics": "tns1",
    "http://www.axis.com/2009/event/topics": "tnsaxis",
    "http://www.hikvision.com/2011/event/topics": "tnshik",
}
"""Canonical prefixes of the topic namespaces known here; others keep their full URI."""

_WSNT = "http://docs.oasis-open.org/wsn/b-2"
_SOAP = ("http://www.w3.org/2003/05/soap-envelope", "http://schemas.xmlsoap.org/soap/envelope/")
_FAULTS = frozenset(f"{{{ns}}}Fault" for ns in _SOAP)
_ROOT_NAMESPACES = frozenset(
    {
        *_SOAP,
        _WSNT,
        "http://www.onvif.org/ver10/events/wsdl",
        "http://www.onvif.org/ver10/schema",
    }
)
_BOOLS = {"true": True, "1": True, "active": True, "false": False, "0": False, "inactive": False}
_STATE_ITEMS = ("ismotion", "state", "istamper", "isinside", "logicalstate", "active", "alarm", "triggered")
_CHANNEL_ITEMS = (
    "VideoSourceConfigurationToken",
    "VideoSourceToken",
    "Source",
    "InputToken",
    "RelayToken",
    "AudioSourceConfigurationToken",
    "VideoSource",
)
_NOT_A_CHANNEL = frozenset({"Rule", "VideoAnalyticsConfigurationToken"})
_NCNAME = re.compile(r"^[A-Za-z_][\w.\-]*$")
_FRACTION = re.compile(r"(\.\d{6})\d+")


def parse_onvif_bool(value: str) -> bool | None:
    """Read an ONVIF state value: true/1/active → True, false/0/inactive → False, else None."""
    return _BOOLS.get(value.strip().lower())


def parse_onvif_notify(body: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> list[CameraEvent]:
    """Parse a ``Notify`` (SOAP 1.2/1.1 envelope or bare) or a ``PullMessagesResponse``.

    Args:
        body: the HTTP body as received.
        max_bytes: refuse bodies larger than this.

    Returns:
        One event per ``wsnt:NotificationMessage``, in document order; an empty list for a
        PullMessages timeout (or any ONVIF/SOAP body that carries no notification).

    Raises:
        CameraDecodeError: not well-formed or unsafe XML, a SOAP fault, not an ONVIF/SOAP
            document, a message without topic or ``tt:Message``, an undeclared topic prefix.
        CameraPayloadTooLarge: over ``max_bytes`` or :data:`MAX_MESSAGES` messages.
    """
    check_size(body, max_bytes, "ONVIF notification")
    root, scopes = parse_xml(body, what="ONVIF notification", scopes_for=f"{{{_WSNT}}}Topic")
    namespace = root.tag[1:].partition("}")[0] if root.tag.startswith("{") else ""
    if namespace not in _ROOT_NAMESPACES:
        raise CameraDecodeError(f"not an ONVIF notification: root element is {root.tag!r}")
    for element in root.iter():
        if element.tag in _FAULTS:
            reason = " ".join(t.strip() for t in element.itertext() if t.strip())[:200]
            raise CameraDecodeError(f"ONVIF SOAP fault: {reason or 'no reason given'}")
    events: list[CameraEvent] = []
    for message in root.iter(f"{{{_WSNT}}}NotificationMessage"):
        if len(events) >= MAX_MESSAGES:
            raise CameraPayloadTooLarge(f"ONVIF notification holds more than {MAX_MESSAGES} messages")
        events.append(_message(message, scopes, len(events)))
    return events


def _message(message: Element, scopes: dict[Element, dict[str, str]], index: int) -> CameraEvent:
    where = f"ONVIF NotificationMessage #{index + 1}"
    topic = message.find(f"{{{_WSNT}}}Topic")
    if topic is None:
        raise CameraDecodeError(f"{where}: no wsnt:Topic")
    code = _canonical_topic(topic.text or "", scopes.get(topic, {}), where)
    holder = message.find(f"{{{_WSNT}}}Message")
    inner = None
    if holder is not None:
        inner = next((child for child in holder if local_name(child.tag) == "Message"), None)
    if inner is None:
        raise CameraDecodeError(f"{where}: no tt:Message inside wsnt:Message")

    details = Details()
    dialect = topic.get("Dialect")
    if dialect:
        details.add("topic_dialect", dialect)
    operation = inner.get("PropertyOperation")
    if operation:
        details.add("property_operation", operation)
    utc_time = inner.get("UtcTime")
    occurred_at = _utc_time(utc_time)
    if utc_time and occurred_at is None:
        details.add("utc_time", utc_time)

    items: dict[str, dict[str, str]] = {"Source": {}, "Key": {}, "Data": {}}
    for child in inner:
        group = local_name(child.tag)
        if group in items:
            _items(child, items[group], details, where)

    active = operation != "Deleted"
    state_seen = False
    for name, value in items["Source"].items():
        details.add(f"source.{name}", value)
    for name, value in items["Key"].items():
        details.add(f"key.{name}", value)
    for name, value in items["Data"].items():
        flag = parse_onvif_bool(value) if _is_state(name, value) else None
        details.add(f"data.{name}", value if flag is None else flag)
        if flag is not None and not state_seen:
            state_seen = True
            active = active and flag

    return CameraEvent(
        vendor="onvif",
        code=code,
        active=active,
        occurred_at=occurred_at,
        channel=_channel(items["Source"]),
        device=_producer(message),
        details=details.items,
        dropped=tuple(details.dropped),
    )


def _items(group: Element, out: dict[str, str], details: Details, where: str) -> None:
    for item in group:
        kind = local_name(item.tag)
        if kind not in ("SimpleItem", "ElementItem"):
            continue
        name = item.get("Name")
        if not name:
            raise CameraDecodeError(f"{where}: {kind} without Name")
        if is_dropped_field(name):
            details.drop(name)
        elif kind == "SimpleItem":  # ElementItems carry arbitrary XML; they are not kept
            out.setdefault(name, item.get("Value", ""))


def _is_state(name: str, value: str) -> bool:
    lowered = name.lower()
    if lowered in _STATE_ITEMS or re.match(r"^Is[A-Z]", name):
        return True
    return value.strip().lower() in ("true", "false", "active", "inactive")


def _canonical_topic(text: str, scope: dict[str, str], where: str) -> str:
    topic = text.strip()
    if not topic:
        raise CameraDecodeError(f"{where}: empty topic")
    if len(topic) > 512 or any(c.isspace() for c in topic):
        raise CameraDecodeError(f"{where}: malformed topic {topic[:80]!r}")
    segments: list[str] = []
    for segment in topic.split("/"):
        prefix, colon, local = segment.partition(":")
        if not colon:
            prefix, local = "", segment
        if not _NCNAME.match(local) or (colon and not _NCNAME.match(prefix)):
            raise CameraDecodeError(f"{where}: malformed topic {topic[:80]!r}")
        if not colon:
            segments.append(local)
            continue
        uri = scope.get(prefix)
        if uri is None:
            raise CameraDecodeError(f"{where}: topic prefix {prefix!r} is not declared")
        known = TOPIC_PREFIXES.get(uri)
        segments.append(f"{known}:{local}" if known else f"{{{uri}}}{local}")
    code = "/".join(segments)
    if len(code) > MAX_CODE_CHARS:
        raise CameraDecodeError(f"{where}: topic longer than {MAX_CODE_CHARS} characters")
    return code


def _utc_time(value: str | None) -> datetime | None:
    """UtcTime as an aware datetime; a value without offset is UTC by definition; junk → None."""
    if not value:
        return None
    text = _FRACTION.sub(r"\1", value.strip())
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _channel(source: dict[str, str]) -> str | None:
    for name in _CHANNEL_ITEMS:
        if source.get(name):
            return source[name][:200]
    for name, value in source.items():
        if value and name not in _NOT_A_CHANNEL:
            return value[:200]
    return None


def _producer(message: Element) -> str | None:
    producer = message.find(f"{{{_WSNT}}}ProducerReference")
    if producer is None:
        return None
    for element in producer:
        if local_name(element.tag) == "Address" and element.text and element.text.strip():
            return element.text.strip()[:200]
    return None
