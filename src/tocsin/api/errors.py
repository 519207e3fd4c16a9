"""One JSON error shape for every failure: ``{"error", "detail", "errors"?, "allowed"?}``."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException

from tocsin.errors import IllegalTransition, StoreUnavailable, TocsinError, TooManyRequests

__all__ = ("EXCEPTION_HANDLERS",)

log = logging.getLogger(__name__)


def error_parts(exc: TocsinError, path: str) -> tuple[int, dict[str, Any], dict[str, str]]:
    """Status, JSON body and headers of the answer to ``exc``; logs server-side failures.

    The one rendering of a ``TocsinError``: Litestar's handler below and the raw-ASGI
    ingest path (``tocsin.api.fast_ingest``) both answer with it.
    """
    body: dict[str, Any] = {"error": exc.code, "detail": exc.detail}
    if exc.errors:
        body["errors"] = exc.errors
    headers: dict[str, str] = {}
    if isinstance(exc, IllegalTransition):
        body["allowed"] = exc.allowed
    if isinstance(exc, StoreUnavailable | TooManyRequests):
        headers["Retry-After"] = str(exc.retry_after)
    if exc.status_code >= 500:
        log.error("request failed", extra={"path": path, "error": exc.detail})
    return exc.status_code, body, headers


def _tocsin_error(request: Request[Any, Any, Any], exc: TocsinError) -> Response[Any]:
    status, body, headers = error_parts(exc, request.url.path)
    return Response(body, status_code=status, headers=headers)


def _http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    codes = {
        400: "bad_request",
        401: "unauthorized",
        403: "forbidden",
        404: "not_found",
        405: "method_not_allowed",
        413: "payload_too_large",
    }
    body: dict[str, Any] = {"error": codes.get(exc.status_code, "http_error"), "detail": exc.detail}
    if exc.extra:
        body["errors"] = exc.extra
    headers = dict(exc.headers or {})
    if exc.status_code == 401:
        headers.setdefault("WWW-Authenticate", "Bearer")
    return Response(body, status_code=exc.status_code, headers=headers)


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("unhandled error", extra={"path": request.url.path})
    return Response({"error": "internal_error", "detail": "internal server error"}, status_code=500)


EXCEPTION_HANDLERS: dict[int | type[Exception], Any] = {
    TocsinError: _tocsin_error,
    HTTPException: _http_error,
    Exception: _unexpected,
}
