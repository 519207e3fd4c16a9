"""Demo accounts: one person per role, with a fresh password every time the demo starts.

The demo database outlives a run, so the accounts may exist already; their passwords
are replaced rather than reused, so a password printed on a screen yesterday does not
open today's demo. Never used outside ``tocsin demo``.
"""

from __future__ import annotations

import secrets

from sqlalchemy import Connection, select

from tocsin.audit.log import AuditRecord
from tocsin.auth.users import change_user, hash_password_blocking, insert_user
from tocsin.store.schema import users

__all__ = ("DEMO_ROLES", "demo_accounts", "demo_passwords", "hash_all")

DEMO_ROLES = ("operator", "supervisor", "admin", "auditor")


def demo_passwords() -> dict[str, tuple[str, str]]:
    """``{username: (role, password)}`` with new random passwords (hash them before the write job)."""
    return {f"demo-{role}": (role, secrets.token_urlsafe(12)) for role in DEMO_ROLES}


def demo_accounts(
    conn: Connection, now_us: int, hashed: dict[str, tuple[str, str]], *, actor: str
) -> list[AuditRecord]:
    """Create or reset each demo account to ``(role, password hash)``; returns the audit records."""
    records: list[AuditRecord] = []
    for username, (role, password_hash) in hashed.items():
        found = conn.execute(select(users.c.id).where(users.c.username == username)).scalar()
        if found is None:
            user_id = insert_user(
                conn, username=username, password_hash=password_hash, role=role, actor=actor, now_us=now_us
            )
            action = "user.create"
        else:
            user_id = int(found)
            change_user(conn, user_id, role=role, disabled=False, password_hash=password_hash, now_us=now_us)
            action = "user.change"
        records.append(AuditRecord("alteration", action, actor, "admin", objects={"users": [user_id]}))
    return records


def hash_all(passwords: dict[str, tuple[str, str]]) -> dict[str, tuple[str, str]]:
    return {name: (role, hash_password_blocking(pw)) for name, (role, pw) in passwords.items()}
