"""``/api/v1/alarm-types``: read and extend the alarm-type dictionary."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from litestar import Request, delete, get, post, put
from litestar.params import Parameter

from tocsin.api.security import actor_of, requires
from tocsin.engine.policy import judge_alarm_type
from tocsin.errors import InvalidRequest
from tocsin.model import AlarmType
from tocsin.store import repo

if TYPE_CHECKING:
    from tocsin.app import Runtime

__all__ = ("change_alarm_type", "create_alarm_type", "import_alarm_types", "list_alarm_types", "retire_alarm_type")


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


@put(
    "/api/v1/alarm-types/{code:str}",
    guards=[requires("alarm_types:write")],
    summary="Change an alarm type's definition",
)
async def change_alarm_type(request: Request[Any, Any, Any], code: str, data: AlarmType) -> AlarmType:
    runtime: Runtime = request.app.state.runtime
    if data.code != code:
        raise InvalidRequest(f"code: the body says {data.code!r} but the path says {code!r}")
    actor = actor_of(request)
    judgement = judge_alarm_type(data)
    if judgement.verdict == "refused":
        await runtime.refused(actor, "alarm type", [judgement])
    return await runtime.engine.change_alarm_type(data, actor)


@delete("/api/v1/alarm-types/{code:str}", guards=[requires("alarm_types:write")], summary="Retire an alarm type")
async def retire_alarm_type(
    request: Request[Any, Any, Any], code: str, reason: Annotated[str | None, Parameter(max_length=2000)] = None
) -> None:
    runtime: Runtime = request.app.state.runtime
    await runtime.engine.retire_alarm_type(code, actor_of(request), reason)


@post(
    "/api/v1/alarm-types/import",
    guards=[requires("alarm_types:write")],
    status_code=200,
    summary="Add or change many alarm types, all or nothing, through the guard",
)
async def import_alarm_types(request: Request[Any, Any, Any], data: list[AlarmType]) -> dict[str, int]:
    runtime: Runtime = request.app.state.runtime
    actor = actor_of(request)
    refused = [j for j in (judge_alarm_type(t) for t in data) if j.verdict == "refused"]
    if refused:
        await runtime.refused(actor, "alarm type", refused)
    return await runtime.engine.import_alarm_types(data, actor)
