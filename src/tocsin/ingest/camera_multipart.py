"""Multipart bodies and streams from cameras: parts out of bytes, across any chunk boundary.

Hikvision posts ``multipart/form-data`` with pictures and streams ``alertStream`` as
``multipart/mixed``; Dahua's ``eventManager`` stream is multipart too, often with a wrong
``Content-Length`` or no blank line after the headers. :class:`MultipartStream` splits all of
them leniently and within bounds; it knows nothing of what the parts mean (the vendor
parsers do) and does no networking. Re-exported by :mod:`.camera`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

import msgspec

from tocsin.ingest.camera_bounds import DEFAULT_MAX_BYTES, CameraDecodeError, CameraPayloadTooLarge

__all__ = ("MultipartStream", "Part", "parse_content_type")


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
