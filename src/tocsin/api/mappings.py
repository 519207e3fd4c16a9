"""``/api/v1/mappings``: which vendor code means which alarm type, and what is still unmapped.

Unknown codes land as ``unclassified`` incidents; this is where an administrator sees
them and maps them (through the guard) so the next event classifies properly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import msgspec
from litestar import Request, get, put
from msgspec import Meta
from sqlalchemy import Connection, func, select

from tocsin.api.security import actor_of, requires
from tocsin.audit.log import AuditRecord
from tocsin.engine.mapping import default_mappings, stored_mappings
from tocsin.engine.policy import check_filter
from tocsin.errors import GuardRefusal, InvalidRequest
from tocsin.guard import judge_term
from tocsin.model import UNCLASSIFIED_KEY
from tocsin.store.schema import incidents, mappings
from tocsin.store.writer import Tx

if TYPE_CHECKING:
    from tocsin.app import Runtime

__all__ = ("list_mappings", "set_mapping")


class MappingIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    alarm_type: Annotated[str, Meta(min_length=1, max_length=64)]


class Mapping(msgspec.Struct, frozen=True):
    vendor_code: str
    alarm_type: str
    source: str


class Unmapped(msgspec.Struct, frozen=True):
    vendor_code: str
    incidents: int


class MappingTable(msgspec.Struct, frozen=True):
    mappings: list[Mapping]
    unmapped: list[Unmapped]


@get("/api/v1/mappings", guards=[requires("alarm_types:read")], summary="Vendor-code mappings and unmapped codes")
async def list_mappings(request: Request[Any, Any, Any]) -> MappingTable:
    runtime: Runtime = request.app.state.runtime

    def read(conn: Connection) -> tuple[dict[str, str], list[tuple[str, int]]]:
        unmapped = conn.execute(
            select(incidents.c.unmapped_type, func.count())
            .where(incidents.c.alarm_type == UNCLASSIFIED_KEY, incidents.c.unmapped_type.is_not(None))
            .group_by(incidents.c.unmapped_type)
            .order_by(func.count().desc())
            .limit(500)
        ).all()
        return stored_mappings(conn), [(str(code), int(n)) for code, n in unmapped]

    stored, unmapped = await runtime.db.read(read)
    active = runtime.state.dictionary.mappings
    rows = [Mapping(code, key, "custom" if code in stored else "default") for code, key in sorted(active.items())]
    todo = [Unmapped(code, n) for code, n in unmapped if code not in active]
    return MappingTable(mappings=rows, unmapped=todo)


@put("/api/v1/mappings/{vendor_code:str}", guards=[requires("alarm_types:write")], summary="Map a vendor code")
async def set_mapping(request: Request[Any, Any, Any], vendor_code: str, data: MappingIn) -> Mapping:
    runtime: Runtime = request.app.state.runtime
    actor = actor_of(request)
    if len(vendor_code) > 200:
        raise InvalidRequest("vendor_code: at most 200 characters")
    try:
        check_filter(vendor_code, "vendor_code")
    except GuardRefusal:
        await runtime.refused(actor, "mapping", [judge_term(vendor_code, field="vendor_code")])
        raise
    if runtime.state.dictionary.get(data.alarm_type) is None:
        raise InvalidRequest(f"alarm_type: {data.alarm_type!r} is not a key of the alarm-type dictionary")
    now = runtime.clock.now_us()

    def job(tx: Tx) -> None:
        tx.conn.execute(mappings.delete().where(mappings.c.vendor_code == vendor_code))
        tx.conn.execute(
            mappings.insert().values(
                vendor_code=vendor_code, alarm_type=data.alarm_type, updated_us=now, updated_by=actor.name
            )
        )
        runtime.audit_append(
            tx,
            [
                AuditRecord(
                    "alteration",
                    "mapping.set",
                    actor.name,
                    actor.role,
                    detail={"vendor_code": vendor_code, "alarm_type": data.alarm_type},
                )
            ],
            now,
        )
        tx.after_rollback(runtime.state.reload)
        runtime.state.dictionary.set_mapping(vendor_code, data.alarm_type)

    await runtime.writer.submit(job)
    source = "custom" if vendor_code not in default_mappings() else "custom (overrides default)"
    return Mapping(vendor_code, data.alarm_type, source)
