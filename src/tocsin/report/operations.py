"""Operational statistics for the console's dashboards: how much arrives, how fast it is handled.

These are aggregates over the store (counts, percentiles, rates), the same class of
figures the public transparency report publishes: no event content, no people. The
queries read only indexed ranges (``opened_us``, ``received_us``, the timeline's
``incident_id``), so a dashboard refresh costs milliseconds even with a large history.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import msgspec
from sqlalchemy import Connection, and_, func, select

from tocsin.model import OPEN_STATES
from tocsin.report.handling import handling_delays, quantile
from tocsin.store.schema import events, incidents, outbox

__all__ = (
    "HourCount",
    "OperationsReport",
    "HandlingPercentiles",
    "RatePoint",
    "SiteView",
    "WebhookHealth",
    "operations_report",
    "percentiles",
    "sites",
    "webhook_health",
)

_HOUR_US = 3_600_000_000
_ACK = ("acknowledge",)
_RESOLVE = ("resolve", "close")


class HandlingPercentiles(msgspec.Struct, frozen=True):
    """Seconds from an incident opening to the first action of a kind (drills left out)."""

    n: int
    p50: float | None
    p90: float | None
    p99: float | None


class HourCount(msgspec.Struct, frozen=True):
    hour_us: int
    count: int


class RatePoint(msgspec.Struct, frozen=True):
    at_us: int
    per_second: float


class OperationsReport(msgspec.Struct, frozen=True):
    """What the dashboard shows for one window ending now."""

    since_us: int
    until_us: int
    opened: int
    exercise: int
    by_type: dict[str, int]
    by_hour: list[HourCount]
    by_priority: dict[str, int]
    open_by_state: dict[str, int]
    acknowledge_s: HandlingPercentiles
    resolve_s: HandlingPercentiles
    events_per_second: list[RatePoint]
    events_last_minute: int


def percentiles(ordered: Sequence[float]) -> HandlingPercentiles:
    if not ordered:
        return HandlingPercentiles(0, None, None, None)
    return HandlingPercentiles(len(ordered), quantile(ordered, 0.5), quantile(ordered, 0.9), quantile(ordered, 0.99))


def _event_rate(conn: Connection, now_us: int, *, window_s: int, bucket_s: int) -> list[RatePoint]:
    bucket_us = bucket_s * 1_000_000
    start = (now_us - window_s * 1_000_000) // bucket_us * bucket_us
    bucket = (events.c.received_us / bucket_us).cast(events.c.received_us.type)
    counts: dict[int, int] = dict(
        conn.execute(select(bucket, func.count()).where(events.c.received_us >= start).group_by(bucket)).all()
    )
    return [
        RatePoint(at_us=b * bucket_us, per_second=round(counts.get(b, 0) / bucket_s, 2))
        for b in range(start // bucket_us, now_us // bucket_us + 1)
    ]


def operations_report(conn: Connection, *, since_us: int, now_us: int) -> OperationsReport:
    """Counts by type, hour and priority; handling percentiles; the event rate of the last 10 minutes."""
    window = and_(incidents.c.opened_us >= since_us, incidents.c.opened_us < now_us)
    by_type: Counter[str] = Counter()
    by_priority: Counter[str] = Counter()
    by_hour: Counter[int] = Counter()
    opened = exercise = 0
    stmt = select(incidents.c.alarm_type, incidents.c.priority, incidents.c.opened_us, incidents.c.exercise)
    for alarm_type, priority, opened_us, is_exercise in conn.execute(stmt.where(window)):
        if is_exercise:
            exercise += 1  # drills are counted apart, never mixed into real figures
            continue
        opened += 1
        by_type[alarm_type] += 1
        by_priority[str(priority)] += 1
        by_hour[opened_us // _HOUR_US] += 1
    first_hour = since_us // _HOUR_US
    hours = [HourCount(h * _HOUR_US, by_hour.get(h, 0)) for h in range(first_hour, now_us // _HOUR_US + 1)]
    open_by_state: dict[str, int] = dict(
        conn.execute(
            select(incidents.c.handling, func.count())
            .where(incidents.c.handling.in_(sorted(OPEN_STATES)))
            .group_by(incidents.c.handling)
        ).all()
    )
    rate = _event_rate(conn, now_us, window_s=600, bucket_s=10)
    last_minute = conn.execute(select(func.count()).where(events.c.received_us >= now_us - 60_000_000)).scalar_one()
    return OperationsReport(
        since_us=since_us,
        until_us=now_us,
        opened=opened,
        exercise=exercise,
        by_type=dict(by_type.most_common()),
        by_hour=hours,
        by_priority=dict(sorted(by_priority.items())),
        open_by_state={s: int(open_by_state.get(s, 0)) for s in ("new", "acknowledged", "dispatched")},
        acknowledge_s=percentiles(handling_delays(conn, _ACK, since_us, now_us)),
        resolve_s=percentiles(handling_delays(conn, _RESOLVE, since_us, now_us)),
        events_per_second=rate,
        events_last_minute=int(last_minute),
    )


class SiteView(msgspec.Struct, frozen=True):
    """A site as the map shows it: where it is (its latest located incident) and what is open there."""

    site: str
    lat: float | None
    lon: float | None
    open: int
    top_priority: int | None


def sites(conn: Connection, *, limit: int = 5000) -> list[SiteView]:
    """Every site seen on an incident, with its open count; sites are not a table of their own."""
    latest = (
        select(incidents.c.site, func.max(incidents.c.id).label("id"))
        .where(and_(incidents.c.site.is_not(None), incidents.c.lat.is_not(None)))
        .group_by(incidents.c.site)
        .subquery()
    )
    located = {
        site: (lat, lon)
        for site, lat, lon in conn.execute(
            select(incidents.c.site, incidents.c.lat, incidents.c.lon).join(latest, latest.c.id == incidents.c.id)
        )
    }
    opened = {
        site: (count, top)
        for site, count, top in conn.execute(
            select(incidents.c.site, func.count(), func.min(incidents.c.priority))
            .where(and_(incidents.c.site.is_not(None), incidents.c.handling.in_(sorted(OPEN_STATES))))
            .group_by(incidents.c.site)
        )
    }
    names = sorted(set(located) | set(opened))[:limit]
    return [
        SiteView(
            site=name,
            lat=located.get(name, (None, None))[0],
            lon=located.get(name, (None, None))[1],
            open=opened.get(name, (0, None))[0],
            top_priority=opened.get(name, (0, None))[1],
        )
        for name in names
    ]


class WebhookHealth(msgspec.Struct, frozen=True):
    """Delivery state of one configured webhook, from its outbox rows."""

    pending: int = 0
    delivered: int = 0
    dead: int = 0
    last_error: str | None = None


def webhook_health(conn: Connection) -> dict[str, WebhookHealth]:
    """Outbox counts per channel (the webhook's name) and the latest error of each."""
    counts: dict[str, dict[str, int]] = {}
    for channel, state, count in conn.execute(
        select(outbox.c.channel, outbox.c.state, func.count()).group_by(outbox.c.channel, outbox.c.state)
    ):
        counts.setdefault(channel, {})[state] = int(count)
    newest = (
        select(func.max(outbox.c.id))
        .where(outbox.c.last_error.is_not(None))
        .group_by(outbox.c.channel)
        .scalar_subquery()
    )
    errors: dict[str, str] = {
        channel: error
        for channel, error in conn.execute(select(outbox.c.channel, outbox.c.last_error).where(outbox.c.id.in_(newest)))
    }
    return {
        channel: WebhookHealth(
            pending=states.get("pending", 0),
            delivered=states.get("delivered", 0),
            dead=states.get("dead", 0),
            last_error=errors.get(channel),
        )
        for channel, states in counts.items()
    }
