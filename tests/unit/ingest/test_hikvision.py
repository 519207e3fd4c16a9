"""Hikvision ISAPI: vectors, identity dropping, content types, multipart, alertStream, fuzzing."""

from __future__ import annotations

import contextlib
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.ingest._mutate import mutate
from tests.unit.ingest._specs import MISSING, SPECS, load_json, params
from tocsin.ingest.camera import CameraDecodeError, CameraEvent, CameraPayloadTooLarge, to_event_in
from tocsin.ingest.hikvision import AlertStreamParser, parse_isapi

VECTORS = SPECS / "vectors" / "hikvision"
CORPUS = Path(__file__).resolve().parent / "corpus" / "camera"
XML = "application/xml"
JSON = "application/json"
JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4 + b"\xff\xd9"


def _vector(name: str) -> bytes:
    path = VECTORS / name
    if not path.is_file():
        pytest.skip(MISSING)
    return path.read_bytes()


def _kind(name: str) -> str:
    return JSON if name.endswith(".json") else XML


def alert(event_type: str = "VMD", state: str = "active", extra: str = "", ns: str = "") -> bytes:
    xmlns = f' xmlns="{ns}"' if ns else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><EventNotificationAlert version="2.0"{xmlns}>'
        "<ipAddress>192.0.2.7</ipAddress><macAddress>00:11:22:33:44:55</macAddress><channelID>3</channelID>"
        "<dateTime>2024-05-06T07:08:09+02:00</dateTime><activePostCount>1</activePostCount>"
        f"<eventType>{event_type}</eventType><eventState>{state}</eventState>"
        f"<eventDescription>{event_type} alarm</eventDescription>{extra}</EventNotificationAlert>"
    ).encode()


# --- vectors --------------------------------------------------------------------------------


