"""Roles and the permissions each grants. One table, read by every route's guard.

``device`` may only post events. ``operator`` works incidents. ``admin`` also changes
configuration (the alarm-type dictionary).
"""

from __future__ import annotations

__all__ = ("PERMISSIONS", "ROLES", "allows")

ROLES: tuple[str, ...] = ("admin", "operator", "device")

PERMISSIONS: dict[str, frozenset[str]] = {
    "events:write": frozenset({"admin", "operator", "device"}),
    "incidents:read": frozenset({"admin", "operator"}),
    "incidents:act": frozenset({"admin", "operator"}),
    "alarm_types:read": frozenset({"admin", "operator"}),
    "alarm_types:write": frozenset({"admin"}),
    "stream:read": frozenset({"admin", "operator"}),
}


def allows(role: str, permission: str) -> bool:
    """Whether ``role`` holds ``permission`` (unknown permissions are denied)."""
    return role in PERMISSIONS.get(permission, frozenset())
