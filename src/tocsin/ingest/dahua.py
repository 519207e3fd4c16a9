"""Dahua events: the ``eventManager.cgi?action=attach`` multipart text stream.

``GET /cgi-bin/eventManager.cgi?action=attach&codes=[All]`` answers with an endless
``multipart/x-mixed-replace`` body; each part holds one or more lines
``Code=<Code>;action=<Start|Stop|Pulse>;index=<channel>[;data=<JSON>]``, or ``Heartbeat``
when the URL asked for ``&heartbeat=<s>``. :class:`EventStreamParser` reassembles parts
across reads, with or without ``Content-Length`` (delivering a part as soon as its length
arrived) and with the boundary declared in the Content-Type header or detected;
:func:`parse_dahua_part` reads one part's text. Identity fields in ``data`` (faces,
face-recognition candidates, plates, card and user ids, person attributes) are dropped;
see :mod:`tocsin.ingest.camera`. Connecting, Digest authentication and reconnecting are the
caller's job.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

import msgspec

from tocsin.ingest.camera import (
    DEFAULT_MAX_BYTES,
    CameraDecodeError,
    CameraEvent,
    CameraStream,
    Details,
    MultipartStream,
    Part,
    flatten_json,
    is_dropped_field,
    parse_content_type,
)

__all__ = ("EventStreamParser", "parse_dahua_part")

_ACTIONS = {"start": ("Start", True), "stop": ("Stop", False), "pulse": ("Pulse", True)}
_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_EVENT_START = re.compile(r"(?m)^[ \t]*Code=")
_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,31}$")
_LATEST = 4102444800.0  # 2100-01-01: a "UTC" beyond it is not a time


class EventStreamParser(CameraStream):
    """Reads the ``eventManager.cgi?action=attach`` stream: bytes in, camera events out.

    Args:
        content_type: the response's Content-Type (its ``boundary``, usually
            ``myboundary`` but not always); None to detect it from the first line.
        max_part_bytes: bound on one buffered part.

    ``feed`` returns the events of every part completed so far; ``close`` (end of the
    connection) also decodes an unterminated last part. Not thread-safe.
    """

    def __init__(self, content_type: str | None = None, *, max_part_bytes: int = DEFAULT_MAX_BYTES) -> None:
        boundary = parse_content_type(content_type)[1].get("boundary") if content_type else None
        super().__init__(MultipartStream(boundary, max_part_bytes=max_part_bytes, what="Dahua event stream"))

    def decode_part(self, part: Part) -> list[CameraEvent]:
        """Decode one part (a part may hold several ``Code=`` lines)."""
        return parse_dahua_part(part.body)


def parse_dahua_part(body: bytes) -> list[CameraEvent]:
    """Read the text of one part: ``Heartbeat``, or one or more ``Code=…`` events.

    Args:
        body: the part body, headers removed.

    Returns:
        The events; a ``Heartbeat`` gives one event with ``heartbeat=True``; blank gives none.

    Raises:
        CameraDecodeError: no ``Code=``, a malformed field, an unknown action, bad ``data`` JSON.
    """
    text = body.decode("utf-8", "replace").strip()
    if not text:
        return []
    if text.lower() == "heartbeat":
        return [CameraEvent(vendor="dahua", code="Heartbeat", active=False, occurred_at=None,
                            channel=None, device=None, heartbeat=True)]  # fmt: skip
    starts = [match.end() - len("Code=") for match in _EVENT_START.finditer(text)]
    if not starts or text[: starts[0]].strip():
        raise CameraDecodeError(f"Dahua event: expected 'Code=…' or 'Heartbeat', got {text[:60]!r}")
    ends = [*starts[1:], len(text)]
    return [_event(text[start:end].strip()) for start, end in zip(starts, ends, strict=True)]


def _event(line: str) -> CameraEvent:
    head, sep, data = line.partition(";data=")  # data is JSON and may hold ";" and "="
    fields: dict[str, str] = {}
    for piece in head.split(";"):
        piece = piece.strip()
        if not piece:
            continue
        key, eq, value = piece.partition("=")
        key = key.strip()
        if not eq or not _KEY.match(key):
            raise CameraDecodeError(f"Dahua event: malformed field {piece[:40]!r}")
        fields.setdefault(key, value.strip())
    code = fields.pop("Code", "")
    if not _CODE.match(code):
        raise CameraDecodeError(f"Dahua event: malformed Code {code[:40]!r}")
    raw_action = fields.pop("action", "")
    action = _ACTIONS.get(raw_action.lower()) if raw_action else ("", True)  # no action: a one-off
    if action is None:
        raise CameraDecodeError(f"Dahua event {code}: unknown action {raw_action[:20]!r}")
    index = fields.pop("index", None)

    details = Details()
    if action[0]:
        details.add("action", action[0])
    if index is not None:
        details.add("index", index)
    for key, value in fields.items():
        if is_dropped_field(key):
            details.drop(key)
        else:
            details.add(key, value)
    occurred_at = None
    if sep:
        try:
            payload = msgspec.json.decode(data.strip())
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
            raise CameraDecodeError(f"Dahua event {code}: data is not valid JSON ({exc})") from exc
        # The top-level "Name" of data is the analytics rule's name, not a person's.
        flatten_json(payload, details, prefix="data", keep=("data.Name",))
        occurred_at = _utc(payload.get("UTC")) if isinstance(payload, dict) else None
    return CameraEvent(
        vendor="dahua",
        code=code,
        active=action[1],
        occurred_at=occurred_at,
        channel=index[:200] if index else None,
        device=None,
        details=details.items,
        dropped=tuple(details.dropped),
    )


def _utc(value: object) -> datetime | None:
    """``data.UTC`` (seconds since the epoch) as an aware datetime; junk → None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    seconds = float(value)
    if not math.isfinite(seconds) or not 0 < seconds < _LATEST:
        return None
    return datetime.fromtimestamp(seconds, UTC)
