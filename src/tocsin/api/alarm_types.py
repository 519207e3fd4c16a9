"""``/api/v1/alarm-types``: read and extend the alarm-type dictionary."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from litestar import Request, get, post

from tocsin.api.security import actor_of, requires
from tocsin.engine.policy import judge_alarm_type
from tocsin.model import AlarmType
from tocsin.store import repo

if TYPE_CHECKING:
    from tocsin.app import Runtime

__all__ = ("create_alarm_type", "list_alarm_types")


@get("/api/v1/alarm-types", guards=[requires("alarm_types:read")], summary="List the alarm-type dictionary")
async def list_alarm_types(request: Request[Any, Any, Any]) -> list[AlarmType]:
    runtime: Runtime = request.app.state.runtime
    return await runtime.db.read(repo.list_alarm_types)


@post(
    "/api/v1/alarm-types",
    guards=[requires("alarm_types:write")],
    status_code=201,
    summary="Add an alarm type",
)
async def create_alarm_type(request: Request[Any, Any, Any], data: AlarmType) -> AlarmType:
    runtime: Runtime = request.app.state.runtime
    actor = actor_of(request)
    judgement = judge_alarm_type(data)
    if judgement.verdict == "refused":
        await runtime.refused(actor, "alarm type", [judgement])
    return await runtime.engine.add_alarm_type(data, actor)
