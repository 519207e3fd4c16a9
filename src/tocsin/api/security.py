"""Bearer-token authentication and per-route permission guards.

Every ``/api`` route needs ``Authorization: Bearer TOKEN``: 401 without a valid token,
403 when the token's role lacks the route's permission. Health, metrics and the OpenAPI
document are outside ``/api/v1`` or explicitly excluded.
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from tocsin.auth.roles import allows
from tocsin.model import Actor

__all__ = ("BearerAuth", "actor_of", "requires")

PUBLIC_PATHS = {"/healthz", "/metrics", "/api/v1/openapi.json", "/api/v1/openapi.yaml", "/api/v1"}


class BearerAuth(AbstractAuthenticationMiddleware):
    """Resolve the bearer token to an ``Actor`` (``request.user``)."""

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        header = connection.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthorizedException("missing bearer token (Authorization: Bearer TOKEN)")
        actor = await connection.app.state.runtime.tokens.resolve(token.strip())
        if actor is None:
            raise NotAuthorizedException("invalid or revoked token")
        return AuthenticationResult(user=actor, auth=token)


def actor_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Actor:
    user = connection.scope.get("user")
    assert isinstance(user, Actor)
    return user


def requires(permission: str) -> Any:
    """A Litestar guard admitting only roles that hold ``permission``."""

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler) -> None:
        actor = actor_of(connection)
        if not allows(actor.role, permission):
            raise PermissionDeniedException(f"role {actor.role!r} may not {permission}")

    return guard
