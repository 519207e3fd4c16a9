"""CAP 1.2 out (tocsin.report.cap): valid against the official XSD, the rules beyond it, round trip."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from tocsin.ingest.cap import parse_cap
from tocsin.model import CATEGORIES, Incident, Location
from tocsin.report.cap import (
    DEFAULT_RESTRICTION,
    CapExportError,
    cap_reference,
    cap_time,
    check_cap_rules,
    incident_to_cap,
)

etree: Any = pytest.importorskip("lxml.etree", reason="lxml validates against the official CAP XSD")

VECTORS = Path(__file__).resolve().parents[3].parent / "shared" / "specs" / "vectors"
XSD = VECTORS / "cap" / "CAP-v1.2.xsd"
NS = {"cap": "urn:oasis:names:tc:emergency:cap:1.2"}
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
SENT = datetime(2024, 5, 1, 14, 30, 15, tzinfo=timezone(timedelta(hours=2)))
SOP = ["Call the fire service.", "Evacuate the building & check the roll call."]
CAP_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[-+]\d\d:\d\d$")


@pytest.fixture(scope="module")
def schema() -> Any:
    if not XSD.is_file():
        pytest.skip(f"official CAP XSD not found at {XSD}")
    return etree.XMLSchema(etree.parse(str(XSD)))


def validate_cap(xml: bytes, schema: Any) -> None:
    """Validate against the official OASIS CAP 1.2 XSD; fail with the schema's own errors."""
    doc = etree.fromstring(xml, etree.XMLParser(resolve_entities=False, no_network=True))
    if not schema.validate(doc):
        raise AssertionError(f"CAP XSD: {schema.error_log}")


def _incident(**changes: Any) -> Incident:
    fields: dict[str, Any] = {
        "id": 42,
        "alarm_type": "fire.smoke",
        "alarm_code": "101",
        "priority": 1,
        "category": "Fire",
        "handling": "new",
        "condition": "active",
        "first_event_at": T0,
        "last_event_at": T0 + timedelta(minutes=3),
        "event_count": 2,
        "opened_at": T0,
        "updated_at": T0 + timedelta(minutes=3),
        "site": "Town Hall",
        "location": Location(lat=51.5074, lon=-0.1278),
        "title": "Smoke detector activation at Town Hall",
    }
    fields.update(changes)
    return Incident(**fields)


def _export(incident: Incident, **kwargs: Any) -> bytes:
    kwargs.setdefault("sender", "tocsin@example.org")
    kwargs.setdefault("sent", SENT)
    return incident_to_cap(incident, **kwargs)


def _find(xml: bytes, path: str) -> list[str]:
    return [el.text or "" for el in etree.fromstring(xml).iterfind(path, NS)]


def _check_extra_rules(xml: bytes) -> None:
    """The CAP rules the XSD does not check, asserted from the outside."""
    root = etree.fromstring(xml)
    for name in ("sent", "effective", "onset", "expires"):
        for el in root.iter(f"{{{NS['cap']}}}{name}"):
            assert CAP_TIME.match(el.text), el.text
            assert not el.text.endswith(("Z", "+00:00")), el.text
    assert b"Z<" not in xml
    for tag in ("identifier", "sender"):
        value = root.findtext(f"cap:{tag}", namespaces=NS)
        assert value and not re.search(r"[\s,<&]", value)
    for polygon in _find(xml, ".//cap:polygon"):
        pairs = polygon.split()
        assert len(pairs) >= 4 and pairs[0] == pairs[-1]
        assert all(re.fullmatch(r"-?\d+(\.\d+)?,-?\d+(\.\d+)?", p) for p in pairs)
    for circle in _find(xml, ".//cap:circle"):
        assert re.fullmatch(r"-?\d+(\.\d+)?,-?\d+(\.\d+)? \d+(\.\d+)?", circle)
    assert root.findtext("cap:scope", namespaces=NS) == "Restricted"
    assert root.findtext("cap:restriction", namespaces=NS)


PRIORITY_MAP = {
    1: ("Immediate", "Extreme"),
    2: ("Immediate", "Severe"),
    3: ("Expected", "Moderate"),
    4: ("Future", "Minor"),
}


@pytest.mark.parametrize("priority", [1, 2, 3, 4])
@pytest.mark.parametrize("category", CATEGORIES)
def test_every_priority_and_category_validates(schema: Any, category: str, priority: int) -> None:
    xml = _export(_incident(category=category, priority=priority), alarm_type_name="Some alarm", sop=SOP)
    validate_cap(xml, schema)
    _check_extra_rules(xml)
    assert _find(xml, "cap:info/cap:category") == [category]
    urgency, severity = PRIORITY_MAP[priority]
    assert _find(xml, "cap:info/cap:urgency") == [urgency]
    assert _find(xml, "cap:info/cap:severity") == [severity]
    assert _find(xml, "cap:info/cap:certainty") == ["Possible"]
    [event] = parse_cap(xml)
    assert event.type == f"cap.{category.lower()}.some_alarm"
    assert event.location == Location(lat=51.5074, lon=-0.1278)


