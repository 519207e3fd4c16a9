"""Health and metrics: unauthenticated, and holding no personal data."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from litestar import Request, Response, get
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

if TYPE_CHECKING:
    from tocsin.app import Runtime

__all__ = ("healthz", "metrics")


@get("/healthz", summary="Liveness and readiness", include_in_schema=True)
async def healthz(request: Request[Any, Any, Any]) -> Response[Any]:
    runtime: Runtime = request.app.state.runtime
    sia = runtime.sia_health()
    ok = runtime.writer_alive() and runtime.audit_healthy and sia in (None, "ok")
    body: dict[str, Any] = {
        "status": "ok" if ok else "degraded",
        "audit": "ok" if runtime.audit_healthy else "refusing to sign: log does not extend its last checkpoint",
        "writer_pending_events": runtime.writer.pending,
        "open_incidents": len(runtime.state.index),
        "outbox_in_flight": runtime.deliverer.in_flight,
    }
    if sia is not None:
        body["sia"] = sia
    return Response(body, status_code=200 if ok else 503)


@get("/metrics", summary="Prometheus metrics", include_in_schema=False)
async def metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
    runtime: Runtime = request.app.state.runtime
    runtime.metrics.writer_pending.set(runtime.writer.pending)
    runtime.metrics.open_incidents.set(len(runtime.state.index))
    return Response(generate_latest(runtime.metrics.registry), media_type=CONTENT_TYPE_LATEST)
