"""Bearer tokens for machines and scripts: random secrets, stored only as SHA-256.

A token is 32 random bytes, so a fast hash is enough (no dictionary to attack); argon2
is kept for human passwords. ``Credentials`` resolves both tokens and user sessions,
with a short cache so the ingest path does not read the database per request; a
revoked token or ended session stops working within ``CACHE_TTL_S`` (at once when
revoked through this process).
"""

from __future__ import annotations

import hashlib
import secrets
import time

import msgspec
from sqlalchemy import Connection, select, update

from tocsin._internal.clock import now_us
from tocsin.auth.roles import ROLES
from tocsin.auth.users import SESSION_PREFIX, resolve_session
from tocsin.errors import Conflict, InvalidRequest, NotFound
from tocsin.model import Actor
from tocsin.store import repo
from tocsin.store.schema import tokens
from tocsin.store.sqlite import Database

__all__ = (
    "CACHE_TTL_S",
    "Credentials",
    "TokenInfo",
    "create_token",
    "hash_token",
    "issue_token",
    "list_tokens",
    "revoke_token",
)

CACHE_TTL_S = 30.0
_PREFIX = "tcs_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(conn: Connection, *, role: str, name: str) -> str:
    """Store a new token for ``role`` and return its secret (shown once, never stored).

    Raises:
        InvalidRequest: unknown role or empty name.
    """
    return issue_token(conn, role=role, name=name, at_us=now_us())[1]


def issue_token(conn: Connection, *, role: str, name: str, at_us: int) -> tuple[int, str]:
    """Store a new token for ``role`` created at ``at_us``; returns its id and its secret.

    Raises:
        InvalidRequest: unknown role or empty name.
    """
    if role not in ROLES:
        raise InvalidRequest(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if not name.strip():
        raise InvalidRequest("token name must not be empty")
    token = _PREFIX + secrets.token_urlsafe(32)
    return repo.insert_token(conn, name=name, role=role, digest=hash_token(token), at_us=at_us), token


class TokenInfo(msgspec.Struct, frozen=True, omit_defaults=True):
    """A token as administrators see it: never its secret, which is not stored."""

    id: int
    name: str
    role: str
    created_us: int
    revoked_us: int | None = None


def list_tokens(conn: Connection) -> list[TokenInfo]:
    cols = (tokens.c.id, tokens.c.name, tokens.c.role, tokens.c.created_us, tokens.c.revoked_us)
    return [TokenInfo(*row) for row in conn.execute(select(*cols).order_by(tokens.c.id)).tuples()]


def revoke_token(conn: Connection, token_id: int, *, now_us: int) -> str:
    """Revoke a token; returns its digest so the credential cache can drop it at once.

    Raises:
        NotFound: no such token.
        Conflict: already revoked.
    """
    row = conn.execute(select(tokens.c.hash, tokens.c.revoked_us).where(tokens.c.id == token_id)).first()
    if row is None:
        raise NotFound(f"token {token_id} does not exist")
    if row.revoked_us is not None:
        raise Conflict(f"token {token_id} is already revoked")
    conn.execute(update(tokens).where(tokens.c.id == token_id).values(revoked_us=now_us))
    return str(row.hash)


class Credentials:
    """Resolves API tokens and session secrets to actors, with a short cache."""

    def __init__(self, db: Database, ttl_s: float = CACHE_TTL_S) -> None:
        self._db = db
        self._ttl = ttl_s
        self._cache: dict[str, tuple[float, Actor | None]] = {}

    async def resolve(self, token: str) -> Actor | None:
        digest = hash_token(token)
        hit = self._cache.get(digest)
        now = time.monotonic()
        if hit is not None and hit[0] > now:
            return hit[1]
        if token.startswith(SESSION_PREFIX):
            actor = await self._db.read(lambda conn: resolve_session(conn, token, now_us=now_us()))
        else:
            found = await self._db.read(lambda conn: repo.token_by_hash(conn, digest))
            actor = Actor(name=found[0], role=found[1]) if found is not None else None
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[digest] = (now + self._ttl, actor)
        return actor

    def forget(self, token: str) -> None:
        """Drop a cached credential (after logout or revocation)."""
        self._cache.pop(hash_token(token), None)

    def forget_digest(self, digest: str) -> None:
        self._cache.pop(digest, None)

    def forget_all(self) -> None:
        """After a change to an account (role, disabled): every cached session may be stale."""
        self._cache.clear()
