"""What IP cameras report, before mapping: the shared vocabulary of the camera adapters.

The ONVIF, Hikvision ISAPI and Dahua adapters (:mod:`.onvif`, :mod:`.hikvision`,
:mod:`.dahua`) each turn their wire format into :class:`CameraEvent` values; this module
owns that struct, its conversion into an :class:`~tocsin.model.EventIn`, the default
vendor-code mapping (``data/mappings/cameras.toml``) and the toolkit the adapters share:
size limits, hardened XML parsing (defusedxml: no DTDs, no entities, no external
references), content-type parsing, bounded detail flattening and a multipart splitter that
works across arbitrary chunk boundaries. It does no networking and touches no database.

Civil-liberties rule: cameras can report who someone is (licence plates, faces, face-library
matches, names, card numbers) and what they look like (age, gender, clothing). Adapters drop
every such field *before* anything is stored, whatever the event, and keep only the *names*
of the fields they removed in :attr:`CameraEvent.dropped` so that callers can count them.
The rule is a deny-list (:data:`DROPPED_FIELDS`, :data:`DROPPED_WORDS`) applied to every key
the adapters flatten; a dropped block is dropped whole, values and all.
"""

from __future__ import annotations

import abc
import io
import math
import re
import tomllib
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from importlib import resources
from typing import Literal
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as _defused  # type: ignore[import-untyped]
import msgspec
from defusedxml import DefusedXmlException

from tocsin.errors import DecodeError
from tocsin.model import EventIn

__all__ = (
    "DEFAULT_MAX_BYTES",
    "DROPPED_FIELDS",
    "DROPPED_WORDS",
    "MAX_CODE_CHARS",
    "MAX_DETAILS",
    "MAX_TEXT_CHARS",
    "CameraDecodeError",
    "CameraEvent",
    "CameraPayloadTooLarge",
    "CameraStream",
    "Details",
    "DetailValue",
    "MultipartStream",
    "Part",
    "Vendor",
    "camera_mapping",
    "check_size",
    "flatten_json",
    "is_dropped_field",
    "local_name",
    "parse_content_type",
    "parse_xml",
    "to_event_in",
)

Vendor = Literal["onvif", "hikvision", "dahua"]
DetailValue = str | int | float | bool | None

DEFAULT_MAX_BYTES = 1024 * 1024
"""Default bound on one body, or on one buffered part of a stream (1 MiB)."""
MAX_DETAILS = 64
"""Most detail entries kept per event; later ones are ignored (first occurrence wins)."""
MAX_TEXT_CHARS = 256
"""Longest string detail value kept; longer values are cut to this many characters."""
MAX_CODE_CHARS = 190
"""Longest event code, so that ``"<vendor>.<code>"`` fits ``EventIn.type`` (200)."""
_MAX_DEPTH = 12
_MAX_DROPPED = 32
_MAX_KEY_CHARS = 64
_INT64 = 2**63

DROPPED_FIELDS: frozenset[str] = frozenset(
    {
        # licence plates and the ANPR records around them
        "anpr", "lpr", "licenseplate", "originallicenseplate", "platenumber", "plateno", "platetext",
        "plate", "plates", "vehicleplate", "trafficcar", "text",  # Dahua puts plate OCR in Object.Text
        # faces, face libraries and match results
        "facecapture", "facematch", "facelib", "facelibtype", "faces", "face", "fdid", "candidates",
        "similarity", "targetattrs", "humanattribute", "humanattributes", "personinfo", "person",
        # person identifiers
        "name", "personname", "personid", "personcode", "employeeno", "employeenostring", "employeeid",
        "cardno", "cardnumber", "cardid", "userid", "username", "idcard", "idcardno", "idno",
        "idnumber", "certificatenumber", "certificateno", "phone", "phonenumber", "email",
        "birthday", "birthdate", "dateofbirth",
        # person attributes (appearance, health)
        "age", "agegroup", "gender", "sex", "ethnicity", "race", "nation", "nationality", "glass",
        "glasses", "beard", "mustache", "moustache", "emotion", "expression", "smile", "mask", "hat",
        "cap", "hairstyle", "skincolor", "upperbodycolor", "lowerbodycolor", "coatcolor",
        "jacetcolor", "jacketcolor", "trouserscolor", "trouserstype", "clothes", "currtemperature",
        "isabnomaltemperature", "isabnormaltemperature",
        # URLs of captured pictures (of people or plates)
        "pictureurl", "picurl", "bkgurl", "snapurl", "imageurl", "photourl", "captureurl",
    }
)  # fmt: skip
"""Field names (compared case-insensitively, whole name) that adapters drop with their values."""