def _flat(expected: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in expected.items():
        if isinstance(value, dict):
            out.update({f"{key}.{inner}": item for inner, item in _flat(value).items()})
        else:
            out[key] = value
    return out


@pytest.mark.parametrize("entry", params(load_json(VECTORS / "index.json"), "file"))
def test_vector_matches_index(entry: dict[str, Any]) -> None:
    body = (VECTORS / entry["file"]).read_bytes()
    expected = _flat(entry["expected"])
    if expected.get("root", "EventNotificationAlert") != "EventNotificationAlert":
        with pytest.raises(CameraDecodeError, match=expected["root"]):
            parse_isapi(body, _kind(entry["file"]))
        return
    (ev,) = parse_isapi(body, _kind(entry["file"]))
    assert ev.vendor == "hikvision"
    # root and namespace are what the parser accepted; the rest must be in the details.
    for key, value in expected.items():
        if key in ("root", "namespace"):
            continue
        if key == "ANPR.licensePlate":
            assert value.encode() not in msgspec.json.encode(ev)
            continue
        assert ev.details.get(key) == value, key
    assert ev.occurred_at == datetime.fromisoformat(expected["dateTime"])
    assert ev.channel == (expected.get("channelID") or expected.get("dynChannelID") or None)
    assert ev.active is (expected["eventState"] == "active")
    to_event_in(ev, source="hik", site=None)


def test_anpr_plate_is_dropped_everywhere() -> None:
    body = _vector("hn_anpr_plate_detected.xml")
    plate = body.split(b"<licensePlate>")[1].split(b"</licensePlate>")[0]
    assert plate == b"KH35192"
    (ev,) = parse_isapi(body, XML)
    assert plate not in msgspec.json.encode(ev)
    assert plate not in msgspec.json.encode(to_event_in(ev, source="anpr-cam", site=None))
    assert ev.dropped == ("ANPR",)
    assert ev.code == "ANPR"
    assert ev.external_id == "20230811134901822007gWpiNIuI14ikdwfKR5eDCzuV45RubEmi88qaD5w0YTq"
    assert not any(key.startswith("ANPR") for key in ev.details)


def test_heartbeat_vector() -> None:
    (ev,) = parse_isapi(_vector("issue_isapi_org_videoloss_heartbeat_empty_channel.xml"), XML)
    assert (ev.code, ev.active, ev.heartbeat, ev.channel) == ("videoloss", False, True, None)
    assert ev.device == "c0:6d:ed:0c:cc:ee"


def test_duration_reports_the_wrapped_event_and_nvr_serial() -> None:
    (ev,) = parse_isapi(_vector("hn_ipc_1_fielddetection.xml"), XML)
    assert ev.code == "fielddetection"
    assert ev.details["eventType"] == "duration"
    (nvr,) = parse_isapi(_vector("hn_targetType_human_nvr.xml"), XML)
    assert nvr.details["targetType"] == "human"
    assert nvr.details["Extensions.serialNumber"] == "DS-7608NXI-K2/24404CVU0108CCRR0W8P0820AZ267"


# --- identity and biometric fields ----------------------------------------------------------

FACE = (
    "<faceCapture><targetAttrs><faceLibType>blackFD</faceLibType><FDID>7</FDID><name>Jane Roe</name>"
    "<certificateNumber>X1234567</certificateNumber></targetAttrs><faces><face><faceId>1</faceId>"
    "<age><ageGroup>young</ageGroup><value>31</value></age><gender><value>female</value></gender>"
    "<glass><value>yes</value></glass><smile><value>no</value></smile></face></faces></faceCapture>"
    "<humanAttributes><gender>male</gender><cap>yes</cap><age>40</age></humanAttributes>"
    "<FaceMatch><similarity>0.93</similarity><personName>John Doe</personName></FaceMatch>"
)


def test_face_detection_body_keeps_no_identity() -> None:
    (ev,) = parse_isapi(alert("faceCapture", extra=FACE, ns="http://www.isapi.org/ver20/XMLSchema"), XML)
    encoded = msgspec.json.encode(ev)
    for secret in (b"Jane Roe", b"John Doe", b"X1234567", b"blackFD", b"female", b"young", b"0.93"):
        assert secret not in encoded
    assert ev.dropped == ("faceCapture", "humanAttributes", "FaceMatch")
    assert ev.code == "faceCapture"


def test_access_control_json_drops_person_identifiers() -> None:
    body = msgspec.json.encode(
        {
            "ipAddress": "192.0.2.9",
            "dateTime": "2024-08-26T12:32:28+01:00",
            "eventType": "AccessControllerEvent",
            "eventState": "active",
            "AccessControllerEvent": {
                "majorEventType": 5,
                "subEventType": 75,
                "name": "Jane Roe",
                "employeeNoString": "E-4711",
                "cardNo": "998877",
                "currTemperature": 38.4,
                "FaceRect": {"height": 0.2},
                "pictureURL": "http://192.0.2.9/pic?face=1",
            },
        }
    )
    (ev,) = parse_isapi(body, JSON)
    encoded = msgspec.json.encode(ev)
    for secret in (b"Jane Roe", b"E-4711", b"998877", b"38.4", b"face=1"):
        assert secret not in encoded
    assert ev.dropped == ("name", "employeeNoString", "cardNo", "currTemperature", "FaceRect", "pictureURL")
    assert ev.details["AccessControllerEvent.subEventType"] == 75


# --- content types and shapes -----------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    ['application/xml; charset="UTF-8"', "text/xml", "APPLICATION/XML", "application/soap+xml"],
)
def test_xml_content_types(content_type: str) -> None:
    assert parse_isapi(alert(), content_type)[0].code == "VMD"


@pytest.mark.parametrize(
    "ns",
    [
        "",
        "http://www.hikvision.com/ver20/XMLSchema",
        "http://www.hikvision.com/ver10/XMLSchema",
        "http://www.isapi.org/ver20/XMLSchema",
        "http://www.std-cgi.com/ver20/XMLSchema",
        "urn:psialliance-org",
    ],
)
def test_any_namespace(ns: str) -> None:
    (ev,) = parse_isapi(alert("linedetection", ns=ns), XML)
    assert (ev.code, ev.channel, ev.device) == ("linedetection", "3", "00:11:22:33:44:55")


