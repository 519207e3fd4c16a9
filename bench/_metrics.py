"""What a tocsin server's ``/metrics`` says, for the benchmarks that start one.

``bench/ingest.py`` and ``bench/sia.py`` both read the engine's group commits around a
measurement: how many, how many events each held, how long each took.
"""

from __future__ import annotations

import contextlib
import urllib.request

__all__ = ("CommitCounters", "commit_counters", "commit_means", "scrape")

CommitCounters = tuple[float, float, float]
"""(group commits, events committed, seconds from a group's first job to its COMMIT), so far."""

_COMMIT_METRICS = (
    "tocsin_commit_batch_events_count",
    "tocsin_commit_batch_events_sum",
    "tocsin_commit_seconds_sum",
)


def scrape(host: str, port: int) -> dict[str, float]:
    """Every sample of ``http://host:port/metrics`` by its name with labels (Prometheus text format)."""
    with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            with contextlib.suppress(ValueError):
                out[name] = float(value)
    return out


def commit_counters(metrics: dict[str, float]) -> CommitCounters:
    groups, events, seconds = (metrics.get(name, 0.0) for name in _COMMIT_METRICS)
    return groups, events, seconds


def commit_means(before: CommitCounters | None, after: CommitCounters | None) -> tuple[float, float, float] | None:
    """(group commits, events per commit, ms per commit) between two readings; None if none committed."""
    if before is None or after is None or after[0] <= before[0]:
        return None
    groups, events, seconds = (a - b for a, b in zip(after, before, strict=True))
    return groups, events / groups, 1000 * seconds / groups
