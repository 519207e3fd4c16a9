"""``POST /api/v1/events``: the ingest endpoint for tocsin's own JSON format."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from litestar import Request, Response, post

from tocsin.api.security import actor_of, requires
from tocsin.errors import PayloadTooLarge, TocsinError
from tocsin.ingest.http import decode_events

if TYPE_CHECKING:
    from tocsin.app import Runtime

__all__ = ("post_events",)


@post(
    "/api/v1/events",
    guards=[requires("events:write")],
    status_code=202,
    summary="Submit events",
    description=(
        "One JSON event object, a JSON array of them, or NDJSON (`application/x-ndjson`). Answers 202 "
        "only once every event is durably committed. All or nothing: a 422 lists every invalid item "
        "by index and field path and stores nothing. A repeated (source, external_id) is not stored "
        "twice; its original ids are returned."
    ),
)
async def post_events(request: Request[Any, Any, Any]) -> Response[Any]:
    runtime: Runtime = request.app.state.runtime
    data = await request.body()
    started = time.perf_counter()
    limits = runtime.settings.limits
    if len(data) > limits.max_body_bytes:
        raise PayloadTooLarge(f"body is {len(data)} bytes; the limit is {limits.max_body_bytes}")
    try:
        items = decode_events(
            data, request.headers.get("content-type", "application/json"), max_items=limits.max_batch_events
        )
        result = await runtime.accept(items, actor_of(request))
    except TocsinError as exc:
        runtime.metrics.events_rejected.labels(exc.code).inc()
        raise
    runtime.metrics.ingest_seconds.observe(time.perf_counter() - started)
    return Response(
        {"accepted": len(result), "events": [{"id": e, "incident_id": i} for e, i in result]}, status_code=202
    )