def test_event_type_case_is_canonical_and_unknown_types_pass_through() -> None:
    assert parse_isapi(alert("vmd"), XML)[0].code == "VMD"
    assert parse_isapi(alert("LINEDETECTION"), XML)[0].code == "linedetection"
    assert parse_isapi(alert("shinyNewThing"), XML)[0].code == "shinyNewThing"


def test_json_wrapped_and_bare() -> None:
    inner = {"eventType": "IO", "eventState": "inactive", "channelID": 2, "dateTime": "2024-01-01T00:00:00Z"}
    for body in (msgspec.json.encode(inner), msgspec.json.encode({"EventNotificationAlert": inner})):
        (ev,) = parse_isapi(body, JSON)
        assert (ev.code, ev.active, ev.channel, ev.heartbeat) == ("IO", False, "2", False)


def test_bare_ampersand_is_repaired_and_bad_times_are_tolerated() -> None:
    extra = "<Extensions><eventPush>VMD&&SERIAL,2024,1,1.0</eventPush></Extensions>"
    body = alert(extra=extra).replace(b"2024-05-06T07:08:09+02:00", b"2024-01-22T11:47:1500:00")
    (ev,) = parse_isapi(body, XML)
    assert ev.details["Extensions.eventPush"] == "VMD&&SERIAL,2024,1,1.0"
    assert ev.occurred_at is None
    assert ev.details["dateTime"] == "2024-01-22T11:47:1500:00"


def form_data(*parts: tuple[str, bytes], boundary: str = "MIME_boundary") -> bytes:
    out = b""
    for kind, data in parts:
        name = "Picture" if kind.startswith("image/") else "event_log"
        filename = '; filename="pic.jpg"' if kind.startswith("image/") else ""
        out += (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"{filename}\r\n'
                f"Content-Type: {kind}\r\nContent-Length: {len(data)}\r\n\r\n"
            ).encode()
            + data
            + b"\r\n"
        )
    return out + f"--{boundary}--\r\n".encode()


def test_multipart_form_data_counts_pictures_and_keeps_no_bytes() -> None:
    body = form_data((XML, alert("fielddetection")), ("image/jpeg", JPEG), ("image/jpeg", JPEG[:100]))
    (ev,) = parse_isapi(body, "multipart/form-data; boundary=MIME_boundary")
    assert ev.code == "fielddetection"
    assert ev.details["image_count"] == 2
    assert ev.details["image_bytes"] == len(JPEG) + 100
    assert ev.details["image_sizes"] == f"{len(JPEG)},100"
    assert JPEG[:40] not in msgspec.json.encode(ev)


def test_multipart_xml_part_named_as_a_file_is_read() -> None:
    body = (
        b'--b\r\nContent-Disposition: form-data; name="anpr.xml"; filename="anpr.xml"\r\n'
        b"Content-Type: text/xml\r\n\r\n" + alert("ANPR") + b"\r\n--b\r\n"
        b'Content-Disposition: form-data; name="licensePlatePicture.jpg"; filename="licensePlatePicture.jpg"\r\n'
        b"\r\n" + JPEG + b"\r\n--b--\r\n"
    )
    (ev,) = parse_isapi(body, "multipart/form-data; boundary=b")
    assert (ev.code, ev.details["image_count"], ev.details["image_bytes"]) == ("ANPR", 1, len(JPEG))


def test_multipart_mixed_json_without_declared_boundary() -> None:
    json_part = msgspec.json.encode({"eventType": "PIR", "eventState": "active"})
    body = form_data((JSON, json_part), boundary="xx")
    (ev,) = parse_isapi(body, "multipart/mixed")
    assert (ev.code, ev.details["image_count"]) == ("PIR", 0)


