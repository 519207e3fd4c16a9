"""CAP 1.2 in: the shared vectors, the rules beyond the XSD, hostile XML, feeds, fuzzing."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tocsin.errors import PayloadTooLarge
from tocsin.ingest.cap import (
    CapDecodeError,
    parse_cap,
    parse_cap_circle,
    parse_cap_feed,
    parse_cap_feed_alerts,
    parse_cap_polygon,
    parse_cap_time,
)
from tocsin.model import EventIn

VECTORS = Path(__file__).resolve().parents[3].parent / "shared" / "specs" / "vectors"
CAP_DIR = VECTORS / "cap"
CORPUS = Path(__file__).parent / "corpus" / "cap"
MISSING = f"shared CAP vectors not found at {CAP_DIR}"


def _index() -> list[dict[str, Any]]:
    path = CAP_DIR / "index.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else []


def _params(items: list[Any], ids: list[str]) -> list[Any]:
    if not items:
        return [pytest.param(None, marks=pytest.mark.skip(reason=MISSING), id="no-vectors")]
    return [pytest.param(item, id=name) for item, name in zip(items, ids, strict=True)]


INDEX = _index()
NEGATIVES = sorted(CAP_DIR.glob("neg_*.xml")) if CAP_DIR.is_dir() else []

# What each negative vector's error must name (a vector not listed must still fail cleanly).
NEGATIVE_PROBLEMS = {
    "neg_bad_enum_synthesized.xml": ("alert/info/severity", "'High'", "Extreme"),
    "neg_polygon_not_closed_synthesized.xml": ("polygon", "not closed"),
    "neg_sent_Z_synthesized.xml": ("alert/sent", "'Z'", "-00:00"),
}


def _alert(
    *,
    sent: str = "2024-03-01T10:00:00-00:00",
    status: str = "Actual",
    msg_type: str = "Alert",
    info: str | None = None,
    extra: str = "",
) -> bytes:
    if info is None:
        info = _info()
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">'
        "<identifier>test-1</identifier><sender>test@example.org</sender>"
        f"<sent>{sent}</sent><status>{status}</status><msgType>{msg_type}</msgType>"
        f"<scope>Public</scope>{extra}{info}</alert>"
    ).encode()


def _info(*, body: str = "", area: str = "", language: str = "", category: str = "Met") -> str:
    lang = f"<language>{language}</language>" if language else ""
    return (
        f"<info>{lang}<category>{category}</category><event>Severe Thunderstorm Warning</event>"
        "<urgency>Immediate</urgency><severity>Severe</severity><certainty>Observed</certainty>"
        f"{body}{area}</info>"
    )


# --- the shared vectors -------------------------------------------------------------------------


@pytest.mark.parametrize("entry", _params(INDEX, [e["file"] for e in INDEX]))
def test_vector_parses_to_expected_fields(entry: dict[str, Any]) -> None:
    expected_alert = entry["alert"]
    events = parse_cap((CAP_DIR / entry["file"]).read_bytes())
    # One event per <info> of the alert's (first) language; translations are not more warnings.
    first_language = entry["info"][0].get("language", "en-US")
    infos = [i for i in entry["info"] if i.get("language", "en-US") == first_language]
    assert len(events) == len(infos)
    sent = datetime.fromisoformat(expected_alert["sent"])
    for n, (event, info) in enumerate(zip(events, infos, strict=True)):
        attrs = event.attributes
        assert event.source == expected_alert["sender"]
        assert event.external_id == f"{expected_alert['identifier']}#{n}"
        assert event.method == "equipment"
        assert attrs["identifier"] == expected_alert["identifier"]
        for field in ("status", "msgType", "scope"):
            assert attrs[field] == expected_alert[field]
        assert attrs.get("references") == expected_alert.get("references")
        assert datetime.fromisoformat(str(attrs["sent"])) == sent
        assert event.occurred_at == sent  # none of the vectors has an onset or effective time
        assert event.exercise is False
        assert event.condition == ("cleared" if expected_alert["msgType"] == "Cancel" else "active")
        _check_info(event, info)


def _check_info(event: EventIn, info: dict[str, Any]) -> None:
    attrs = event.attributes
    category = info["category"][0]
    assert event.type.startswith(f"cap.{category.lower()}.")
    assert attrs["category"] == category
    for field in ("event", "urgency", "severity", "certainty", "headline"):
        assert attrs[field] == info[field]
    assert attrs["language"] == info.get("language", "en-US")
    if "expires" in info:
        assert datetime.fromisoformat(str(attrs["expires"])) == datetime.fromisoformat(info["expires"])
    if info.get("responseType"):
        assert attrs["responseType"] == ",".join(info["responseType"])
    for name, value in info.get("eventCode", []):
        assert value in str(attrs[f"eventCode.{name}"]).split(",")
    areas = info["area"]
    assert attrs["areaDesc"] == "; ".join(a["areaDesc"] for a in areas)
    for area in areas:
        for name, value in area["geocode"]:
            assert value in str(attrs[f"geocode.{name}"]).split(",")
    _check_location(event, areas)


def _check_location(event: EventIn, areas: list[dict[str, Any]]) -> None:
    circles = [c for a in areas for c in a["circle"]]
    polygons = [p for a in areas for p in a["polygon"]]
    if circles:
        lat, lon, _ = parse_cap_circle(circles[0])
        assert event.location is not None
        assert (event.location.lat, event.location.lon) == (lat, lon)
    elif polygons:
        points = parse_cap_polygon(polygons[0])
        assert event.location is not None
        assert min(p[0] for p in points) < event.location.lat < max(p[0] for p in points)
        assert min(p[1] for p in points) < event.location.lon < max(p[1] for p in points)
        assert event.attributes["polygon"] == polygons[0]
    else:
        assert event.location is None


def test_appendix_a2_maps_as_documented() -> None:
    if not (CAP_DIR / "v1dot2_appendix_adot2.xml").is_file():
        pytest.skip(MISSING)
    [event] = parse_cap((CAP_DIR / "v1dot2_appendix_adot2.xml").read_bytes())
    assert event.type == "cap.met.severe_thunderstorm"
    assert event.location is not None
    assert event.location.lat == pytest.approx(38.484, abs=1e-3)
    assert event.location.lon == pytest.approx(-119.935, abs=1e-3)
    assert event.attributes["area_bbox"] == "38.34,-120.14 38.62,-119.74"
    assert event.attributes["geocode.SAME"] == "006109,006009,006003"
    assert event.attributes["expires"] == "2003-06-17T16:00:00-07:00"
    assert event.description is not None and event.description.startswith("AT 254 PM PDT")


def test_appendix_a4_second_language_on_request() -> None:
    if not (CAP_DIR / "v1dot2_appendix_adot4.xml").is_file():
        pytest.skip(MISSING)
    body = (CAP_DIR / "v1dot2_appendix_adot4.xml").read_bytes()
    [english] = parse_cap(body)
    [spanish] = parse_cap(body, language="es")
    assert english.type == "cap.rescue.child_abduction"
    assert spanish.type == "cap.rescue.abduccion_de_nino"  # accents dropped from Latin letters
    assert spanish.external_id == "KAR0-0306112239-SW#1"
    assert parse_cap(body, language="fr") == [english]  # not offered: the alert's first language


def test_appendix_a3_parameters_kept() -> None:
    if not (CAP_DIR / "v1dot2_appendix_adot3.xml").is_file():
        pytest.skip(MISSING)
    [event] = parse_cap((CAP_DIR / "v1dot2_appendix_adot3.xml").read_bytes())
    assert event.attributes["parameter.Magnitude"] == "3.4 Ml"
    assert event.attributes["circle"] == "32.9525,-115.5527 0"


@pytest.mark.parametrize("path", _params(NEGATIVES, [p.name for p in NEGATIVES]))
def test_negative_vectors_raise_naming_the_problem(path: Path) -> None:
    with pytest.raises(CapDecodeError) as info:
        parse_cap(path.read_bytes())
    for needle in NEGATIVE_PROBLEMS.get(path.name, ()):
        assert needle in info.value.detail
    assert info.value.errors and info.value.errors[0].path


# --- the rules, one by one ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (_alert(sent="2024-03-01T10:00:00Z"), "'Z'"),
        (_alert(sent="2024-03-01T10:00:00.25-00:00"), "fractional seconds"),
        (_alert(sent="2024-03-01T10:00:00"), "not a CAP time"),
        (_alert(sent="2024-13-01T10:00:00-00:00"), "not a real time"),
        (_alert(status="Real"), "alert/status: 'Real' is not one of"),
        (_alert(msg_type="Notify"), "alert/msgType"),
        (_alert(info=_info(category="Weather")), "alert/info/category: 'Weather'"),
        (_alert(info=_info().replace("<event>Severe Thunderstorm Warning</event>", "")), "alert/info/event: required"),
        (_alert(info=_info().replace("<event>Severe Thunderstorm Warning</event>", "<event> </event>")), "empty"),
        (_alert(extra="<sent>2024-03-01T10:00:00-00:00</sent>"), "alert/sent: appears more than once"),
        (_alert(info=_info(body="<responseType>Run</responseType>")), "responseType"),
        (_alert(info=_info(body="<expires>tomorrow</expires>")), "alert/info/expires"),
        (_alert(info=_info(body="<eventCode><valueName>SAME</valueName></eventCode>")), "eventCode/value"),
        (_alert(info=_info(area="<area><polygon>1,1 2,2 3,1 1,1</polygon></area>")), "areaDesc: required"),
        (_alert(info=_info(area="<area><areaDesc>x</areaDesc><polygon>1,1 2,2 1,1</polygon></area>")), "3 points"),
        (_alert(info=_info(area="<area><areaDesc>x</areaDesc><polygon>1;1 2,2 3,1 1;1</polygon></area>")), "pair"),
        (_alert(info=_info(area="<area><areaDesc>x</areaDesc><circle>1,200 5</circle></area>")), "WGS 84"),
        (_alert(info=_info(area="<area><areaDesc>x</areaDesc><circle>1,2</circle></area>")), "not a CAP circle"),
        (_alert().replace(b"<identifier>test-1", b"<identifier>test,1"), "alert/identifier"),
        (_alert().replace(b"<sender>test@example.org", b"<sender>a&amp;b"), "alert/sender"),
        (_alert().replace(b"<scope>Public</scope>", b""), "alert/scope: required"),
        (_alert().replace(b"cap:1.2", b"cap:1.1"), "CAP 1.1"),
        (_alert().replace(b' xmlns="urn:oasis:names:tc:emergency:cap:1.2"', b""), "namespace"),
        (b"<feed/>", "not a CAP 1.2 <alert>"),
        (b"", "not well-formed"),
        (b"<alert", "not well-formed"),
        (b'<?xml version="1.0" encoding="no-such-codec"?><alert/>', "unreadable"),
    ],
)
def test_malformed_alerts_are_named(body: bytes, needle: str) -> None:
    with pytest.raises(CapDecodeError) as info:
        parse_cap(body)
    assert needle in info.value.detail


def test_other_language_blocks_are_still_checked() -> None:
    bad = _info(language="de-DE").replace("Severe</severity>", "Loud</severity>")
    with pytest.raises(CapDecodeError, match=r"info\[2\]/severity"):
        parse_cap(_alert(info=_info() + bad))


def test_times_and_offsets() -> None:
    assert parse_cap_time("2003-06-17T14:57:00-00:00") == datetime(2003, 6, 17, 14, 57, tzinfo=UTC)
    assert parse_cap_time(" 2003-06-17T14:57:00+05:30\n").utcoffset() == timedelta(hours=5, minutes=30)
    assert parse_cap_time("2003-06-17T14:57:00-07:00") == datetime(2003, 6, 17, 21, 57, tzinfo=UTC)
    with pytest.raises(CapDecodeError, match="'Z'"):
        parse_cap_time("2003-06-17T14:57:00Z")


def test_polygon_and_circle_grammar() -> None:
    assert parse_cap_polygon("1,1 2,2\n3,1\t1,1") == [(1, 1), (2, 2), (3, 1), (1, 1)]
    assert parse_cap_circle("32.9525,-115.5527 0") == (32.9525, -115.5527, 0.0)
    with pytest.raises(CapDecodeError, match="not closed"):
        parse_cap_polygon("1,1 2,2 3,1 1,2")
    with pytest.raises(CapDecodeError, match="negative"):
        parse_cap_circle("1,1 -1")


def test_status_msgtype_and_times_map_as_documented() -> None:
    info = _info(body="<onset>2024-03-01T09:30:00-00:00</onset><effective>2024-03-01T09:45:00-00:00</effective>")
    [event] = parse_cap(_alert(status="Exercise", msg_type="Cancel", info=info))
    assert event.exercise is True
    assert event.condition == "cleared"
    assert event.occurred_at == datetime(2024, 3, 1, 9, 30, tzinfo=UTC)  # onset, already begun
    assert event.attributes["effective"] == "2024-03-01T09:45:00+00:00"

    future = _info(body="<effective>2024-03-01T09:45:00-00:00</effective><onset>2024-03-02T06:00:00-00:00</onset>")
    [event] = parse_cap(_alert(status="Test", msg_type="Update", info=future))
    assert event.exercise is True and event.condition == "active"
    assert event.occurred_at == datetime(2024, 3, 1, 9, 45, tzinfo=UTC)  # a future onset is not when it happened
    assert event.attributes["onset"] == "2024-03-02T06:00:00+00:00"


@pytest.mark.parametrize(("status", "msg_type"), [("System", "Alert"), ("Draft", "Alert"), ("Actual", "Ack")])
def test_non_actionable_alerts_give_no_events(status: str, msg_type: str) -> None:
    assert parse_cap(_alert(status=status, msg_type=msg_type)) == []


def test_alert_without_info_gives_no_events() -> None:
    assert parse_cap(_alert(info="")) == []


def test_several_categories_and_areas() -> None:
    area = (
        "<area><areaDesc>North</areaDesc><polygon/></area>"
        "<area><areaDesc>South</areaDesc><geocode><valueName>UGC</valueName><value>X1</value></geocode>"
        "<circle>10.5,20.25 3</circle></area>"
    )
    info = _info(area=area).replace("<category>Met</category>", "<category>Met</category><category>Env</category>")
    [event] = parse_cap(_alert(info=info))
    assert event.type == "cap.met.severe_thunderstorm_warning"
    assert event.attributes["categories"] == "Met,Env"
    assert event.attributes["areaDesc"] == "North; South"
    assert event.location is not None and (event.location.lat, event.location.lon) == (10.5, 20.25)


def test_very_likely_reads_as_likely() -> None:
    [event] = parse_cap(_alert(info=_info().replace(">Observed<", ">Very Likely<")))
    assert event.attributes["certainty"] == "Likely"


def test_long_polygon_keeps_only_its_box() -> None:
    ring = [(10 + i / 1000, 20 + (i % 7) / 100) for i in range(200)]
    text = " ".join(f"{lat:.4f},{lon:.4f}" for lat, lon in [*ring, ring[0]])
    [event] = parse_cap(_alert(info=_info(area=f"<area><areaDesc>x</areaDesc><polygon>{text}</polygon></area>")))
    assert "polygon" not in event.attributes
    assert event.attributes["area_bbox"] == "10,20 10.199,20.06"
    assert event.location is not None


def test_event_fields_fit_the_model() -> None:
    info = _info(body=f"<headline>{'H' * 500}</headline><description>{'d' * 5000}</description>")
    [event] = parse_cap(_alert(info=info))
    assert len(str(event.attributes["headline"])) == 200
    assert event.description is not None and len(event.description) == 4000
    assert all(1 <= len(key) <= 64 for key in event.attributes)


# --- hostile XML --------------------------------------------------------------------------------


def test_xxe_is_refused_without_reading_the_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET", encoding="utf-8")
    body = (
        f'<?xml version="1.0"?><!DOCTYPE alert [<!ENTITY x SYSTEM "{secret.as_uri()}">]>'
        '<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&x;</identifier></alert>'
    ).encode()
    with pytest.raises(CapDecodeError, match="DTDs and entities are not accepted") as info:
        parse_cap(body)
    assert "TOPSECRET" not in str(info.value)


def test_billion_laughs_is_refused() -> None:
    with pytest.raises(CapDecodeError, match="DTDs and entities"):
        parse_cap((CORPUS / "bad_billion_laughs.xml").read_bytes())


def test_oversize_is_payload_too_large() -> None:
    body = _alert(info=_info(body=f"<description>{'x' * 2000}</description>"))
    with pytest.raises(PayloadTooLarge, match="limit is 1000"):
        parse_cap(body, max_bytes=1000)
    assert parse_cap(body, max_bytes=len(body))
    with pytest.raises(PayloadTooLarge):
        parse_cap(b" " * ((1 << 20) + 1))


def test_deep_nesting_is_refused_or_harmless() -> None:
    deep = b"<x>" * 100_000 + b"</x>" * 100_000
    alert = b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">' + deep + b"</alert>"
    with pytest.raises(CapDecodeError, match="identifier: required"):
        parse_cap(alert)
    feed = b'<feed xmlns="http://www.w3.org/2005/Atom"><entry>' + alert + b"</entry></feed>"
    with pytest.raises(CapDecodeError, match="nests deeper"):
        parse_cap_feed_alerts(feed)


def test_too_many_info_blocks() -> None:
    with pytest.raises(CapDecodeError, match="at most 64"):
        parse_cap(_alert(info=_info() * 65))


# --- feeds --------------------------------------------------------------------------------------

ATOM = b"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:cap="urn:oasis:names:tc:emergency:cap:1.2">
  <id>urn:feed</id><title>Warnings</title>
  <entry><id>https://alerts.example.org/a1</id>
    <link rel="alternate" type="text/html" href="https://alerts.example.org/a1.html"/>
    <link rel="alternate" type="application/cap+xml" href="https://alerts.example.org/a1.cap"/>
  </entry>
  <entry><id>https://alerts.example.org/a2</id></entry>
  <entry><id>urn:oid:3</id><link href="file:///etc/passwd"/><link href="/relative"/></entry>
  <entry><id>https://alerts.example.org/a1</id>
    <link type="application/cap+xml" href="https://alerts.example.org/a1.cap"/></entry>
  <entry><id>urn:oid:4</id><content type="text/xml">
    <cap:alert><cap:identifier>emb-1</cap:identifier><cap:sender>feed@example.org</cap:sender>
      <cap:sent>2024-03-01T10:00:00-00:00</cap:sent><cap:status>Actual</cap:status>
      <cap:msgType>Alert</cap:msgType><cap:scope>Public</cap:scope>
      <cap:info><cap:category>Geo</cap:category><cap:event>Earthquake</cap:event>
        <cap:urgency>Past</cap:urgency><cap:severity>Minor</cap:severity><cap:certainty>Observed</cap:certainty>
      </cap:info></cap:alert>trailing text
  </content></entry>
</feed>"""

