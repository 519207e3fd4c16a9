"""Frigate MQTT in: the shared vectors, identity fields dropped, corpus, fuzzing; and the default mapping."""

from __future__ import annotations

import contextlib
import json
import re
import tomllib
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tocsin.errors import PayloadTooLarge
from tocsin.guard import judge_term
from tocsin.ingest.cap import parse_cap
from tocsin.ingest.frigate import FrigateDecodeError, FrigateResult, parse_frigate
from tocsin.model import CATEGORIES

VECTORS = Path(__file__).resolve().parents[3].parent / "shared" / "specs" / "vectors"
FRIGATE_DIR = VECTORS / "frigate"
CAP_DIR = VECTORS / "cap"
CORPUS = Path(__file__).parent / "corpus" / "frigate"
MISSING = f"shared Frigate vectors not found at {FRIGATE_DIR}"


def _index() -> list[dict[str, Any]]:
    path = FRIGATE_DIR / "index.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else []


INDEX = _index()
VECTOR_PARAMS = [pytest.param(e, id=e["file"]) for e in INDEX] or [
    pytest.param(None, marks=pytest.mark.skip(reason=MISSING), id="no-vectors")
]


def _topic_of(file: str) -> str:
    """``docs_<topic>_<n>.json`` → ``frigate/<topic>``."""
    return "frigate/" + file.removeprefix("docs_").rsplit("_", 1)[0]


def _identity_values(node: Any, key: str | None = None) -> list[str]:
    """Every value under an identity field of a Frigate payload, as JSON text fragments."""
    identity = {"sub_label", "recognized_license_plate", "recognized_license_plate_score", "sub_labels", "face"}
    found: list[str] = []
    if isinstance(node, dict):
        for k, v in node.items():
            if k in identity and v not in (None, [], ""):
                found.extend(_leaves(v))
            else:
                found.extend(_identity_values(v, k))
    elif isinstance(node, list):
        for item in node:
            found.extend(_identity_values(item, key))
    return found