@pytest.mark.parametrize(
    ("body", "content_type", "match"),
    [
        (alert(), "text/plain", "unsupported content type 'text/plain'"),
        (alert(), "image/jpeg", "unsupported content type"),
        (alert(), "", "unsupported content type '\\(none\\)'"),
        (alert(), JSON, "not valid JSON"),
        (b"[1, 2]", JSON, "not an object"),
        (b"[" * 5000 + b"]" * 5000, JSON, "not valid JSON"),
        (alert()[:-30], XML, "well-formed"),
        (alert().replace(b"<eventType>VMD</eventType>", b""), XML, "no eventType"),
        (alert(state="maybe"), XML, "unknown eventState"),
        (alert("bad type!"), XML, "malformed eventType"),
        (
            b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><EventNotificationAlert>&e;</EventNotificationAlert>',
            XML,
            "unsafe",
        ),
        (
            b'<!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
            b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><EventNotificationAlert>&c;</EventNotificationAlert>',
            XML,
            "unsafe",
        ),
        (form_data(("image/jpeg", JPEG)), "multipart/form-data; boundary=MIME_boundary", "no XML or JSON part"),
        (form_data((XML, alert()))[:-60], "multipart/form-data; boundary=MIME_boundary", "truncated"),
        (form_data((XML, alert()[:-9])), "multipart/form-data; boundary=MIME_boundary", "well-formed"),
        (
            form_data((XML, alert()), ("image/jpeg", JPEG)).split(JPEG[200:210])[0],
            "multipart/form-data; boundary=MIME_boundary",
            "truncated",
        ),
        (alert(), "multipart/form-data; boundary=MIME_boundary", "boundary"),
        (b"\n\n", XML, "empty"),
    ],
)
def test_malformed_and_hostile_bodies_raise_decode_errors(body: bytes, content_type: str, match: str) -> None:
    with pytest.raises(CameraDecodeError, match=match):
        parse_isapi(body, content_type)


def test_size_bound() -> None:
    body = alert()
    with pytest.raises(CameraPayloadTooLarge):
        parse_isapi(body, XML, max_bytes=len(body) - 1)
    assert parse_isapi(body, XML, max_bytes=len(body))


# --- alertStream --------------------------------------------------------------------------------


def stream_part(data: bytes, kind: str = 'application/xml; charset="UTF-8"', length: bool = True) -> bytes:
    head = f"--boundary\r\nContent-Type: {kind}\r\n"
    if length:
        head += f"Content-Length: {len(data)}\r\n"
    return head.encode() + b"\r\n" + data + b"\r\n"


def recording(length: bool = True) -> bytes:
    heartbeat = alert("videoloss", "inactive", ns="http://www.isapi.org/ver20/XMLSchema")
    return b"".join(
        [
            stream_part(alert("VMD"), length=length),
            stream_part(heartbeat, length=length),
            stream_part(alert("linedetection"), length=length),
            stream_part(JPEG, "image/jpeg", length=length),
            stream_part(msgspec.json.encode({"eventType": "IO", "eventState": "inactive"}), JSON, length),
            stream_part(alert("ANPR", extra="<ANPR><licensePlate>ZZ99ZZZ</licensePlate></ANPR>"), length=length),
            b"--boundary\r\n",
        ]
    )


def _summary(events: list[CameraEvent]) -> list[tuple[str, bool, bool]]:
    return [(ev.code, ev.active, ev.heartbeat) for ev in events]


EXPECTED_STREAM = [
    ("VMD", True, False),
    ("videoloss", False, True),
    ("linedetection", True, False),
    ("IO", False, False),
    ("ANPR", True, False),
]


def _run(chunks: list[bytes], content_type: str | None = "multipart/mixed; boundary=boundary") -> list[CameraEvent]:
    parser = AlertStreamParser(content_type)
    events: list[CameraEvent] = []
    for chunk in chunks:
        events += parser.feed(chunk)
    return events + parser.close()


