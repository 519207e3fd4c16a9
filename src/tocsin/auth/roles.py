"""Roles and the permissions each grants: one table, read by every route's guard.

- ``admin`` configures: users, tokens, the alarm-type dictionary, retention.
- ``supervisor`` and ``operator`` work incidents (supervisors also read reports).
- ``auditor`` reads the audit chain and reports and may consult incidents with a
  justification, but cannot change anything.
- ``device`` only posts events.
"""

from __future__ import annotations

__all__ = ("PERMISSIONS", "ROLES", "allows")

ROLES: tuple[str, ...] = ("admin", "supervisor", "operator", "auditor", "device")

_WORKERS = frozenset({"admin", "supervisor", "operator"})

PERMISSIONS: dict[str, frozenset[str]] = {
    "events:write": _WORKERS | {"device"},
    "incidents:read": _WORKERS | {"auditor"},
    "incidents:act": _WORKERS,
    "alarm_types:read": _WORKERS | {"auditor"},
    "alarm_types:write": frozenset({"admin"}),
    "stream:read": _WORKERS,
    "users:manage": frozenset({"admin"}),
    "tokens:manage": frozenset({"admin"}),
    "webhooks:read": frozenset({"admin"}),
    "dashboards:read": _WORKERS | {"auditor"},
    "audit:read": frozenset({"auditor"}),
    "reports:read": frozenset({"admin", "supervisor", "auditor"}),
    "retention:run": frozenset({"admin"}),
}


def allows(role: str, permission: str) -> bool:
    """Whether ``role`` holds ``permission`` (unknown permissions are denied)."""
    return role in PERMISSIONS.get(permission, frozenset())
