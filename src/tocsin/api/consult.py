"""Consultations: every look at incident data is justified and written to the audit chain.

Working open incidents carries its justification implicitly (``emergency_response``).
Anything else (closed incidents, searches across states, any consultation by an
auditor) must say why, in headers: ``X-Justification`` (a purpose from the controlled
vocabulary), ``X-Justification-Text`` and ``X-Case-Number``. Without one the request
is refused (403 ``justification_required``) and the refusal is itself audited.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from litestar import Request

from tocsin.api.security import actor_of
from tocsin.audit.log import PURPOSES, AuditRecord, Justification
from tocsin.errors import Forbidden, InvalidRequest

if TYPE_CHECKING:
    from tocsin.app import Runtime

__all__ = ("IMPLICIT", "JustificationRequired", "consult", "justification_of")

IMPLICIT = Justification(purpose="emergency_response", text="working open incidents")
_WORKERS = frozenset({"admin", "supervisor", "operator"})


class JustificationRequired(Forbidden):
    code = "justification_required"


def justification_of(request: Request[Any, Any, Any]) -> Justification | None:
    """The justification the request gives, if any.

    Raises:
        InvalidRequest: a purpose outside the controlled vocabulary.
    """
    purpose = request.headers.get("x-justification")
    if not purpose:
        return None
    if purpose not in PURPOSES:
        raise InvalidRequest(f"X-Justification: {purpose!r} is not one of {', '.join(PURPOSES)}")
    return Justification(
        purpose=purpose,  # type: ignore[arg-type]
        text=request.headers.get("x-justification-text") or None,
        case=request.headers.get("x-case-number") or None,
    )


async def consult(
    request: Request[Any, Any, Any],
    action: str,
    *,
    working_open: bool,
    objects: dict[str, list[Any]] | None = None,
) -> Justification:
    """Check and record a consultation before any data leaves; returns the justification used.

    Raises:
        JustificationRequired: none given where one is needed (the refusal is audited).
    """
    runtime: Runtime = request.app.state.runtime
    actor = actor_of(request)
    given = justification_of(request)
    justification = given or (IMPLICIT if working_open and actor.role in _WORKERS else None)
    if justification is None:
        await runtime.audit_event(
            AuditRecord(
                "consultation",
                action,
                actor.name,
                actor.role,
                outcome="refused",
                detail={"reason": "justification required"},
            )
        )
        raise JustificationRequired(
            "this consultation needs a justification: send X-Justification "
            f"({', '.join(PURPOSES)}) with X-Justification-Text and X-Case-Number"
        )
    await runtime.audit_event(
        AuditRecord("consultation", action, actor.name, actor.role, objects=objects or {}, justification=justification)
    )
    return justification
