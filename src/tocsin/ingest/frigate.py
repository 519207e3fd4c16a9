"""Frigate NVR MQTT messages in: tracked objects and review items into events, identity left out.

:func:`parse_frigate` reads one MQTT message (topic and payload) into a
:class:`FrigateResult`: at most one ``EventIn``, and the names of the identity fields that
were in the message and were dropped. Subscribing (aiomqtt) and deciding which events to
forward are the subscriber's; mapping event types to alarm types is
``data/mappings/frigate_cap.toml``'s.

**Identity never enters tocsin.** Frigate puts face-recognition names and licence plates
in ``sub_label``, ``recognized_license_plate(_score)``, face/plate ``attributes`` and a
review's ``data.sub_labels``. The parser copies an allow-list of fields and nothing else, so
those values (and anything Frigate adds later) cannot reach an event; it names the
identity fields it saw with a value in ``FrigateResult.dropped`` so the caller can count
them. Objects whose label is itself ``face`` or ``license_plate`` give no event.

Topics (``<prefix>`` is Frigate's ``mqtt.topic_prefix``, default ``frigate``):

- ``<prefix>/events`` — a tracked object's ``new``/``update``/``end``. Event type
  ``frigate.<label>`` (``frigate.person``, ``frigate.car``; a custom model's
  ``frigate.smoke``…). A detection alone is not an alarm: the default mapping leaves common
  labels unmapped, so the subscriber should forward only mapped types (or reviews).
- ``<prefix>/reviews`` — a review item's ``new``/``update``/``end``; type
  ``frigate.review.<severity>`` (``alert`` or ``detection``). Frigate raises a review to
  ``alert`` by the user's own rules (labels in required zones), so that is the alarm.
- ``<prefix>/tracked_object_update`` (face, plate, GenAI description, classification
  results) and ``<prefix>/triggers`` (user-defined similarity searches, which can be aimed
  at one person) are known and ignored without being decoded, like every other topic.

Every event has ``method`` ``equipment``, ``source`` ``<prefix>/<camera>`` and ``site`` the
camera name (tocsin correlates per site, and a camera is the place Frigate knows; map
cameras to real sites downstream if needed). ``end`` gives condition ``cleared``.
``external_id`` is ``<id>:new``, ``<id>:end`` or ``<id>:update:<digest of what was kept>``,
so a redelivered message is stored once while successive updates of one object are all
stored and correlate into one incident (same type and site). ``occurred_at``: ``start_time``
for ``new``, ``end_time`` for ``end``, the frame time of an object ``update`` (a review
``update`` carries none: receipt time).

Attributes of an object event: ``phase label camera frigate_id score top_score zones
entered_zones has_clip has_snapshot stationary active attribute_labels``; of a review:
``phase camera review_id severity objects zones audio detections`` (lists joined with ``,``;
``detections`` is a count).
"""

from __future__ import annotations

import hashlib
import math
import re
from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from tocsin.errors import DecodeError, PayloadTooLarge
from tocsin.model import EventIn

__all__ = ("IDENTITY_LABELS", "MAX_FRIGATE_BYTES", "FrigateDecodeError", "FrigateResult", "parse_frigate")

MAX_FRIGATE_BYTES = 1 << 20
"""Default bound on one MQTT payload (1 MiB); tracked-object messages are a few kB."""
IDENTITY_LABELS = frozenset({"face", "license_plate"})
"""Frigate labels whose detections are of a face or a plate: never carried into an event."""
_PHASES = ("new", "update", "end")
_NOT_SLUG = re.compile(r"[^a-z0-9_]+")
_IGNORED_TOPICS = {
    "tracked_object_update": "recognition results and descriptions are not events",
    "triggers": "similarity triggers are not events (and may target a person)",
}
_LIST_LIMIT = 500
_Name = Annotated[str, Meta(min_length=1, max_length=100)]


class FrigateDecodeError(DecodeError):
    """A Frigate ``events``/``reviews`` payload is not the JSON Frigate sends."""


class FrigateResult(msgspec.Struct, frozen=True, omit_defaults=True):
    """What one MQTT message gave.

    ``event`` is None when the message is not an event (``ignored`` says why: an ignored
    topic, a false positive, an identity label, an unknown phase). ``dropped`` names the
    identity fields that had a value in the message and were left out, e.g.
    ``("recognized_license_plate", "sub_label")``; never their values.
    """

    event: EventIn | None = None
    dropped: tuple[str, ...] = ()
    ignored: str | None = None


