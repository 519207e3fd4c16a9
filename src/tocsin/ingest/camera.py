"""What IP cameras report, before mapping: the shared vocabulary of the camera adapters.

The ONVIF, Hikvision ISAPI and Dahua adapters (:mod:`.onvif`, :mod:`.hikvision`,
:mod:`.dahua`) each turn their wire format into :class:`CameraEvent` values; this module
owns that struct, its conversion into an :class:`~tocsin.model.EventIn`, the default
vendor-code mapping (``data/mappings/cameras.toml``) and the toolkit the adapters share:
hardened XML parsing (defusedxml: no DTDs, no entities, no external references), bounded
detail flattening and the base of the stream parsers. Size limits and errors live in
:mod:`.camera_bounds`, the multipart splitter in :mod:`.camera_multipart`; both are
re-exported here. It does no networking and touches no database.

Civil-liberties rule: cameras can report who someone is (licence plates, faces, face-library
matches, names, card numbers) and what they look like (age, gender, clothing). Adapters drop
every such field *before* anything is stored, whatever the event, and keep only the *names*
of the fields they removed in :attr:`CameraEvent.dropped` so that callers can count them.
The rule is a deny-list (:data:`DROPPED_FIELDS`, :data:`DROPPED_WORDS`) applied to every key
the adapters flatten; a dropped block is dropped whole, values and all.
"""

from __future__ import annotations

import abc
import io
import math
import re
import tomllib
from collections import deque
from collections.abc import Callable, Iterable
from datetime import datetime
from importlib import resources
from typing import Literal, NamedTuple
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as _defused  # type: ignore[import-untyped]
import msgspec
from defusedxml import DefusedXmlException

from tocsin.ingest.camera_bounds import DEFAULT_MAX_BYTES, CameraDecodeError, CameraPayloadTooLarge, check_size
from tocsin.ingest.camera_multipart import MultipartStream, Part, parse_content_type
from tocsin.model import EventIn

__all__ = (
    "DEFAULT_MAX_BYTES",
    "DROPPED_FIELDS",
    "DROPPED_WORDS",
    "MAX_CODE_CHARS",
    "MAX_DETAILS",
    "MAX_TEXT_CHARS",
    "CameraBatch",
    "CameraDecodeError",
    "CameraEvent",
    "CameraPayloadTooLarge",
    "CameraStream",
    "Details",
    "DetailValue",
    "MultipartStream",
    "Part",
    "Vendor",
    "camera_batch",
    "camera_mapping",
    "check_size",
    "flatten_json",
    "is_dropped_field",
    "local_name",
    "parse_content_type",
    "parse_xml",
    "to_event_in",
)

_encode = msgspec.json.Encoder().encode

Vendor = Literal["onvif", "hikvision", "dahua"]
DetailValue = str | int | float | bool | None

MAX_DETAILS = 64
"""Most detail entries kept per event; later ones are ignored (first occurrence wins)."""
MAX_TEXT_CHARS = 256
"""Longest string detail value kept; longer values are cut to this many characters."""
MAX_CODE_CHARS = 190
"""Longest event code, so that ``"<vendor>.<code>"`` fits ``EventIn.type`` (200)."""
_MAX_DEPTH = 12
_MAX_DROPPED = 32
_MAX_KEY_CHARS = 64
_INT64 = 2**63

DROPPED_FIELDS: frozenset[str] = frozenset(
    {
        # licence plates and the ANPR records around them
        "anpr", "lpr", "licenseplate", "originallicenseplate", "platenumber", "plateno", "platetext",
        "plate", "plates", "vehicleplate", "trafficcar", "text",  # Dahua puts plate OCR in Object.Text
        # faces, face libraries and match results
        "facecapture", "facematch", "facelib", "facelibtype", "faces", "face", "fdid", "candidates",
        "similarity", "targetattrs", "humanattribute", "humanattributes", "personinfo", "person",
        # person identifiers
        "name", "personname", "personid", "personcode", "employeeno", "employeenostring", "employeeid",
        "cardno", "cardnumber", "cardid", "userid", "username", "idcard", "idcardno", "idno",
        "idnumber", "certificatenumber", "certificateno", "phone", "phonenumber", "email",
        "birthday", "birthdate", "dateofbirth",
        # person attributes (appearance, health)
        "age", "agegroup", "gender", "sex", "ethnicity", "race", "nation", "nationality", "glass",
        "glasses", "beard", "mustache", "moustache", "emotion", "expression", "smile", "mask", "hat",
        "cap", "hairstyle", "skincolor", "upperbodycolor", "lowerbodycolor", "coatcolor",
        "jacetcolor", "jacketcolor", "trouserscolor", "trouserstype", "clothes", "currtemperature",
        "isabnomaltemperature", "isabnormaltemperature",
        # URLs of captured pictures (of people or plates)
        "pictureurl", "picurl", "bkgurl", "snapurl", "imageurl", "photourl", "captureurl",
    }
)  # fmt: skip
"""Field names (compared case-insensitively, whole name) that adapters drop with their values."""