def test_document_shape(schema: Any) -> None:
    xml = _export(_incident(), alarm_type_name="Smoke detector activation", sop=SOP, sender_name="Example control")
    validate_cap(xml, schema)
    assert xml.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    assert _find(xml, "cap:identifier") == ["tocsin-incident-42-20240501T123015"]
    assert _find(xml, "cap:sent") == ["2024-05-01T12:30:15-00:00"]
    assert _find(xml, "cap:status") == ["Actual"]
    assert _find(xml, "cap:msgType") == ["Alert"]
    assert _find(xml, "cap:restriction") == [DEFAULT_RESTRICTION]
    assert _find(xml, "cap:incidents") == ["tocsin-incident-42"]
    assert _find(xml, "cap:info/cap:event") == ["Smoke detector activation"]
    assert _find(xml, "cap:info/cap:headline") == ["Smoke detector activation at Town Hall"]
    assert _find(xml, "cap:info/cap:instruction") == [
        "1. Call the fire service.\n2. Evacuate the building & check the roll call."
    ]
    assert _find(xml, "cap:info/cap:onset") == ["2024-05-01T12:00:00-00:00"]
    assert _find(xml, "cap:info/cap:area/cap:areaDesc") == ["Town Hall"]
    assert _find(xml, "cap:info/cap:area/cap:circle") == ["51.5074,-0.1278 0.1"]
    assert _find(xml, "cap:info/cap:eventCode/cap:value") == ["fire.smoke", "101"]
    assert b"&amp;" in xml


def test_round_trip(schema: Any) -> None:
    xml = _export(_incident(exercise=True), alarm_type_name="Smoke detector activation", radius_km=0.25)
    validate_cap(xml, schema)
    [event] = parse_cap(xml)
    assert event.type == "cap.fire.smoke_detector_activation"
    assert event.exercise is True
    assert event.condition == "active"
    assert event.location == Location(lat=51.5074, lon=-0.1278)
    assert event.source == "tocsin@example.org"
    assert event.occurred_at == T0  # the onset: the first event
    assert event.attributes["circle"] == "51.5074,-0.1278 0.25"
    assert event.attributes["eventCode.tocsin:alarm_type"] == "fire.smoke"
    assert event.attributes["status"] == "Exercise"


def test_without_location(schema: Any) -> None:
    xml = _export(_incident(location=None))
    validate_cap(xml, schema)
    assert _find(xml, ".//cap:circle") == []
    assert _find(xml, ".//cap:areaDesc") == ["Town Hall"]
    [event] = parse_cap(xml)
    assert event.location is None
    assert event.type == "cap.fire.fire_smoke"  # no alarm type name: the key

    bare = _export(_incident(location=None, site=None, title=None))
    validate_cap(bare, schema)
    assert _find(bare, ".//cap:area") == []
    assert _find(bare, ".//cap:headline") == ["fire.smoke"]


def test_location_without_site(schema: Any) -> None:
    xml = _export(_incident(site=None, location=Location(lat=-33.8688, lon=151.2093)))
    validate_cap(xml, schema)
    assert _find(xml, ".//cap:areaDesc") == ["-33.8688,151.2093"]


def test_polygon_is_closed_and_round_trips(schema: Any) -> None:
    outline = [(51.50, -0.13), (51.51, -0.13), (51.51, -0.12), (51.50, -0.12)]
    xml = _export(_incident(location=None), polygon=outline)
    validate_cap(xml, schema)
    _check_extra_rules(xml)
    assert _find(xml, ".//cap:polygon") == ["51.5,-0.13 51.51,-0.13 51.51,-0.12 51.5,-0.12 51.5,-0.13"]
    [event] = parse_cap(xml)
    assert event.location is not None
    assert event.location.lat == pytest.approx(51.505)
    assert event.location.lon == pytest.approx(-0.125)


