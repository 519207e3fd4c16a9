"""The domain vocabulary: events, alarm types, incidents and their timeline.

These msgspec Structs are both the wire schema of the API and the shape the engine works
with. They own validation of a single record (types, ranges, enumerations); they do not
know about storage, correlation or who is allowed to do what.

Two state axes, as ISA-18.2 alarm management keeps them apart: an incident's *condition*
is what the equipment says (``active`` or ``cleared``), its *handling* is what people have
done about it. A cleared alarm nobody has acknowledged still needs a human.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import Meta, Struct

__all__ = (
    "ACTIONS",
    "CATEGORIES",
    "DISPOSITIONS",
    "OPEN_STATES",
    "UNCLASSIFIED_KEY",
    "Action",
    "ActionRequest",
    "Actor",
    "AlarmType",
    "Attributes",
    "Category",
    "Condition",
    "Disposition",
    "Event",
    "EventIn",
    "Handling",
    "Incident",
    "Location",
    "Method",
    "TimelineEntry",
)

UNCLASSIFIED_KEY = "unclassified"
"""Key of the built-in alarm type that unknown event types fall into (never dropped)."""

Method = Literal["equipment", "on_duty", "call"]
Condition = Literal["active", "cleared"]
Category = Literal[
    "Geo",
    "Met",
    "Safety",
    "Security",
    "Rescue",
    "Fire",
    "Health",
    "Env",
    "Transport",
    "Infra",
    "CBRNE",
    "Other",
]
CATEGORIES: tuple[str, ...] = Category.__args__  # type: ignore[attr-defined]

Disposition = Literal["founded", "false_alarm", "unfounded", "duplicate", "transferred", "test"]
DISPOSITIONS: tuple[str, ...] = Disposition.__args__  # type: ignore[attr-defined]

Action = Literal["acknowledge", "assign", "dispatch", "resolve", "close", "reopen", "note", "merge", "detach", "sop"]
ACTIONS: tuple[str, ...] = Action.__args__  # type: ignore[attr-defined]


class Handling(enum.StrEnum):
    """What people have done about an incident. ``merged`` ends one that joined another."""

    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    DISPATCHED = "dispatched"
    RESOLVED = "resolved"
    CLOSED = "closed"
    MERGED = "merged"


OPEN_STATES: frozenset[str] = frozenset({Handling.NEW, Handling.ACKNOWLEDGED, Handling.DISPATCHED})
"""Handling states in which an incident still absorbs correlated events and sits in the queue."""

Scalar = str | int | float | bool | None
Attributes = dict[Annotated[str, Meta(min_length=1, max_length=64)], Scalar]
ShortText = Annotated[str, Meta(min_length=1, max_length=200)]
AwareDatetime = Annotated[datetime, Meta(tz=True)]


class Actor(Struct, frozen=True):
    """Who does something: a user or token name and the role it acts in."""

    name: str
    role: str


class Location(Struct, frozen=True, forbid_unknown_fields=True):
    """WGS 84 position in decimal degrees."""

    lat: Annotated[float, Meta(ge=-90, le=90)]
    lon: Annotated[float, Meta(ge=-180, le=180)]


class EventIn(Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """One alarm as it arrives, whatever the alarm method.

    Unknown fields are an error rather than silently dropped: an integrator who misspells
    ``occured_at`` should hear about it, not lose the timestamp.
    """

    type: ShortText
    method: Method
    source: ShortText
    site: ShortText | None = None
    occurred_at: AwareDatetime | None = None
    condition: Condition = "active"
    exercise: bool = False
    location: Location | None = None
    description: Annotated[str, Meta(max_length=4000)] | None = None
    attributes: Attributes = {}
    external_id: ShortText | None = None


class Event(Struct, frozen=True, omit_defaults=True):
    """A stored event: what arrived, plus the server's id, receipt time and incident."""

    id: int
    type: str
    method: Method
    source: str
    occurred_at: datetime
    received_at: datetime
    condition: Condition = "active"
    exercise: bool = False
    site: str | None = None
    location: Location | None = None
    description: str | None = None
    attributes: Attributes = {}
    external_id: str | None = None
    incident_id: int | None = None
    alarm_type: str | None = None


class AlarmType(Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """An entry of the coded alarm-type dictionary."""

    code: Annotated[str, Meta(min_length=1, max_length=16, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
    key: Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_.-]*$")]
    name: ShortText
    category: Category
    priority: Annotated[int, Meta(ge=1, le=4)]
    sop: Annotated[list[Annotated[str, Meta(min_length=1, max_length=500)]], Meta(min_length=1, max_length=50)]
    correlation_window: Annotated[int, Meta(ge=0, le=7 * 86400)] = 300
    radius_m: Annotated[float, Meta(ge=0, le=100_000)] | None = None
    description: Annotated[str, Meta(max_length=2000)] | None = None
    aliases: list[ShortText] = []
    retention_days: Annotated[int, Meta(ge=1, le=36_500)] | None = None
    justification: Annotated[str, Meta(min_length=20, max_length=4000)] | None = None
    """Required when the protected-category guard gives ``review``; published in the transparency report."""


class TimelineEntry(Struct, frozen=True, omit_defaults=True):
    """An immutable record of one thing that happened to an incident, and who did it."""

    at: datetime
    actor: str
    action: str
    from_state: str | None = None
    to_state: str | None = None
    text: str | None = None
    data: dict[str, Scalar] = {}


class Incident(Struct, omit_defaults=True):
    """One real-world situation, however many events reported it."""

    id: int
    alarm_type: str
    alarm_code: str
    priority: int
    category: str
    handling: str
    condition: Condition
    first_event_at: datetime
    last_event_at: datetime
    event_count: int
    opened_at: datetime
    updated_at: datetime
    exercise: bool = False
    site: str | None = None
    location: Location | None = None
    assignee: str | None = None
    disposition: str | None = None
    merged_into: int | None = None
    unmapped_type: str | None = None
    title: str | None = None
    events: list[Event] | None = None
    timeline: list[TimelineEntry] | None = None


class ActionRequest(Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """A person's request to move an incident along (``POST /incidents/{id}/actions``)."""

    action: Action
    text: Annotated[str, Meta(max_length=4000)] | None = None
    assignee: ShortText | None = None
    disposition: Disposition | None = None
    into: int | None = None
    event_id: int | None = None
    step: Annotated[int, Meta(ge=0, le=49)] | None = None
    """``sop``: the checklist step (0-based) ticked or unticked."""
    done: bool = True
    """``sop``: false unticks a step ticked by mistake (both stay on the timeline)."""


def to_builtins(obj: object) -> object:
    """Convert a Struct (or nested containers of them) into JSON-ready builtins."""
    return msgspec.to_builtins(obj)