class _TrackedObject(msgspec.Struct):
    id: _Name
    camera: _Name
    label: _Name
    score: float | None = None
    top_score: float | None = None
    frame_time: float | None = None
    start_time: float | None = None
    end_time: float | None = None
    false_positive: bool = False
    current_zones: list[str] = []
    entered_zones: list[str] = []
    has_clip: bool = False
    has_snapshot: bool = False
    stationary: bool = False
    active: bool | None = None
    # Read only to learn which labels they name, or that they were there (identity):
    attributes: Any = None
    current_attributes: Any = None
    snapshot: Any = None
    sub_label: Any = None
    recognized_license_plate: Any = None
    recognized_license_plate_score: Any = None
    face: Any = None
    faces: Any = None


class _ObjectMessage(msgspec.Struct):
    type: str
    after: _TrackedObject
    before: _TrackedObject | None = None


class _ReviewData(msgspec.Struct):
    detections: list[str] = []
    objects: list[str] = []
    zones: list[str] = []
    audio: list[str] = []
    sub_labels: Any = None
    verified_objects: Any = None


class _Review(msgspec.Struct):
    id: _Name
    camera: _Name
    severity: _Name
    start_time: float | None = None
    end_time: float | None = None
    data: _ReviewData = msgspec.field(default_factory=_ReviewData)


class _ReviewMessage(msgspec.Struct):
    type: str
    after: _Review
    before: _Review | None = None


def _has(value: Any) -> bool:
    return value is not None and value != "" and value != [] and value != {}


def _attribute_labels(obj: _TrackedObject) -> set[str]:
    """Every attribute label (``face``, ``amazon``…) an object's attribute fields name."""
    labels: set[str] = set()
    if isinstance(obj.attributes, dict):
        labels.update(str(k) for k in obj.attributes)
    snapshot_attrs = obj.snapshot.get("attributes") if isinstance(obj.snapshot, dict) else None
    for group in (obj.current_attributes, snapshot_attrs, obj.attributes):
        if isinstance(group, list):
            labels.update(str(a.get("label")) for a in group if isinstance(a, dict) and a.get("label"))
    return labels


def _object_identity(obj: _TrackedObject) -> set[str]:
    names = {
        name
        for name in ("sub_label", "recognized_license_plate", "recognized_license_plate_score", "face", "faces")
        if _has(getattr(obj, name))
    }
    names.update(f"attributes.{label}" for label in _attribute_labels(obj) & IDENTITY_LABELS)
    if obj.label in IDENTITY_LABELS:
        names.add(f"label.{obj.label}")
    return names