DROPPED_WORDS: frozenset[str] = frozenset(
    {
        "face", "faces", "plate", "plates", "anpr", "lpr", "biometric", "biometrics", "fingerprint",
        "iris", "gender", "age", "sex", "ethnicity", "race", "glasses", "beard", "emotion", "skin",
        "hair", "body",
    }
)  # fmt: skip
"""camelCase/snake_case words that make any field name containing them dropped
(``licensePlate``, ``FaceRect``, ``faceLibType``, ``ageGroup``, ``UpperBodyColor``)."""

_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


def is_dropped_field(name: str) -> bool:
    """Whether a field of this name carries identity or biometric data and must be dropped.

    Args:
        name: a field, element or item name as the device sent it.

    Returns:
        True when the name is in :data:`DROPPED_FIELDS` or has a word in :data:`DROPPED_WORDS`.
    """
    if name.lower() in DROPPED_FIELDS:
        return True
    return any(word.lower() in DROPPED_WORDS for word in _WORDS.findall(name))


class CameraEvent(msgspec.Struct, frozen=True, omit_defaults=True):
    """One thing a camera reported, before the vendor code is mapped onto an alarm type.

    ``code`` is the vendor's own event code (``VMD``, ``linedetection``, ``VideoMotion``) or,
    for ONVIF, the canonical topic (``tns1:RuleEngine/CellMotionDetector/Motion``).
    ``details`` are flat scalars with dotted keys; identity and biometric fields never reach
    them, and ``dropped`` names the fields that were removed.
    """

    vendor: Vendor
    code: str
    active: bool
    occurred_at: datetime | None
    channel: str | None
    device: str | None
    heartbeat: bool = False
    details: dict[str, DetailValue] = {}
    dropped: tuple[str, ...] = ()
    external_id: str | None = None
    """A unique id the vendor gave the event (Hikvision ``UUID``), if any."""


def to_event_in(ev: CameraEvent, *, source: str, site: str | None) -> EventIn:
    """Turn a camera event into the normalised event tocsin ingests.

    ``type`` is ``"<vendor>.<code>"`` (the camera mapping table maps it onto an alarm-type
    key); ``attributes`` are the details plus ``channel``, ``device``, ``heartbeat`` (when
    true) and ``dropped_fields`` (how many identity fields were removed, when any).

    Args:
        ev: the camera event.
        source: who sent it (device or connector name), as in ``EventIn.source``.
        site: the site the camera belongs to, if known.

    Returns:
        A validated ``EventIn`` with method ``equipment``.

    Raises:
        CameraDecodeError: the result would not validate (e.g. an empty ``source``).
    """
    attributes: dict[str, DetailValue] = {}
    if ev.channel is not None:
        attributes["channel"] = ev.channel
    if ev.device is not None:
        attributes["device"] = ev.device
    if ev.heartbeat:
        attributes["heartbeat"] = True
    if ev.dropped:
        attributes["dropped_fields"] = len(ev.dropped)
    for key, value in ev.details.items():
        if 0 < len(key) <= _MAX_KEY_CHARS:
            attributes.setdefault(key, value)
    raw = {
        "type": f"{ev.vendor}.{ev.code}",
        "method": "equipment",
        "source": source,
        "site": site,
        "occurred_at": ev.occurred_at if ev.occurred_at is not None and ev.occurred_at.tzinfo else None,
        "condition": "active" if ev.active else "cleared",
        "attributes": attributes,
        "external_id": ev.external_id,
    }
    try:
        return msgspec.convert(raw, EventIn)
    except msgspec.ValidationError as exc:
        raise CameraDecodeError(f"camera event does not make a valid EventIn: {exc}") from exc