@pytest.mark.parametrize("length", [True, False])
def test_alert_stream_in_one_read_and_byte_by_byte(length: bool) -> None:
    data = recording(length)
    whole = _run([data])
    assert _summary(whole) == EXPECTED_STREAM
    assert _run([data[i : i + 1] for i in range(len(data))]) == whole
    assert b"ZZ99ZZZ" not in msgspec.json.encode(whole)


def test_alert_stream_every_two_way_split_gives_the_same_events() -> None:
    data = recording()
    whole = _run([data])
    for cut in range(0, len(data), 7):
        assert _run([data[:cut], data[cut:]]) == whole, cut


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, len(recording(False))), max_size=12), st.booleans())
def test_alert_stream_any_chunking_gives_the_same_events(cuts: list[int], length: bool) -> None:
    data = recording(length)
    points = [0, *sorted(cuts), len(data)]
    chunks = [data[a:b] for a, b in zip(points, points[1:], strict=False)]
    assert _summary(_run(chunks)) == EXPECTED_STREAM


def _tolerant(chunks: list[bytes]) -> tuple[list[CameraEvent], int]:
    """Events and error count of a stream, carrying on after every error as a receiver would."""
    parser = AlertStreamParser("multipart/mixed; boundary=boundary")
    events: list[CameraEvent] = []
    errors = 0
    for chunk in chunks:
        try:
            events += parser.feed(chunk)
        except CameraDecodeError:
            errors += 1
    while True:
        try:
            return events + parser.close(), errors
        except CameraDecodeError:
            errors += 1


SLOPPY_BODIES = [alert("VMD"), alert("videoloss", "inactive"), b'{"eventType":"IO"}', JPEG[:300]]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(SLOPPY_BODIES),
            st.sampled_from([None, 0, 0, -2, 1, 3, 12, 40]),
            st.sampled_from([b"\r\n", b"\r\n\r\n", b""]),
        ),
        min_size=1,
        max_size=5,
    ),
    st.lists(st.integers(0, 3000), max_size=10),
)
def test_sloppy_framing_gives_the_same_result_however_chunked(
    parts: list[tuple[bytes, int | None, bytes]], cuts: list[int]
) -> None:
    data = b""
    for body, delta, trailer in parts:
        kind = b"image/jpeg" if body.startswith(b"\xff\xd8") else b"application/xml"
        head = b"--boundary\r\nContent-Type: " + kind + b"\r\n"
        if delta is not None:
            head += b"Content-Length: %d\r\n" % max(0, len(body) + delta)
        data += head + b"\r\n" + body + trailer
    data += b"--boundary\r\n"
    points = [0, *sorted(min(cut, len(data)) for cut in cuts), len(data)]
    assert _tolerant([data[a:b] for a, b in zip(points, points[1:], strict=False)]) == _tolerant([data])


def test_alert_stream_detects_the_boundary_and_counts_pictures() -> None:
    parser = AlertStreamParser()
    assert _summary(parser.feed(recording())) == EXPECTED_STREAM
    assert parser.images_skipped == 1


def test_alert_stream_delivers_a_part_once_its_length_arrived() -> None:
    parser = AlertStreamParser("multipart/mixed; boundary=boundary")
    assert _summary(parser.feed(stream_part(alert("PIR")))) == [("PIR", True, False)]


def test_alert_stream_bad_part_raises_then_continues_without_losing_events() -> None:
    parser = AlertStreamParser("multipart/mixed; boundary=boundary")
    data = stream_part(alert("VMD")) + stream_part(b"<oops>") + stream_part(alert("IO")) + b"--boundary"
    with pytest.raises(CameraDecodeError, match="well-formed"):
        parser.feed(data)
    assert _summary(parser.feed(b"")) == [("VMD", True, False), ("IO", True, False)]


