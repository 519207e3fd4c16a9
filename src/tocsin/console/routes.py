"""The operator console's pages: server-rendered shells, each behind its role.

Every page is a small HTML document rendered here with the signed-in person's name,
role and the navigation their role may use; the live parts (queue, incident, map,
dashboards, administration) are plain ES modules under ``static/js`` that talk to the
same JSON API any integrator uses. So the console can do nothing the API would not let
this person do, and an operator who types an admin page's address gets a 403 page
before any admin script loads.

Pages read the session cookie themselves (they are outside the API's auth middleware):
without a valid session they redirect to the login page, which is the only page open
to anyone. Responses carry a strict Content-Security-Policy: scripts only from this
origin, no inline script, map tiles only from the configured tile host.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import msgspec
from jinja2 import Environment, PackageLoader, select_autoescape
from litestar import Request, Response, get
from litestar.response import Redirect
from litestar.static_files import create_static_files_router
from litestar.types import ControllerRouterHandler

from tocsin import __version__
from tocsin.api.security import SESSION_COOKIE
from tocsin.audit.log import PURPOSES
from tocsin.auth.roles import allows
from tocsin.model import CATEGORIES, DISPOSITIONS, Actor

if TYPE_CHECKING:
    from tocsin.app import Runtime

__all__ = ("NAV", "PAGES", "Page", "console_handlers")

STATIC_DIR = Path(__file__).parent / "static"
_env = Environment(
    loader=PackageLoader("tocsin.console", "templates"), autoescape=select_autoescape(["html"]), auto_reload=False
)


class Page(msgspec.Struct, frozen=True):
    """One console page: where it lives, who may see it, and the script that drives it."""

    path: str
    title: str
    permission: str
    script: str
    group: str = "work"
    style: str = ""
    """A page stylesheet under ``static/`` beside ``console.css`` (one per page family)."""


PAGES: dict[str, Page] = {
    "queue": Page("/console/", "Queue", "stream:read", "queue.js", style="queue.css"),
    "incident": Page("/console/incidents/{id}", "Incident", "incidents:read", "incident.js", style="queue.css"),
    "map": Page("/console/map", "Map", "stream:read", "map.js", style="map.css"),
    "dashboard": Page("/console/dashboard", "Dashboards", "dashboards:read", "dashboard.js", style="dashboard.css"),
    "users": Page("/console/admin/users", "Users", "users:manage", "admin_users.js", "admin", "admin.css"),
    "tokens": Page("/console/admin/tokens", "Tokens", "tokens:manage", "admin_tokens.js", "admin", "admin.css"),
    "alarm_types": Page(
        "/console/admin/alarm-types", "Alarm types", "alarm_types:write", "admin_types.js", "admin", "admin.css"
    ),
    "webhooks": Page("/console/admin/webhooks", "Webhooks", "webhooks:read", "admin_webhooks.js", "admin", "admin.css"),
    "audit": Page("/console/audit", "Audit log", "audit:read", "audit.js", "audit", "admin.css"),
}
NAV = ("queue", "map", "dashboard", "users", "tokens", "alarm_types", "webhooks", "audit")


def _security_headers(runtime: Runtime) -> dict[str, str]:
    tiles = runtime.settings.console.tiles
    tile_host = ""
    if tiles:
        parts = urlsplit(tiles.replace("{s}", "a"))
        tile_host = f" {parts.scheme}://{parts.netloc}".replace("://a.", "://*.") if parts.netloc else ""
    return {
        "Content-Security-Policy": (
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            f"img-src 'self' data: blob:{tile_host}; connect-src 'self'; frame-ancestors 'none'; "
            "base-uri 'none'; form-action 'self'"
        ),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }


async def _actor(request: Request[Any, Any, Any]) -> Actor | None:
    secret = request.cookies.get(SESSION_COOKIE, "")
    if not secret:
        return None
    runtime: Runtime = request.app.state.runtime
    return await runtime.credentials.resolve(secret)


def _html(runtime: Runtime, template: str, status: int = 200, **context: Any) -> Response[str]:
    body = _env.get_template(template).render(version=__version__, **context)
    return Response(body, status_code=status, media_type="text/html; charset=utf-8", headers=_security_headers(runtime))


def _config(runtime: Runtime, actor: Actor, **extra: Any) -> str:
    """The page's settings for its script, as JSON in a non-executable ``<script type=application/json>``."""
    console = runtime.settings.console
    data = {
        "user": {"name": actor.name, "role": actor.role},
        "can": {
            name: allows(actor.role, perm)
            for name, perm in (
                ("act", "incidents:act"),
                ("map_types", "alarm_types:write"),
            )
        },
        "purposes": list(PURPOSES),
        "dispositions": list(DISPOSITIONS),
        "categories": list(CATEGORIES),
        "map": {
            "tiles": console.tiles,
            "attribution": console.attribution,
            "center": console.center,
            "zoom": console.zoom,
        },
        **extra,
    }
    # "</" cannot close the script element early: the JSON is data, never markup
    return msgspec.json.encode(data).decode().replace("</", "<\\/")