class CameraBatch(NamedTuple):
    """The events of one camera post or stream read, ready for tocsin's ingest door."""

    items: list[EventIn]
    """One event per alarm; heartbeats are not events."""
    raw: list[str | None]
    """Each alarm as parsed, kept with its event."""
    heartbeats: int
    dropped: int
    """Identity fields removed, over all the events."""


def camera_batch(events: list[CameraEvent], *, source: Callable[[CameraEvent], str], site: str | None) -> CameraBatch:
    """What both camera paths (posts, ``tocsin.api.ingest``; held-open streams,
    ``tocsin.ingest.camera_poll``) hand to the door: alarms as events, heartbeats counted.

    Raises:
        CameraDecodeError: an alarm would not make a valid event (``to_event_in``).
    """
    alarms = [ev for ev in events if not ev.heartbeat]
    return CameraBatch(
        items=[to_event_in(ev, source=source(ev), site=site) for ev in alarms],
        raw=[_encode(ev).decode() for ev in alarms],
        heartbeats=len(events) - len(alarms),
        dropped=sum(len(ev.dropped) for ev in events),
    )


def camera_mapping() -> dict[str, str]:
    """The default ``"<vendor>.<code>" -> alarm-type key`` table (``data/mappings/cameras.toml``).

    Returns:
        The table; codes not in it land as ``unclassified``.
    """
    text = resources.files("tocsin").joinpath("data/mappings/cameras.toml").read_text(encoding="utf-8")
    return {str(key): str(value) for key, value in tomllib.loads(text).items()}


# --- XML -----------------------------------------------------------------------------------


def local_name(tag: object) -> str:
    """The local part of an ElementTree tag (``{ns}local`` → ``local``); '' for comments/PIs."""
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def parse_xml(
    body: bytes, *, what: str, scopes_for: str | None = None
) -> tuple[Element, dict[Element, dict[str, str]]]:
    """Parse XML with defusedxml: any DTD, entity declaration or external reference is refused.

    Args:
        body: the document.
        what: names the document in error messages.
        scopes_for: a Clark-notation tag (``{ns}local``) whose in-scope namespace
            declarations (prefix → URI) should be recorded, e.g. the ONVIF ``wsnt:Topic``.

    Returns:
        The root element and, per element with the ``scopes_for`` tag, its in-scope namespaces.

    Raises:
        CameraDecodeError: not well-formed, or DTD/entities/external references present.
    """
    data = body.lstrip(b" \t\r\n")
    scopes: dict[Element, dict[str, str]] = {}
    try:
        if scopes_for is None:
            root: Element = _defused.fromstring(data, forbid_dtd=True)
            return root, scopes
        stack: list[dict[str, str]] = [{}]
        declared: dict[str, str] = {}
        first: Element | None = None
        for event, item in _defused.iterparse(io.BytesIO(data), events=("start-ns", "start", "end"), forbid_dtd=True):
            if event == "start-ns":
                declared[item[0]] = item[1]
            elif event == "start":
                scope = {**stack[-1], **declared} if declared else stack[-1]
                declared = {}
                stack.append(scope)
                first = item if first is None else first
                if item.tag == scopes_for:
                    scopes[item] = scope
            else:
                stack.pop()
    except DefusedXmlException as exc:
        raise CameraDecodeError(f"{what}: refused unsafe XML ({type(exc).__name__})") from exc
    except (ParseError, ValueError, LookupError) as exc:
        raise CameraDecodeError(f"{what}: not well-formed XML ({exc})") from exc
    if first is None:  # pragma: no cover - expat reports "no element found" first
        raise CameraDecodeError(f"{what}: no XML element")
    return first, scopes


# --- details -------------------------------------------------------------------------------


