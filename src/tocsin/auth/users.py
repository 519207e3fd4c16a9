"""People: accounts with argon2id password hashes, and their sessions.

A session is a random secret handed to the browser (cookie) or a script (bearer);
only its SHA-256 is stored, like API tokens. Hashing a password takes tens of
milliseconds by design: ``*_blocking`` functions run on a worker thread, never inside
a writer job (that would stall every other write) and never on the event loop.
"""

from __future__ import annotations

import hashlib
import re
import secrets

import msgspec
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, and_, select, update

from tocsin.auth.roles import ROLES
from tocsin.errors import Conflict, InvalidRequest, NotFound
from tocsin.model import Actor
from tocsin.store.schema import sessions, users

__all__ = (
    "MIN_PASSWORD",
    "SESSION_PREFIX",
    "UserInfo",
    "change_user",
    "list_users",
    "create_session",
    "find_user",
    "hash_password_blocking",
    "insert_user",
    "resolve_session",
    "revoke_session",
    "validate_user",
    "verify_password_blocking",
)

SESSION_PREFIX = "tss_"
MIN_PASSWORD = 12
USER_ROLES = tuple(r for r in ROLES if r != "device")
_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("timing-equaliser")
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def validate_user(username: str, password: str, role: str) -> None:
    """Raises InvalidRequest naming the field that is wrong."""
    validate_role(role)
    if not _USERNAME.match(username):
        raise InvalidRequest("username: 1-100 letters, digits, '.', '-' or '_', starting with a letter or digit")
    validate_password(password)


def validate_role(role: str) -> None:
    """Raises InvalidRequest unless ``role`` is an account role."""
    if role not in USER_ROLES:
        raise InvalidRequest(f"role: must be one of {', '.join(USER_ROLES)}, not {role!r}")


def validate_password(password: str) -> None:
    """Raises InvalidRequest if ``password`` is too short."""
    if len(password) < MIN_PASSWORD:
        raise InvalidRequest(f"password: at least {MIN_PASSWORD} characters")


def hash_password_blocking(password: str) -> str:
    return _hasher.hash(password)


def verify_password_blocking(password_hash: str | None, password: str) -> bool:
    """Check a password; with no account, still spend the same time (no username oracle)."""
    try:
        _hasher.verify(password_hash or _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return False
    return password_hash is not None


def find_user(conn: Connection, username: str) -> tuple[int, str, str] | None:
    """(id, password hash, role) of an enabled account."""
    row = conn.execute(
        select(users.c.id, users.c.password_hash, users.c.role).where(
            and_(users.c.username == username, users.c.disabled_us.is_(None))
        )
    ).first()
    return None if row is None else (row.id, row.password_hash, row.role)


def insert_user(conn: Connection, *, username: str, password_hash: str, role: str, actor: str, now_us: int) -> int:
    """Raises Conflict when the username is taken."""
    if conn.execute(select(users.c.id).where(users.c.username == username)).first() is not None:
        raise Conflict(f"user {username!r} already exists")
    result = conn.execute(
        users.insert().values(
            username=username, password_hash=password_hash, role=role, created_us=now_us, created_by=actor
        )
    )
    return int(result.inserted_primary_key[0])  # type: ignore[index]


class UserInfo(msgspec.Struct, frozen=True, omit_defaults=True):
    """An account as administrators see it (never its password hash)."""

    id: int
    username: str
    role: str
    created_us: int
    created_by: str
    disabled_us: int | None = None


_USER_INFO = (users.c.id, users.c.username, users.c.role, users.c.created_us, users.c.created_by, users.c.disabled_us)


def list_users(conn: Connection) -> list[UserInfo]:
    return [UserInfo(*row) for row in conn.execute(select(*_USER_INFO).order_by(users.c.username)).tuples()]


def change_user(
    conn: Connection,
    user_id: int,
    *,
    role: str | None,
    disabled: bool | None,
    password_hash: str | None,
    now_us: int,
) -> UserInfo:
    """Change an account's role, enable or disable it, or set a new password.

    Disabling an account (or changing its password) ends its sessions: a stolen session
    must not outlive the action meant to stop it.

    Raises:
        NotFound: no such account.
        InvalidRequest: unknown role.
    """
    row = conn.execute(select(users.c.id, users.c.disabled_us).where(users.c.id == user_id)).first()
    if row is None:
        raise NotFound(f"user {user_id} does not exist")
    values: dict[str, object] = {}
    if role is not None:
        validate_role(role)
        values["role"] = role
    if disabled is not None:
        values["disabled_us"] = (row.disabled_us or now_us) if disabled else None
    if password_hash is not None:
        values["password_hash"] = password_hash
    if values:
        conn.execute(update(users).where(users.c.id == user_id).values(**values))
    if disabled or password_hash is not None or role is not None:
        conn.execute(
            update(sessions)
            .where(and_(sessions.c.user_id == user_id, sessions.c.revoked_us.is_(None)))
            .values(revoked_us=now_us)
        )
    return UserInfo(*conn.execute(select(*_USER_INFO).where(users.c.id == user_id)).one())


def create_session(conn: Connection, user_id: int, *, now_us: int, ttl_s: int) -> str:
    secret = SESSION_PREFIX + secrets.token_urlsafe(32)
    conn.execute(
        sessions.insert().values(
            hash=_digest(secret), user_id=user_id, created_us=now_us, expires_us=now_us + ttl_s * 1_000_000
        )
    )
    return secret


def resolve_session(conn: Connection, secret: str, *, now_us: int) -> Actor | None:
    row = conn.execute(
        select(users.c.username, users.c.role)
        .select_from(sessions.join(users, users.c.id == sessions.c.user_id))
        .where(
            and_(
                sessions.c.hash == _digest(secret),
                sessions.c.revoked_us.is_(None),
                sessions.c.expires_us > now_us,
                users.c.disabled_us.is_(None),
            )
        )
    ).first()
    return None if row is None else Actor(name=row.username, role=row.role)


def revoke_session(conn: Connection, secret: str, *, now_us: int) -> None:
    conn.execute(update(sessions).where(sessions.c.hash == _digest(secret)).values(revoked_us=now_us))
