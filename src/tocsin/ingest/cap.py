"""OASIS CAP 1.2 in: alert documents, and the Atom/RSS feeds that list them, into events.

:func:`parse_cap` reads one ``<alert>`` into ``EventIn``s; :func:`parse_cap_feed` and
:func:`parse_cap_feed_alerts` (from :mod:`.cap_feed`) read a feed into the alert links to
fetch and the alerts embedded in it; single values (times, polygons, circles) and the
hardened XML reader are :mod:`.cap_values`'s. All are re-exported here. Fetching,
polling and remembering what was seen are the poller's; mapping event types to alarm
types is ``data/mappings/frigate_cap.toml``'s; writing CAP is :mod:`tocsin.report.cap`'s.

XML is read through :mod:`defusedxml` with DTDs forbidden, so no entity expansion (billion
laughs) and no external entity or DTD is ever resolved. Input is checked against the
XSD's enumerations and time pattern and the CAP 1.2 §3 rules the XSD leaves out (polygon
closed with at least four points, ``identifier``/``sender`` without spaces, commas, ``<``
or ``&``), but not against element order. Every failure is a :class:`CapDecodeError`
naming the element (``alert/info[1]/severity``) and the problem.

**One event per** ``<info>`` **block of the alert's language.** Blocks in other languages
are translations of the same warning, not more warnings; ``language`` picks which one is
read (default: the first block's). Every event of one alert has ``external_id``
``<identifier>#<n>`` (``n`` the block's position in the alert, from 0), ``source`` the
``sender`` and ``method`` ``equipment``. What becomes of an alert:

- ``type``: ``cap.<category>.<event>``, lower-cased, the event text's runs of
  non-alphanumerics made ``_`` and Latin accents dropped: ``Met`` + ``Severe Thunderstorm
  Warning`` gives ``cap.met.severe_thunderstorm_warning``. The first ``<category>`` names it.
- ``status`` ``Exercise`` or ``Test``: ``exercise=True``. ``System`` and ``Draft`` are not
  actionable and give no events, nor do ``msgType`` ``Ack`` and ``Error`` (they speak of
  other messages, not hazards) or an alert without ``<info>``.
- ``msgType`` ``Cancel``: condition ``cleared``; ``Update``: ``active``, like ``Alert``.
- ``occurred_at``: ``onset`` if the hazard had begun when the alert was sent, else
  ``effective`` if already in force, else ``sent``. A future onset of a forecast warning
  would put an incident's first event in the future; it is kept as the ``onset`` attribute.
- ``location``: the centre of the first ``<circle>`` over all areas (a point and its
  reach: the most precise), else the area centroid of the first ``<polygon>``. Empty
  ``<polygon/>``/``<circle/>`` elements, which real feeds send, count as absent.
- ``description``: the info's description (cut to 4000 characters).
- ``attributes``: ``msgType status scope urgency severity certainty category event
  headline areaDesc language identifier sent`` always; ``categories responseType
  references senderName instruction effective onset expires polygon area_bbox circle
  eventCode.<name> parameter.<name> geocode.<name>`` when present. Times are ISO 8601;
  lists are joined with ``,`` (areaDesc with ``; ``); long texts are cut (headline 200,
  others 500 characters); a polygon longer than 1000 characters is left out and only its
  bounding box (``area_bbox``, ``"S,W N,E"``) kept. At most 20 parameters are kept.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from xml.etree.ElementTree import Element

import msgspec

from tocsin.ingest.cap_feed import MAX_DEPTH, MAX_FEED_BYTES, MAX_FEED_ITEMS, parse_cap_feed, parse_cap_feed_alerts
from tocsin.ingest.cap_values import (
    CAP_NAMESPACE,
    CapDecodeError,
    Point,
    cap_error,
    cap_fail,
    cap_tag,
    parse_cap_circle,
    parse_cap_polygon,
    parse_cap_time,
    polygon_centroid,
    read_xml,
)
from tocsin.model import CATEGORIES, EventIn

__all__ = (
    "CAP_NAMESPACE",
    "CERTAINTIES",
    "MAX_CAP_BYTES",
    "MAX_DEPTH",
    "MAX_FEED_BYTES",
    "MAX_FEED_ITEMS",
    "MAX_INFO_BLOCKS",
    "MSG_TYPES",
    "SCOPES",
    "SEVERITIES",
    "STATUSES",
    "URGENCIES",
    "CapDecodeError",
    "parse_cap",
    "parse_cap_circle",
    "parse_cap_feed",
    "parse_cap_feed_alerts",
    "parse_cap_polygon",
    "parse_cap_time",
)

MAX_CAP_BYTES = 1 << 20
"""Default bound on one alert document (1 MiB)."""
MAX_INFO_BLOCKS = 64
"""Most ``<info>`` blocks one alert may carry."""
_MAX_PARAMETERS = 20
_MAX_POLYGON_TEXT = 1000
_MAX_EVENT_SLUG = 100
_MAX_ID = 190  # external_id is identifier + "#n" and must fit the model's 200 characters

STATUSES = ("Actual", "Exercise", "System", "Test", "Draft")
MSG_TYPES = ("Alert", "Update", "Cancel", "Ack", "Error")
SCOPES = ("Public", "Restricted", "Private")
RESPONSE_TYPES = ("Shelter", "Evacuate", "Prepare", "Execute", "Avoid", "Monitor", "Assess", "AllClear", "None")
URGENCIES = ("Immediate", "Expected", "Future", "Past", "Unknown")
SEVERITIES = ("Extreme", "Severe", "Moderate", "Minor", "Unknown")
CERTAINTIES = ("Observed", "Likely", "Possible", "Unlikely", "Unknown")

_CAP_OTHER = re.compile(r"^urn:oasis:names:tc:emergency:cap:(\d+\.\d+)$")
_FORBIDDEN_ID = re.compile(r"[\s,<&]")
_NOT_WORD = re.compile(r"[\W_]+")
_SPACE = re.compile(r"\s+")


class _Node:
    """One CAP element and its path, with the element-level checks every field needs."""

    __slots__ = ("el", "path")

    def __init__(self, el: Element, path: str) -> None:
        self.el = el
        self.path = path

    def children(self, name: str) -> list[_Node]:
        found = [c for c in self.el if c.tag == cap_tag(name)]
        return [
            _Node(c, f"{self.path}/{name}[{i + 1}]" if len(found) > 1 else f"{self.path}/{name}")
            for i, c in enumerate(found)
        ]

    def text(self, name: str, *, required: bool = False, collapse: bool = True) -> str | None:
        found = self.children(name)
        if len(found) > 1:
            cap_fail(f"{self.path}/{name}", "appears more than once")
        if not found:
            if required:
                cap_fail(f"{self.path}/{name}", "required element is missing")
            return None
        raw = found[0].el.text or ""
        value = _SPACE.sub(" ", raw).strip() if collapse else raw.strip()
        if required and not value:
            cap_fail(found[0].path, "required element is empty")
        return value or None

    def texts(self, name: str) -> list[tuple[str, str]]:
        return [(n.path, _SPACE.sub(" ", n.el.text or "").strip()) for n in self.children(name)]

    def enum(self, name: str, allowed: Sequence[str]) -> str:
        value = self.text(name, required=True)
        assert value is not None
        if name == "certainty" and value == "Very Likely":
            return "Likely"  # CAP 1.2 §3.2.2: CAP 1.0's "Very Likely" is to be read as "Likely"
        if value not in allowed:
            cap_fail(f"{self.path}/{name}", f"{value[:40]!r} is not one of {', '.join(allowed)}")
        return value

    def time(self, name: str) -> datetime | None:
        value = self.text(name)
        return None if value is None else parse_cap_time(value, f"{self.path}/{name}")

    def values(self, name: str) -> list[tuple[str, str]]:
        """``valueName``/``value`` pairs (eventCode, parameter, geocode)."""
        pairs = []
        for node in self.children(name):
            key = node.text("valueName", required=True)
            value = node.text("value", required=True)
            assert key is not None and value is not None
            pairs.append((key, value))
        return pairs


def _checked_id(node: _Node, name: str) -> str:
    value = node.text(name, required=True, collapse=False)
    assert value is not None
    if _FORBIDDEN_ID.search(value):
        cap_fail(f"{node.path}/{name}", f"{value[:60]!r} contains a space, comma, '<' or '&', which CAP forbids")
    if len(value) > _MAX_ID:
        cap_fail(f"{node.path}/{name}", f"longer than {_MAX_ID} characters")
    return value


def _num(value: float) -> str:
    return f"{value:.6f}".rstrip("0").rstrip(".")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _lines(text: str | None) -> str | None:
    """Multi-line text with the sender's line breaks but not the document's indentation."""
    return "\n".join(line.strip() for line in text.splitlines()) if text else None


def _slug(text: str) -> str:
    """Lower-case ``_``-joined words; accents on Latin letters dropped, other scripts kept."""
    kept: list[str] = []
    for char in unicodedata.normalize("NFKD", text):
        if unicodedata.category(char) == "Mn" and kept and kept[-1].isascii():
            continue
        kept.append(char)
    folded = unicodedata.normalize("NFC", "".join(kept)).casefold()
    return _NOT_WORD.sub("_", folded).strip("_")[:_MAX_EVENT_SLUG].strip("_")


# --- alert → events -------------------------------------------------------------------------------


class _Alert(msgspec.Struct, frozen=True):
    identifier: str
    sender: str
    sent: datetime
    status: str
    msg_type: str
    scope: str
    references: str | None


def _root(body: bytes, max_bytes: int) -> _Node:
    root = read_xml(body, max_bytes, "alert")
    if root.tag == cap_tag("alert"):
        return _Node(root, "alert")
    ns, _, local = root.tag[1:].partition("}") if root.tag.startswith("{") else ("", "", root.tag)
    other = _CAP_OTHER.match(ns)
    if local == "alert" and other:
        cap_fail("alert", f"CAP {other[1]} namespace {ns!r}; only CAP 1.2 ({CAP_NAMESPACE}) is read")
    if local == "alert":
        cap_fail("alert", f"namespace {ns or 'none'!r} is not CAP 1.2's {CAP_NAMESPACE!r}")
    cap_fail(local[:40] or "document", f"root element is not a CAP 1.2 <alert> in namespace {CAP_NAMESPACE!r}")


def _read_alert(node: _Node) -> _Alert:
    alert = _Alert(
        identifier=_checked_id(node, "identifier"),
        sender=_checked_id(node, "sender"),
        sent=parse_cap_time(node.text("sent", required=True) or "", "alert/sent"),
        status=node.enum("status", STATUSES),
        msg_type=node.enum("msgType", MSG_TYPES),
        scope=node.enum("scope", SCOPES),
        references=node.text("references"),
    )
    for optional in ("source", "restriction", "addresses", "note", "incidents"):
        node.text(optional)  # at most once each
    return alert


def _shapes(info: _Node) -> tuple[Point | None, dict[str, str]]:
    """The location of an info block and its shape attributes (first circle, else polygon)."""
    location: Point | None = None
    attrs: dict[str, str] = {}
    polygons: list[list[Point]] = []
    circles: list[tuple[str, tuple[float, float, float]]] = []
    for area in info.children("area"):
        for path, text in area.texts("polygon"):
            if text:
                polygons.append(parse_cap_polygon(text, path))
                if len(polygons) == 1 and len(text) <= _MAX_POLYGON_TEXT:
                    attrs["polygon"] = text
        circles.extend((text, parse_cap_circle(text, path)) for path, text in area.texts("circle") if text)
    if circles:  # a circle is a point and a reach; more precise than an area's centroid
        text, (lat, lon, _) = circles[0]
        attrs["circle"] = text
        location = (lat, lon)
    if polygons:
        location = location or polygon_centroid(polygons[0])
        points = [p for polygon in polygons for p in polygon]
        south, north = min(p[0] for p in points), max(p[0] for p in points)
        west, east = min(p[1] for p in points), max(p[1] for p in points)
        attrs["area_bbox"] = f"{_num(south)},{_num(west)} {_num(north)},{_num(east)}"
    return location, attrs


def _occurred(alert: _Alert, onset: datetime | None, effective: datetime | None) -> datetime:
    for candidate in (onset, effective):
        if candidate is not None and candidate <= alert.sent:
            return candidate
    return alert.sent


def _info_attributes(info: _Node, alert: _Alert, head: dict[str, str]) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        "msgType": alert.msg_type,
        "status": alert.status,
        "scope": alert.scope,
        "identifier": alert.identifier,
        "sent": alert.sent.isoformat(),
        **head,
    }
    if alert.references:
        attrs["references"] = _cut(alert.references, 500)
    for name, limit in (("senderName", 200), ("headline", 200)):
        value = info.text(name)
        if value:
            attrs[name] = _cut(value, limit)
    instruction = _lines(info.text("instruction", collapse=False))
    if instruction:
        attrs["instruction"] = _cut(instruction, 500)
    for name in ("effective", "onset", "expires"):
        when = info.time(name)
        if when is not None:
            attrs[name] = when.isoformat()
    descs = [text for area in info.children("area") if (text := area.text("areaDesc", required=True))]
    if descs:
        attrs["areaDesc"] = _cut("; ".join(descs), 500)
    for prefix, pairs in (("eventCode", info.values("eventCode")), ("geocode", _area_values(info, "geocode"))):
        for key, value in _joined(pairs).items():
            attrs[_cut(f"{prefix}.{key}", 64)] = _cut(value, 500)
    for key, value in list(_joined(info.values("parameter")).items())[:_MAX_PARAMETERS]:
        attrs[_cut(f"parameter.{key}", 64)] = _cut(value, 500)
    return attrs


def _area_values(info: _Node, name: str) -> list[tuple[str, str]]:
    return [pair for area in info.children("area") for pair in area.values(name)]


def _joined(pairs: list[tuple[str, str]]) -> dict[str, str]:
    out: dict[str, list[str]] = {}
    for key, value in pairs:
        out.setdefault(key, []).append(value)
    return {key: ",".join(values) for key, values in out.items()}


def _enums(info: _Node, name: str, allowed: Sequence[str]) -> list[str]:
    """Every value of a repeatable enumerated element, each checked."""
    values = []
    for path, text in info.texts(name):
        if text not in allowed:
            cap_fail(path, f"{text[:40]!r} is not one of {', '.join(allowed)}")
        values.append(text)
    return values


def _info_event(info: _Node, index: int, alert: _Alert) -> dict[str, Any]:
    categories = _enums(info, "category", CATEGORIES)
    if not categories:
        cap_fail(f"{info.path}/category", "required element is missing (at least one)")
    event = info.text("event", required=True) or ""
    head = {
        "language": info.text("language") or "en-US",
        "category": categories[0],
        "event": _cut(event, 200),
        "urgency": info.enum("urgency", URGENCIES),
        "severity": info.enum("severity", SEVERITIES),
        "certainty": info.enum("certainty", CERTAINTIES),
    }
    responses = _enums(info, "responseType", RESPONSE_TYPES)
    if responses:
        head["responseType"] = ",".join(responses)
    if len(categories) > 1:
        head["categories"] = ",".join(categories)
    location, shape_attrs = _shapes(info)
    attrs = {**_info_attributes(info, alert, head), **shape_attrs}
    description = _lines(info.text("description", collapse=False))
    result: dict[str, Any] = {
        "type": f"cap.{categories[0].lower()}.{_slug(event) or 'event'}",
        "method": "equipment",
        "source": alert.sender,
        "occurred_at": _occurred(alert, info.time("onset"), info.time("effective")),
        "condition": "cleared" if alert.msg_type == "Cancel" else "active",
        "exercise": alert.status in ("Exercise", "Test"),
        "attributes": attrs,
        "external_id": f"{alert.identifier}#{index}",
    }
    if description:
        result["description"] = _cut(description, 4000)
    if location is not None:
        result["location"] = {"lat": location[0], "lon": location[1]}
    return result


def _chosen(infos: list[_Node], language: str | None) -> str:
    languages = [(info.text("language") or "en-US") for info in infos]
    if language:
        wanted = language.casefold()
        for lang in languages:
            if lang.casefold() == wanted or lang.casefold().split("-")[0] == wanted:
                return lang
    return languages[0]


def parse_cap(body: bytes, *, max_bytes: int = MAX_CAP_BYTES, language: str | None = None) -> list[EventIn]:
    """Read one CAP 1.2 ``<alert>`` into one event per ``<info>`` block of its language.

    The whole alert is checked before anything is returned, including blocks in other
    languages and alerts that give no events (see the module docstring for the mapping).

    Args:
        body: the XML document.
        max_bytes: bound on ``len(body)``.
        language: the language to read (``de`` or ``de-DE``) when the alert carries
            several; default and fallback: the first block's.

    Returns:
        The events, in document order; empty for System, Draft, Ack, Error and
        info-less alerts.

    Raises:
        PayloadTooLarge: ``body`` is over ``max_bytes``.
        CapDecodeError: anything else wrong, naming the element and the problem.
    """
    root = _root(body, max_bytes)
    alert = _read_alert(root)
    infos = root.children("info")
    if len(infos) > MAX_INFO_BLOCKS:
        cap_fail("alert/info", f"{len(infos)} info blocks; at most {MAX_INFO_BLOCKS} are read")
    raw = [_info_event(info, i, alert) for i, info in enumerate(infos)]
    if not infos or alert.status in ("System", "Draft") or alert.msg_type in ("Ack", "Error"):
        return []
    lang = _chosen(infos, language)
    try:
        return [msgspec.convert(ev, EventIn) for ev in raw if ev["attributes"]["language"] == lang]
    except msgspec.ValidationError as exc:
        raise cap_error("alert", f"does not make a valid event ({exc})") from exc
