"""``GET /transparency``: the public transparency report (HTML, or JSON at ``.json``)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

from litestar import Request, Response, get
from litestar.params import Parameter

from tocsin._internal.clock import to_us
from tocsin.errors import InvalidRequest
from tocsin.report.render import render_html
from tocsin.report.transparency import TransparencyReport, build_report

if TYPE_CHECKING:
    from tocsin.app import Runtime

__all__ = ("period", "transparency_html", "transparency_json")


def period(start: date | None, end: date | None, *, today: date) -> tuple[int, int]:
    """[start, end) in epoch microseconds; default the last 365 days, ``end`` inclusive."""
    last = end or today
    first = start or (last - timedelta(days=365))
    if first > last:
        raise InvalidRequest(f"from: {first} is after to: {last}")
    lo = datetime(first.year, first.month, first.day, tzinfo=UTC)
    hi = datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1)
    return to_us(lo), to_us(hi)


async def _report(request: Request[Any, Any, Any], start: date | None, end: date | None) -> TransparencyReport:
    runtime: Runtime = request.app.state.runtime
    now = runtime.clock.now_us()
    lo, hi = period(start, end, today=datetime.now(tz=UTC).date())
    return await runtime.db.read(lambda conn: build_report(conn, start_us=lo, end_us=hi, now_us=now))


@get("/transparency", summary="Public transparency report (HTML)", include_in_schema=True)
async def transparency_html(
    request: Request[Any, Any, Any],
    start: Annotated[date | None, Parameter(query="from")] = None,
    end: Annotated[date | None, Parameter(query="to")] = None,
) -> Response[str]:
    report = await _report(request, start, end)
    return Response(render_html(report), media_type="text/html; charset=utf-8")


@get("/transparency.json", summary="Public transparency report (JSON)")
async def transparency_json(
    request: Request[Any, Any, Any],
    start: Annotated[date | None, Parameter(query="from")] = None,
    end: Annotated[date | None, Parameter(query="to")] = None,
) -> TransparencyReport:
    return await _report(request, start, end)
