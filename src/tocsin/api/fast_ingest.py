"""A raw-ASGI fast path for ``POST /api/v1/events``, in front of Litestar's router.

At a thousand single-event requests a second, Litestar's routing, middleware, guard and
response machinery cost about as much event-loop time as everything else in the request
together. ``TocsinApp`` answers exactly ``POST /api/v1/events`` carrying a bearer
credential itself and hands every other request to Litestar unchanged.

It is the same endpoint, not a second one: the credential is resolved by the same
``Runtime.credentials``, the role checked against the same ``events:write`` permission,
and the body handled by the same ``submit_events`` (size check, decoding, guard, durable
ingest, metrics) as the Litestar route. Errors are rendered in the shape of
``tocsin.api.errors``. Whatever the fast path does not do itself it gives to Litestar,
with the body it already read replayed, so those answers are Litestar's own: a missing,
unknown or non-bearer credential (401), a role without permission (403), a body over
``request_max_body_size`` (413). The Litestar route stays registered, for the OpenAPI
document and for those hand-overs.

It owns no state and makes no decision of its own; it does not handle any other path.
``_actor`` mirrors the bearer branch of ``tocsin.api.security.BearerAuth`` and checks the
route's own ``EVENTS_PERMISSION``: a change to the bearer branch must be made here too, and
``tests/unit/test_fast_ingest.py`` (both paths, byte for byte) is there to notice.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any, cast

import msgspec
from litestar import Litestar

from tocsin.api.errors import error_parts
from tocsin.api.events import EVENTS_PATH, EVENTS_PERMISSION, submit_events
from tocsin.api.security import bearer_secret
from tocsin.auth.roles import allows
from tocsin.errors import TocsinError
from tocsin.model import Actor

if TYPE_CHECKING:
    from litestar.types import LifeSpanReceive, LifeSpanScope, LifeSpanSend, Receive, Scope, Send

    from tocsin.app import Runtime

__all__ = ("EVENTS_PATH", "TocsinApp")

log = logging.getLogger(__name__)


_Scope = MutableMapping[str, Any]
_Message = MutableMapping[str, Any]
_Receive = Callable[[], Awaitable[_Message]]
_Send = Callable[[_Message], Awaitable[None]]
_App = Callable[[_Scope, _Receive, _Send], Awaitable[None]]

_encode = msgspec.json.Encoder().encode
_JSON = (b"content-type", b"application/json")
_INTERNAL = _encode({"error": "internal_error", "detail": "internal server error"})


class TocsinApp(Litestar):
    """The Litestar application with ``POST /api/v1/events`` answered before routing.

    ``fast_ingest = False`` (per instance) sends that route through Litestar like any
    other, which the tests use to compare both paths.
    """

    fast_ingest = True

    async def __call__(
        self,
        scope: Scope | LifeSpanScope,
        receive: Receive | LifeSpanReceive,
        send: Send | LifeSpanSend,
    ) -> None:
        raw = cast("_Scope", scope)
        if raw["type"] == "http" and raw["path"] == EVENTS_PATH and raw["method"] == "POST" and self.fast_ingest:
            runtime: Runtime | None = self.state.get("runtime")
            if runtime is not None:  # None: started without lifespan, so nothing to ingest into
                await _ingest(runtime, raw, cast("_Receive", receive), cast("_Send", send), self._litestar)
                return
        await super().__call__(scope, receive, send)

    async def _litestar(self, scope: _Scope, receive: _Receive, send: _Send) -> None:
        await super().__call__(scope, receive, send)  # type: ignore[arg-type]


async def _ingest(runtime: Runtime, scope: _Scope, receive: _Receive, send: _Send, litestar: _App) -> None:
    """Answer one ingest request, or hand it to ``litestar`` (see the module docstring)."""
    authorization, content_type, content_length = _headers(scope)
    actor = await _actor(runtime, authorization)
    if actor is None:  # none, a cookie, not bearer, unknown or not allowed: Litestar's answer
        return await litestar(scope, receive, send)
    limit = runtime.settings.limits.max_body_bytes
    if content_length is not None and content_length.isdigit() and int(content_length) > limit:
        return await litestar(scope, receive, send)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # http.disconnect: nobody left to answer
            return None
        chunk: bytes = message.get("body", b"")
        if chunk:
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:  # Litestar reads the rest itself and answers 413
                return await litestar(scope, _Replay(chunks, receive), send)
        if not message.get("more_body", False):
            break
    data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    ctype = content_type.decode("latin-1") if content_type is not None else "application/json"
    try:
        body = await submit_events(runtime, data, ctype, actor)
    except TocsinError as exc:
        return await _error(send, exc)
    except Exception:
        log.exception("unhandled error", extra={"path": EVENTS_PATH})
        return await _respond(send, 500, _INTERNAL)
    return await _respond(send, 202, body)


def _headers(scope: _Scope) -> tuple[bytes | None, bytes | None, bytes | None]:
    """Authorization, Content-Type and Content-Length (the first of each, as Litestar reads them)."""
    authorization = content_type = content_length = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            authorization = authorization or value
        elif name == b"content-type":
            content_type = content_type or value
        elif name == b"content-length":
            content_length = content_length or value
    return authorization, content_type, content_length


async def _actor(runtime: Runtime, authorization: bytes | None) -> Actor | None:
    """The actor of a bearer credential allowed to post events, as ``BearerAuth`` and the
    route's guard resolve it; None for anything else (which Litestar then answers)."""
    if authorization is None:
        return None
    secret = bearer_secret(authorization.decode("latin-1"))
    if not secret:
        return None
    actor = await runtime.credentials.resolve(secret)
    if actor is None or not allows(actor.role, EVENTS_PERMISSION):
        return None
    return actor


class _Replay:
    """An ASGI ``receive`` that first gives back the body chunks already read, then reads on."""

    __slots__ = ("_chunks", "_receive")

    def __init__(self, chunks: list[bytes], receive: _Receive) -> None:
        self._chunks = list(chunks)
        self._receive = receive

    async def __call__(self) -> _Message:
        if self._chunks:
            return {"type": "http.request", "body": self._chunks.pop(0), "more_body": True}
        return await self._receive()


async def _error(send: _Send, exc: TocsinError) -> None:
    status, body, headers = error_parts(exc, EVENTS_PATH)
    await _respond(send, status, _encode(body), [(k.lower().encode(), v.encode()) for k, v in headers.items()])


async def _respond(send: _Send, status: int, body: bytes, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    headers = [_JSON, (b"content-length", str(len(body)).encode())]
    if extra:
        headers += extra
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
