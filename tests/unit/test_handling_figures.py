"""Handling-time figures and the SOP checklist: the numbers dashboards and reports show."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from tocsin.api.incidents import sop_checklist
from tocsin.model import TimelineEntry
from tocsin.report.handling import quantile
from tocsin.report.operations import percentiles, webhook_health
from tocsin.store.schema import outbox
from tocsin.store.sqlite import Database

delays = st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), min_size=1, max_size=200).map(sorted)


@given(delays, st.floats(min_value=0, max_value=1), st.floats(min_value=0, max_value=1))
def test_quantiles_stay_inside_the_data_and_grow_with_q(values: list[float], q1: float, q2: float) -> None:
    lo, hi = sorted((q1, q2))
    assert values[0] - 1e-3 <= quantile(values, lo) <= quantile(values, hi) + 1e-3 <= values[-1] + 2e-3


def test_percentiles_of_known_delays() -> None:
    figures = percentiles([float(s) for s in range(1, 101)])
    assert (figures.n, figures.p50, figures.p90, figures.p99) == (100, 50.5, 90.1, 99.01)
    assert percentiles([]).p50 is None and percentiles([]).n == 0


def _tick(step: int, done: bool, actor: str, minute: int) -> TimelineEntry:
    at = datetime(2026, 11, 23, 10, minute, tzinfo=UTC)
    return TimelineEntry(at=at, actor=actor, action="sop", data={"step": step, "done": done})


def test_latest_tick_of_each_step_wins() -> None:
    procedure = ["call the fire service", "meet them at the gate", "log the outcome"]
    timeline = [
        TimelineEntry(at=datetime(2026, 11, 23, 10, 0, tzinfo=UTC), actor="system", action="open"),
        _tick(0, True, "ana", 1),
        _tick(2, True, "ben", 2),
        _tick(2, False, "ben", 3),
        _tick(7, True, "ana", 4),  # a step of an older, longer procedure: ignored, not an error
    ]
    steps = sop_checklist(procedure, timeline)
    assert [s.done for s in steps] == [True, False, False]
    assert steps[0].by == "ana" and steps[2].by is None and steps[2].at is not None
    assert [s.text for s in steps] == procedure


def test_each_webhook_shows_its_own_latest_error_however_busy_the_others(db: Database) -> None:
    def row(i: int, channel: str, state: str, error: str | None) -> dict[str, object]:
        return {"id": i, "channel": channel, "payload": "{}", "created_us": i, "next_attempt_us": i,
                "attempts": 1, "state": state, "last_error": error}  # fmt: skip

    rows = [row(1, "quiet", "dead", "old refusal"), row(2, "quiet", "dead", "HTTP 410 from quiet")]
    rows += [row(i, "busy", "pending", f"timeout {i}") for i in range(3, 300)]
    rows.append(row(300, "ok", "delivered", None))
    with db.write_engine.begin() as conn:
        conn.execute(outbox.insert(), rows)
    with db.read_engine.connect() as conn:
        health = webhook_health(conn)
    assert health["quiet"].last_error == "HTTP 410 from quiet" and health["quiet"].dead == 2
    assert health["busy"].last_error == "timeout 299" and health["busy"].pending == 297
    assert health["ok"].last_error is None and health["ok"].delivered == 1