RSS = b"""<?xml version="1.0"?>
<rss version="2.0"><channel><title>Alerts</title>
  <item><link>https://alerts.example.org/r1.xml</link></item>
  <item><link>https://alerts.example.org/r2.html</link>
    <enclosure url="https://alerts.example.org/r2.cap" type="application/cap+xml" length="1"/></item>
  <item><guid isPermaLink="false">https://alerts.example.org/not-a-link</guid></item>
  <item><guid>https://alerts.example.org/r3</guid></item>
</channel></rss>"""


def test_atom_feed_links_and_embedded_alerts() -> None:
    assert parse_cap_feed(ATOM) == ["https://alerts.example.org/a1.cap", "https://alerts.example.org/a2"]
    [embedded] = parse_cap_feed_alerts(ATOM)
    [event] = parse_cap(embedded)
    assert (event.type, event.source, event.external_id) == ("cap.geo.earthquake", "feed@example.org", "emb-1#0")


def test_rss_feed_links() -> None:
    assert parse_cap_feed(RSS) == [
        "https://alerts.example.org/r1.xml",
        "https://alerts.example.org/r2.cap",
        "https://alerts.example.org/r3",
    ]
    assert parse_cap_feed_alerts(RSS) == []


def test_rss1_feed_links() -> None:
    rdf = (
        b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">'
        b"<item><link>https://alerts.example.org/x</link></item></rdf:RDF>"
    )
    assert parse_cap_feed(rdf) == ["https://alerts.example.org/x"]


