"""Authentication (API tokens, user sessions) and per-route permission guards.

Every ``/api`` route needs a credential: ``Authorization: Bearer <token or session>``
or the ``tocsin_session`` cookie set at login. No credential or a bad one is 401; a
role without the route's permission is 403. A request that changes something on the
strength of the cookie alone must also carry ``X-Requested-With: tocsin``: a browser
sends such a header only from tocsin's own pages (another site would need a CORS
preflight we never grant), so a forged cross-site form or fetch is refused even where
the cookie's ``SameSite=Strict`` is not enforced. Health, metrics, login, the OpenAPI
document and the public transparency report are the only open paths.
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from tocsin.auth.roles import allows
from tocsin.model import Actor

__all__ = ("CSRF_HEADER", "PUBLIC_PATHS", "SESSION_COOKIE", "BearerAuth", "actor_of", "bearer_secret", "requires")

SESSION_COOKIE = "tocsin_session"
CSRF_HEADER = ("x-requested-with", "tocsin")
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PUBLIC_PATHS = (
    "/healthz",
    "/metrics",
    "/api/v1/openapi.json",
    "/api/v1/openapi.yaml",
    "/api/v1",
    "/api/v1/auth/login",
    "/api/v1/audit/checkpoint",
    "/transparency",
    "/transparency.json",
)


def bearer_secret(header: str) -> str:
    """The secret of an ``Authorization: Bearer SECRET`` header; empty for any other scheme."""
    scheme, _, secret = header.partition(" ")
    return secret.strip() if scheme.lower() == "bearer" else ""


class BearerAuth(AbstractAuthenticationMiddleware):
    """Resolve the credential to an ``Actor`` (``request.user``)."""

    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        header = connection.headers.get("authorization", "")
        secret = bearer_secret(header)
        if not header:
            secret = connection.cookies.get(SESSION_COOKIE, "")
            method = connection.scope.get("method", "GET")
            if secret and method not in _SAFE_METHODS and connection.headers.get(CSRF_HEADER[0]) != CSRF_HEADER[1]:
                raise PermissionDeniedException(
                    "a change made with the session cookie needs the header X-Requested-With: tocsin"
                )
        if not secret:
            raise NotAuthorizedException("missing credentials (Authorization: Bearer TOKEN, or log in)")
        actor = await connection.app.state.runtime.credentials.resolve(secret)
        if actor is None:
            raise NotAuthorizedException("invalid, expired or revoked credentials")
        return AuthenticationResult(user=actor, auth=secret)


def actor_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Actor:
    user = connection.scope.get("user")
    assert isinstance(user, Actor)
    return user


def requires(permission: str) -> Any:
    """A Litestar guard admitting only roles that hold ``permission``."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler) -> None:
        # async on purpose: Litestar would run a sync guard on a worker thread per request
        actor = actor_of(connection)
        if not allows(actor.role, permission):
            raise PermissionDeniedException(f"role {actor.role!r} may not {permission}")

    return guard
