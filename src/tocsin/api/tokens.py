"""``/api/v1/tokens``: API tokens for devices and scripts, managed by administrators.

A new token's secret is in the creation answer and nowhere else: only its SHA-256 is
stored. Revocation takes effect at once in this process (the credential cache drops it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import msgspec
from litestar import Request, delete, get, post
from msgspec import Meta

from tocsin.api.security import actor_of, requires
from tocsin.audit.log import AuditRecord
from tocsin.auth.tokens import TokenInfo, issue_token, list_tokens, revoke_token
from tocsin.store.writer import Tx

if TYPE_CHECKING:
    from tocsin.app import Runtime

__all__ = ("NewToken", "TokenIn", "token_create", "token_revoke", "tokens_list")


class TokenIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: Annotated[str, Meta(min_length=1, max_length=200)]
    role: str


class NewToken(msgspec.Struct, frozen=True):
    id: int
    name: str
    role: str
    token: str
    """The secret, shown this once."""


@get("/api/v1/tokens", guards=[requires("tokens:manage")], summary="List API tokens (never their secrets)")
async def tokens_list(request: Request[Any, Any, Any]) -> list[TokenInfo]:
    runtime: Runtime = request.app.state.runtime
    return await runtime.db.read(list_tokens)


@post("/api/v1/tokens", guards=[requires("tokens:manage")], status_code=201, summary="Create an API token")
async def token_create(request: Request[Any, Any, Any], data: TokenIn) -> NewToken:
    runtime: Runtime = request.app.state.runtime
    actor = actor_of(request)
    now = runtime.clock.now_us()

    def job(tx: Tx) -> NewToken:
        token_id, secret = issue_token(tx.conn, role=data.role, name=data.name, at_us=now)
        runtime.audit_append(
            tx,
            [
                AuditRecord(
                    "alteration",
                    "token.create",
                    actor.name,
                    actor.role,
                    objects={"tokens": [token_id]},
                    detail={"role": data.role, "name": data.name},
                )
            ],
            now,
        )
        return NewToken(id=token_id, name=data.name, role=data.role, token=secret)

    return await runtime.writer.submit(job)


@delete("/api/v1/tokens/{token_id:int}", guards=[requires("tokens:manage")], status_code=200, summary="Revoke a token")
async def token_revoke(request: Request[Any, Any, Any], token_id: int) -> dict[str, int | str]:
    runtime: Runtime = request.app.state.runtime
    actor = actor_of(request)
    now = runtime.clock.now_us()

    def job(tx: Tx) -> str:
        digest = revoke_token(tx.conn, token_id, now_us=now)
        runtime.audit_append(
            tx,
            [AuditRecord("alteration", "token.revoke", actor.name, actor.role, objects={"tokens": [token_id]})],
            now,
        )
        return digest

    runtime.credentials.forget_digest(await runtime.writer.submit(job))
    return {"id": token_id, "status": "revoked"}
