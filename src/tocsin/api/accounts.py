"""Login, logout, who-am-I, and user administration.

Failed logins are throttled per username and per client address (429 with
``Retry-After``) and every attempt, good or bad, is written to the audit chain.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated, Any

import msgspec
from litestar import Request, Response, get, patch, post
from litestar.datastructures import Cookie
from msgspec import Meta

from tocsin.api.security import SESSION_COOKIE, actor_of, requires
from tocsin.audit.log import AuditRecord, Scalar
from tocsin.auth.users import (
    UserInfo,
    change_user,
    create_session,
    find_user,
    hash_password_blocking,
    insert_user,
    list_users,
    revoke_session,
    validate_password,
    validate_user,
    verify_password_blocking,
)
from tocsin.errors import InvalidRequest, TooManyRequests, Unauthorized
from tocsin.model import Actor
from tocsin.store.writer import Tx

if TYPE_CHECKING:
    from tocsin.app import Runtime

__all__ = ("create_user", "login", "logout", "me", "patch_user", "users_list")

SESSION_TTL_S = 12 * 3600
"""A session lasts one long shift."""


class LoginRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    username: Annotated[str, Meta(min_length=1, max_length=100)]
    password: Annotated[str, Meta(min_length=1, max_length=1000)]


class LoginResponse(msgspec.Struct, frozen=True):
    token: str
    username: str
    role: str
    expires_in: int


class UserIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    username: str
    password: str
    role: str


class UserChange(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """Fields to change; those left out stay as they are."""

    role: str | None = None
    disabled: bool | None = None
    password: Annotated[str, Meta(max_length=1000)] | None = None


class UserOut(msgspec.Struct, frozen=True):
    id: int
    username: str
    role: str


@post(
    "/api/v1/auth/login",
    status_code=200,
    summary="Log in; sets the session cookie and returns a bearer session token",
)
async def login(request: Request[Any, Any, Any], data: LoginRequest) -> Response[LoginResponse]:
    runtime: Runtime = request.app.state.runtime
    client = request.client.host if request.client else "unknown"
    keys = (f"user:{data.username}", f"addr:{client}")
    wait = runtime.login_limiter.retry_after(*keys)
    if wait:
        await runtime.audit_event(
            AuditRecord("access", "auth.login_throttled", data.username, "anonymous", outcome="refused")
        )
        raise TooManyRequests(f"too many failed logins; try again in {wait}s", retry_after=wait)
    found = await runtime.db.read(lambda conn: find_user(conn, data.username))
    ok = await asyncio.to_thread(verify_password_blocking, found[1] if found else None, data.password)
    if not ok or found is None:
        runtime.login_limiter.failed(*keys)
        await runtime.audit_event(
            AuditRecord("access", "auth.login_failed", data.username, "anonymous", outcome="denied")
        )
        raise Unauthorized("wrong username or password")
    runtime.login_limiter.succeeded(*keys)
    user_id, _hash, role = found
    actor = Actor(name=data.username, role=role)
    now = runtime.clock.now_us()

    def job(tx: Tx) -> str:
        token = create_session(tx.conn, user_id, now_us=now, ttl_s=SESSION_TTL_S)
        runtime.audit_append(tx, [AuditRecord("access", "auth.login", actor.name, actor.role)], now)
        return token

    token = await runtime.writer.submit(job)
    body = LoginResponse(token=token, username=actor.name, role=actor.role, expires_in=SESSION_TTL_S)
    cookie = Cookie(key=SESSION_COOKIE, value=token, httponly=True, samesite="strict", path="/", max_age=SESSION_TTL_S)
    return Response(body, cookies=[cookie])


@post("/api/v1/auth/logout", status_code=200, summary="End this session")
async def logout(request: Request[Any, Any, Any]) -> Response[dict[str, str]]:
    runtime: Runtime = request.app.state.runtime
    secret = str(request.auth)
    now = runtime.clock.now_us()
    actor = actor_of(request)

    def job(tx: Tx) -> None:
        revoke_session(tx.conn, secret, now_us=now)
        runtime.audit_append(tx, [AuditRecord("access", "auth.logout", actor.name, actor.role)], now)

    await runtime.writer.submit(job)
    runtime.credentials.forget(secret)
    response: Response[dict[str, str]] = Response({"status": "logged out"})
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@get("/api/v1/auth/me", summary="Who the credentials belong to")
async def me(request: Request[Any, Any, Any]) -> Actor:
    return actor_of(request)


@post("/api/v1/users", guards=[requires("users:manage")], status_code=201, summary="Create a user account")
async def create_user(request: Request[Any, Any, Any], data: UserIn) -> UserOut:
    runtime: Runtime = request.app.state.runtime
    actor = actor_of(request)
    validate_user(data.username, data.password, data.role)
    password_hash = await asyncio.to_thread(hash_password_blocking, data.password)
    now = runtime.clock.now_us()

    def job(tx: Tx) -> int:
        user_id = insert_user(
            tx.conn, username=data.username, password_hash=password_hash, role=data.role, actor=actor.name, now_us=now
        )
        runtime.audit_append(
            tx,
            [AuditRecord("alteration", "user.create", actor.name, actor.role, objects={"users": [user_id]})],
            now,
        )
        return user_id

    user_id = await runtime.writer.submit(job)
    return UserOut(id=user_id, username=data.username, role=data.role)


@get("/api/v1/users", guards=[requires("users:manage")], summary="List user accounts")
async def users_list(request: Request[Any, Any, Any]) -> list[UserInfo]:
    runtime: Runtime = request.app.state.runtime
    return await runtime.db.read(list_users)


@patch(
    "/api/v1/users/{user_id:int}",
    guards=[requires("users:manage")],
    summary="Change a user's role, disable or enable the account, or set a new password",
    description="Disabling an account, changing its role or its password ends its open sessions.",
)
async def patch_user(request: Request[Any, Any, Any], user_id: int, data: UserChange) -> UserInfo:
    runtime: Runtime = request.app.state.runtime
    actor = actor_of(request)
    changed = [name for name in ("role", "disabled", "password") if getattr(data, name) is not None]
    if not changed:
        raise InvalidRequest("body: give at least one of role, disabled or password to change")
    password_hash = None
    if data.password is not None:
        validate_password(data.password)
        password_hash = await asyncio.to_thread(hash_password_blocking, data.password)
    now = runtime.clock.now_us()

    def job(tx: Tx) -> UserInfo:
        info = change_user(
            tx.conn, user_id, role=data.role, disabled=data.disabled, password_hash=password_hash, now_us=now
        )
        detail: dict[str, Scalar | list[str]] = {"changed": changed}
        if data.role is not None:
            detail["role"] = data.role
        if data.disabled is not None:
            detail["disabled"] = data.disabled
        runtime.audit_append(
            tx,
            [
                AuditRecord(
                    "alteration", "user.change", actor.name, actor.role, objects={"users": [user_id]}, detail=detail
                )
            ],
            now,
        )
        return info

    info = await runtime.writer.submit(job)
    runtime.credentials.forget_all()
    return info
