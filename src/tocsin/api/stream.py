"""``GET /api/v1/stream``: Server-Sent Events of committed incident changes.

Each SSE ``event:`` is the change kind (``incident.opened``, ``incident.updated``,
``incident.state_changed``, ``incident.condition_changed``) and ``data:`` its JSON. A
comment line is sent every 15 s so proxies keep the connection open. A client too slow
to keep up gets ``event: reset`` and the stream ends: reload, then reconnect.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import msgspec
from litestar import Request, get
from litestar.response import ServerSentEvent, ServerSentEventMessage

from tocsin.api.consult import consult
from tocsin.api.security import requires

if TYPE_CHECKING:
    from tocsin.app import Runtime

__all__ = ("stream",)

KEEPALIVE_S = 15.0


@get("/api/v1/stream", guards=[requires("stream:read")], summary="Live incident changes (SSE)")
async def stream(request: Request[Any, Any, Any]) -> ServerSentEvent:
    runtime: Runtime = request.app.state.runtime
    await consult(request, "stream.subscribe", working_open=True)
    sub = runtime.bus.subscribe()
    runtime.metrics.stream_clients.inc()

    async def messages() -> AsyncIterator[ServerSentEventMessage | str]:
        try:
            yield ServerSentEventMessage(comment="connected")
            while True:
                change = await sub.get(KEEPALIVE_S)
                if sub.lagged:
                    yield ServerSentEventMessage(event="reset", data="{}")
                    return
                if change is None:
                    yield ServerSentEventMessage(comment="keep-alive")
                    continue
                yield ServerSentEventMessage(
                    event=change.kind,
                    data=msgspec.json.encode(change.incident).decode(),
                    id=str(change.at_us),
                )
        finally:
            runtime.bus.unsubscribe(sub)
            runtime.metrics.stream_clients.dec()

    return ServerSentEvent(messages())