def _time(value: float | None, what: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise FrigateDecodeError(f"{what} {value!r} is not a timestamp") from exc


def _score(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _joined(values: list[str]) -> str:
    text = ",".join(values)
    return text if len(text) <= _LIST_LIMIT else text[: _LIST_LIMIT - 1] + "…"


def _slug(text: str) -> str:
    return _NOT_SLUG.sub("_", text.strip().lower()).strip("_")[:64] or "unknown"


def _event(
    prefix: str, camera: str, phase: str, ident: str, type_: str, when: datetime | None, attrs: dict[str, Any]
) -> EventIn:
    kept = {key: value for key, value in attrs.items() if value is not None and value != ""}
    external_id = f"{ident}:{phase}"
    if phase == "update":
        digest = hashlib.blake2b(msgspec.json.encode([kept, when]), digest_size=6).hexdigest()
        external_id = f"{external_id}:{digest}"
    raw: dict[str, Any] = {
        "type": type_,
        "method": "equipment",
        "source": f"{prefix}/{camera}",
        "site": camera,
        "condition": "cleared" if phase == "end" else "active",
        "attributes": kept,
        "external_id": external_id,
    }
    if when is not None:
        raw["occurred_at"] = when
    try:
        return msgspec.convert(raw, EventIn)
    except msgspec.ValidationError as exc:
        raise FrigateDecodeError(f"the message does not make a valid event ({exc})") from exc


def _phase_time(phase: str, start: float | None, end: float | None, update: float | None) -> float | None:
    return start if phase == "new" else end if phase == "end" else update


def _object_result(prefix: str, payload: bytes) -> FrigateResult:
    try:
        msg = msgspec.json.decode(payload, type=_ObjectMessage)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:  # also bad UTF-8, deep nesting
        raise FrigateDecodeError(f"not a Frigate events message: {exc}") from exc
    dropped: set[str] = set()
    for obj in (msg.before, msg.after):
        if obj is not None:
            dropped |= _object_identity(obj)
    found = tuple(sorted(dropped))
    obj = msg.after
    if msg.type not in _PHASES:
        return FrigateResult(dropped=found, ignored=f"unknown events type {msg.type[:40]!r}")
    if obj.false_positive:
        return FrigateResult(dropped=found, ignored="false positive")
    if obj.label in IDENTITY_LABELS:
        return FrigateResult(dropped=found, ignored=f"{obj.label} detections are identity data")
    when = _time(_phase_time(msg.type, obj.start_time, obj.end_time, obj.frame_time), "time")
    attrs: dict[str, Any] = {
        "phase": msg.type,
        "label": obj.label,
        "camera": obj.camera,
        "frigate_id": obj.id,
        "score": _score(obj.score),
        "top_score": _score(obj.top_score),
        "zones": _joined(obj.current_zones),
        "entered_zones": _joined(obj.entered_zones),
        "has_clip": obj.has_clip,
        "has_snapshot": obj.has_snapshot,
        "stationary": obj.stationary,
        "active": obj.active,
        "attribute_labels": _joined(sorted(_attribute_labels(obj) - IDENTITY_LABELS)),
    }
    event = _event(prefix, obj.camera, msg.type, obj.id, f"frigate.{_slug(obj.label)}", when, attrs)
    return FrigateResult(event=event, dropped=found)


def _review_result(prefix: str, payload: bytes) -> FrigateResult:
    try:
        msg = msgspec.json.decode(payload, type=_ReviewMessage)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:  # also bad UTF-8, deep nesting
        raise FrigateDecodeError(f"not a Frigate reviews message: {exc}") from exc
    dropped: set[str] = set()
    for review in (msg.before, msg.after):
        if review is not None:
            data = review.data
            dropped.update(f"data.{n}" for n in ("sub_labels", "verified_objects") if _has(getattr(data, n)))
            dropped.update(f"data.objects.{label}" for label in set(data.objects) & IDENTITY_LABELS)
    found = tuple(sorted(dropped))
    review = msg.after
    if msg.type not in _PHASES:
        return FrigateResult(dropped=found, ignored=f"unknown reviews type {msg.type[:40]!r}")
    severity = _slug(review.severity)
    when = _time(_phase_time(msg.type, review.start_time, review.end_time, None), "time")
    attrs: dict[str, Any] = {
        "phase": msg.type,
        "camera": review.camera,
        "review_id": review.id,
        "severity": severity,
        "objects": _joined([o for o in review.data.objects if o not in IDENTITY_LABELS]),
        "zones": _joined(review.data.zones),
        "audio": _joined(review.data.audio),
        "detections": len(review.data.detections),
    }
    event = _event(prefix, review.camera, msg.type, review.id, f"frigate.review.{severity}", when, attrs)
    return FrigateResult(event=event, dropped=found)


def parse_frigate(
    topic: str, payload: bytes, *, prefix: str = "frigate", max_bytes: int = MAX_FRIGATE_BYTES
) -> FrigateResult:
    """Read one Frigate MQTT message (mapping and identity rules: module docstring).

    Args:
        topic: the MQTT topic it came on.
        payload: its payload.
        prefix: Frigate's ``mqtt.topic_prefix``.
        max_bytes: bound on ``len(payload)`` for the topics that are decoded.

    Returns:
        The result; its ``event`` is None for other topics (not an error) and for
        messages that are not events.

    Raises:
        PayloadTooLarge: an ``events``/``reviews`` payload over ``max_bytes``.
        FrigateDecodeError: an ``events``/``reviews`` payload that is not Frigate's JSON,
            or whose ids, camera or times cannot make an event.
    """
    head, sep, leaf = topic.rpartition("/")
    if not sep or head != prefix or leaf not in ("events", "reviews"):
        reason = _IGNORED_TOPICS.get(leaf) if head == prefix else None
        return FrigateResult(ignored=f"topic {topic[:80]!r} ignored" + (f": {reason}" if reason else ""))
    if len(payload) > max_bytes:
        raise PayloadTooLarge(f"Frigate {leaf} payload is {len(payload)} bytes; the limit is {max_bytes}")
    return _object_result(prefix, payload) if leaf == "events" else _review_result(prefix, payload)
