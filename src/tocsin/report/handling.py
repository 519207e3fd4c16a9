"""How fast incidents are handled: delays from opening to the first action of a kind.

Shared by the public transparency report and the console's dashboards, so both say the
same thing about the same incidents. Drills (exercise incidents) are left out: a drill's
response time says nothing about real ones.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, and_, func, select

from tocsin.store.schema import incidents, timeline

__all__ = ("handling_delays", "quantile")


def handling_delays(conn: Connection, actions: Sequence[str], start_us: int, end_us: int) -> list[float]:
    """Seconds from opening to the first of ``actions``, for incidents opened in [start, end), sorted.

    The window picks the incidents first (by ``ix_incidents_opened_us``) and only their
    timelines are read (by ``ix_timeline_incident_id``): grouping the whole timeline, then
    joining, read every action ever recorded on each dashboard refresh.
    """
    window = and_(incidents.c.opened_us >= start_us, incidents.c.opened_us < end_us, incidents.c.exercise.is_(False))
    first = (
        select(timeline.c.incident_id, func.min(timeline.c.at_us).label("at"))
        .where(timeline.c.action.in_(actions), timeline.c.incident_id.in_(select(incidents.c.id).where(window)))
        .group_by(timeline.c.incident_id)
        .subquery()
    )
    rows = conn.execute(
        select(first.c.at - incidents.c.opened_us).select_from(
            first.join(incidents, incidents.c.id == first.c.incident_id)
        )
    ).scalars()
    return sorted(max(0, v) / 1e6 for v in rows)


def quantile(ordered: Sequence[float], q: float) -> float:
    """Linear-interpolated quantile ``q`` (0-1) of sorted, non-empty ``ordered``, rounded to ms."""
    pos = q * (len(ordered) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return round(ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo), 3)
