"""Operational views for the console: dashboard statistics, sites for the map, webhook health.

Statistics and sites are aggregates (counts, percentiles, places), the class of figures
the public transparency report publishes, so reading them is not a consultation of
incident data and is not written to the audit chain; the incidents behind them are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import msgspec
from litestar import Request, get
from litestar.params import Parameter

from tocsin.api.security import requires
from tocsin.config import redact_url
from tocsin.report.operations import OperationsReport, SiteView, WebhookHealth, operations_report, sites, webhook_health

if TYPE_CHECKING:
    from tocsin.app import Runtime

__all__ = ("WebhookView", "site_list", "stats", "webhooks_list")


@get("/api/v1/stats", guards=[requires("dashboards:read")], summary="Dashboard statistics for the last hours")
async def stats(
    request: Request[Any, Any, Any],
    hours: Annotated[int, Parameter(ge=1, le=24 * 31, description="window ending now")] = 24,
) -> OperationsReport:
    runtime: Runtime = request.app.state.runtime
    now = runtime.clock.now_us()
    since = now - hours * 3_600_000_000
    return await runtime.db.read(lambda conn: operations_report(conn, since_us=since, now_us=now))


@get("/api/v1/sites", guards=[requires("dashboards:read")], summary="Sites with their location and open incidents")
async def site_list(request: Request[Any, Any, Any]) -> list[SiteView]:
    runtime: Runtime = request.app.state.runtime
    return await runtime.db.read(sites)


class WebhookView(msgspec.Struct, frozen=True, omit_defaults=True):
    """A configured webhook and how its deliveries are going (the URL's secrets are not shown)."""

    name: str
    url: str
    min_priority: int
    include_exercise: bool
    max_attempts: int
    health: WebhookHealth


@get(
    "/api/v1/webhooks",
    guards=[requires("webhooks:read")],
    summary="Configured webhooks and their delivery state",
    description="Webhooks are set in the configuration file ([[webhook]]), reviewed like code; this shows them.",
)
async def webhooks_list(request: Request[Any, Any, Any]) -> list[WebhookView]:
    runtime: Runtime = request.app.state.runtime
    health = await runtime.db.read(webhook_health)
    return [
        WebhookView(
            name=hook.display,
            url=redact_url(hook.url),
            min_priority=hook.min_priority,
            include_exercise=hook.include_exercise,
            max_attempts=hook.max_attempts,
            health=health.get(hook.label, WebhookHealth()),
        )
        for hook in runtime.settings.webhook
    ]
