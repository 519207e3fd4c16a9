"""Render the transparency report: one self-contained HTML page (inline SVG charts, no
scripts, no external assets) and CSV files for people who would rather compute."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from pathlib import Path

import msgspec
from jinja2 import Environment, PackageLoader, select_autoescape

from tocsin.report.transparency import TransparencyReport

__all__ = ("bar_chart", "render_html", "write_csv")

_env = Environment(loader=PackageLoader("tocsin.report", "templates"), autoescape=select_autoescape(["html"]))


def bar_chart(data: dict[str, int], *, title: str, width: int = 640, bar: int = 18) -> str:
    """A horizontal bar chart as inline SVG (labels left, values right)."""
    if not data:
        return f'<p class="empty">{_esc(title)}: nothing in this period.</p>'
    top = max(data.values()) or 1
    label_w, value_w = 220, 70
    span = width - label_w - value_w
    rows = []
    for i, (label, value) in enumerate(data.items()):
        y = 24 + i * (bar + 6)
        w = max(1, round(span * value / top))
        rows.append(
            f'<text x="{label_w - 6}" y="{y + bar - 5}" text-anchor="end">{_esc(label)}</text>'
            f'<rect x="{label_w}" y="{y}" width="{w}" height="{bar}" fill="#1f5fa8"><title>{value}</title></rect>'
            f'<text x="{label_w + w + 6}" y="{y + bar - 5}">{value}</text>'
        )
    height = 24 + len(data) * (bar + 6) + 6
    return (
        f'<svg role="img" aria-label="{_esc(title)}" viewBox="0 0 {width} {height}" width="100%" '
        f'font-family="sans-serif" font-size="12"><text x="0" y="14" font-weight="bold">{_esc(title)}</text>'
        + "".join(rows)
        + "</svg>"
    )


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def render_html(report: TransparencyReport) -> str:
    by_type: dict[str, int] = defaultdict(int)
    by_method: dict[str, int] = defaultdict(int)
    by_month: dict[str, int] = defaultdict(int)
    for row in report.events_by_month:
        if not row.exercise:
            by_type[row.alarm_type] += row.events
            by_method[row.method] += row.events
            by_month[row.month] += row.events
    top_types = dict(sorted(by_type.items(), key=lambda kv: -kv[1])[:20])
    charts = {
        "types": bar_chart(top_types, title="Events by alarm type (top 20, drills excluded)"),
        "methods": bar_chart(dict(by_method), title="Events by alarm method"),
        "months": bar_chart(dict(sorted(by_month.items())), title="Events by month"),
        "roles": bar_chart(report.consultations_by_role, title="Consultations of data by role"),
        "refusals": bar_chart(report.refusals_by_month, title="Guard refusals by month"),
    }
    return _env.get_template("transparency.html").render(report=report, charts=charts)


_TABLES = {
    "alarm_types.csv": "types_in_force",
    "alarm_type_changes.csv": "type_changes",
    "review_justifications.csv": "reviews",
    "events_by_month.csv": "events_by_month",
    "incidents_by_month.csv": "incidents_by_month",
}


def write_csv(report: TransparencyReport, out: Path) -> list[Path]:
    """One CSV per table, plus ``summary.csv`` with the single figures."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, attr in _TABLES.items():
        rows = msgspec.to_builtins(getattr(report, attr))
        path = out / name
        buf = io.StringIO()
        fields = list(rows[0]) if rows else []
        writer = csv.DictWriter(buf, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
        path.write_text(buf.getvalue(), encoding="utf-8")
        written.append(path)
    summary = out / "summary.csv"
    lines = ["metric,value"]
    for label, pct in (("acknowledge", report.acknowledge), ("resolve", report.resolve)):
        lines += [
            f"{label}_count,{pct.count}",
            f"{label}_median_s,{pct.median_s or ''}",
            f"{label}_p90_s,{pct.p90_s or ''}",
        ]
    lines += [f"held_{k},{v}" for k, v in report.held.items()]
    lines += [f"purged_{k},{v}" for k, v in report.purged.items()]
    lines += [f"consultations_{k},{v}" for k, v in report.consultations_by_role.items()]
    lines += [f"refusals_{k},{v}" for k, v in report.refusals_by_month.items()]
    summary.write_text("\n".join(lines) + "\n", encoding="utf-8")
    written.append(summary)
    return written