def test_alert_stream_buffer_is_bounded() -> None:
    parser = AlertStreamParser("multipart/mixed; boundary=boundary", max_part_bytes=4096)
    with pytest.raises(CameraPayloadTooLarge):
        parser.feed(b"--boundary\r\nContent-Type: application/xml\r\n\r\n<a>" + b"x" * 5000)
    assert parser.buffered() < 6000
    with pytest.raises(CameraPayloadTooLarge):
        parser.feed(b"\r\n--boundary\r\nContent-Length: 99999\r\n\r\n")
    assert _summary(parser.feed(stream_part(alert("IO")))) == [("IO", True, False)]


def test_alert_stream_truncated_at_close_raises() -> None:
    parser = AlertStreamParser("multipart/mixed; boundary=boundary")
    assert parser.feed(stream_part(alert())[:-50]) == []
    with pytest.raises(CameraDecodeError):
        parser.close()


def test_alert_stream_without_multipart_framing_raises() -> None:
    with pytest.raises(CameraDecodeError, match="boundary"):
        AlertStreamParser().feed(alert())


# --- fuzzing ---------------------------------------------------------------------------------

CONTENT_TYPES = [XML, JSON, "multipart/form-data; boundary=MIME_boundary", "multipart/mixed"]


def _only_decode_errors(body: bytes, content_type: str) -> None:
    try:
        events = parse_isapi(body, content_type)
    except CameraDecodeError:
        return
    for ev in events:
        to_event_in(ev, source="fuzz", site=None)


def _corpus_type(path: Path) -> str:
    return {".json": JSON, ".mp": "multipart/form-data; boundary=MIME_boundary", ".stream": ""}.get(path.suffix, XML)


@pytest.mark.parametrize("path", sorted(CORPUS.glob("isapi_*")), ids=lambda path: path.name)
def test_corpus(path: Path) -> None:
    body = path.read_bytes()
    if path.suffix == ".stream":
        parser = AlertStreamParser()
        try:
            parser.feed(body)
            parser.close()
        except CameraDecodeError:
            assert "_bad_" in path.name or "_any_" in path.name
        else:
            assert "_bad_" not in path.name
        return
    if "_bad_" in path.name:
        with pytest.raises(CameraDecodeError):
            parse_isapi(body, _corpus_type(path))
    elif "_ok_" in path.name:
        assert parse_isapi(body, _corpus_type(path))
    else:
        _only_decode_errors(body, _corpus_type(path))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.sampled_from(CONTENT_TYPES))
def test_fuzz_arbitrary_bytes(body: bytes, content_type: str) -> None:
    _only_decode_errors(body, content_type)


def _seeds() -> list[tuple[bytes, str]]:
    seeds = [(alert(), XML), (form_data((XML, alert()), ("image/jpeg", JPEG[:50])), CONTENT_TYPES[2])]
    if VECTORS.is_dir():
        seeds += [
            (path.read_bytes(), _kind(path.name)) for path in sorted(VECTORS.glob("[hi]*")) if "index" not in path.name
        ]
    return seeds


@st.composite
def mutated(draw: st.DrawFn) -> tuple[bytes, str]:
    seed, content_type = draw(st.sampled_from(_seeds()))
    inserts = [b"<", b"&", b"{", b'"', b"--MIME_boundary\r\n", b"\r\n\r\n", b"\x00"]
    return mutate(draw, seed, inserts), content_type


@settings(max_examples=500, deadline=None)
@given(mutated())
def test_fuzz_mutated_vectors(case: tuple[bytes, str]) -> None:
    _only_decode_errors(*case)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=80), max_size=8))
def test_fuzz_alert_stream(chunks: list[bytes]) -> None:
    parser = AlertStreamParser("multipart/mixed; boundary=boundary", max_part_bytes=512)
    for chunk in [*chunks, b""]:
        with contextlib.suppress(CameraDecodeError):
            parser.feed(b"--boundary\r\n" + chunk)
    with contextlib.suppress(CameraDecodeError):
        parser.close()
    assert parser.buffered() <= 512 + 64
