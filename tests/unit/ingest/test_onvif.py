"""ONVIF Notify / PullMessages parsing: vectors, topic resolution, states, hostile XML, fuzzing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.ingest._mutate import mutate
from tests.unit.ingest._specs import MISSING, SPECS, load_json, params
from tocsin.ingest.camera import CameraDecodeError, CameraPayloadTooLarge, to_event_in
from tocsin.ingest.onvif import MAX_MESSAGES, parse_onvif_bool, parse_onvif_notify

VECTORS = SPECS / "vectors" / "onvif"
CORPUS = Path(__file__).resolve().parent / "corpus" / "camera"


def _vector_bodies() -> list[bytes]:
    return [path.read_bytes() for path in sorted(VECTORS.glob("*.xml"))] if VECTORS.is_dir() else []


NS = (
    'xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2" '
    'xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:tns1="http://www.onvif.org/ver10/topics"'
)


def message(
    topic: str = "tns1:RuleEngine/CellMotionDetector/Motion",
    data: str = '<tt:SimpleItem Name="IsMotion" Value="true"/>',
    *,
    operation: str = "Changed",
    source: str = '<tt:SimpleItem Name="VideoSourceConfigurationToken" Value="vs1"/>',
    topic_ns: str = "",
    utc: str = "2025-01-02T03:04:05Z",
) -> str:
    return (
        f"<wsnt:NotificationMessage><wsnt:Topic {topic_ns} "
        f'Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">{topic}</wsnt:Topic>'
        f'<wsnt:Message><tt:Message UtcTime="{utc}" PropertyOperation="{operation}">'
        f"<tt:Source>{source}</tt:Source><tt:Data>{data}</tt:Data></tt:Message></wsnt:Message>"
        "</wsnt:NotificationMessage>"
    )


def notify(*messages: str) -> bytes:
    inner = "".join(messages) or message()
    return f"<s:Envelope {NS}><s:Body><wsnt:Notify>{inner}</wsnt:Notify></s:Body></s:Envelope>".encode()


# --- vectors --------------------------------------------------------------------------------


@pytest.mark.parametrize("entry", params(load_json(VECTORS / "index.json"), "file"))
def test_vector_matches_index(entry: dict[str, Any]) -> None:
    events = parse_onvif_notify((VECTORS / entry["file"]).read_bytes())
    expected = entry["notifications"]
    assert len(events) == len(expected)
    for ev, want in zip(events, expected, strict=True):
        assert ev.vendor == "onvif"
        assert ev.code == want["topic"]
        assert ev.details["topic_dialect"] == want["dialect"]
        assert ev.occurred_at == datetime.fromisoformat(want["utc_time"])
        assert ev.details["property_operation"] == want["property_operation"]
        for group in ("source", "key", "data"):
            for name, value in want[group].items():
                got = ev.details[f"{group}.{name}"]
                assert got == (parse_onvif_bool(value) if isinstance(got, bool) else value)
        to_event_in(ev, source="onvif-cam", site=None)


@pytest.mark.skipif(not VECTORS.is_dir(), reason=MISSING)
def test_vector_states_and_identity() -> None:
    (motion,) = parse_onvif_notify((VECTORS / "SYNTH_notify_cellmotion_changed_true.xml").read_bytes())
    assert motion.active is True
    assert motion.channel == "VideoSourceToken"
    assert motion.details["data.IsMotion"] is True
    (pir,) = parse_onvif_notify((VECTORS / "axis_metadatastream_pir_init.xml").read_bytes())
    assert pir.active is False  # state "0"
    assert pir.channel == "0"
    assert pir.device == "uri://94fbe18e-0af8-40d2-8539-67b6ea550c6e/ProducerReference"
    assert pir.occurred_at == datetime(2019, 3, 12, 23, 48, 26, 371215, tzinfo=UTC)


# --- topics ---------------------------------------------------------------------------------


def test_topic_prefix_is_resolved_through_in_scope_namespaces() -> None:
    body = notify(message("x:RuleEngine/TamperDetector/Tamper", topic_ns='xmlns:x="http://www.onvif.org/ver10/topics"'))
    assert parse_onvif_notify(body)[0].code == "tns1:RuleEngine/TamperDetector/Tamper"


def test_nested_vendor_prefix_and_unknown_namespace() -> None:
    axis = 'xmlns:ax="http://www.axis.com/2009/event/topics"'
    body = notify(
        message("tns1:Device/ax:Sensor/PIR", topic_ns=axis),
        message("v:Thing/Happened", topic_ns='xmlns:v="urn:example:topics"'),
    )
    assert [ev.code for ev in parse_onvif_notify(body)] == [
        "tns1:Device/tnsaxis:Sensor/PIR",
        "{urn:example:topics}Thing/Happened",
    ]


def test_a_prefix_redeclared_closer_to_the_topic_wins() -> None:
    body = notify(message("tns1:Custom/Event", topic_ns='xmlns:tns1="urn:not-onvif"'))
    assert parse_onvif_notify(body)[0].code == "{urn:not-onvif}Custom/Event"


@pytest.mark.parametrize("topic", ["zz:RuleEngine/Motion", "", "tns1:Rule Engine", "tns1:a//b", "tns1:", ":x"])
def test_bad_topics_are_refused(topic: str) -> None:
    with pytest.raises(CameraDecodeError, match="topic"):
        parse_onvif_notify(notify(message(topic)))


# --- states and items -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "active"),
    [
        ("true", True),
        ("TRUE", True),
        ("1", True),
        ("active", True),
        ("false", False),
        ("0", False),
        ("Inactive", False),
    ],
)
def test_booleans(value: str, active: bool) -> None:
    (ev,) = parse_onvif_notify(notify(message(data=f'<tt:SimpleItem Name="State" Value="{value}"/>')))
    assert ev.active is active
    assert ev.details["data.State"] is active


def test_deleted_property_is_not_active_and_non_state_items_stay_text() -> None:
    body = notify(
        message(operation="Deleted"),
        message("tns1:RuleEngine/LineDetector/Crossed", '<tt:SimpleItem Name="ObjectId" Value="1"/>'),
    )
    deleted, crossed = parse_onvif_notify(body)
    assert deleted.active is False
    assert crossed.active is True
    assert crossed.details["data.ObjectId"] == "1"


def test_bare_notify_pullmessages_response_and_soap11() -> None:
    bare = f"<wsnt:Notify {NS}>{message()}{message(operation='Initialized')}</wsnt:Notify>".encode()
    assert [ev.details["property_operation"] for ev in parse_onvif_notify(bare)] == ["Changed", "Initialized"]
    pull = (
        f'<s:Envelope {NS} xmlns:tev="http://www.onvif.org/ver10/events/wsdl"><s:Body><tev:PullMessagesResponse>'
        f"<tev:CurrentTime>2025-01-02T03:04:05Z</tev:CurrentTime>{message()}{message()}{message()}"
        "</tev:PullMessagesResponse></s:Body></s:Envelope>"
    ).encode()
    assert len(parse_onvif_notify(pull)) == 3
    soap11 = notify().replace(b"http://www.w3.org/2003/05/soap-envelope", b"http://schemas.xmlsoap.org/soap/envelope/")
    assert len(parse_onvif_notify(soap11)) == 1


def test_utc_time_without_offset_is_utc_and_junk_is_kept_as_text() -> None:
    (plain,) = parse_onvif_notify(notify(message(utc="2025-01-02T03:04:05.1234567")))
    assert plain.occurred_at == datetime(2025, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
    (junk,) = parse_onvif_notify(notify(message(utc="yesterday")))
    assert junk.occurred_at is None
    assert junk.details["utc_time"] == "yesterday"


def test_identity_items_are_dropped() -> None:
    data = (
        '<tt:SimpleItem Name="PlateNumber" Value="AB123CD"/><tt:SimpleItem Name="Gender" Value="female"/>'
        '<tt:SimpleItem Name="IsInside" Value="true"/><tt:ElementItem Name="FaceImage"><x>secret</x></tt:ElementItem>'
    )
    (ev,) = parse_onvif_notify(notify(message("tns1:RuleEngine/FieldDetector/ObjectsInside", data)))
    encoded = msgspec.json.encode(ev)
    assert b"AB123CD" not in encoded and b"female" not in encoded and b"secret" not in encoded
    assert ev.dropped == ("PlateNumber", "Gender", "FaceImage")
    assert ev.active is True


# --- refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>', "unsafe"),
        (
            b'<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
            b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><lolz>&lol3;</lolz>',
            "unsafe",
        ),
        (b'<!DOCTYPE r SYSTEM "http://example.invalid/x.dtd"><r/>', "unsafe"),
        (notify()[:-40], "well-formed"),
        (b"not xml at all", "well-formed"),
        (b"   ", "empty"),
        (b'<EventNotificationAlert xmlns="http://www.hikvision.com/ver20/XMLSchema"/>', "not an ONVIF"),
        (
            f'<s:Envelope {NS}><s:Body><s:Fault><s:Reason><s:Text xml:lang="en">Sender not authorized</s:Text>'
            "</s:Reason></s:Fault></s:Body></s:Envelope>".encode(),
            "fault: Sender not authorized",
        ),
        (notify("<wsnt:NotificationMessage><wsnt:Message/></wsnt:NotificationMessage>"), "no wsnt:Topic"),
        (notify("<wsnt:NotificationMessage><wsnt:Topic>tns1:A</wsnt:Topic></wsnt:NotificationMessage>"), "tt:Message"),
        (notify(message(data='<tt:SimpleItem Value="1"/>')), "without Name"),
    ],
)
def test_malformed_and_hostile_bodies_raise_decode_errors(body: bytes, match: str) -> None:
    with pytest.raises(CameraDecodeError, match=match):
        parse_onvif_notify(body)


def test_size_and_message_bounds() -> None:
    body = notify()
    with pytest.raises(CameraPayloadTooLarge):
        parse_onvif_notify(body, max_bytes=len(body) - 1)
    assert len(parse_onvif_notify(body, max_bytes=len(body))) == 1
    with pytest.raises(CameraPayloadTooLarge, match="messages"):
        parse_onvif_notify(notify(*[message()] * (MAX_MESSAGES + 1)), max_bytes=10_000_000)


# --- fuzzing ---------------------------------------------------------------------------------


def _only_decode_errors(body: bytes) -> None:
    try:
        events = parse_onvif_notify(body)
    except CameraDecodeError:
        return
    for ev in events:
        to_event_in(ev, source="fuzz", site=None)


@pytest.mark.parametrize("path", sorted(CORPUS.glob("onvif_*")), ids=lambda path: path.name)
def test_corpus(path: Path) -> None:
    body = path.read_bytes()
    if path.name.startswith("onvif_bad_"):
        with pytest.raises(CameraDecodeError):
            parse_onvif_notify(body)
    elif path.name.startswith("onvif_ok_"):
        assert parse_onvif_notify(body)
    else:
        _only_decode_errors(body)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_arbitrary_bytes(body: bytes) -> None:
    _only_decode_errors(body)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    seeds = [*_vector_bodies(), notify(), notify(message(operation="Deleted"))]
    return mutate(draw, draw(st.sampled_from(seeds)), [b"<", b">", b"&", b":", b"/", b'"', b"&lt;", b"<!--", b"\x00"])


@settings(max_examples=500, deadline=None)
@given(mutated())
def test_fuzz_mutated_vectors(body: bytes) -> None:
    _only_decode_errors(body)
