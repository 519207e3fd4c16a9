"""Fuzz targets for tocsin's wire-format parsers: one function per parser, bytes in.

Each target calls a parser the way tocsin does on untrusted input and raises only when
the parser broke its contract: an exception other than the adapter's documented decode
error (which the receivers answer with NAK/DUH and the endpoints with a 4xx), or a
property that must hold whatever the input (our own SIA replies decode as valid frames;
SIA events validate as ``EventIn``; no identity field survives a camera or Frigate
adapter; feeding a stream in pieces gives what feeding it whole gives). A target that
returns normally found nothing.

Targets are plain functions so the test suite runs them on the seed corpus without
atheris (``tests/unit/ingest/test_fuzz_targets.py``); ``fuzz/run.py`` drives them with
atheris. Multi-mode targets read their mode from the first byte, and their seeds carry
that byte. Seeds come from ``tests/unit/ingest/corpus/`` and, when present, the shared
protocol vectors.
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from tocsin.errors import PayloadTooLarge
from tocsin.ingest.camera import CameraDecodeError, CameraEvent, CameraStream, is_dropped_field, to_event_in
from tocsin.ingest.cap import CapDecodeError, parse_cap, parse_cap_feed, parse_cap_feed_alerts
from tocsin.ingest.dahua import EventStreamParser, parse_dahua_part
from tocsin.ingest.frigate import FrigateDecodeError, parse_frigate
from tocsin.ingest.hikvision import AlertStreamParser, parse_isapi
from tocsin.ingest.onvif import parse_onvif_notify
from tocsin.ingest.sia_codec import (
    MAX_FRAME_BYTES,
    FrameBuffer,
    SiaDecodeError,
    SiaFrame,
    build_ack,
    build_duh,
    key_from_config,
    parse_frame,
)
from tocsin.ingest.sia_codes import classify_cid, classify_sia
from tocsin.ingest.sia_events import Unprocessable, frame_events
from tocsin.ingest.sia_payload import parse_adm_cid, parse_contact_id, parse_sia_dcs
from tocsin.model import EventIn

__all__ = ("CORPUS", "TARGETS", "VECTORS", "Target", "seeds_of")

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "unit" / "ingest" / "corpus"
"""The seed corpus the unit tests keep (every file there is a seed of some target)."""
VECTORS = ROOT.parent / "shared" / "specs" / "vectors"
"""The shared protocol vectors, used as extra seeds when present."""

SIA_KEY = key_from_config("ABCD" * 8, "hex")  # the key of the encrypted corpus frames
_NOW = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
_SIA_TOKENS = frozenset({"SIA-DCS", "ADM-CID"})
_ISAPI_TYPES = (
    "application/xml",
    "application/json",
    "multipart/form-data; boundary=MIME_boundary",
    "multipart/mixed",  # no boundary: detected, or refused
)
_FRIGATE_TOPICS = ("frigate/events", "frigate/reviews", "frigate/tracked_object_update", "frigate/other")
_KEPT = frozenset({"data.Name"})  # Dahua's rule name: exempt from the drop rule by design
_IDENTITY = re.compile(r"sub_label|license_plate|plate|face", re.IGNORECASE)


@dataclass(frozen=True)
class Target:
    """A parser under fuzz: ``run(data)`` raises only on a bug; ``seeds()`` start the search."""

    name: str
    run: Callable[[bytes], None]
    seeds: Callable[[], list[bytes]]
    doc: str


def _files(folder: Path, pattern: str) -> list[Path]:
    return sorted(p for p in folder.glob(pattern) if p.is_file() and p.suffix != ".md") if folder.is_dir() else []


def _read(paths: Iterable[Path]) -> list[bytes]:
    return [p.read_bytes() for p in paths]


def _chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)] or [b""]


def _valid_event(event: EventIn) -> None:
    """An adapter's event must pass the model's own validation (the API would refuse it)."""
    msgspec.convert(msgspec.to_builtins(event), EventIn)


# --- SIA DC-09 -----------------------------------------------------------------------------------


def _sia_frame_seeds() -> list[bytes]:
    frames = _read(_files(CORPUS / "sia", "*.frame"))
    frames += [b"\n" + p.read_bytes() + b"\r" for p in _files(VECTORS / "sia_dc09", "*.frame")]
    return frames


def _check_frame(frame: SiaFrame, key: bytes | None) -> None:
    if not frame.valid:
        return
    if frame.encrypted and key is None:  # pragma: no cover - parse_frame raises first
        return
    for reply in (build_ack(frame, key=key if frame.encrypted else None, now=_NOW), build_duh(frame, now=_NOW)):
        echoed = parse_frame(reply, key=key)  # our own answer must be a valid DC-09 frame
        assert echoed.valid, f"reply {reply!r} fails its own CRC/length"
        assert (echoed.sequence, echoed.account) == (frame.sequence, frame.effective_account), (reply, frame)
    if frame.token.upper() in _SIA_TOKENS:
        try:
            events = frame_events(frame, (frame.effective_account or "0").upper(), "site", _NOW)
        except Unprocessable:
            return
        for event in events:
            _valid_event(event)


def sia_frame(data: bytes) -> None:
    """``parse_frame`` with and without the key; replies and events of what it accepts."""
    for key in (None, SIA_KEY):
        try:
            frame = parse_frame(data, key=key)
        except SiaDecodeError:
            continue
        _check_frame(frame, key)


def sia_stream(data: bytes) -> None:
    """``FrameBuffer`` fed in pieces gives the frames it gives fed whole, within its bound."""
    if not data:
        return
    size, body = data[0] % 32 + 1, data[1:]
    whole = FrameBuffer()
    expected = whole.feed(body)
    pieces = FrameBuffer()
    got: list[bytes] = []
    for chunk in _chunks(body, size):
        got += pieces.feed(chunk)
        assert len(pieces) <= MAX_FRAME_BYTES + size, len(pieces)
    assert got == expected, (got, expected)
    for frame in got[:4]:
        sia_frame(frame)


def _sia_payload_seeds() -> list[bytes]:
    seeds = []
    for raw in _sia_frame_seeds():
        for key in (None, SIA_KEY):
            try:
                seeds.append(parse_frame(raw, key=key).data.encode("utf-8", "replace"))
                break
            except SiaDecodeError:
                continue
    return seeds + [b"#1234|Nri1/BA503^Hall^|Atext", b"#1234|1130 01 015", b"1234181130010154"]


def sia_payload(data: bytes) -> None:
    """The SIA-DCS, ADM-CID and Contact ID data-block readers, and code classification."""
    text = data.decode("utf-8", "replace")
    for event in parse_sia_dcs(text):  # documented never to raise
        classify_sia(event.code)
    try:
        cid = parse_adm_cid(text)
        classify_cid(cid.qualifier, cid.code)
    except SiaDecodeError:
        pass
    with contextlib.suppress(SiaDecodeError):
        parse_contact_id(text)


# --- cameras ---------------------------------------------------------------------------------------


def _check_camera(events: Iterable[CameraEvent]) -> None:
    for event in events:
        leaked = [key for key in event.details if key not in _KEPT and any(is_dropped_field(p) for p in key.split("."))]
        assert not leaked, f"identity fields kept: {leaked}"
        with contextlib.suppress(CameraDecodeError):
            to_event_in(event, source="fuzz", site=None)


def onvif(data: bytes) -> None:
    """``parse_onvif_notify`` (the ``/ingest/onvif`` body)."""
    with contextlib.suppress(CameraDecodeError):
        _check_camera(parse_onvif_notify(data))


def _isapi_seeds() -> list[bytes]:
    out = []
    paths = _files(CORPUS / "camera", "isapi_*") + _files(VECTORS / "hikvision", "*")
    for path in paths:
        if path.suffix == ".json" and path.name == "index.json":
            continue
        mode = {".json": 1, ".mp": 2, ".stream": 3}.get(path.suffix, 0)
        out.append(bytes([mode]) + path.read_bytes())
    return out


def hikvision(data: bytes) -> None:
    """``parse_isapi`` as XML, JSON, form-data or boundary-less multipart (first byte)."""
    if not data:
        return
    with contextlib.suppress(CameraDecodeError):
        _check_camera(parse_isapi(data[1:], _ISAPI_TYPES[data[0] % len(_ISAPI_TYPES)]))


def _stream_seeds() -> list[bytes]:
    out = []
    for path in _files(CORPUS / "camera", "*.stream") + _files(VECTORS / "dahua", "*"):
        if path.suffix in (".json", ".md"):
            continue
        mode = 0 if path.name.startswith("isapi") else 1
        out.append(bytes([mode, 7]) + path.read_bytes())
    return out


def _drain(call: Callable[[], list[CameraEvent]]) -> None:
    for _ in range(64):  # after an error, the next call delivers what followed the bad part
        try:
            _check_camera(call())
            return
        except CameraDecodeError:
            continue


def camera_stream(data: bytes) -> None:
    """Hikvision ``alertStream`` / Dahua ``eventManager`` parsers, fed in pieces, then closed."""
    if len(data) < 2:
        return
    parser: CameraStream = AlertStreamParser() if data[0] % 2 == 0 else EventStreamParser()
    for chunk in _chunks(data[2:], data[1] % 64 + 1):
        _drain(functools.partial(parser.feed, chunk))
        assert parser.buffered() <= 2 * 1024 * 1024, parser.buffered()
    _drain(parser.close)


def dahua_part(data: bytes) -> None:
    """``parse_dahua_part``: the text of one ``eventManager`` part."""
    with contextlib.suppress(CameraDecodeError):
        _check_camera(parse_dahua_part(data))


# --- CAP and Frigate -------------------------------------------------------------------------------


def cap(data: bytes) -> None:
    """``parse_cap`` (the ``/ingest/cap`` body); its events validate as ``EventIn``."""
    try:
        for event in parse_cap(data):
            _valid_event(event)
    except (CapDecodeError, PayloadTooLarge):
        pass


def cap_feed(data: bytes) -> None:
    """``parse_cap_feed`` and ``parse_cap_feed_alerts`` (polled feeds), then each embedded alert."""
    try:
        links = parse_cap_feed(data)
        assert all(link.startswith(("http://", "https://")) for link in links), links
        for alert in parse_cap_feed_alerts(data):
            cap(alert)
    except (CapDecodeError, PayloadTooLarge):
        pass


def _frigate_seeds() -> list[bytes]:
    out = []
    for path in _files(CORPUS / "frigate", "*.json") + _files(VECTORS / "frigate", "docs_*.json"):
        leaf = path.name.removeprefix("docs_").split(".")[0].rstrip("_0123456789")
        mode = {"events": 0, "reviews": 1, "tracked_object_update": 2}.get(leaf, 3)
        out.append(bytes([mode]) + path.read_bytes())
    return out


def frigate(data: bytes) -> None:
    """``parse_frigate`` on the topics tocsin subscribes to (first byte); no identity field kept."""
    if not data:
        return
    try:
        result = parse_frigate(_FRIGATE_TOPICS[data[0] % len(_FRIGATE_TOPICS)], data[1:])
    except (FrigateDecodeError, PayloadTooLarge):
        return
    if result.event is not None:
        _valid_event(result.event)
        keys = json.dumps(list(result.event.attributes))
        assert not _IDENTITY.search(keys), f"identity attribute kept: {keys}"


# --- the table -----------------------------------------------------------------------------------

TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target("sia_frame", sia_frame, _sia_frame_seeds, sia_frame.__doc__ or ""),
        Target("sia_stream", sia_stream, lambda: [b"\x06" + s for s in _sia_frame_seeds()], sia_stream.__doc__ or ""),
        Target("sia_payload", sia_payload, _sia_payload_seeds, sia_payload.__doc__ or ""),
        Target(
            "onvif",
            onvif,
            lambda: _read(_files(CORPUS / "camera", "onvif_*") + _files(VECTORS / "onvif", "*.xml")),
            onvif.__doc__ or "",
        ),  # fmt: skip
        Target("hikvision", hikvision, _isapi_seeds, hikvision.__doc__ or ""),
        Target("camera_stream", camera_stream, _stream_seeds, camera_stream.__doc__ or ""),
        Target("dahua_part", dahua_part, lambda: [s[2:] for s in _stream_seeds()], dahua_part.__doc__ or ""),
        Target(
            "cap",
            cap,
            lambda: _read(_files(CORPUS / "cap", "*.xml") + _files(VECTORS / "cap", "*.xml")),
            cap.__doc__ or "",
        ),  # fmt: skip
        Target(
            "cap_feed",
            cap_feed,
            lambda: _read(_files(CORPUS / "cap", "*.xml") + _files(VECTORS / "cap", "*")),
            cap_feed.__doc__ or "",
        ),  # fmt: skip
        Target("frigate", frigate, _frigate_seeds, frigate.__doc__ or ""),
    )
}
"""Every target by name."""


def seeds_of(name: str) -> list[bytes]:
    """The seeds of target ``name`` (corpus files, mode byte included where it takes one)."""
    return TARGETS[name].seeds()