DROPPED_WORDS: frozenset[str] = frozenset(
    {
        "face", "faces", "plate", "plates", "anpr", "lpr", "biometric", "biometrics", "fingerprint",
        "iris", "gender", "age", "sex", "ethnicity", "race", "glasses", "beard", "emotion", "skin",
        "hair", "body",
    }
)  # fmt: skip
"""camelCase/snake_case words that make any field name containing them dropped
(``licensePlate``, ``FaceRect``, ``faceLibType``, ``ageGroup``, ``UpperBodyColor``)."""

_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


def is_dropped_field(name: str) -> bool:
    """Whether a field of this name carries identity or biometric data and must be dropped.

    Args:
        name: a field, element or item name as the device sent it.

    Returns:
        True when the name is in :data:`DROPPED_FIELDS` or has a word in :data:`DROPPED_WORDS`.
    """
    if name.lower() in DROPPED_FIELDS:
        return True
    return any(word.lower() in DROPPED_WORDS for word in _WORDS.findall(name))


class CameraDecodeError(DecodeError):
    """A camera body or stream part is not valid for its wire format (or breaks a bound)."""

    code = "invalid_camera_event"


class CameraPayloadTooLarge(CameraDecodeError):
    """A camera body, part or message count is over its configured bound (HTTP 413)."""

    status_code = 413
    code = "payload_too_large"


class CameraEvent(msgspec.Struct, frozen=True, omit_defaults=True):
    """One thing a camera reported, before the vendor code is mapped onto an alarm type.

    ``code`` is the vendor's own event code (``VMD``, ``linedetection``, ``VideoMotion``) or,
    for ONVIF, the canonical topic (``tns1:RuleEngine/CellMotionDetector/Motion``).
    ``details`` are flat scalars with dotted keys; identity and biometric fields never reach
    them, and ``dropped`` names the fields that were removed.
    """

    vendor: Vendor
    code: str
    active: bool
    occurred_at: datetime | None
    channel: str | None
    device: str | None
    heartbeat: bool = False
    details: dict[str, DetailValue] = {}
    dropped: tuple[str, ...] = ()
    external_id: str | None = None
    """A unique id the vendor gave the event (Hikvision ``UUID``), if any."""


def to_event_in(ev: CameraEvent, *, source: str, site: str | None) -> EventIn:
    """Turn a camera event into the normalised event tocsin ingests.

    ``type`` is ``"<vendor>.<code>"`` (the camera mapping table maps it onto an alarm-type
    key); ``attributes`` are the details plus ``channel``, ``device``, ``heartbeat`` (when
    true) and ``dropped_fields`` (how many identity fields were removed, when any).

    Args:
        ev: the camera event.
        source: who sent it (device or connector name), as in ``EventIn.source``.
        site: the site the camera belongs to, if known.

    Returns:
        A validated ``EventIn`` with method ``equipment``.

    Raises:
        CameraDecodeError: the result would not validate (e.g. an empty ``source``).
    """
    attributes: dict[str, DetailValue] = {}
    if ev.channel is not None:
        attributes["channel"] = ev.channel
    if ev.device is not None:
        attributes["device"] = ev.device
    if ev.heartbeat:
        attributes["heartbeat"] = True
    if ev.dropped:
        attributes["dropped_fields"] = len(ev.dropped)
    for key, value in ev.details.items():
        if 0 < len(key) <= _MAX_KEY_CHARS:
            attributes.setdefault(key, value)
    raw = {
        "type": f"{ev.vendor}.{ev.code}",
        "method": "equipment",
        "source": source,
        "site": site,
        "occurred_at": ev.occurred_at if ev.occurred_at is not None and ev.occurred_at.tzinfo else None,
        "condition": "active" if ev.active else "cleared",
        "attributes": attributes,
        "external_id": ev.external_id,
    }
    try:
        return msgspec.convert(raw, EventIn)
    except msgspec.ValidationError as exc:
        raise CameraDecodeError(f"camera event does not make a valid EventIn: {exc}") from exc