def _leaves(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [leaf for v in node.values() for leaf in _leaves(v)]
    if isinstance(node, list):
        return [leaf for v in node for leaf in _leaves(v)]
    return [json.dumps(node).strip('"')]


def _assert_no_identity(result: FrigateResult, payload: dict[str, Any]) -> None:
    text = msgspec.json.encode(result).decode()
    for value in _identity_values(payload):
        assert value not in text, f"identity value {value!r} leaked into {text}"
    for word in ("sub_label", "license_plate", "face"):
        assert word not in json.dumps(result.event.attributes if result.event else {})


@pytest.mark.parametrize("entry", VECTOR_PARAMS)
def test_vectors(entry: dict[str, Any]) -> None:
    raw = (FRIGATE_DIR / entry["file"]).read_bytes()
    topic = _topic_of(entry["file"])
    result = parse_frigate(topic, raw)
    expected = entry["expected"]
    payload = json.loads(raw)
    _assert_no_identity(result, payload)
    if topic == "frigate/events":
        assert result.event is not None
        event = result.event
        assert event.type == f"frigate.{expected['label']}"
        assert (event.source, event.site) == (f"frigate/{expected['camera']}", expected["camera"])
        assert event.external_id is not None
        assert event.external_id.startswith(f"{expected['id']}:{expected['type']}")
        assert event.attributes["zones"] == ",".join(expected["after.current_zones"])
        assert event.attributes["entered_zones"] == ",".join(expected["after.entered_zones"])
        assert event.attributes["phase"] == expected["type"]
        assert event.condition == ("cleared" if expected["type"] == "end" else "active")
        assert "sub_label" in result.dropped
    elif topic == "frigate/reviews":
        assert result.event is not None
        event = result.event
        assert event.type == f"frigate.review.{expected['severity']}"
        assert (event.source, event.site) == (f"frigate/{expected['camera']}", expected["camera"])
        assert event.attributes["objects"] == ",".join(expected["after.data.objects"])
        assert event.attributes["zones"] == ",".join(expected["after.data.zones"])
        assert event.attributes["review_id"] == expected["id"]
        assert result.dropped == ("data.sub_labels",)
    else:  # tracked_object_update (face, plate, descriptions) and triggers: ignored, not decoded
        assert result.event is None
        assert result.ignored is not None and topic in result.ignored
        assert result.dropped == ()


def test_events_vector_drops_every_identity_field() -> None:
    path = FRIGATE_DIR / "docs_events_1.json"
    if not path.is_file():
        pytest.skip(MISSING)
    result = parse_frigate("frigate/events", path.read_bytes())
    assert result.dropped == (
        "attributes.face",
        "recognized_license_plate",
        "recognized_license_plate_score",
        "sub_label",
    )
    assert result.event is not None
    text = msgspec.json.encode(result.event).decode()
    for value in ("John Smith", "ABC12345", "0.933451", "0.86", "0.64", "0.79"):
        assert value not in text
    attrs = result.event.attributes
    assert attrs["score"] == 0.87890625 and attrs["top_score"] == 0.958984375
    assert attrs["label"] == "person" and attrs["camera"] == "front_door"
    assert (attrs["has_clip"], attrs["has_snapshot"], attrs["stationary"], attrs["active"]) == (
        False,
        False,
        False,
        True,
    )
    assert result.event.occurred_at == datetime.fromtimestamp(1607123962.082975, UTC)  # the update's frame


def test_reviews_vector_drops_sub_labels() -> None:
    path = FRIGATE_DIR / "docs_reviews_1.json"
    if not path.is_file():
        pytest.skip(MISSING)
    result = parse_frigate("frigate/reviews", path.read_bytes())
    assert result.event is not None
    assert "Bob" not in msgspec.json.encode(result.event).decode()
    assert result.event.attributes["detections"] == 3
    assert result.event.occurred_at is None  # a review update carries no time of its own


# --- synthetic messages ---------------------------------------------------------------------------


def _obj(**changes: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "id": "1700000000.5-abcdef",
        "camera": "car_park",
        "label": "car",
        "score": 0.8,
        "top_score": 0.9,
        "frame_time": 1700000010.0,
        "start_time": 1700000000.5,
        "end_time": None,
        "false_positive": False,
        "current_zones": ["entrance"],
        "entered_zones": ["entrance"],
        "has_clip": True,
        "has_snapshot": True,
        "stationary": False,
        "active": True,
        "sub_label": None,
        "attributes": {},
        "current_attributes": [],
    }
    obj.update(changes)
    return obj


def _events(phase: str, **changes: Any) -> bytes:
    return json.dumps({"type": phase, "before": _obj(), "after": _obj(**changes)}).encode()


def test_phases_times_and_ids() -> None:
    new = parse_frigate("frigate/events", _events("new")).event
    end = parse_frigate("frigate/events", _events("end", end_time=1700000060.0)).event
    assert new is not None and end is not None
    assert new.occurred_at == datetime.fromtimestamp(1700000000.5, UTC)
    assert end.occurred_at == datetime.fromtimestamp(1700000060.0, UTC)
    assert (new.condition, end.condition) == ("active", "cleared")
    assert (new.external_id, end.external_id) == ("1700000000.5-abcdef:new", "1700000000.5-abcdef:end")
    assert new.type == end.type == "frigate.car"
    assert new.site == end.site == "car_park"
    assert new.method == "equipment"


def test_updates_are_distinct_but_redelivery_is_not() -> None:
    first = parse_frigate("frigate/events", _events("update", frame_time=1700000011.0)).event
    again = parse_frigate("frigate/events", _events("update", frame_time=1700000011.0)).event
    later = parse_frigate("frigate/events", _events("update", frame_time=1700000012.0)).event
    assert first is not None and again is not None and later is not None
    assert first.external_id == again.external_id
    assert first.external_id != later.external_id
    assert (first.type, first.site) == (later.type, later.site)  # they correlate into one incident


def test_plate_and_face_recognition_never_reach_the_event() -> None:
    car = _obj(
        sub_label=["Jane's Car", 0.91],
        recognized_license_plate="XY12ZZZ",
        recognized_license_plate_score=0.97,
        attributes={"license_plate": 0.88, "face": 0.55, "ups": 0.7},
        current_attributes=[{"label": "license_plate", "box": [1, 2, 3, 4], "score": 0.88}],
        snapshot={"attributes": [{"label": "face", "score": 0.55}]},
        faces=[{"name": "Jane", "score": 0.9}],
    )
    result = parse_frigate("frigate/events", json.dumps({"type": "update", "after": car}).encode())
    assert result.dropped == (
        "attributes.face",
        "attributes.license_plate",
        "faces",
        "recognized_license_plate",
        "recognized_license_plate_score",
        "sub_label",
    )
    assert result.event is not None
    text = msgspec.json.encode(result).decode()
    for value in ("Jane", "XY12ZZZ", "0.97", "0.91", "0.88", "0.55"):
        assert value not in text
    assert result.event.attributes["attribute_labels"] == "ups"


@pytest.mark.parametrize("label", ["face", "license_plate"])
def test_face_and_plate_objects_give_no_event(label: str) -> None:
    result = parse_frigate("frigate/events", _events("new", label=label))
    assert result.event is None
    assert result.dropped == (f"label.{label}",)


def test_false_positive_and_unknown_phase_are_ignored() -> None:
    assert parse_frigate("frigate/events", _events("update", false_positive=True)).ignored == "false positive"
    result = parse_frigate("frigate/events", _events("delete"))
    assert result.event is None and result.ignored is not None and "delete" in result.ignored


def test_reviews_filter_identity_labels_and_keep_audio() -> None:
    review = {
        "id": "r-1",
        "camera": "yard",
        "severity": "alert",
        "start_time": 1700000000.0,
        "end_time": 1700000100.0,
        "data": {
            "detections": ["a", "b"],
            "objects": ["person", "face"],
            "zones": ["lawn"],
            "audio": ["smoke_detector"],
            "sub_labels": ["Alice"],
            "verified_objects": ["person-verified"],
        },
    }
    result = parse_frigate("frigate/reviews", json.dumps({"type": "end", "after": review}).encode())
    assert result.event is not None
    assert result.dropped == ("data.objects.face", "data.sub_labels", "data.verified_objects")
    assert result.event.attributes["objects"] == "person"
    assert result.event.attributes["audio"] == "smoke_detector"
    assert result.event.condition == "cleared"
    assert result.event.occurred_at == datetime.fromtimestamp(1700000100.0, UTC)
    assert "Alice" not in msgspec.json.encode(result).decode()


def test_topics_and_prefix() -> None:
    assert parse_frigate("frigate/front/person/snapshot", b"\xff\xd8\xff\xe0jpeg").event is None
    assert parse_frigate("frigate/available", b"online").ignored is not None
    assert parse_frigate("other/events", _events("new")).event is None
    assert parse_frigate("events", _events("new")).event is None
    result = parse_frigate("site1/nvr/events", _events("new"), prefix="site1/nvr")
    assert result.event is not None and result.event.source == "site1/nvr/car_park"
    assert parse_frigate("frigate/events", _events("new"), prefix="site1/nvr").event is None


@pytest.mark.parametrize(
    ("topic", "payload", "needle"),
    [
        ("frigate/events", b"{not json", "events message"),
        ("frigate/events", b"[]", "events message"),
        ("frigate/events", b'{"type": "new"}', "after"),
        ("frigate/events", b'{"type": "new", "after": {"id": "a", "camera": "c"}}', "label"),
        ("frigate/events", b'{"type":"\x80"', "events message"),
        ("frigate/events", b'{"type": "new", "after": {"id": "", "camera": "c", "label": "x"}}', "id"),
        (
            "frigate/events",
            b'{"type": "new", "after": {"id": "a", "camera": "c", "label": "x", "score": "hi"}}',
            "score",
        ),
        (
            "frigate/events",
            b'{"type": "new", "after": {"id": "a", "camera": "c", "label": "x", "start_time": 1e300}}',
            "timestamp",
        ),
        ("frigate/reviews", b'{"type": "new", "after": {"id": "a", "camera": "c"}}', "severity"),
        ("frigate/reviews", b"", "reviews message"),
    ],
)
def test_malformed_payloads(topic: str, payload: bytes, needle: str) -> None:
    with pytest.raises(FrigateDecodeError, match=needle):
        parse_frigate(topic, payload)


def test_size_limit() -> None:
    with pytest.raises(PayloadTooLarge):
        parse_frigate("frigate/events", _events("new"), max_bytes=100)
    assert parse_frigate("frigate/front/snapshot", b"x" * 5_000_000).event is None  # not decoded, not bounded


# --- corpus and fuzzing ---------------------------------------------------------------------------


def _corpus() -> list[Path]:
    return sorted(p for p in CORPUS.iterdir() if p.suffix == ".json")


@pytest.mark.parametrize("path", _corpus(), ids=lambda p: p.name)
def test_corpus(path: Path) -> None:
    leaf, _, kind = path.stem.partition(".")
    topic, body = f"frigate/{leaf}", path.read_bytes()
    if kind.startswith("ok_"):
        result = parse_frigate(topic, body)
        assert result.event is not None
        _assert_no_identity(result, json.loads(body))
    elif kind.startswith("bad_"):
        with pytest.raises(FrigateDecodeError):
            parse_frigate(topic, body)
    else:
        with contextlib.suppress(FrigateDecodeError):
            parse_frigate(topic, body)


SEEDS = [p.read_bytes() for p in _corpus()] + [p.read_bytes() for p in sorted(FRIGATE_DIR.glob("docs_*.json"))]
JSON = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
KEYS = st.sampled_from(["id", "camera", "label", "severity", "score", "start_time", "end_time", "frame_time", "data"])
SHAPED = st.fixed_dictionaries(
    {"type": st.sampled_from(["new", "update", "end", "x"]), "after": st.dictionaries(KEYS, JSON, max_size=9)}
).map(lambda d: json.dumps(d).encode())


@st.composite
def _mutated(draw: st.DrawFn) -> bytes:
    seed = draw(st.sampled_from(SEEDS))
    start = draw(st.integers(0, len(seed)))
    end = draw(st.integers(start, min(len(seed), start + 32)))
    return seed[:start] + draw(st.binary(max_size=8)) + seed[end:]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(["frigate/events", "frigate/reviews", "frigate/triggers", "frigate/x/y"]),
    st.one_of(st.binary(max_size=200), JSON.map(lambda v: json.dumps(v).encode()), SHAPED, _mutated()),
)
def test_fuzz_parse_frigate_raises_only_decode_errors(topic: str, payload: bytes) -> None:
    try:
        result = parse_frigate(topic, payload)
    except FrigateDecodeError:
        return
    assert isinstance(result, FrigateResult)