@pytest.mark.parametrize("disposition", ["false_alarm", "unfounded", "duplicate", "test"])
def test_not_real_incidents_are_cancelled(schema: Any, disposition: str) -> None:
    earlier = cap_reference("tocsin@example.org", "tocsin-incident-42-20240501T120100", T0)
    xml = _export(_incident(handling="closed", disposition=disposition), references=[earlier])
    validate_cap(xml, schema)
    assert _find(xml, "cap:msgType") == ["Cancel"]
    assert _find(xml, "cap:references") == [
        "tocsin@example.org,tocsin-incident-42-20240501T120100,2024-05-01T12:00:00-00:00"
    ]
    assert _find(xml, "cap:note") == [f"Incident 42 cancelled: {disposition}."]
    assert _find(xml, "cap:info/cap:certainty") == ["Unlikely"]
    assert _find(xml, "cap:info/cap:responseType") == []
    [event] = parse_cap(xml)
    assert event.condition == "cleared"


def test_merged_incident_is_cancelled(schema: Any) -> None:
    xml = _export(_incident(handling="merged", merged_into=7))
    validate_cap(xml, schema)
    assert _find(xml, "cap:msgType") == ["Cancel"]
    assert _find(xml, "cap:note") == ["Incident 42 cancelled: merged into incident 7."]


def test_update_and_all_clear(schema: Any) -> None:
    earlier = cap_reference("tocsin@example.org", "first", T0)
    xml = _export(_incident(handling="dispatched", disposition="founded"), references=[earlier])
    validate_cap(xml, schema)
    assert _find(xml, "cap:msgType") == ["Update"]
    assert _find(xml, "cap:info/cap:certainty") == ["Observed"]

    closed = _export(_incident(handling="closed", condition="cleared", disposition="founded"), references=[earlier])
    validate_cap(closed, schema)
    assert _find(closed, "cap:info/cap:responseType") == ["AllClear"]
    assert _find(closed, "cap:info/cap:urgency") == ["Past"]


def test_texts_are_made_xml_safe(schema: Any) -> None:
    xml = _export(_incident(title="Alarm \x00\x07 <b>&amp; \ufffe", site="Hall \x1b A"))
    validate_cap(xml, schema)
    assert _find(xml, ".//cap:headline") == ["Alarm  <b>&amp; "]
    long_title = _export(_incident(title="x" * 300))
    assert len(_find(long_title, ".//cap:headline")[0]) == 160


def test_naive_and_offset_times_are_written_in_utc() -> None:
    assert cap_time(datetime(2024, 1, 2, 3, 4, 5, 999_999)) == "2024-01-02T03:04:05-00:00"  # noqa: DTZ001
    assert cap_time(datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=-5)))) == "2024-01-02T08:04:05-00:00"


@pytest.mark.parametrize(
    ("changes", "kwargs", "needle"),
    [
        ({}, {"sender": "tocsin example"}, "sender"),
        ({}, {"sender": "a,b"}, "sender"),
        ({}, {"sender": ""}, "sender"),
        ({}, {"identifier": "id<1"}, "identifier"),
        ({"category": "Weather"}, {}, "category"),
        ({}, {"radius_km": -1.0}, "radius_km"),
        ({}, {"radius_km": float("nan")}, "radius_km"),
        ({}, {"polygon": [(1.0, 1.0), (2.0, 2.0), (1.0, 1.0)]}, "3 distinct"),
        ({}, {"polygon": [(1.0, 1.0), (2.0, 2.0), (95.0, 1.0)]}, "WGS 84"),
        ({}, {"references": ["just-an-id"]}, "reference"),
        ({}, {"references": ["a,b,2024-01-01T00:00:00Z"]}, "'Z'"),
    ],
)
def test_bad_arguments(changes: dict[str, Any], kwargs: dict[str, Any], needle: str) -> None:
    with pytest.raises(CapExportError, match=re.escape(needle)):
        _export(_incident(**changes), **kwargs)


def _doc(**replace: str) -> bytes:
    xml = _export(_incident())
    for old, new in replace.items():
        xml = xml.replace(old.encode(), new.encode())
    return xml


def test_check_cap_rules() -> None:
    check_cap_rules(_doc())
    with pytest.raises(CapExportError, match="-00:00"):
        check_cap_rules(_doc(**{"12:30:15-00:00": "12:30:15+00:00"}))
    with pytest.raises(CapExportError, match="'Z'"):
        check_cap_rules(_doc(**{"12:30:15-00:00": "12:30:15Z"}))
    with pytest.raises(CapExportError, match="restriction"):
        check_cap_rules(_doc(**{f"<restriction>{DEFAULT_RESTRICTION}</restriction>": ""}))
    with pytest.raises(CapExportError, match="addresses"):
        check_cap_rules(_doc(**{"Restricted</scope>": "Private</scope>"}))
    with pytest.raises(CapExportError, match="not closed"):
        check_cap_rules(_doc(**{"</areaDesc>": "</areaDesc><polygon>1,1 2,2 3,1 1,2</polygon>"}))