class Details:
    """A bounded, first-wins collector of flat details and of dropped field names."""

    __slots__ = ("dropped", "items")

    def __init__(self) -> None:
        self.items: dict[str, DetailValue] = {}
        self.dropped: list[str] = []

    def add(self, key: str, value: object) -> None:
        """Keep ``value`` under ``key`` unless the key is taken, too long or the map is full."""
        if not key or len(key) > _MAX_KEY_CHARS or key in self.items or len(self.items) >= MAX_DETAILS:
            return
        if isinstance(value, bool) or value is None:
            self.items[key] = value
        elif isinstance(value, int):
            self.items[key] = value if -_INT64 <= value < _INT64 else str(value)
        elif isinstance(value, float):
            self.items[key] = value if math.isfinite(value) else str(value)
        elif isinstance(value, str):
            self.items[key] = value[:MAX_TEXT_CHARS]

    def drop(self, name: str) -> None:
        """Record that a field of this name was removed (the name only, never the value)."""
        name = name[:_MAX_KEY_CHARS]
        if name not in self.dropped and len(self.dropped) < _MAX_DROPPED:
            self.dropped.append(name)


def flatten_json(value: object, details: Details, *, prefix: str = "", keep: Iterable[str] = ()) -> None:
    """Flatten decoded JSON objects into dotted scalar details, dropping identity fields.

    Lists are not stored (coordinates, bounding boxes, candidate lists) but are searched for
    dropped field names so that ``dropped`` is complete.

    Args:
        value: a decoded JSON value; only objects contribute details.
        details: where details and dropped names go.
        prefix: the dotted path of ``value`` itself.
        keep: dotted paths exempt from the drop rule (e.g. Dahua ``data.Name``, a rule name).
    """
    _flatten(value, details, prefix, frozenset(keep), 0)


def _flatten(value: object, details: Details, prefix: str, keep: frozenset[str], depth: int) -> None:
    if depth > _MAX_DEPTH:
        return
    if isinstance(value, list):
        _scan(value, details, depth)
        return
    if not isinstance(value, dict):
        return
    for key, item in value.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if is_dropped_field(str(key)) and path not in keep:
            details.drop(str(key))
        elif isinstance(item, dict | list):
            _flatten(item, details, path, keep, depth + 1)
        else:
            details.add(path, item)


def _scan(value: object, details: Details, depth: int) -> None:
    """Record dropped field names inside a value that is not stored (a list)."""
    if depth > _MAX_DEPTH:
        return
    if isinstance(value, list):
        for item in value[:MAX_DETAILS]:
            _scan(item, details, depth + 1)
    elif isinstance(value, dict):
        for key, item in value.items():
            if is_dropped_field(str(key)):
                details.drop(str(key))
            else:
                _scan(item, details, depth + 1)


# --- stream parsers ------------------------------------------------------------------------


class CameraStream(abc.ABC):
    """Base of the long-lived stream parsers: multipart parts in, camera events out.

    Subclasses implement :meth:`decode_part`. ``feed`` and ``close`` never lose events: when a
    part is malformed, the error is raised and the events decoded before it (and the parts
    after it) are delivered by the next call. Not thread-safe: one instance per connection.
    """

    def __init__(self, stream: MultipartStream) -> None:
        self._stream = stream
        self._parts: deque[Part] = deque()
        self._events: list[CameraEvent] = []

    def feed(self, data: bytes) -> list[CameraEvent]:
        """Add bytes read from the connection; return the events completed so far.

        Raises:
            CameraDecodeError: a part or the framing is malformed, or a bound was broken.
        """
        self._parts.extend(self._stream.feed(data))
        return self._drain()

    def close(self) -> list[CameraEvent]:
        """The connection ended: decode what is left, including an unterminated last part.

        Raises:
            CameraDecodeError: a remaining part is malformed or truncated; call ``close``
                again for the events of the parts after it.
        """
        self._parts.extend(self._stream.close())
        return self._drain()

    def buffered(self) -> int:
        """Bytes held while waiting for the rest of a part."""
        return len(self._stream)

    @abc.abstractmethod
    def decode_part(self, part: Part) -> list[CameraEvent]:
        """Turn one part into events (an empty part gives none)."""

    def _drain(self) -> list[CameraEvent]:
        while self._parts:
            self._events.extend(self.decode_part(self._parts.popleft()))
        events, self._events = self._events, []
        return events
