"""Equipment that posts its own format: ONVIF, Hikvision ISAPI and CAP 1.2 over HTTP.

Each endpoint decodes its wire format with the adapter in ``tocsin.ingest`` and hands the
events to the same door as ``POST /events`` (guard, idempotency, group commit, audit).
Cameras are told where to post in their alarm-server settings, with the site in the
query string: ``/api/v1/ingest/hikvision?site=depot-3``.

What is kept as an event's ``raw`` is the adapter's own record of what the camera said
*after* identity and biometric fields were dropped (never the body: ISAPI bodies can
carry plates, face crops and pictures). CAP alerts are public and kept as sent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from litestar import Request, Response, get, post
from litestar.params import Parameter

from tocsin.api.consult import consult
from tocsin.api.security import actor_of, requires
from tocsin.engine.ingest import IngestResult
from tocsin.errors import NotFound, PayloadTooLarge
from tocsin.ingest.camera import CameraEvent, camera_batch
from tocsin.ingest.cap import parse_cap
from tocsin.ingest.hikvision import parse_isapi
from tocsin.ingest.onvif import parse_onvif_notify
from tocsin.model import OPEN_STATES, Actor
from tocsin.report.cap import incident_to_cap
from tocsin.store import repo

if TYPE_CHECKING:
    from tocsin.app import Runtime

__all__ = ("export_cap", "ingest_cap", "ingest_hikvision", "ingest_onvif")

MAX_CAMERA_BYTES = 4 * 1024 * 1024
"""Largest camera post (ISAPI multipart bodies carry pictures, which are counted and discarded)."""

Site = Annotated[str | None, Parameter(description="site the device is installed at", max_length=200)]


def _answer(result: IngestResult, skipped: int = 0) -> Response[Any]:
    body = {"accepted": len(result), "events": [{"id": e, "incident_id": i} for e, i in result]}
    if skipped:
        body["heartbeats"] = skipped
    return Response(body, status_code=202)


async def _cameras(request: Request[Any, Any, Any], events: list[CameraEvent], site: str | None) -> Response[Any]:
    runtime: Runtime = request.app.state.runtime
    actor: Actor = actor_of(request)
    runtime.push_cameras.heard(events, actor.name)  # supervision: any parsed post, heartbeats too
    batch = camera_batch(events, source=lambda ev: f"{ev.vendor}:{ev.device or actor.name}", site=site)
    if batch.dropped:
        runtime.metrics.dropped_fields.labels(events[0].vendor).inc(batch.dropped)
    result = await runtime.accept(batch.items, actor, raw=batch.raw) if batch.items else []
    return _answer(result, skipped=batch.heartbeats)


async def _body(request: Request[Any, Any, Any], limit: int) -> bytes:
    body = await request.body()
    if len(body) > limit:
        raise PayloadTooLarge(f"body is {len(body)} bytes; the limit is {limit}")
    return body


@post("/api/v1/ingest/onvif", guards=[requires("events:write")], status_code=202, summary="ONVIF notifications")
async def ingest_onvif(request: Request[Any, Any, Any], site: Site = None) -> Response[Any]:
    body = await _body(request, MAX_CAMERA_BYTES)
    return await _cameras(request, parse_onvif_notify(body), site)


@post("/api/v1/ingest/hikvision", guards=[requires("events:write")], status_code=202, summary="Hikvision ISAPI alerts")
async def ingest_hikvision(request: Request[Any, Any, Any], site: Site = None) -> Response[Any]:
    body = await _body(request, MAX_CAMERA_BYTES)
    events = parse_isapi(body, request.headers.get("content-type", "application/xml"), max_bytes=MAX_CAMERA_BYTES)
    return await _cameras(request, events, site)


@post("/api/v1/ingest/cap", guards=[requires("events:write")], status_code=202, summary="CAP 1.2 alerts")
async def ingest_cap(request: Request[Any, Any, Any]) -> Response[Any]:
    runtime: Runtime = request.app.state.runtime
    body = await _body(request, 1024 * 1024)
    items = parse_cap(body)
    if not items:
        return _answer([])
    raw = [body.decode("utf-8", "replace")] * len(items)
    return _answer(await runtime.accept(items, actor_of(request), raw=raw))


@get(
    "/api/v1/incidents/{incident_id:int}/cap",
    guards=[requires("incidents:read")],
    summary="An incident as a CAP 1.2 alert (a disclosure: audited)",
)
async def export_cap(request: Request[Any, Any, Any], incident_id: int) -> Response[bytes]:
    runtime: Runtime = request.app.state.runtime
    incident = await runtime.db.read(lambda conn: repo.get_incident(conn, incident_id))
    if incident is None:
        raise NotFound(f"incident {incident_id} does not exist")
    alarm = runtime.state.dictionary.get(incident.alarm_type)
    await consult(request, "incident.export_cap", working_open=incident.handling in OPEN_STATES,
                  objects={"incidents": [incident_id]})  # fmt: skip
    xml = incident_to_cap(
        incident,
        sender=runtime.audit_origin.replace("/", "."),
        alarm_type_name=alarm.name if alarm else incident.alarm_type,
        sop=list(alarm.sop) if alarm else None,
    )
    return Response(xml, media_type="application/cap+xml")
