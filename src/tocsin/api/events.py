"""``POST /api/v1/events``: the ingest endpoint for tocsin's own JSON format.

The work of a request (size check, decoding, guard, durable ingest, metrics, the 202
body) lives in ``submit_events`` so that the Litestar route below and the raw-ASGI fast
path in front of it (``tocsin.api.fast_ingest``) answer byte for byte alike.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import msgspec
from litestar import Request, Response, post

from tocsin.api.security import actor_of, requires
from tocsin.engine.ingest import IngestResult
from tocsin.errors import PayloadTooLarge, TocsinError
from tocsin.ingest.http import decode_events
from tocsin.model import Actor

if TYPE_CHECKING:
    from tocsin.app import Runtime

__all__ = ("EVENTS_PATH", "EVENTS_PERMISSION", "accepted_body", "post_events", "submit_events")

EVENTS_PATH = "/api/v1/events"
EVENTS_PERMISSION = "events:write"
"""What the route below answers and requires; ``tocsin.api.fast_ingest`` answers the same."""


class _Ids(msgspec.Struct, gc=False):
    id: int
    incident_id: int | None


class _Accepted(msgspec.Struct, gc=False):
    accepted: int
    events: list[_Ids]


_encode = msgspec.json.Encoder().encode


def accepted_body(result: IngestResult) -> bytes:
    """The JSON of a 202: ``{"accepted": n, "events": [{"id", "incident_id"}, ...]}``."""
    return _encode(_Accepted(len(result), [_Ids(e, i) for e, i in result]))


async def submit_events(runtime: Runtime, data: bytes, content_type: str, actor: Actor) -> bytes:
    """Decode, guard and durably ingest one request body; returns the 202 body.

    Returns only once every event is committed.

    Raises:
        TocsinError: the request is refused (counted in ``tocsin_events_rejected``).
    """
    started = time.perf_counter()
    limits = runtime.settings.limits
    if len(data) > limits.max_body_bytes:
        raise PayloadTooLarge(f"body is {len(data)} bytes; the limit is {limits.max_body_bytes}")
    try:
        items = decode_events(data, content_type, max_items=limits.max_batch_events)
        result = await runtime.accept(items, actor)
    except TocsinError as exc:
        runtime.metrics.events_rejected.labels(exc.code).inc()
        raise
    runtime.metrics.ingest_seconds.observe(time.perf_counter() - started)
    return accepted_body(result)


@post(
    EVENTS_PATH,
    guards=[requires(EVENTS_PERMISSION)],
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
    content_type = request.headers.get("content-type", "application/json")
    body = await submit_events(runtime, data, content_type, actor_of(request))
    return Response(body, status_code=202, media_type="application/json")
