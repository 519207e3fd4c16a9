"""CAP 1.2 out: one incident as an OASIS Common Alerting Protocol alert, for partner agencies.

:func:`incident_to_cap` writes the XML; :func:`check_cap_rules` checks a document against
the CAP 1.2 rules the official XSD does not express. Validation against the XSD itself is
the tests' (the schema stays in ``shared/specs``, it is not shipped). Reading CAP is
:mod:`tocsin.ingest.cap`'s; choosing whom to send it to, and when, is the caller's.

Incidents are not public: every alert is ``scope`` ``Restricted`` with a ``restriction``
text, and it names no person (no assignee, no actor from the timeline). How an incident
becomes an alert:

====================  ==========================================================================
``status``            ``Exercise`` for an exercise incident, else ``Actual``.
``msgType``           ``Cancel`` when the incident turned out not to be real (disposition
                      ``false_alarm``, ``unfounded``, ``duplicate``, ``test``) or was merged into
                      another; else ``Update`` when ``references`` to earlier alerts are given;
                      else ``Alert``.
``urgency``           ``Past`` once resolved or closed; else by priority: 1–2 ``Immediate``,
                      3 ``Expected``, 4 ``Future``.
``severity``          priority 1 ``Extreme``, 2 ``Severe``, 3 ``Moderate``, 4 ``Minor``.
``certainty``         ``Observed`` when the disposition is ``founded``; ``Unlikely`` for a
                      cancelled one; else ``Possible``: an alarm nobody has verified is a
                      possibility, whatever its priority (most intruder alarms are false).
``responseType``      ``AllClear`` once resolved or closed (not for a ``Cancel``).
``category``          the incident's category (one of CAP's twelve).
``event``             the alarm type's name (``alarm_type_name``), else its key.
``headline``          the incident's title, else "<event> at <site>" (cut to 160 characters).
``instruction``       the SOP steps, numbered, one per line.
``onset``             the first event's time.
``area``              the site as ``areaDesc`` (else the coordinates), an optional polygon
                      (e.g. the site's outline, closed here if open) and a circle of
                      ``radius_km`` around the location.
``eventCode``         ``tocsin:alarm_type`` = the alarm type key, ``tocsin:alarm_code``.
``parameter``         ``tocsin:priority``, ``tocsin:handling``, ``tocsin:condition``,
                      ``tocsin:event_count``.
====================  ==========================================================================

Times are written in UTC as ``-00:00`` (never ``Z``, never ``+00:00``); naive datetimes are
taken to be UTC.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from xml.etree.ElementTree import Element, SubElement, indent, tostring

from defusedxml.ElementTree import fromstring  # type: ignore[import-untyped]

from tocsin.errors import InvalidRequest
from tocsin.ingest.cap import CAP_NAMESPACE, CapDecodeError, parse_cap, parse_cap_time
from tocsin.model import CATEGORIES, Incident

__all__ = (
    "DEFAULT_RESTRICTION",
    "CapExportError",
    "cap_reference",
    "cap_time",
    "check_cap_rules",
    "incident_to_cap",
)

DEFAULT_RESTRICTION = "Operational incident information for the receiving agencies only; not for public release."
_NOT_REAL = frozenset({"false_alarm", "unfounded", "duplicate", "test"})
_ENDED = frozenset({"resolved", "closed"})
_URGENCY = {1: "Immediate", 2: "Immediate", 3: "Expected", 4: "Future"}
_SEVERITY = {1: "Extreme", 2: "Severe", 3: "Moderate", 4: "Minor"}
_FORBIDDEN_ID = re.compile(r"[\s,<&]")
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_TIME_ELEMENTS = ("sent", "effective", "onset", "expires")


class CapExportError(InvalidRequest):
    """An incident cannot be written as CAP 1.2 with these arguments, or a document breaks a rule."""


def cap_time(when: datetime) -> str:
    """A datetime as CAP writes it: UTC, whole seconds, offset ``-00:00`` (naive = UTC)."""
    utc = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S") + "-00:00"


def cap_reference(sender: str, identifier: str, sent: datetime) -> str:
    """One entry of ``<references>``: ``sender,identifier,sent`` of an earlier alert."""
    return f"{_checked_id('sender', sender)},{_checked_id('identifier', identifier)},{cap_time(sent)}"


def _checked_id(name: str, value: str) -> str:
    if not value or _FORBIDDEN_ID.search(value):
        raise CapExportError(f"CAP {name} {value!r} must be non-empty, without spaces, commas, '<' or '&'")
    return value


def _num(value: float) -> str:
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _text(parent: Element, name: str, value: str) -> Element:
    child = SubElement(parent, f"{{{CAP_NAMESPACE}}}{name}")
    child.text = _NOT_XML.sub("", value)
    return child


def _pair(parent: Element, name: str, key: str, value: str) -> None:
    holder = SubElement(parent, f"{{{CAP_NAMESPACE}}}{name}")
    _text(holder, "valueName", key)
    _text(holder, "value", value)


def _polygon(points: Sequence[tuple[float, float]]) -> str:
    ring = [(float(lat), float(lon)) for lat, lon in points]
    for lat, lon in ring:
        if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
            raise CapExportError(f"polygon point {lat},{lon} is outside WGS 84 range")
    if len(set(ring)) < 3:
        raise CapExportError("a polygon needs at least 3 distinct points")
    if ring[0] != ring[-1]:
        ring.append(ring[0])
    return " ".join(f"{_num(lat)},{_num(lon)}" for lat, lon in ring)


def _msg_type(incident: Incident, references: Sequence[str]) -> str:
    if incident.handling == "merged" or incident.disposition in _NOT_REAL:
        return "Cancel"
    return "Update" if references else "Alert"


def _certainty(incident: Incident, msg_type: str) -> str:
    if msg_type == "Cancel":
        return "Unlikely"
    return "Observed" if incident.disposition == "founded" else "Possible"


def _references(references: Sequence[str]) -> str | None:
    for ref in references:
        parts = ref.split(",")
        if len(parts) != 3 or not all(parts) or any(_FORBIDDEN_ID.search(part) for part in parts):
            raise CapExportError(f"reference {ref!r} is not 'sender,identifier,sent'")
        try:
            parse_cap_time(parts[2], "references")
        except CapDecodeError as exc:
            raise CapExportError(f"reference {ref!r}: {exc.detail}") from exc
    return " ".join(references) or None


def _area(
    info: Element,
    incident: Incident,
    polygon: Sequence[tuple[float, float]] | None,
    radius_km: float,
) -> None:
    if incident.site is None and incident.location is None and not polygon:
        return
    if not (math.isfinite(radius_km) and radius_km >= 0):
        raise CapExportError(f"radius_km {radius_km!r} must be a finite number ≥ 0")
    area = SubElement(info, f"{{{CAP_NAMESPACE}}}area")
    where = incident.location
    desc = incident.site or (f"{_num(where.lat)},{_num(where.lon)}" if where else f"Area of incident {incident.id}")
    _text(area, "areaDesc", desc)
    if polygon:
        _text(area, "polygon", _polygon(polygon))
    if where is not None:
        _text(area, "circle", f"{_num(where.lat)},{_num(where.lon)} {_num(radius_km)}")


def _description(incident: Incident, event: str) -> str:
    lines = [
        f"Incident {incident.id}: {event} (alarm code {incident.alarm_code}, priority {incident.priority}).",
        f"Handling: {incident.handling}; condition: {incident.condition}.",
        f"{incident.event_count} event(s), first {cap_time(incident.first_event_at)},"
        f" last {cap_time(incident.last_event_at)}.",
    ]
    if incident.site:
        lines.append(f"Site: {incident.site}.")
    if incident.disposition:
        lines.append(f"Disposition: {incident.disposition}.")
    return "\n".join(lines)


def incident_to_cap(
    incident: Incident,
    *,
    sender: str,
    identifier: str | None = None,
    alarm_type_name: str | None = None,
    sop: list[str] | None = None,
    sent: datetime | None = None,
    references: Sequence[str] = (),
    radius_km: float = 0.1,
    polygon: Sequence[tuple[float, float]] | None = None,
    restriction: str = DEFAULT_RESTRICTION,
    language: str = "en-US",
    sender_name: str | None = None,
) -> bytes:
    """Write an incident as one CAP 1.2 alert with one ``<info>`` (mapping: module docstring).

    Args:
        incident: the incident.
        sender: this system's CAP sender id (e.g. ``tocsin@example.org``).
        identifier: the alert's id, unique for ``sender``; default
            ``tocsin-incident-<id>-<sent as YYYYmmddTHHMMSS>``.
        alarm_type_name: the alarm type's human name for ``<event>``; default its key.
        sop: the alarm type's SOP steps, written as ``<instruction>``.
        sent: when the alert is issued; default now.
        references: earlier alerts this one updates, from :func:`cap_reference`.
        radius_km: radius of the circle drawn around the incident's location.
        polygon: an optional ``(lat, lon)`` outline (say, the site's); closed if open.
        restriction: the ``<restriction>`` text the Restricted scope requires.
        language: RFC 3066 language of the texts.
        sender_name: a human name for the sender (``<senderName>``).

    Returns:
        The alert as UTF-8 XML with declaration, valid against the OASIS CAP 1.2 XSD.

    Raises:
        CapExportError: an id with forbidden characters, a category CAP does not have,
            a bad reference, polygon or radius, or output breaking a CAP rule.
    """
    if incident.category not in CATEGORIES:
        raise CapExportError(f"category {incident.category!r} is not one of CAP's: {', '.join(CATEGORIES)}")
    sent_at = sent or datetime.now(UTC)
    ident = identifier or f"tocsin-incident-{incident.id}-{sent_at.astimezone(UTC):%Y%m%dT%H%M%S}"
    msg_type = _msg_type(incident, references)
    refs = _references(references)
    ended = incident.handling in _ENDED
    event = alarm_type_name or incident.alarm_type

    alert = Element(f"{{{CAP_NAMESPACE}}}alert")
    _text(alert, "identifier", _checked_id("identifier", ident))
    _text(alert, "sender", _checked_id("sender", sender))
    _text(alert, "sent", cap_time(sent_at))
    _text(alert, "status", "Exercise" if incident.exercise else "Actual")
    _text(alert, "msgType", msg_type)
    _text(alert, "scope", "Restricted")
    _text(alert, "restriction", restriction.strip() or DEFAULT_RESTRICTION)
    if msg_type == "Cancel":
        why = f"merged into incident {incident.merged_into}" if incident.handling == "merged" else incident.disposition
        _text(alert, "note", f"Incident {incident.id} cancelled: {why}.")
    if refs:
        _text(alert, "references", refs)
    _text(alert, "incidents", f"tocsin-incident-{incident.id}")

    info = SubElement(alert, f"{{{CAP_NAMESPACE}}}info")
    _text(info, "language", language)
    _text(info, "category", incident.category)
    _text(info, "event", event)
    if ended and msg_type != "Cancel":
        _text(info, "responseType", "AllClear")
    _text(info, "urgency", "Past" if ended else _URGENCY.get(incident.priority, "Unknown"))
    _text(info, "severity", _SEVERITY.get(incident.priority, "Unknown"))
    _text(info, "certainty", _certainty(incident, msg_type))
    _pair(info, "eventCode", "tocsin:alarm_type", incident.alarm_type)
    _pair(info, "eventCode", "tocsin:alarm_code", incident.alarm_code)
    _text(info, "onset", cap_time(incident.first_event_at))
    if sender_name:
        _text(info, "senderName", sender_name)
    headline = incident.title or (f"{event} at {incident.site}" if incident.site else event)
    _text(info, "headline", headline if len(headline) <= 160 else headline[:159] + "…")
    _text(info, "description", _description(incident, event))
    if sop:
        _text(info, "instruction", "\n".join(f"{n}. {step}" for n, step in enumerate(sop, start=1)))
    for key, value in (
        ("tocsin:priority", str(incident.priority)),
        ("tocsin:handling", incident.handling),
        ("tocsin:condition", incident.condition),
        ("tocsin:event_count", str(incident.event_count)),
    ):
        _pair(info, "parameter", key, value)
    _area(info, incident, polygon, radius_km)

    indent(alert)
    xml: bytes = tostring(alert, encoding="utf-8", xml_declaration=True, default_namespace=CAP_NAMESPACE)
    check_cap_rules(xml)
    return xml


def check_cap_rules(xml: bytes) -> None:
    """Check a CAP 1.2 document against the rules its XSD does not express.

    Everything :func:`tocsin.ingest.cap.parse_cap` enforces (enumerations, numeric time
    offsets without fractions, ids without spaces/commas/``<``/``&``, closed polygons of
    four or more points, ``lat,lon radius`` circles), and, for what tocsin sends: UTC
    written ``-00:00`` rather than ``+00:00``, a ``restriction`` with scope Restricted and
    ``addresses`` with scope Private.

    Args:
        xml: the document.

    Raises:
        CapExportError: the first rule broken, named.
    """
    try:
        parse_cap(xml)
    except CapDecodeError as exc:
        raise CapExportError(f"not valid CAP 1.2: {exc.detail}") from exc
    root = fromstring(xml, forbid_dtd=True)
    ns = f"{{{CAP_NAMESPACE}}}"
    for name in _TIME_ELEMENTS:
        for element in root.iter(ns + name):
            if (element.text or "").strip().endswith("+00:00"):
                raise CapExportError(f"<{name}> {element.text!r}: CAP writes UTC as -00:00")
    scope = (root.findtext(ns + "scope") or "").strip()
    for needed_scope, needed in (("Restricted", "restriction"), ("Private", "addresses")):
        if scope == needed_scope and not (root.findtext(ns + needed) or "").strip():
            raise CapExportError(f"scope {scope} requires a non-empty <{needed}>")