def test_a_bare_alert_is_a_feed_of_one() -> None:
    body = _alert()
    assert parse_cap_feed(body) == []
    assert [e.type for e in parse_cap(parse_cap_feed_alerts(body)[0])] == [e.type for e in parse_cap(body)]


@pytest.mark.parametrize("body", [b"<html/>", b"not xml", b"<!DOCTYPE feed [<!ENTITY a 'b'>]><feed/>"])
def test_bad_feeds(body: bytes) -> None:
    with pytest.raises(CapDecodeError):
        parse_cap_feed(body)


def test_feed_bounds() -> None:
    with pytest.raises(PayloadTooLarge):
        parse_cap_feed(RSS, max_bytes=10)
    many = b"<rss><channel>" + b"<item/>" * 10_001 + b"</channel></rss>"
    with pytest.raises(PayloadTooLarge, match="entries"):
        parse_cap_feed(many)


# --- corpus and fuzzing -------------------------------------------------------------------------


def _corpus() -> list[Path]:
    return sorted(p for p in CORPUS.iterdir() if p.suffix == ".xml")


@pytest.mark.parametrize("path", _corpus(), ids=lambda p: p.name)
def test_corpus(path: Path) -> None:
    body = path.read_bytes()
    if path.name.startswith("ok_"):
        assert parse_cap(body)
    elif path.name.startswith("bad_"):
        with pytest.raises(CapDecodeError):
            parse_cap(body)
    else:
        with contextlib.suppress(CapDecodeError):
            parse_cap(body)


