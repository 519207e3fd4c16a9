"""The bounds every camera adapter enforces, and the errors for input that breaks them.

Shared by the body parsers (:mod:`.onvif`, :mod:`.hikvision`, :mod:`.dahua`), the multipart
splitter (:mod:`.camera_multipart`) and the HTTP endpoints, which turn
:class:`CameraDecodeError` into a 400 and :class:`CameraPayloadTooLarge` into a 413 naming
what was wrong. Re-exported by :mod:`.camera`.
"""

from __future__ import annotations

from tocsin.errors import DecodeError

__all__ = ("DEFAULT_MAX_BYTES", "CameraDecodeError", "CameraPayloadTooLarge", "check_size")

DEFAULT_MAX_BYTES = 1024 * 1024
"""Default bound on one body, or on one buffered part of a stream (1 MiB)."""


class CameraDecodeError(DecodeError):
    """A camera body or stream part is not valid for its wire format (or breaks a bound)."""

    code = "invalid_camera_event"


class CameraPayloadTooLarge(CameraDecodeError):
    """A camera body, part or message count is over its configured bound (HTTP 413)."""

    status_code = 413
    code = "payload_too_large"


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