def camera_mapping() -> dict[str, str]:
    """The default ``"<vendor>.<code>" -> alarm-type key`` table (``data/mappings/cameras.toml``).

    Returns:
        The table; codes not in it land as ``unclassified``.
    """
    text = resources.files("tocsin").joinpath("data/mappings/cameras.toml").read_text(encoding="utf-8")
    return {str(key): str(value) for key, value in tomllib.loads(text).items()}


# --- bounds, XML and content types ---------------------------------------------------------


def check_size(body: bytes, max_bytes: int, what: str) -> None:
    """Refuse an empty body or one over ``max_bytes``.

    Raises:
        CameraPayloadTooLarge: the body is larger than ``max_bytes``.
        CameraDecodeError: the body is empty.
    """
    if len(body) > max_bytes:
        raise CameraPayloadTooLarge(f"{what}: body of {len(body)} bytes exceeds the limit of {max_bytes} bytes")
    if not body.strip():
        raise CameraDecodeError(f"{what}: empty body")


def local_name(tag: object) -> str:
    """The local part of an ElementTree tag (``{ns}local`` → ``local``); '' for comments/PIs."""
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def parse_xml(
    body: bytes, *, what: str, scopes_for: str | None = None
) -> tuple[Element, dict[Element, dict[str, str]]]:
    """Parse XML with defusedxml: any DTD, entity declaration or external reference is refused.

    Args:
        body: the document.
        what: names the document in error messages.
        scopes_for: a Clark-notation tag (``{ns}local``) whose in-scope namespace
            declarations (prefix → URI) should be recorded, e.g. the ONVIF ``wsnt:Topic``.

    Returns:
        The root element and, per element with the ``scopes_for`` tag, its in-scope namespaces.

    Raises:
        CameraDecodeError: not well-formed, or DTD/entities/external references present.
    """
    data = body.lstrip(b" \t\r\n")
    scopes: dict[Element, dict[str, str]] = {}
    try:
        if scopes_for is None:
            root: Element = _defused.fromstring(data, forbid_dtd=True)
            return root, scopes
        stack: list[dict[str, str]] = [{}]
        declared: dict[str, str] = {}
        first: Element | None = None
        for event, item in _defused.iterparse(io.BytesIO(data), events=("start-ns", "start", "end"), forbid_dtd=True):
            if event == "start-ns":
                declared[item[0]] = item[1]
            elif event == "start":
                scope = {**stack[-1], **declared} if declared else stack[-1]
                declared = {}
                stack.append(scope)
                first = item if first is None else first
                if item.tag == scopes_for:
                    scopes[item] = scope
            else:
                stack.pop()
    except DefusedXmlException as exc:
        raise CameraDecodeError(f"{what}: refused unsafe XML ({type(exc).__name__})") from exc
    except (ParseError, ValueError, LookupError) as exc:
        raise CameraDecodeError(f"{what}: not well-formed XML ({exc})") from exc
    if first is None:  # pragma: no cover - expat reports "no element found" first
        raise CameraDecodeError(f"{what}: no XML element")
    return first, scopes


