"""The handling state machine of an incident: which action moves it where.

``new → acknowledged → dispatched → resolved → closed``, with ``reopen`` from resolved;
``close`` also ends an acknowledged or dispatched incident (a false alarm need not be
dispatched), but never a ``new`` one: nothing closes before a person has seen it.
``merged`` is terminal and only ``merge`` reaches it. Actions that do not change the
handling state (assign, note, detach, and ``sop``, which ticks a step of the alarm
type's standard operating procedure) are allowed where listed.
"""

from __future__ import annotations

from tocsin.errors import IllegalTransition
from tocsin.model import Handling

__all__ = ("TRANSITIONS", "allowed_actions", "next_state")

_OPEN = (Handling.NEW, Handling.ACKNOWLEDGED, Handling.DISPATCHED)

TRANSITIONS: dict[str, dict[str, str]] = {
    "acknowledge": {Handling.NEW: Handling.ACKNOWLEDGED},
    "dispatch": {Handling.ACKNOWLEDGED: Handling.DISPATCHED},
    "resolve": {Handling.ACKNOWLEDGED: Handling.RESOLVED, Handling.DISPATCHED: Handling.RESOLVED},
    "close": {
        Handling.ACKNOWLEDGED: Handling.CLOSED,
        Handling.DISPATCHED: Handling.CLOSED,
        Handling.RESOLVED: Handling.CLOSED,
    },
    "reopen": {Handling.RESOLVED: Handling.ACKNOWLEDGED},
    "assign": {s: s for s in _OPEN},
    "merge": {s: Handling.MERGED for s in _OPEN},
    "detach": {s: s for s in _OPEN},
    "note": {s: s for s in Handling},
    "sop": {s: s for s in (*_OPEN, Handling.RESOLVED)},
}


def allowed_actions(state: str) -> list[str]:
    """Actions allowed from ``state``, in a stable order for UIs and error messages."""
    return [action for action, moves in TRANSITIONS.items() if state in moves]


def next_state(state: str, action: str) -> str:
    """The handling state ``action`` leads to from ``state``.

    Raises:
        IllegalTransition: the action is not allowed from this state; names the allowed ones.
    """
    moves = TRANSITIONS.get(action, {})
    if state not in moves:
        allowed = allowed_actions(state)
        raise IllegalTransition(
            f"cannot {action} an incident that is {state}; allowed: {', '.join(allowed) or 'none'}",
            allowed=allowed,
        )
    return moves[state]