# --- the default mapping (data/mappings/frigate_cap.toml) -----------------------------------------


def _mapping() -> dict[str, str]:
    """The file as tocsin.engine.mapping reads it: flat ``"event type" = "alarm.key"`` pairs."""
    text = (files("tocsin") / "data" / "mappings" / "frigate_cap.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    assert all(isinstance(value, str) for value in data.values()), "only flat pairs: no tables"
    return {str(k): str(v) for k, v in data.items()}


def test_mapping_file_is_well_formed() -> None:
    types = json.loads((files("tocsin") / "data" / "alarm_types.json").read_text(encoding="utf-8"))
    keys = {t["key"] for t in types}
    categories = {c.lower() for c in CATEGORIES}
    for event_type, alarm_type in _mapping().items():
        assert alarm_type in keys, f"{event_type}: unknown alarm type {alarm_type}"
        assert judge_term(event_type, field="vendor_code").verdict != "refused"
        vendor, _, rest = event_type.partition(".")
        assert vendor in ("frigate", "cap")
        if vendor == "cap":  # the shape tocsin.ingest.cap produces
            category, _, words = rest.partition(".")
            assert category in categories and re.fullmatch(r"[a-z0-9]+(_[a-z0-9]+)*", words), event_type
        for word in ("face", "plate", "sub_label", "person", "name", "identity", "recogni", "abduct", "missing"):
            assert word not in event_type, f"{event_type}: identity-related entries are not allowed"


@pytest.mark.parametrize(
    ("event_type", "alarm_type"),
    [
        ("frigate.review.alert", "security.camera_intrusion_line"),
        ("frigate.review.detection", None),
        ("frigate.person", None),
        ("frigate.car", None),
        ("frigate.face", None),
        ("frigate.license_plate", None),
        ("frigate.smoke", "fire.smoke"),
        ("frigate.fire", "fire.alarm"),
        ("cap.met.severe_thunderstorm_warning", "weather.severe"),
        ("cap.met.flash_flood_warning", "weather.flood"),
        ("cap.geo.tsunami_warning", "weather.flood"),
        ("cap.met.excessive_heat_warning", "weather.heat"),
        ("cap.met.winter_storm_warning", "weather.ice"),
        ("cap.met.red_flag_warning", "weather.severe"),
        ("cap.fire.bushfire_warning", "fire.wildland"),
        ("cap.cbrne.nuclear_power_plant_warning", "hazmat.radiation"),
        ("cap.env.air_quality_alert", "env.air_quality"),
        ("cap.rescue.child_abduction", None),
        ("cap.security.homeland_security_advisory_system_update", None),
    ],
)
def test_mapping_choices(event_type: str, alarm_type: str | None) -> None:
    assert _mapping().get(event_type) == alarm_type


def test_mapping_keys_are_what_the_parsers_produce() -> None:
    """An NWS-style CAP event name and the vectors' types come out as the keys listed."""
    info = (
        "<info><category>Met</category><event>Flash Flood Warning</event><urgency>Immediate</urgency>"
        "<severity>Severe</severity><certainty>Likely</certainty></info>"
    )
    body = (
        '<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>i</identifier><sender>s</sender>'
        "<sent>2024-01-01T00:00:00-00:00</sent><status>Actual</status><msgType>Alert</msgType>"
        f"<scope>Public</scope>{info}</alert>"
    ).encode()
    produced = {event.type: _mapping().get(event.type) for event in parse_cap(body)}
    for name in ("v1dot2_appendix_adot2.xml", "v1dot2_appendix_adot3.xml"):
        if (CAP_DIR / name).is_file():
            for event in parse_cap((CAP_DIR / name).read_bytes()):
                produced[event.type] = _mapping().get(event.type)
    for name, topic in (("docs_reviews_1.json", "frigate/reviews"), ("docs_events_1.json", "frigate/events")):
        if (FRIGATE_DIR / name).is_file():
            found = parse_frigate(topic, (FRIGATE_DIR / name).read_bytes()).event
            assert found is not None
            produced[found.type] = _mapping().get(found.type)
    expected = {
        "cap.met.flash_flood_warning": "weather.flood",
        "cap.met.severe_thunderstorm": "weather.severe",
        "cap.geo.earthquake": "geo.earthquake",
        "frigate.review.alert": "security.camera_intrusion_line",
        "frigate.person": None,
    }
    assert {k: v for k, v in expected.items() if k in produced} == produced