_PARAM = re.compile(r""";\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)""")


def parse_content_type(value: str) -> tuple[str, dict[str, str]]:
    """Split a Content-Type header into the lower-case media type and its parameters.

    Returns:
        ``("multipart/mixed", {"boundary": "xyz"})`` for ``multipart/mixed; boundary="xyz"``.
    """
    media, sep, rest = value.partition(";")
    params: dict[str, str] = {}
    for match in _PARAM.finditer(sep + rest):
        raw = match.group(2).strip()
        if len(raw) >= 2 and raw[0] == raw[-1] == '"':
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        params[match.group(1).lower()] = raw
    return media.strip().lower(), params


def _boundary_bytes(boundary: str, what: str) -> bytes:
    if not 1 <= len(boundary) <= 70 or not boundary.isascii() or any(c in boundary for c in "\r\n\0"):
        raise CameraDecodeError(f"{what}: invalid multipart boundary {boundary[:80]!r}")
    return boundary.encode("ascii")


# --- details -------------------------------------------------------------------------------


class Details:
    """A bounded, first-wins collector of flat details and of dropped field names."""

    __slots__ = ("dropped", "items")

    def __init__(self) -> None:
        self.items: dict[str, DetailValue] = {}
        self.dropped: list[str] = []

    def add(self, key: str, value: object) -> None:
        """Keep ``value`` under ``key`` unless the key is taken, too long or the map is full."""
        if not key or len(key) > _MAX_KEY_CHARS or key in self.items or len(self.items) >= MAX_DETAILS:
            return
        if isinstance(value, bool) or value is None:
            self.items[key] = value
        elif isinstance(value, int):
            self.items[key] = value if -_INT64 <= value < _INT64 else str(value)
        elif isinstance(value, float):
            self.items[key] = value if math.isfinite(value) else str(value)
        elif isinstance(value, str):
            self.items[key] = value[:MAX_TEXT_CHARS]

    def drop(self, name: str) -> None:
        """Record that a field of this name was removed (the name only, never the value)."""
        name = name[:_MAX_KEY_CHARS]
        if name not in self.dropped and len(self.dropped) < _MAX_DROPPED:
            self.dropped.append(name)


def flatten_json(value: object, details: Details, *, prefix: str = "", keep: Iterable[str] = ()) -> None:
    """Flatten decoded JSON objects into dotted scalar details, dropping identity fields.

    Lists are not stored (coordinates, bounding boxes, candidate lists) but are searched for
    dropped field names so that ``dropped`` is complete.

    Args:
        value: a decoded JSON value; only objects contribute details.
        details: where details and dropped names go.
        prefix: the dotted path of ``value`` itself.
        keep: dotted paths exempt from the drop rule (e.g. Dahua ``data.Name``, a rule name).
    """
    _flatten(value, details, prefix, frozenset(keep), 0)


def _flatten(value: object, details: Details, prefix: str, keep: frozenset[str], depth: int) -> None:
    if depth > _MAX_DEPTH:
        return
    if isinstance(value, list):
        _scan(value, details, depth)
        return
    if not isinstance(value, dict):
        return
    for key, item in value.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if is_dropped_field(str(key)) and path not in keep:
            details.drop(str(key))
        elif isinstance(item, dict | list):
            _flatten(item, details, path, keep, depth + 1)
        else:
            details.add(path, item)


def _scan(value: object, details: Details, depth: int) -> None:
    """Record dropped field names inside a value that is not stored (a list)."""
    if depth > _MAX_DEPTH:
        return
    if isinstance(value, list):
        for item in value[:MAX_DETAILS]:
            _scan(item, details, depth + 1)
    elif isinstance(value, dict):
        for key, item in value.items():
            if is_dropped_field(str(key)):
                details.drop(str(key))
            else:
                _scan(item, details, depth + 1)


# --- multipart streams ---------------------------------------------------------------------


