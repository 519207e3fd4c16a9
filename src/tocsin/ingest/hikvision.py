"""Hikvision ISAPI events: ``EventNotificationAlert`` as XML, JSON or multipart, pushed or streamed.

Two delivery modes, one vocabulary. :func:`parse_isapi` reads one HTTP body a device POSTs to
its configured alarm server ("HTTP listening"): bare XML (under any of the ISAPI namespaces,
or none), JSON, or ``multipart/form-data``/``multipart/mixed`` with an XML or JSON part and
picture parts. :class:`AlertStreamParser` reads the endless multipart body of
``GET /ISAPI/Event/notification/alertStream`` as it arrives. Pictures are counted and sized,
never kept. Identity fields (ANPR plates, face captures and library matches, person names,
card and employee numbers, human attributes) are dropped before anything leaves this module;
see :mod:`tocsin.ingest.camera`. Connecting, authenticating (Digest) and reconnecting are the
caller's job.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from xml.etree.ElementTree import Element

import msgspec

from tocsin.ingest.camera import (
    DEFAULT_MAX_BYTES,
    CameraDecodeError,
    CameraEvent,
    CameraStream,
    Details,
    MultipartStream,
    Part,
    check_size,
    flatten_json,
    is_dropped_field,
    local_name,
    parse_content_type,
    parse_xml,
)

__all__ = ("EVENT_TYPES", "AlertStreamParser", "parse_isapi")

EVENT_TYPES: tuple[str, ...] = (
    "VMD", "VMDHumanVehicle", "linedetection", "fielddetection", "regionEntrance", "regionExiting",
    "loitering", "group", "rapidMove", "parking", "unattendedBaggage", "attendedBaggage",
    "audioexception", "scenechangedetection", "defocus", "facedetection", "faceCapture", "ANPR",
    "vehicledetection", "videoloss", "shelteralarm", "tamperdetection", "PIR", "IO", "alarmIn",
    "diskfull", "diskerror", "illaccess", "ipconflict", "nicbroken", "videomismatch", "badvideo",
    "recordingfailure", "duration", "thermometry", "temperature", "TMA", "TMPA", "fireDetection",
    "smokeDetection", "falldown", "advReachHeight", "AccessControllerEvent", "heartBeat",
)  # fmt: skip
"""Known ``eventType`` values in their canonical spelling. Devices differ in case
(``vmd``, ``VMD``); codes are matched case-insensitively and reported in this spelling, so
that the mapping table needs one key per type. Unknown types are reported as sent."""

_CANONICAL = {name.lower(): name for name in EVENT_TYPES}
_XML_TYPES = frozenset({"application/xml", "text/xml"})
_JSON_TYPES = frozenset({"application/json", "text/json"})
_MULTIPART_TYPES = frozenset({"multipart/form-data", "multipart/mixed"})
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
_BARE_AMPERSAND = re.compile(rb"&(?!(?:[A-Za-z_][\w.\-]*|#[0-9]+|#x[0-9A-Fa-f]+);)")
# Geometry and picture bookkeeping: noise in an alarm record.
_NOISE = frozenset({"RegionCoordinatesList", "TargetRect", "pictureInfoList", "plateRect", "Rect", "BoundingBox"})
_STATES = {"active": True, "inactive": False}


def parse_isapi(body: bytes, content_type: str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> list[CameraEvent]:
    """Parse one body a Hikvision device POSTed to its alarm server.

    Args:
        body: the HTTP body as received.
        content_type: the request's Content-Type header (``application/xml``,
            ``application/json``, ``multipart/form-data; boundary=…``, ``multipart/mixed; …``).
        max_bytes: refuse bodies larger than this (pictures included).

    Returns:
        The events in the body: one for XML or JSON, one per XML/JSON part for multipart. In
        multipart bodies every event gets ``image_count``, ``image_bytes`` and ``image_sizes``.

    Raises:
        CameraDecodeError: wrong content type, malformed or unsafe XML/JSON, not an
            ``EventNotificationAlert``, no ``eventType``, unknown ``eventState``, a multipart
            body without an event part or with a truncated part.
        CameraPayloadTooLarge: over ``max_bytes``.
    """
    check_size(body, max_bytes, "ISAPI event")
    media, params = parse_content_type(content_type)
    if media in _XML_TYPES or media.endswith("+xml"):
        return [_from_xml(body, "ISAPI event")]
    if media in _JSON_TYPES or media.endswith("+json"):
        return [_from_json(body, "ISAPI event")]
    if media in _MULTIPART_TYPES:
        return _from_multipart(body, params.get("boundary"), max_bytes)
    raise CameraDecodeError(
        f"ISAPI event: unsupported content type {media or '(none)'!r}; expected XML, JSON or multipart"
    )


class AlertStreamParser(CameraStream):
    """Reads ``GET /ISAPI/Event/notification/alertStream``: parts in, events out.

    Feed it whatever the connection yields; parts are reassembled across chunk boundaries.
    Devices send a ``videoloss``/``inactive`` part about every 10 s; it comes out as an event
    with ``heartbeat=True`` (use it to pet a watchdog). Picture parts are discarded as they
    arrive; their number is kept in :attr:`images_skipped`. Not thread-safe.

    Args:
        content_type: the response's Content-Type (its ``boundary``); None to detect the
            boundary from the first line of the body.
        max_part_bytes: bound on one buffered XML/JSON part.
    """

    def __init__(self, content_type: str | None = None, *, max_part_bytes: int = DEFAULT_MAX_BYTES) -> None:
        boundary = parse_content_type(content_type)[1].get("boundary") if content_type else None
        super().__init__(
            MultipartStream(boundary, max_part_bytes=max_part_bytes, skip=_is_picture, what="ISAPI alertStream")
        )
        self.images_skipped = 0

    def decode_part(self, part: Part) -> list[CameraEvent]:
        """Decode one part: an event for XML/JSON, none for pictures and empty parts."""
        if part.skipped or _is_jpeg(part.body):
            self.images_skipped += 1
            return []
        if part.truncated:
            raise CameraDecodeError("ISAPI alertStream: the stream ended inside a part")
        if not part.body.strip():
            return []
        return [_decode_part(part, "ISAPI alertStream part")]


def _is_picture(headers: Mapping[str, str]) -> bool:
    # By content type only: devices name their XML parts as files too (filename="anpr.xml").
    media = parse_content_type(headers.get("content-type", ""))[0]
    return media.startswith("image/") or media == "application/octet-stream"


def _is_jpeg(body: bytes) -> bool:
    return body.startswith(b"\xff\xd8\xff")


def _decode_part(part: Part, what: str) -> CameraEvent:
    media = parse_content_type(part.headers.get("content-type", ""))[0]
    start = part.body.lstrip()[:1]
    if media in _XML_TYPES or media.endswith("+xml") or (not media.startswith("application/json") and start == b"<"):
        return _from_xml(part.body, what)
    if media in _JSON_TYPES or media.endswith("+json") or start == b"{":
        return _from_json(part.body, what)
    raise CameraDecodeError(f"{what}: neither XML nor JSON (content type {media or '(none)'!r})")


def _from_multipart(body: bytes, boundary: str | None, max_bytes: int) -> list[CameraEvent]:
    stream = MultipartStream(boundary, max_part_bytes=max_bytes, skip=_is_picture, what="ISAPI multipart event")
    if boundary is not None and b"--" + boundary.encode("ascii") not in body:
        raise CameraDecodeError(f"ISAPI multipart event: declared boundary {boundary[:70]!r} not found in the body")
    parts = stream.feed(body) + stream.close()
    events: list[CameraEvent] = []
    sizes: list[int] = []
    for index, part in enumerate(parts):
        if part.truncated:
            raise CameraDecodeError(f"ISAPI multipart event: part {index + 1} is truncated")
        if part.skipped or _is_jpeg(part.body):
            sizes.append(part.size)
        elif part.body.strip():
            events.append(_decode_part(part, f"ISAPI multipart event part {index + 1}"))
    if not events:
        raise CameraDecodeError("ISAPI multipart event: no XML or JSON part")
    pictures: dict[str, int | str] = {
        "image_count": len(sizes),
        "image_bytes": sum(sizes),
        "image_sizes": ",".join(map(str, sizes[:32])),
    }
    return [msgspec.structs.replace(ev, details={**ev.details, **pictures}) for ev in events]


def _from_xml(body: bytes, what: str) -> CameraEvent:
    try:
        root, _ = parse_xml(body, what=what)
    except CameraDecodeError:
        # Some firmware sends a bare "&" (eventPush "VMD&&SERIAL…"); escape it and retry once.
        repaired = _BARE_AMPERSAND.sub(b"&amp;", body)
        if repaired == body:
            raise
        root, _ = parse_xml(repaired, what=what)
    name = local_name(root.tag)
    if name != "EventNotificationAlert":
        raise CameraDecodeError(f"{what}: root element is {name!r}, not EventNotificationAlert")
    details = Details()
    if root.get("version"):
        details.add("version", root.get("version"))
    top: dict[str, str] = {}
    for child in root:
        key = local_name(child.tag)
        if key and len(child) == 0 and not is_dropped_field(key):
            top.setdefault(key, (child.text or "").strip())
    _flatten_xml(root, details, "", 0)
    relation = _xml_text(root, "DurationList", "Duration", "relationEvent")
    serial = _xml_text(root, "Extensions", "serialNumber")
    return _event(top, details, relation, serial, what)


def _flatten_xml(element: Element, details: Details, prefix: str, depth: int) -> None:
    list_item = local_name(element.tag).endswith("List")
    for child in element:
        name = local_name(child.tag)
        if not name or name in _NOISE:
            continue
        if is_dropped_field(name):
            details.drop(name)
            continue
        path = prefix if list_item else (f"{prefix}.{name}" if prefix else name)
        if len(child) == 0:
            details.add(path, (child.text or "").strip())
        elif depth < 8:
            _flatten_xml(child, details, path, depth + 1)


def _xml_text(root: Element, *path: str) -> str | None:
    level = [root]
    for name in path:
        level = [child for element in level for child in element if local_name(child.tag) == name][:16]
    for element in level:
        if element.text and element.text.strip():
            return element.text.strip()
    return None


def _from_json(body: bytes, what: str) -> CameraEvent:
    try:
        document = msgspec.json.decode(body)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise CameraDecodeError(f"{what}: not valid JSON ({exc})") from exc
    if isinstance(document, dict) and isinstance(document.get("EventNotificationAlert"), dict):
        document = document["EventNotificationAlert"]
    if not isinstance(document, dict):
        raise CameraDecodeError(f"{what}: JSON event is not an object")
    details = Details()
    flatten_json(document, details)
    top = {
        key: str(value).strip()
        for key, value in document.items()
        if isinstance(value, str | int | float) and not isinstance(value, bool) and not is_dropped_field(key)
    }
    relation = _json_text(document, "DurationList", "Duration", "relationEvent")
    serial = _json_text(document, "Extensions", "serialNumber")
    return _event(top, details, relation, serial, what)


def _json_text(document: object, *path: str) -> str | None:
    value = document
    for name in path:
        if isinstance(value, list):
            value = value[0] if value else None
        value = value.get(name) if isinstance(value, dict) else None
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    return str(value).strip() or None


def _event(top: dict[str, str], details: Details, relation: str | None, serial: str | None, what: str) -> CameraEvent:
    code = _code(top.get("eventType", ""), what)
    if code == "duration" and relation:
        # "duration" wraps the event that lasts; the wrapped type is what happened.
        code = _code(relation, what)
    state = top.get("eventState", "").lower()
    if state and state not in _STATES:
        raise CameraDecodeError(f"{what}: unknown eventState {state[:40]!r}")
    active = _STATES.get(state, True)
    uuid = top.get("UUID") or None
    return CameraEvent(
        vendor="hikvision",
        code=code,
        active=active,
        occurred_at=_date_time(top.get("dateTime")),
        channel=_first(top.get("channelID"), top.get("dynChannelID")),
        device=_first(top.get("macAddress"), serial, top.get("ipAddress"), top.get("ipv6Address")),
        heartbeat=(code == "videoloss" and not active) or code == "heartBeat",
        details=details.items,
        dropped=tuple(details.dropped),
        external_id=uuid[:200] if uuid else None,
    )


def _first(*values: str | None) -> str | None:
    return next((value[:200] for value in values if value), None)


def _code(event_type: str, what: str) -> str:
    raw = event_type.strip()
    if not raw:
        raise CameraDecodeError(f"{what}: no eventType")
    if not _CODE.match(raw):
        raise CameraDecodeError(f"{what}: malformed eventType {raw[:40]!r}")
    return _CANONICAL.get(raw.lower(), raw)


def _date_time(value: str | None) -> datetime | None:
    """ISO 8601 with offset; None when absent, malformed (seen in the field) or without offset."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("z", "Z"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None