SEEDS = [p.read_bytes() for p in _corpus()] + [p.read_bytes() for p in sorted(CAP_DIR.glob("*.xml"))]


@st.composite
def _mutated(draw: st.DrawFn) -> bytes:
    seed = draw(st.sampled_from(SEEDS))
    start = draw(st.integers(0, len(seed)))
    end = draw(st.integers(start, min(len(seed), start + 64)))
    filler = draw(
        st.one_of(
            st.binary(max_size=16),
            st.sampled_from([b"", b"<", b"&", b"Z", b"-00:00", b"<info>", b"</area>", b",", b" ", b"\x00", b"nan"]),
            st.text(max_size=8).map(str.encode),
        )
    )
    return seed[:start] + filler + seed[end:]


ELEMENTS = ["identifier", "sender", "sent", "status", "msgType", "scope", "info", "category", "event", "urgency"]
ELEMENTS += ["severity", "certainty", "area", "areaDesc", "polygon", "circle", "geocode", "valueName", "value"]
ELEMENTS += ["onset", "effective", "expires", "language", "parameter", "eventCode", "responseType", "references"]


@st.composite
def _generated(draw: st.DrawFn) -> bytes:
    def element(depth: int) -> str:
        name = draw(st.sampled_from(ELEMENTS))
        if depth > 2 or draw(st.booleans()):
            text = draw(
                st.one_of(
                    st.sampled_from(["Met", "Actual", "1,1 2,2 3,1 1,1", "2024-01-01T00:00:00-00:00"]),
                    st.text(alphabet="0123456789,.-: TZabc", max_size=30),
                )
            )
            return f"<{name}>{text}</{name}>"
        children = "".join(element(depth + 1) for _ in range(draw(st.integers(0, 4))))
        return f"<{name}>{children}</{name}>"

    inner = "".join(element(0) for _ in range(draw(st.integers(0, 10))))
    return f'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">{inner}</alert>'.encode()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.binary(max_size=300), _mutated(), _generated()))
def test_fuzz_parse_cap_raises_only_decode_errors(body: bytes) -> None:
    try:
        events = parse_cap(body)
    except CapDecodeError:
        return
    assert all(isinstance(e, EventIn) for e in events)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.binary(max_size=200),
        _mutated(),
        st.sampled_from([ATOM, RSS]).flatmap(lambda seed: st.integers(0, len(seed)).map(lambda cut: seed[:cut])),
    )
)
def test_fuzz_feeds_raise_only_decode_errors(body: bytes) -> None:
    try:
        parse_cap_feed(body)
        parse_cap_feed_alerts(body)
    except CapDecodeError:
        pass


def test_timezone_of_event_is_kept() -> None:
    [event] = parse_cap(_alert(sent="2024-03-01T10:00:00+02:00"))
    assert event.occurred_at is not None
    assert event.occurred_at.utcoffset() == timedelta(hours=2)