class Part(msgspec.Struct, frozen=True):
    """One part of a multipart body: lower-cased headers, body (empty when skipped), size."""

    headers: dict[str, str]
    body: bytes
    size: int
    skipped: bool = False
    truncated: bool = False
    """The stream ended before the part's declared Content-Length."""


_TOKEN = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]*")
_MAX_HEADER_BYTES = 8192
_SEEK, _DELIMITER, _HEADERS, _BODY = range(4)


class MultipartStream:
    """Split a multipart byte stream into parts, across arbitrary chunk boundaries.

    Lenient in the ways cameras need: the boundary may be declared or detected from the
    first line; a part may omit the blank line after its headers (the body starts at the
    first line that is not a header); a ``Content-Length`` part is delivered as soon as that
    many bytes arrived, or earlier at the next delimiter if the length was too long; bytes
    between a part and the next delimiter are ignored. Parts for which ``skip(headers)`` is
    true (images) are counted and discarded as they arrive, never buffered when they have a
    length. Bounds: one part's body ``max_part_bytes``, its headers 8 KiB (32 lines); bytes
    outside parts are discarded as they are scanned. Not thread-safe: one instance per
    connection.
    """

    def __init__(
        self,
        boundary: str | None = None,
        *,
        max_part_bytes: int = DEFAULT_MAX_BYTES,
        skip: Callable[[Mapping[str, str]], bool] | None = None,
        what: str = "multipart stream",
    ) -> None:
        self._what = what
        self._boundary = _boundary_bytes(boundary, what) if boundary is not None else None
        self._max_part = max_part_bytes
        self._skip = skip
        self._buf = bytearray()
        self._state = _SEEK
        self._scan = 0
        self._headers: dict[str, str] = {}
        self._header_bytes = 0
        self._length: int | None = None
        self._skipping = False
        self._size = 0
        self._ready: list[Part] = []

    @property
    def boundary(self) -> str | None:
        """The boundary in use (declared or detected), if known yet."""
        return self._boundary.decode("ascii") if self._boundary is not None else None

    def __len__(self) -> int:
        """Bytes currently buffered."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[Part]:
        """Add bytes; return every part completed so far.

        Raises:
            CameraDecodeError: a bound was broken or the framing is unreadable. The stream
                skips to the next delimiter; parts completed before the error are returned by
                the next call.
        """
        self._buf += data
        try:
            while self._step():
                pass
        except CameraDecodeError:
            self._state, self._scan = _SEEK, 0
            self._headers, self._header_bytes, self._length, self._skipping, self._size = {}, 0, None, False, 0
            raise
        ready, self._ready = self._ready, []
        return ready

    def close(self) -> list[Part]:
        """End of stream: return the parts still pending, including a final unterminated one."""
        if self._state == _BODY and self._skipping:
            self._emit(b"", skipped=True, truncated=self._length is not None and self._length > self._size)
        elif self._state in (_HEADERS, _BODY) and (self._buf.strip() or self._headers):
            body = bytes(self._buf)
            if self._length is not None and len(body) > self._length:
                body = body[: self._length]
            if self._boundary is not None:  # the stream may have ended inside a delimiter
                body = body[: _partial_delimiter_at(body, b"\n--" + self._boundary)]
            truncated = self._length is not None and len(body) < self._length
            self._emit(body.rstrip(b"\r\n"), truncated=truncated)
        self._buf.clear()
        self._state, self._scan = _SEEK, 0
        ready, self._ready = self._ready, []
        return ready

    def _emit(self, body: bytes, *, skipped: bool = False, truncated: bool = False) -> None:
        size = self._size if skipped else len(body)
        self._ready.append(Part(dict(self._headers), body, size, skipped, truncated))
        self._headers, self._header_bytes, self._length, self._skipping, self._size = {}, 0, None, False, 0

    def _step(self) -> bool:
        if self._state == _SEEK:
            return self._seek()
        if self._state == _DELIMITER:
            return self._delimiter()
        if self._state == _HEADERS:
            return self._header_line()
        return self._body()

    def _detect(self) -> bool:
        start = len(self._buf) - len(self._buf.lstrip(b" \t\r\n"))
        del self._buf[:start]
        newline = self._buf.find(b"\n")
        if len(self._buf) >= 2 and not self._buf.startswith(b"--"):
            self._buf.clear()
            raise CameraDecodeError(f"{self._what}: does not start with a multipart boundary line")
        if newline < 0:
            if len(self._buf) > 76:
                self._buf.clear()
                raise CameraDecodeError(f"{self._what}: multipart boundary line too long")
            return False
        try:
            self._boundary = _boundary_bytes(self._buf[2:newline].rstrip(b"\r \t").decode("latin-1"), self._what)
        except CameraDecodeError:
            del self._buf[: newline + 1]  # or the next feed would trip over the same line
            raise
        return True

    def _seek(self) -> bool:
        if self._boundary is None and not self._detect():
            return False
        assert self._boundary is not None
        marker = b"--" + self._boundary
        found = self._buf.find(marker, self._scan)
        if found < 0:
            keep = len(marker) - 1
            if len(self._buf) > keep:
                del self._buf[: len(self._buf) - keep]
            self._scan = 0
            return False
        del self._buf[: found + len(marker)]
        self._scan = 0
        self._state = _DELIMITER
        return True

    def _delimiter(self) -> bool:
        if len(self._buf) < 2:
            return False
        if self._buf.startswith(b"--"):  # close delimiter: ignore the epilogue, wait for more
            del self._buf[:2]
            self._state = _SEEK
            return True
        newline = self._buf.find(b"\n")
        if newline < 0:
            if len(self._buf) > 256:
                raise CameraDecodeError(f"{self._what}: no line end after the boundary")
            return False
        del self._buf[: newline + 1]
        self._state = _HEADERS
        return True

    def _header_line(self) -> bool:
        if self._buf.startswith(b"\r\n") or self._buf.startswith(b"\n"):
            del self._buf[: 2 if self._buf[0] == 0x0D else 1]
            return self._start_body()
        token = _TOKEN.match(self._buf)
        end = token.end() if token else 0
        if end == len(self._buf) or self._buf == b"\r":
            if len(self._buf) > _MAX_HEADER_BYTES:
                raise CameraDecodeError(f"{self._what}: part header line too long")
            return False
        if end == 0 or self._buf[end] != 0x3A:  # not "name:" - the body starts without a blank line
            return self._start_body()
        newline = self._buf.find(b"\n")
        if newline < 0:
            if len(self._buf) > _MAX_HEADER_BYTES:
                raise CameraDecodeError(f"{self._what}: part header line too long")
            return False
        self._header_bytes += newline + 1
        if self._header_bytes > _MAX_HEADER_BYTES or len(self._headers) >= 32:
            raise CameraDecodeError(f"{self._what}: part headers too long")
        line = bytes(self._buf[:newline]).decode("latin-1")
        del self._buf[: newline + 1]
        name, _, value = line.partition(":")
        self._headers.setdefault(name.strip().lower(), value.strip())
        return True

    def _start_body(self) -> bool:
        raw = self._headers.get("content-length")
        if raw is not None:
            if not (raw.isascii() and raw.isdigit()) or len(raw) > 12:  # "¹" is a digit to str.isdigit
                raise CameraDecodeError(f"{self._what}: bad Content-Length {raw[:20]!r}")
            self._length = int(raw)
        self._skipping = bool(self._skip and self._skip(self._headers))
        if self._length is not None and not self._skipping and self._length > self._max_part:
            raise CameraPayloadTooLarge(
                f"{self._what}: part of {self._length} bytes exceeds the limit of {self._max_part} bytes"
            )
        self._state, self._scan = _BODY, 0
        return True

    def _body(self) -> bool:
        assert self._boundary is not None
        marker = b"\n--" + self._boundary
        if self._skipping and self._length is not None:
            taken = min(len(self._buf), self._length - self._size)
            del self._buf[:taken]
            self._size += taken
            if self._size < self._length:
                return False
            self._emit(b"", skipped=True)
            self._state = _SEEK
            return True
        if self._size == 0 and self._buf.startswith(marker[1:]):  # an empty body
            self._emit(b"", skipped=self._skipping)
            self._state = _SEEK
            return True
        found = self._buf.find(marker, self._scan)
        limit = self._length if self._length is not None else None
        if found >= 0 and (limit is None or found < limit):
            body = bytes(self._buf[:found])
            del self._buf[: found + 1]
            self._size += len(body)
            self._finish(body)
            return True
        if limit is not None and len(self._buf) >= limit:
            # Deliver now, without waiting to see what follows; if the declared length ran
            # into the start of the next delimiter, end the body there and leave the
            # delimiter in the buffer, as a complete one would have been.
            end = _partial_delimiter_at(self._buf[:limit], marker)
            body = bytes(self._buf[:end])
            del self._buf[:end]
            self._finish(body)
            return True
        self._scan = max(0, len(self._buf) - len(marker) + 1)
        if self._skipping:  # no length: discard what cannot hold the delimiter
            drop = self._scan
            del self._buf[:drop]
            self._size += drop
            self._scan = 0
        elif len(self._buf) > self._max_part + len(marker):
            raise CameraPayloadTooLarge(
                f"{self._what}: part exceeds the limit of {self._max_part} bytes without a delimiter"
            )
        return False

    def _finish(self, body: bytes) -> None:
        if self._skipping:
            self._emit(b"", skipped=True)
        else:
            self._emit(body[:-1] if body.endswith(b"\r") else body)  # the CR of the delimiter's CRLF
        self._state, self._scan = _SEEK, 0


def _partial_delimiter_at(body: bytes | bytearray, marker: bytes) -> int:
    """Where ``body`` ends in the start of a ``\\n--boundary`` (``\\n``, ``\\n-``, …); else its length."""
    for start in range(max(0, len(body) - len(marker) + 1), len(body)):
        if body[start] == 0x0A and marker.startswith(body[start:]):
            return start
    return len(body)


class CameraStream(abc.ABC):
    """Base of the long-lived stream parsers: multipart parts in, camera events out.

    Subclasses implement :meth:`decode_part`. ``feed`` and ``close`` never lose events: when a
    part is malformed, the error is raised and the events decoded before it (and the parts
    after it) are delivered by the next call. Not thread-safe: one instance per connection.
    """

    def __init__(self, stream: MultipartStream) -> None:
        self._stream = stream
        self._parts: deque[Part] = deque()
        self._events: list[CameraEvent] = []

    def feed(self, data: bytes) -> list[CameraEvent]:
        """Add bytes read from the connection; return the events completed so far.

        Raises:
            CameraDecodeError: a part or the framing is malformed, or a bound was broken.
        """
        self._parts.extend(self._stream.feed(data))
        return self._drain()

    def close(self) -> list[CameraEvent]:
        """The connection ended: decode what is left, including an unterminated last part.

        Raises:
            CameraDecodeError: a remaining part is malformed or truncated; call ``close``
                again for the events of the parts after it.
        """
        self._parts.extend(self._stream.close())
        return self._drain()

    def buffered(self) -> int:
        """Bytes held while waiting for the rest of a part."""
        return len(self._stream)

    @abc.abstractmethod
    def decode_part(self, part: Part) -> list[CameraEvent]:
        """Turn one part into events (an empty part gives none)."""

    def _drain(self) -> list[CameraEvent]:
        while self._parts:
            self._events.extend(self.decode_part(self._parts.popleft()))
        events, self._events = self._events, []
        return events
