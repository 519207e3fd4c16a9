"""The camera toolkit: CameraEvent → EventIn, the drop rule, details, multipart, the mapping table."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import msgspec
import pytest

from tocsin.errors import DecodeError, PayloadTooLarge
from tocsin.ingest.camera import (
    DROPPED_FIELDS,
    MAX_DETAILS,
    MAX_TEXT_CHARS,
    CameraDecodeError,
    CameraEvent,
    CameraPayloadTooLarge,
    Details,
    MultipartStream,
    camera_mapping,
    flatten_json,
    is_dropped_field,
    parse_content_type,
    to_event_in,
)
from tocsin.ingest.dahua import EventStreamParser, parse_dahua_part
from tocsin.ingest.hikvision import EVENT_TYPES, parse_isapi
from tocsin.ingest.onvif import parse_onvif_notify
from tocsin.model import EventIn

VECTORS = Path(__file__).resolve().parents[3].parent / "shared" / "specs" / "vectors"
MISSING = f"shared protocol vectors not found at {VECTORS}"


def _vector_events() -> list[CameraEvent]:
    events: list[CameraEvent] = []
    for path in sorted((VECTORS / "onvif").glob("*.xml")):
        events += parse_onvif_notify(path.read_bytes())
    for path in sorted((VECTORS / "hikvision").glob("*")):
        if path.name.startswith(("index", "hn_httpHosts")):
            continue
        kind = "application/json" if path.suffix == ".json" else "application/xml"
        events += parse_isapi(path.read_bytes(), kind)
    for path in sorted((VECTORS / "dahua").glob("*")):
        if path.name.startswith("index"):
            continue
        data = path.read_bytes()
        if data.startswith(b"--"):
            parser = EventStreamParser()
            events += parser.feed(data) + parser.close()
        else:
            events += parse_dahua_part(data)
    return events


# --- the drop rule ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "ANPR", "licensePlate", "originalLicensePlate", "plateNumber", "PlateNumber", "plateColor",
        "faceCapture", "FaceMatch", "faceLibType", "FaceRect", "Faces", "Candidates", "FDID",
        "age", "ageGroup", "gender", "Sex", "glass", "cap", "hat", "mask", "ethnicity", "UpperBodyColor",
        "name", "Name", "personName", "employeeNo", "employeeNoString", "cardNo", "CardNo", "UserID",
        "pictureURL", "currTemperature", "Text", "TrafficCar", "humanAttributes",
    ],
)  # fmt: skip
def test_identity_and_biometric_names_are_dropped(name: str) -> None:
    assert is_dropped_field(name)


@pytest.mark.parametrize(
    "name",
    [
        "channelName", "deviceName", "ipAddress", "macAddress", "eventType", "eventDescription",
        "targetType", "detectionTarget", "ObjectType", "Direction", "regionID", "storage", "message",
        "usage", "capacity", "interfaceName", "dateTime", "activePostCount", "serialNumber", "UUID",
        "majorEventType", "doorNo", "cardReaderKind", "VideoSourceConfigurationToken", "IsMotion",
    ],
)  # fmt: skip
def test_ordinary_names_are_kept(name: str) -> None:
    assert not is_dropped_field(name)


def test_dropped_fields_are_lower_case_whole_names() -> None:
    assert all(name == name.lower() and name.isalnum() for name in DROPPED_FIELDS)


def test_flatten_json_drops_blocks_whole_and_records_names_in_lists() -> None:
    details = Details()
    flatten_json(
        {
            "Name": "Gate",
            "Object": {"ObjectType": "Plate", "Text": "AB123CD", "BoundingBox": [1, 2, 3, 4]},
            "Candidates": [{"Person": {"Name": "Jane Roe"}}],
            "Objects": [{"Faces": [{"Sex": "Woman"}]}],
        },
        details,
        prefix="data",
        keep=("data.Name",),
    )
    assert details.items == {"data.Name": "Gate", "data.Object.ObjectType": "Plate"}
    assert details.dropped == ["Text", "Candidates", "Faces"]


def test_details_are_bounded_and_first_wins() -> None:
    details = Details()
    details.add("a", "first")
    details.add("a", "second")
    details.add("x" * 65, "too long a key")
    details.add("long", "y" * 1000)
    details.add("big", 10**30)
    details.add("nan", float("nan"))
    for index in range(2 * MAX_DETAILS):
        details.add(f"k{index}", index)
    assert details.items["a"] == "first"
    assert "x" * 65 not in details.items
    assert details.items["long"] == "y" * MAX_TEXT_CHARS
    assert details.items["big"] == str(10**30)
    assert details.items["nan"] == "nan"
    assert len(details.items) == MAX_DETAILS


# --- to_event_in ---------------------------------------------------------------------------


def test_to_event_in_fields() -> None:
    ev = CameraEvent(
        vendor="hikvision",
        code="linedetection",
        active=False,
        occurred_at=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        channel="2",
        device="aa:bb:cc:dd:ee:ff",
        details={"eventState": "inactive", "channel": "vendor's own"},
        dropped=("ANPR", "FaceRect"),
        external_id="uuid-1",
    )
    event = to_event_in(ev, source="cam-gate", site="depot")
    assert event.type == "hikvision.linedetection"
    assert event.method == "equipment"
    assert event.condition == "cleared"
    assert event.site == "depot"
    assert event.external_id == "uuid-1"
    assert event.occurred_at == ev.occurred_at
    assert event.attributes == {
        "channel": "2",
        "device": "aa:bb:cc:dd:ee:ff",
        "dropped_fields": 2,
        "eventState": "inactive",
    }


def test_to_event_in_marks_heartbeats_and_skips_long_keys() -> None:
    ev = CameraEvent("dahua", "Heartbeat", False, None, None, None, heartbeat=True, details={"k" * 65: 1})
    event = to_event_in(ev, source="nvr", site=None)
    assert event.attributes == {"heartbeat": True}
    assert event.condition == "cleared"


def test_to_event_in_rejects_what_eventin_would_not_accept() -> None:
    ev = CameraEvent("onvif", "tns1:X", True, None, None, None)
    with pytest.raises(CameraDecodeError, match="EventIn"):
        to_event_in(ev, source="", site=None)


@pytest.mark.skipif(not VECTORS.is_dir(), reason=MISSING)
def test_every_vector_event_round_trips_as_eventin() -> None:
    events = _vector_events()
    assert len(events) >= 20
    for ev in events:
        event = to_event_in(ev, source="camera-1", site="site-a")
        assert msgspec.json.decode(msgspec.json.encode(event), type=EventIn) == event
        assert msgspec.json.decode(msgspec.json.encode(ev), type=CameraEvent) == ev


def test_errors_belong_to_the_tree() -> None:
    assert issubclass(CameraDecodeError, DecodeError)
    assert issubclass(CameraPayloadTooLarge, CameraDecodeError)
    assert CameraPayloadTooLarge("x").status_code == PayloadTooLarge.status_code == 413


# --- content types and multipart -----------------------------------------------------------


def test_parse_content_type() -> None:
    assert parse_content_type('Multipart/Mixed; boundary="a b;c"; charset=utf-8') == (
        "multipart/mixed",
        {"boundary": "a b;c", "charset": "utf-8"},
    )
    assert parse_content_type("application/xml") == ("application/xml", {})
    assert parse_content_type("") == ("", {})


def test_multipart_detects_the_boundary_and_skips_pictures_without_buffering() -> None:
    stream = MultipartStream(skip=lambda headers: headers.get("content-type", "").startswith("image/"))
    head = b"\r\n--xyz\r\nContent-Type: text/plain\r\n\r\nhello\r\n--xyz\r\nContent-Type: image/jpeg\r\n"
    assert [part.body for part in stream.feed(head + b"Content-Length: 100000\r\n\r\n")] == [b"hello"]
    for _ in range(99):
        assert stream.feed(b"\xff" * 1000) == []
        assert len(stream) < 100
    parts = stream.feed(b"\xff" * 1000 + b"\r\n--xyz--\r\n")
    assert [(part.skipped, part.size, part.body) for part in parts] == [(True, 100000, b"")]
    assert stream.boundary == "xyz"


def test_multipart_refuses_a_stream_that_does_not_start_with_a_boundary() -> None:
    with pytest.raises(CameraDecodeError, match="boundary"):
        MultipartStream().feed(b"<EventNotificationAlert/>")


def test_multipart_drops_an_unusable_boundary_line() -> None:
    stream = MultipartStream()
    for _ in range(50):
        with pytest.raises(CameraDecodeError):
            stream.feed(b"-- not\x00a boundary --\n" + b"x" * 100)
    assert len(stream) < 200


def test_multipart_bounds_a_part_without_length_and_recovers() -> None:
    stream = MultipartStream("b", max_part_bytes=64)
    with pytest.raises(CameraPayloadTooLarge):
        stream.feed(b"--b\r\n\r\n" + b"x" * 200)
    assert [part.body for part in stream.feed(b"\r\n--b\r\n\r\nok\r\n--b")] == [b"ok"]
    assert stream.close() == []


def test_multipart_keeps_parts_completed_before_an_error() -> None:
    stream = MultipartStream("b")
    with pytest.raises(CameraDecodeError, match="Content-Length"):
        stream.feed(b"--b\r\n\r\none\r\n--b\r\nContent-Length: x\r\n\r\ntwo\r\n--b\r\n\r\nthree\r\n--b")
    assert [part.body for part in stream.feed(b"")] == [b"one", b"three"]


def test_multipart_rejects_bad_boundaries() -> None:
    with pytest.raises(CameraDecodeError):
        MultipartStream("x" * 71)
    with pytest.raises(CameraDecodeError):
        MultipartStream("a\r\nb")


# --- the default mapping ---------------------------------------------------------------------


def _alarm_type_keys() -> set[str]:
    text = resources.files("tocsin").joinpath("data/alarm_types.json").read_text(encoding="utf-8")
    return {entry["key"] for entry in json.loads(text)}


def test_mapping_targets_existing_alarm_types() -> None:
    mapping = camera_mapping()
    assert len(mapping) >= 40
    assert set(mapping.values()) <= _alarm_type_keys()
    assert all(key.split(".", 1)[0] in ("onvif", "hikvision", "dahua") for key in mapping)


def test_mapping_uses_the_canonical_hikvision_spellings() -> None:
    codes = {key.split(".", 1)[1] for key in camera_mapping() if key.startswith("hikvision.")}
    assert codes <= set(EVENT_TYPES)


@pytest.mark.parametrize(
    "key",
    [
        "hikvision.ANPR", "hikvision.facedetection", "hikvision.faceCapture", "hikvision.vehicledetection",
        "hikvision.group", "hikvision.rapidMove", "dahua.FaceDetection", "dahua.FaceRecognition",
        "dahua.TrafficJunction", "dahua.RioterDetection", "onvif.tns1:RuleEngine/MyRuleDetector/FaceDetect",
    ],
)  # fmt: skip
def test_identity_and_assembly_events_are_never_mapped(key: str) -> None:
    assert key not in camera_mapping()


def test_no_mapped_code_names_a_face_plate_or_person() -> None:
    for key in camera_mapping():
        code = key.split(".", 1)[1]
        words = code.replace(":", "/").split("/")
        assert not any(is_dropped_field(word) for word in words), key
        assert "face" not in code.lower() and "plate" not in code.lower(), key


def test_plain_motion_is_deliberately_unmapped() -> None:
    mapping = camera_mapping()
    for key in ("hikvision.VMD", "dahua.VideoMotion", "onvif.tns1:RuleEngine/CellMotionDetector/Motion"):
        assert key not in mapping
    assert mapping["hikvision.linedetection"] == "security.camera_intrusion_line"
    assert mapping["hikvision.videoloss"] == "tech.video_loss"
