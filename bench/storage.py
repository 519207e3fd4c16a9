"""Storage benchmark: what one ingested event costs the SQLite store, and which index pays it.

Run: ``.venv/bin/python bench/storage.py [--quick]``. No server, no engine: the rows the
ingest job writes (``tocsin.store.repo``: event rows, correlation updates of their
incidents) go through the same repo functions into a fresh database made by tocsin's own
migrations, with ``synchronous=FULL``, one transaction per group, as the writer commits
them, and linking events to incidents as the engine does (``tocsin.store.links``, every
``LINK_BATCH`` events). Each row of the table changes one thing, so the cost of each shows:
dropping one secondary index of ``events`` (or both), or adding back the index on
``events.incident_id`` that the links replaced (migration 0004).

Why it exists: ``bench/ingest.py`` and ``bench/sia.py`` showed the single writer spends most
of its time in SQLite, and this says where. The workload repeats ``bench/_load.py``'s mix: a
pool of 2,000 sites drawn Zipf-like, 5 % of events on new sites (each a new incident), every
event with an external id; groups of 400 events are four HTTP batches of 100 committed
together, groups of 50 what 50 stop-and-wait alarm panels give.
"""

from __future__ import annotations

import argparse
import itertools
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import Connection

from tocsin.store import links, repo
from tocsin.store.links import LINK_BATCH
from tocsin.store.sqlite import Database

POOL = 2000
NEW_SHARE = 0.05
EPOCH_US = 1_700_000_000_000_000
INDEXES = ("ix_events_external_id_source", "ix_events_received_us")
OLD_INDEX = "CREATE INDEX ix_events_incident_id ON events (incident_id)"
"""What stood in for the links before migration 0004."""

console = Console(highlight=False)
if not console.is_terminal:
    console = Console(highlight=False, width=140)


def _incident(incident_id: int, at: int) -> dict[str, Any]:
    return {
        "id": incident_id,
        "alarm_type": "fire.smoke",
        "alarm_code": "301",
        "priority": 2,
        "category": "Fire",
        "handling": "new",
        "condition": "active",
        "site": f"site-{incident_id}",
        "lat": None,
        "lon": None,
        "first_event_us": at,
        "last_event_us": at,
        "event_count": 1,
        "opened_us": at,
        "updated_us": at,
        "exercise": False,
        "assignee": None,
        "disposition": None,
        "merged_into": None,
        "unmapped_type": None,
        "title": "Smoke",
    }


def _event(event_id: int, incident_id: int, at: int) -> dict[str, Any]:
    return {
        "id": event_id,
        "source": f"panel-site-{incident_id}",
        "external_id": f"bench-{event_id}",
        "type": "fire.smoke",
        "alarm_type": "fire.smoke",
        "method": "equipment",
        "site": f"site-{incident_id}",
        "occurred_us": at,
        "received_us": at,
        "condition": "active",
        "exercise": False,
        "lat": None,
        "lon": None,
        "description": None,
        "attributes": None,
        "raw": None,
        "incident_id": incident_id,
    }


class _Workload:
    """The groups the writer would commit: event rows, new incidents, correlation updates."""

    def __init__(self) -> None:
        self._rng = random.Random(1)
        self._cum = list(itertools.accumulate(1 / (i + 1) for i in range(POOL)))
        self._sites = range(1, POOL + 1)
        self._next_incident = POOL + 1
        self.event_id = 0

    def group(self, size: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
        rows: list[dict[str, Any]] = []
        new: list[dict[str, Any]] = []
        touched: dict[int, int] = {}
        for _ in range(size):
            self.event_id += 1
            at = EPOCH_US + self.event_id
            if self._rng.random() < NEW_SHARE:
                incident_id, self._next_incident = self._next_incident, self._next_incident + 1
                new.append(_incident(incident_id, at))
            else:
                incident_id = self._rng.choices(self._sites, cum_weights=self._cum)[0]
                touched[incident_id] = touched.get(incident_id, 0) + 1
            rows.append(_event(self.event_id, incident_id, at))
        last = EPOCH_US + self.event_id
        updates = [
            {
                "b_id": i,
                "b_last": last,
                "b_first": EPOCH_US,
                "b_first_moved": False,
                "b_added": n,
                "b_condition": "active",
                "b_updated": last,
                "b_lat": None,
                "b_lon": None,
            }
            for i, n in touched.items()
        ]
        return rows, new, updates


def _run(conn: Connection, group: int, events: int, *, link: bool) -> tuple[float, float]:
    """Commit ``events`` in groups (linking every ``LINK_BATCH`` if ``link``); (seconds, of which COMMIT)."""
    workload = _Workload()
    committing, linked = 0.0, 0
    started = time.perf_counter()
    while workload.event_id < events:
        rows, new, updates = workload.group(group)
        tx = conn.begin()
        repo.insert_events(conn, rows)
        repo.insert_incidents(conn, new)
        repo.update_touched(conn, updates)
        t = time.perf_counter()
        tx.commit()
        committing += time.perf_counter() - t
        if link and workload.event_id - linked >= LINK_BATCH:
            with conn.begin():
                linked = links.link_tail(conn)
    return time.perf_counter() - started, committing


def measure(
    dropped: tuple[str, ...], group: int, events: int, *, old_index: bool = False
) -> tuple[float, float, float]:
    """Store ``events`` in groups of ``group``; returns (µs/event, of which COMMIT, MB on disk).

    ``old_index``: index ``events.incident_id`` and link nothing, as before migration 0004.
    """
    with tempfile.TemporaryDirectory(prefix="tocsin-storage-bench-") as tmp:
        db = Database(Path(tmp) / "bench.db", synchronous="FULL")
        try:
            with db.write_engine.connect() as conn:
                for name in dropped:
                    conn.exec_driver_sql(f"DROP INDEX {name}")
                if old_index:
                    conn.exec_driver_sql(OLD_INDEX)
                conn.commit()
                with conn.begin():
                    repo.insert_incidents(conn, [_incident(i, EPOCH_US) for i in range(1, POOL + 1)])
                elapsed, committing = _run(conn, group, events, link=not old_index)
            size = sum(p.stat().st_size for p in Path(tmp).iterdir()) / 1e6
        finally:
            db.close()
    return 1e6 * elapsed / events, 1e6 * committing / events, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer events, for a smoke run")
    args = parser.parse_args()
    events = 40_000 if args.quick else 300_000
    variants: list[tuple[str, tuple[str, ...], bool]] = [("as shipped: both, and links", (), False)]
    variants.append(("+ index on incident_id, no links (before 0004)", (), True))
    variants += [(f"without {name}", (name,), False) for name in INDEXES]
    variants.append(("neither", INDEXES, False))
    table = Table(title=f"SQLite store, synchronous=FULL: {events:,} events, {POOL:,}-site pool, {NEW_SHARE:.0%} new")
    for column in ("events indexes", "group", "µs/event", "of which COMMIT", "events/s", "vs shipped", "MB"):
        table.add_column(column, justify="left" if column == "events indexes" else "right")
    for group in (400, 50):
        base: float | None = None
        for label, dropped, old_index in variants:
            per_event, commit, size = measure(dropped, group, events, old_index=old_index)
            console.print(f"  group {group}, {label}: {per_event:.1f} µs/event")
            base = base or per_event
            table.add_row(
                label,
                str(group),
                f"{per_event:.1f}",
                f"{commit:.1f}",
                f"{1e6 / per_event:,.0f}",
                f"{base / per_event:.2f}x",
                f"{size:.0f}",
            )
    console.print(table)


if __name__ == "__main__":
    main()
