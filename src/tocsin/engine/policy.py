"""Where the protected-category guard meets the engine: one function per thing judged.

The guard (``tocsin.guard``) decides; this module turns its judgements into errors that
name the field, the verdict and the reason, and into audit records, so every path
(API, import, default dictionary, ingest, search) refuses the same way.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from tocsin.audit.log import AuditRecord
from tocsin.errors import FieldError, GuardRefusal
from tocsin.guard import Judgement, judge_attributes, judge_definition, judge_term
from tocsin.model import Actor, AlarmType, EventIn

__all__ = (
    "check_alarm_type",
    "check_events",
    "check_filter",
    "events_refusal",
    "judge_alarm_type",
    "refusal_record",
)


def refusal_record(actor: Actor, subject: str, judgement: Judgement) -> AuditRecord:
    """The audit record of a refusal: what kind of thing, which field, why; not the content."""
    return AuditRecord(
        "access",
        "guard.refused",
        actor.name,
        actor.role,
        outcome="refused",
        detail={
            "subject": subject,
            "field": judgement.field,
            "verdict": judgement.verdict,
            "concepts": list(judgement.concepts),
        },
    )


def _message(judgement: Judgement) -> str:
    return f"{judgement.verdict}: {'; '.join(judgement.reasons) or 'protected category'}"


def judge_alarm_type(alarm_type: AlarmType) -> Judgement:
    return judge_definition(
        code=alarm_type.code,
        name=alarm_type.name,
        description=alarm_type.description,
        aliases=alarm_type.aliases,
        category=alarm_type.category,
        key=alarm_type.key,
        sop=alarm_type.sop,
    )


def check_alarm_type(alarm_type: AlarmType) -> Judgement:
    """Judge a definition; ``review`` needs a written justification.

    Raises:
        GuardRefusal: refused, or review without justification (the error says which).
    """
    judgement = judge_alarm_type(alarm_type)
    if judgement.verdict == "refused":
        raise GuardRefusal(
            f"alarm type {alarm_type.code!r} is refused by the protected-category guard",
            errors=[FieldError(message=_message(judgement), path=f"$.{judgement.field or 'name'}")],
        )
    if judgement.verdict == "review" and not alarm_type.justification:
        raise GuardRefusal(
            f"alarm type {alarm_type.code!r} needs review: give a written 'justification' (20+ characters); "
            "it is published in the transparency report",
            errors=[FieldError(message=_message(judgement), path="$.justification")],
        )
    return judgement


def check_events(items: Sequence[EventIn]) -> list[tuple[int, Judgement]]:
    """Refused event types and attributes, by index (empty when all pass)."""
    refused: list[tuple[int, Judgement]] = []
    for index, ev in enumerate(items):
        verdict = _judge_type(ev.type)
        if verdict.verdict != "refused" and ev.attributes:
            verdict = judge_attributes(ev.attributes)
        if verdict.verdict == "refused":
            refused.append((index, verdict))
    return refused


@functools.lru_cache(maxsize=8192)
def _judge_type(type_name: str) -> Judgement:
    # Event types repeat endlessly on the ingest path; judging each once is enough.
    return judge_term(type_name, field="type")


def events_refusal(refused: list[tuple[int, Judgement]], total: int) -> GuardRefusal:
    return GuardRefusal(
        f"{len(refused)} of {total} events are refused by the protected-category guard; nothing was stored",
        errors=[FieldError(message=_message(j), index=i, path=f"$.{j.field or 'type'}") for i, j in refused],
    )


def check_filter(value: str, field: str) -> Judgement:
    """Judge a search filter value.

    Raises:
        GuardRefusal: searching by a protected category.
    """
    judgement = judge_term(value, field=field)
    if judgement.verdict == "refused":
        raise GuardRefusal(
            f"{field}: searching by this is refused by the protected-category guard",
            errors=[FieldError(message=_message(judgement), path=field)],
        )
    return judgement