async def _page(request: Request[Any, Any, Any], name: str, **extra: Any) -> Response[str] | Redirect:
    runtime: Runtime = request.app.state.runtime
    actor = await _actor(request)
    if actor is None:
        return Redirect(f"/console/login?next={quote(request.url.path)}")
    page = PAGES[name]
    nav = [(key, PAGES[key]) for key in NAV if allows(actor.role, PAGES[key].permission)]
    if not allows(actor.role, page.permission):
        if name == "queue" and nav:
            # the console's home is the first page this role may use (an auditor's is the dashboards)
            return Redirect(nav[0][1].path)
        return _html(runtime, "forbidden.html", 403, actor=actor, nav=nav, page=page, current=name)
    return _html(
        runtime,
        "page.html",
        actor=actor,
        nav=nav,
        page=page,
        current=name,
        config=_config(runtime, actor, **extra),
    )


@get("/", include_in_schema=False)
async def root() -> Redirect:
    return Redirect("/console/")


@get("/console/login", include_in_schema=False)
async def login_page(request: Request[Any, Any, Any], next: str = "/console/") -> Response[str]:
    runtime: Runtime = request.app.state.runtime
    target = next if next.startswith("/console/") and "//" not in next else "/console/"  # no open redirect
    return _html(runtime, "login.html", next=target)


@get("/console/", include_in_schema=False)
async def queue_page(request: Request[Any, Any, Any]) -> Response[str] | Redirect:
    return await _page(request, "queue")


@get("/console/incidents/{incident_id:int}", include_in_schema=False)
async def incident_page(request: Request[Any, Any, Any], incident_id: int) -> Response[str] | Redirect:
    return await _page(request, "incident", incident_id=incident_id)


@get("/console/map", include_in_schema=False)
async def map_page(request: Request[Any, Any, Any]) -> Response[str] | Redirect:
    return await _page(request, "map")


@get("/console/dashboard", include_in_schema=False)
async def dashboard_page(request: Request[Any, Any, Any]) -> Response[str] | Redirect:
    return await _page(request, "dashboard")


@get("/console/admin/{section:str}", include_in_schema=False)
async def admin_page(request: Request[Any, Any, Any], section: str) -> Response[str] | Redirect:
    name = section.replace("-", "_")
    if name not in PAGES or PAGES[name].group != "admin":
        runtime: Runtime = request.app.state.runtime
        return _html(runtime, "forbidden.html", 404, actor=None, nav=[], page=None, current=None)
    return await _page(request, name)


@get("/console/audit", include_in_schema=False)
async def audit_page(request: Request[Any, Any, Any]) -> Response[str] | Redirect:
    return await _page(request, "audit")


def console_handlers() -> list[ControllerRouterHandler]:
    """The console's routes and its static files (scripts, styles, the built map library)."""
    static = create_static_files_router(path="/console/static", directories=[STATIC_DIR], name="console_static")
    return [
        root,
        login_page,
        queue_page,
        incident_page,
        map_page,
        dashboard_page,
        admin_page,
        audit_page,
        static,
    ]
