"""The transparency report: aggregates only, every section present, HTML and CSV."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import SyncEngine
from tests.unit.engine.test_correlate import ev
from tocsin.engine.actions import action_job
from tocsin.model import ActionRequest, Actor
from tocsin.report.render import bar_chart, render_html, write_csv
from tocsin.report.transparency import build_report

T0 = 1_700_000_000_000_000
OP = Actor(name="op", role="operator")


def test_report_counts_and_response_times(engine: SyncEngine, tmp_path: Path) -> None:
    r = engine.ingest([ev(), ev(method="call", source="c1", site="x"), ev(exercise=True, site="drill")], received_us=T0)
    inc = r[0][1]
    assert inc is not None
    for n, req in enumerate([ActionRequest(action="acknowledge"), ActionRequest(action="resolve")], start=1):
        engine.writer.run_blocking(action_job(engine.state, inc, req, OP, now_us=T0 + n * 30_000_000))
    with engine.db.read_engine.connect() as conn:
        report = build_report(conn, start_us=T0 - 1, end_us=T0 + 10**12, now_us=T0 + 10**9)
    assert report.acknowledge.count == 1 and report.acknowledge.median_s == 30.0
    assert report.resolve.median_s == 60.0
    methods = {(row.method, row.exercise): row.events for row in report.events_by_month}
    assert methods == {("equipment", False): 1, ("call", False): 1, ("equipment", True): 1}
    assert len(report.types_in_force) > 40
    assert all(c.change == "added" and c.actor == "system" for c in report.type_changes)
    html = render_html(report)
    for heading in (
        "Response times",
        "Alarm types in force",
        "Who looked at data",
        "Refused definitions",
        "Justifications for reviewed alarm types",
        "Data held and purged",
    ):
        assert heading in html
    assert "<script" not in html and "http" not in html.split("<body>")[1]
    files = {p.name for p in write_csv(report, tmp_path)}
    assert {"alarm_types.csv", "events_by_month.csv", "summary.csv"} <= files
    assert "acknowledge_median_s,30.0" in (tmp_path / "summary.csv").read_text()


def test_bar_chart_escapes_labels() -> None:
    svg = bar_chart({"<b>x</b>": 3, "y": 1}, title="t & u")
    assert "<b>" not in svg and "&lt;b&gt;" in svg and "t &amp; u" in svg
