"""Dahua eventManager attach stream: vectors, chunking, Content-Length, identity dropping, fuzzing."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.ingest._mutate import mutate
from tests.unit.ingest._specs import MISSING, SPECS, load_json, params
from tocsin.ingest.camera import CameraDecodeError, CameraEvent, CameraPayloadTooLarge, to_event_in
from tocsin.ingest.dahua import EventStreamParser, parse_dahua_part

VECTORS = SPECS / "vectors" / "dahua"
CORPUS = Path(__file__).resolve().parent / "corpus" / "camera"
MIXED = "multipart/x-mixed-replace; boundary=myboundary"


def _run(chunks: list[bytes], content_type: str | None = MIXED) -> list[CameraEvent]:
    parser = EventStreamParser(content_type)
    events: list[CameraEvent] = []
    for chunk in chunks:
        events += parser.feed(chunk)
    return events + parser.close()


def _events_of(entry: dict[str, Any]) -> list[CameraEvent]:
    data = (VECTORS / entry["file"]).read_bytes()
    if not data.startswith(b"--"):  # a bare part body, as the source test fed it
        return parse_dahua_part(data)
    return _run([data], entry["expected"].get("http_content_type"))


# --- vectors --------------------------------------------------------------------------------


@pytest.mark.parametrize("entry", params(load_json(VECTORS / "index.json"), "file"))
def test_vector_matches_index(entry: dict[str, Any]) -> None:
    events = _events_of(entry)
    expected = entry["expected"]
    if "parts" in expected:
        codes = [part.partition(";")[0].removeprefix("Code=") for part in expected["parts"]]
        assert [ev.code for ev in events] == codes
        return
    (ev,) = events
    assert ev.vendor == "dahua"
    assert ev.code == expected["Code"]
    assert ev.details["action"] == expected["action"]
    assert ev.details["index"] == expected["index"] == ev.channel
    assert ev.active is (expected["action"] != "Stop")
    for key, value in expected.items():
        if key.startswith("data."):
            assert ev.details[key] == value, key
    if expected.get("data", "absent") is None:
        assert not any(key.startswith("data.") for key in ev.details)
    to_event_in(ev, source="dahua", site=None)


def test_split_vector_yields_a_heartbeat_and_a_part_without_action() -> None:
    path = VECTORS / "rroller_split_multipart.bin"
    if not path.is_file():
        pytest.skip(MISSING)
    parking, heartbeat = _run([path.read_bytes()])
    assert (parking.code, parking.active, parking.channel) == ("TrafficParking", True, None)
    assert parking.details == {"data.part": 2}  # duplicate JSON keys: the last wins
    assert (heartbeat.code, heartbeat.heartbeat, heartbeat.active) == ("Heartbeat", True, False)


def test_crossregion_time_rule_name_and_dropped_clothing_colour() -> None:
    path = VECTORS / "psyciknz_crossregion_start.txt"
    if not path.is_file():
        pytest.skip(MISSING)
    (ev,) = parse_dahua_part(path.read_bytes())
    assert ev.occurred_at == datetime.fromtimestamp(1548929098, UTC)
    assert ev.details["data.Name"] == "Courtyard"
    assert ev.dropped == ("LowerBodyColor",)


# --- streaming ------------------------------------------------------------------------------


def part(body: bytes, *, length: bool = True, boundary: bytes = b"myboundary", blank: bool = True) -> bytes:
    head = b"--" + boundary + b"\r\nContent-Type: text/plain\r\n"
    if length:
        head += b"Content-Length: %d\r\n" % len(body)
    return head + (b"\r\n" if blank else b"") + body + b"\r\n\r\n"


BODIES = [
    b"Code=VideoMotion;action=Start;index=0",
    b"Heartbeat",
    b'Code=CrossLineDetection;action=Start;index=1;data={"Name" : "Gate;x=1",\n "Direction" : "LeftToRight"}',
    b"Code=VideoMotion;action=Stop;index=0",
    b"Code=DoorbellPressed;action=Pulse;index=0",
    b"Code=AlarmLocal;action=Start;index=2\r\nCode=AlarmLocal;action=Stop;index=3",
]
EXPECTED = [
    ("VideoMotion", True, "0"),
    ("Heartbeat", False, None),
    ("CrossLineDetection", True, "1"),
    ("VideoMotion", False, "0"),
    ("DoorbellPressed", True, "0"),
    ("AlarmLocal", True, "2"),
    ("AlarmLocal", False, "3"),
]


def recording(length: bool) -> bytes:
    return b"".join(part(body, length=length) for body in BODIES) + b"--myboundary\r\n"


def _summary(events: list[CameraEvent]) -> list[tuple[str, bool, str | None]]:
    return [(ev.code, ev.active, ev.channel) for ev in events]


@pytest.mark.parametrize("length", [True, False])
def test_stream_in_one_read_byte_by_byte_and_every_two_way_split(length: bool) -> None:
    data = recording(length)
    whole = _run([data])
    assert _summary(whole) == EXPECTED
    assert whole[2].details["data.Name"] == "Gate;x=1"
    assert _run([data[i : i + 1] for i in range(len(data))]) == whole
    for cut in range(len(data) + 1):
        assert _run([data[:cut], data[cut:]]) == whole, cut


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, len(recording(True))), max_size=15), st.booleans(), st.booleans())
def test_any_chunking_gives_the_same_events(cuts: list[int], length: bool, declared: bool) -> None:
    data = recording(length)
    points = [0, *sorted(min(cut, len(data)) for cut in cuts), len(data)]
    chunks = [data[a:b] for a, b in zip(points, points[1:], strict=False)]
    assert _summary(_run(chunks, MIXED if declared else None)) == EXPECTED


def _tolerant(chunks: list[bytes]) -> tuple[list[CameraEvent], int]:
    """Events and error count of a stream, carrying on after every error as a receiver would."""
    parser = EventStreamParser(MIXED)
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


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(BODIES), st.integers(-3, 20), st.booleans()), min_size=1, max_size=5),
    st.lists(st.integers(0, 2000), max_size=10),
)
def test_wrong_content_lengths_give_the_same_events_however_chunked(
    parts: list[tuple[bytes, int, bool]], cuts: list[int]
) -> None:
    data = b""
    for body, delta, blank in parts:
        head = b"--myboundary\r\nContent-Length: %d\r\n" % max(0, len(body) + delta)
        data += head + (b"\r\n" if blank else b"") + body + b"\r\n"
    data += b"--myboundary\r\n"
    points = [0, *sorted(min(cut, len(data)) for cut in cuts), len(data)]
    chunked = _tolerant([data[a:b] for a, b in zip(points, points[1:], strict=False)])
    assert chunked == _tolerant([data])
    if all(delta >= 0 for _, delta, _ in parts):
        assert len(chunked[0]) == sum(body.count(b"Code=") or 1 for body, _, _ in parts)


def test_recorded_vectors_chained_into_one_stream() -> None:
    files = ["psyciknz_videomotion_start.txt", "psyciknz_alarmlocal_start.txt", "psyciknz_videomotion_stop.txt"]
    if not all((VECTORS / name).is_file() for name in files):
        pytest.skip(MISSING)
    # No blank line after the headers, and AlarmLocal declares 37 bytes for a 36-byte body.
    data = b"\r\n".join((VECTORS / name).read_bytes() for name in files)
    expected = [("VideoMotion", True, "1"), ("AlarmLocal", True, "5"), ("VideoMotion", False, "1")]
    assert _summary(_run([data])) == expected
    for cut in range(len(data) + 1):
        assert _summary(_run([data[:cut], data[cut:]])) == expected, cut


def test_a_part_is_delivered_as_soon_as_its_length_arrived() -> None:
    parser = EventStreamParser(MIXED)
    assert _summary(parser.feed(part(b"Code=VideoLoss;action=Start;index=4")[:-4])) == [("VideoLoss", True, "4")]


def test_a_too_long_content_length_ends_at_the_next_delimiter() -> None:
    data = b"--myboundary\r\nContent-Length: 500\r\n\r\nCode=VideoBlind;action=Start;index=0\r\n" + part(b"Heartbeat")
    assert _summary(_run([data])) == [("VideoBlind", True, "0"), ("Heartbeat", False, None)]


def test_declared_boundary_is_used() -> None:
    data = part(BODIES[0], boundary=b"abc123")
    assert _summary(_run([data], "multipart/x-mixed-replace; boundary=abc123")) == [EXPECTED[0]]
    assert _run([data], MIXED) == []  # another boundary: nothing is a part


def test_bad_part_raises_then_the_stream_goes_on() -> None:
    parser = EventStreamParser(MIXED)
    data = part(BODIES[0]) + part(b"Code=VideoMotion;action=Sideways;index=0") + part(BODIES[3]) + b"--myboundary"
    with pytest.raises(CameraDecodeError, match="unknown action"):
        parser.feed(data)
    assert _summary(parser.feed(b"")) == [EXPECTED[0], EXPECTED[3]]


def test_buffer_is_bounded() -> None:
    parser = EventStreamParser(MIXED, max_part_bytes=1024)
    with pytest.raises(CameraPayloadTooLarge):
        parser.feed(b"--myboundary\r\n\r\nCode=VideoMotion;data={" + b" " * 2000)
    assert parser.buffered() < 2100
    assert _summary(parser.feed(part(BODIES[0]))) == [EXPECTED[0]]


# --- identity and biometric fields ----------------------------------------------------------


def test_face_recognition_and_plate_data_are_dropped() -> None:
    face = (
        b'Code=FaceRecognition;action=Pulse;index=0;data={"Name":"FaceRule","Faces":[{"Sex":"Woman","Age":30}],'
        b'"Face":{"Sex":"Woman","Age":30,"Glass":1},"Candidates":[{"Person":{"Name":"Jane Roe","ID":"X123"},'
        b'"Similarity":91}],"Object":{"ObjectType":"HumanFace","Age":30}}'
    )
    traffic = (
        b'Code=TrafficJunction;action=Pulse;index=1;data={"Name":"Lane1","TrafficCar":{"PlateNumber":"B-XY 123"},'
        b'"Object":{"ObjectType":"Plate","Text":"B-XY 123"},"CardNo":"55"}'
    )
    face_ev, traffic_ev = parse_dahua_part(face + b"\r\n" + traffic)
    for secret in (b"Jane Roe", b"X123", b"Woman", b"B-XY 123", b"55"):
        assert secret not in msgspec.json.encode([face_ev, traffic_ev])
    assert face_ev.dropped == ("Faces", "Face", "Candidates", "Age")
    assert face_ev.details == {
        "action": "Pulse",
        "index": "0",
        "data.Name": "FaceRule",
        "data.Object.ObjectType": "HumanFace",
    }
    assert traffic_ev.dropped == ("TrafficCar", "Text", "CardNo")
    assert traffic_ev.details["data.Name"] == "Lane1"


def test_nested_names_are_still_dropped() -> None:
    (ev,) = parse_dahua_part(
        b'Code=AccessControl;action=Pulse;index=0;data={"Name":"OpenDoor","User":{"Name":"Jo"},"UserID":"7"}'
    )
    assert ev.details["data.Name"] == "OpenDoor"
    assert ev.dropped == ("Name", "UserID")
    assert b'"Jo"' not in msgspec.json.encode(ev)


# --- refusals and fuzzing ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (b"Hello world", "expected 'Code="),
        (b"junk\r\nCode=VideoMotion;action=Start", "expected 'Code="),
        (b"Code=;action=Start;index=0", "malformed Code"),
        (b"Code=Video Motion;action=Start", "malformed Code"),
        (b"Code=VideoMotion;action=Begin;index=0", "unknown action"),
        (b"Code=VideoMotion;action;index=0", "malformed field"),
        (b"Code=VideoMotion;action=Start;index=0;data={broken", "not valid JSON"),
        (b"Code=VideoMotion;action=Start;index=0;data=" + b"[" * 5000, "not valid JSON"),
    ],
)
def test_malformed_parts_raise_decode_errors(body: bytes, match: str) -> None:
    with pytest.raises(CameraDecodeError, match=match):
        parse_dahua_part(body)


def test_stream_without_multipart_framing_raises() -> None:
    with pytest.raises(CameraDecodeError, match="boundary"):
        EventStreamParser().feed(b"Code=VideoMotion;action=Start;index=0\r\n")


def _only_decode_errors(chunks: list[bytes], content_type: str | None = MIXED) -> None:
    parser = EventStreamParser(content_type, max_part_bytes=2048)
    events: list[CameraEvent] = []
    for chunk in [*chunks, b""]:
        with contextlib.suppress(CameraDecodeError):
            events += parser.feed(chunk)
    with contextlib.suppress(CameraDecodeError):
        events += parser.close()
    assert parser.buffered() <= 2048 + 64
    for ev in events:
        to_event_in(ev, source="fuzz", site=None)


@pytest.mark.parametrize("path", sorted(CORPUS.glob("dahua_*")), ids=lambda path: path.name)
def test_corpus(path: Path) -> None:
    data = path.read_bytes()
    if "_bad_" in path.name:
        with pytest.raises(CameraDecodeError):
            _run([data], None)
    elif "_ok_" in path.name:
        assert _run([data], None)
    else:
        _only_decode_errors([data], None)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=100), max_size=8), st.booleans())
def test_fuzz_arbitrary_chunks(chunks: list[bytes], declared: bool) -> None:
    _only_decode_errors(chunks, MIXED if declared else None)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_fuzz_part_text(text: str) -> None:
    try:
        events = parse_dahua_part(text.encode())
    except CameraDecodeError:
        return
    for ev in events:
        to_event_in(ev, source="fuzz", site=None)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    seed = recording(draw(st.booleans()))
    return mutate(draw, seed, [b";", b"=", b"{", b"Code=", b"--myboundary\r\n", b"\r\n\r\n", b"\x00"])


@settings(max_examples=500, deadline=None)
@given(mutated(), st.integers(1, 64))
def test_fuzz_mutated_recording(data: bytes, step: int) -> None:
    _only_decode_errors([data[i : i + step] for i in range(0, len(data), step)])
